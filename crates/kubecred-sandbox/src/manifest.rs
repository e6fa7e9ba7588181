//! Loading ordinary Kubernetes manifests (multi-document YAML) into the
//! objects the sandbox serves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::clock::{rfc3339, unix_now};
use crate::objects::{ConfigMap, Namespace, ObjectMeta, Secret, ServiceAccount};
use crate::random;

mod fields;

/// The objects parsed from manifests: Namespaces, ServiceAccounts, Secrets
/// and ConfigMaps, each with a stable uid.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    namespaces: BTreeMap<String, Namespace>,
    service_accounts: BTreeMap<(String, String), ServiceAccount>,
    secrets: BTreeMap<(String, String), Secret>,
    config_maps: BTreeMap<(String, String), ConfigMap>,
}

/// Why manifests could not be loaded. The message names the file (when
/// loaded from one), the 1-based document index (counting non-empty
/// documents) and the object.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", self.render())]
pub struct ManifestError {
    file: Option<PathBuf>,
    document: Option<usize>,
    object: Option<String>,
    message: String,
}

impl ManifestError {
    fn whole(message: impl Into<String>) -> ManifestError {
        ManifestError {
            file: None,
            document: None,
            object: None,
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("{}: ", file.display()));
        }
        if let Some(document) = self.document {
            out.push_str(&format!("document {document}"));
            if let Some(object) = &self.object {
                out.push_str(&format!(" ({object})"));
            }
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }

    /// The 1-based index of the offending document, if the error is about one.
    pub fn document(&self) -> Option<usize> {
        self.document
    }

    /// The file the manifests came from, if loaded with [`Manifests::load`].
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// One document being read: its position and description, for errors.
struct Doc<'a> {
    index: usize,
    object: &'a Map<String, Value>,
    description: String,
}

impl Doc<'_> {
    fn error(&self, message: impl Into<String>) -> ManifestError {
        ManifestError {
            file: None,
            document: Some(self.index),
            object: Some(self.description.clone()),
            message: message.into(),
        }
    }
}

impl Manifests {
    /// Parses multi-document YAML of Kubernetes manifests. Empty documents
    /// are skipped; any kind other than Namespace, ServiceAccount, Secret and
    /// ConfigMap is an error.
    pub fn parse(yaml: &str) -> Result<Manifests, ManifestError> {
        let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).map_err(|e| {
            let message = e.render_with_formatter(&serde_saphyr::UserMessageFormatter);
            ManifestError::whole(format!("invalid YAML: {message}"))
        })?;
        let mut manifests = Manifests::default();
        let non_empty = documents.iter().filter(|d| !d.is_null());
        for (index, document) in non_empty.enumerate() {
            manifests.add(index + 1, document)?;
        }
        Ok(manifests)
    }

    /// Reads and parses a manifest file; errors name the file.
    pub fn load(path: &Path) -> Result<Manifests, ManifestError> {
        let with_file = |mut error: ManifestError| {
            error.file = Some(path.to_path_buf());
            error
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| with_file(ManifestError::whole(format!("cannot read: {e}"))))?;
        Manifests::parse(&text).map_err(with_file)
    }

    /// How many objects were loaded.
    pub fn len(&self) -> usize {
        self.namespaces.len()
            + self.service_accounts.len()
            + self.secrets.len()
            + self.config_maps.len()
    }

    /// Whether no object was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every loaded ServiceAccount as `(namespace, name, annotations)`.
    pub fn service_accounts(
        &self,
    ) -> impl Iterator<Item = (&str, &str, &BTreeMap<String, String>)> {
        self.service_accounts.iter().map(|((namespace, name), sa)| {
            (namespace.as_str(), name.as_str(), &sa.meta.annotations)
        })
    }

    /// The uid of ServiceAccount `namespace/name`, if it was loaded.
    pub fn service_account_uid(&self, namespace: &str, name: &str) -> Option<&str> {
        self.service_account(namespace, name)
            .map(|sa| sa.meta.uid.as_str())
    }

    pub(crate) fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        self.service_accounts.get(&key(namespace, name))
    }

    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets.get(&key(namespace, name))
    }

    pub(crate) fn config_map(&self, namespace: &str, name: &str) -> Option<&ConfigMap> {
        self.config_maps.get(&key(namespace, name))
    }

    /// The ServiceAccounts in `namespace`, by name.
    pub(crate) fn service_accounts_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a ServiceAccount> {
        in_namespace(&self.service_accounts, namespace)
    }

    /// The Secrets in `namespace`, by name.
    pub(crate) fn secrets_in<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Secret> {
        in_namespace(&self.secrets, namespace)
    }

    /// The ConfigMaps in `namespace`, by name.
    pub(crate) fn config_maps_in<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a ConfigMap> {
        in_namespace(&self.config_maps, namespace)
    }

    /// The Namespaces that exist: `default`, those loaded, and those the
    /// loaded objects are in (as a real cluster, which cannot hold objects in
    /// a missing namespace). Loaded ones come with their manifest's metadata.
    pub(crate) fn namespaces(&self) -> BTreeMap<String, Option<&Namespace>> {
        let used = self
            .service_accounts
            .keys()
            .chain(self.secrets.keys())
            .chain(self.config_maps.keys())
            .map(|(namespace, _)| namespace.as_str());
        let mut all: BTreeMap<String, Option<&Namespace>> = std::iter::once("default")
            .chain(used)
            .map(|name| (name.to_string(), None))
            .collect();
        for (name, namespace) in &self.namespaces {
            all.insert(name.clone(), Some(namespace));
        }
        all
    }

    fn add(&mut self, index: usize, document: &Value) -> Result<(), ManifestError> {
        let description = fields::describe(document);
        let Some(object) = document.as_object() else {
            let error = ManifestError::whole("expected a Kubernetes object (a mapping)");
            return Err(ManifestError {
                document: Some(index),
                ..error
            });
        };
        let doc = Doc {
            index,
            object,
            description,
        };
        let kind = fields::kind(object).map_err(|m| doc.error(m))?;
        match kind {
            "Namespace" => self.add_namespace(&doc),
            "ServiceAccount" => self.add_service_account(&doc),
            "Secret" => self.add_secret(&doc),
            "ConfigMap" => self.add_config_map(&doc),
            other => Err(doc.error(format!(
                "kind {other} is not supported; the sandbox loads Namespace, ServiceAccount, Secret and ConfigMap"
            ))),
        }
    }

    fn add_namespace(&mut self, doc: &Doc<'_>) -> Result<(), ManifestError> {
        let mut meta = read_meta(doc)?;
        meta.namespace = None;
        let first = self.namespaces.get(&meta.name).map(|n| n.meta.document);
        check_unique(doc, first)?;
        self.namespaces
            .insert(meta.name.clone(), Namespace { meta });
        Ok(())
    }

    fn add_service_account(&mut self, doc: &Doc<'_>) -> Result<(), ManifestError> {
        let meta = read_meta(doc)?;
        let key = meta_key(&meta);
        check_unique(
            doc,
            self.service_accounts.get(&key).map(|o| o.meta.document),
        )?;
        self.service_accounts.insert(key, ServiceAccount { meta });
        Ok(())
    }

    fn add_secret(&mut self, doc: &Doc<'_>) -> Result<(), ManifestError> {
        let meta = read_meta(doc)?;
        let key = meta_key(&meta);
        check_unique(doc, self.secrets.get(&key).map(|o| o.meta.document))?;
        let data = fields::secret_data(doc.object).map_err(|m| doc.error(m))?;
        let secret_type = fields::optional_string(doc.object, "type")
            .map_err(|m| doc.error(m))?
            .unwrap_or("Opaque")
            .to_string();
        self.secrets.insert(
            key,
            Secret {
                meta,
                secret_type,
                data,
            },
        );
        Ok(())
    }

    fn add_config_map(&mut self, doc: &Doc<'_>) -> Result<(), ManifestError> {
        let meta = read_meta(doc)?;
        let key = meta_key(&meta);
        check_unique(doc, self.config_maps.get(&key).map(|o| o.meta.document))?;
        let data = fields::string_map(doc.object.get("data"), "data").map_err(|m| doc.error(m))?;
        self.config_maps.insert(key, ConfigMap { meta, data });
        Ok(())
    }
}

fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_string(), name.to_string())
}

fn in_namespace<'a, T>(
    objects: &'a BTreeMap<(String, String), T>,
    namespace: &'a str,
) -> impl Iterator<Item = &'a T> {
    objects
        .iter()
        .filter(move |((ns, _), _)| ns == namespace)
        .map(|(_, object)| object)
}

fn meta_key(meta: &ObjectMeta) -> (String, String) {
    key(meta.namespace.as_deref().unwrap_or("default"), &meta.name)
}

fn check_unique(doc: &Doc<'_>, first: Option<usize>) -> Result<(), ManifestError> {
    match first {
        Some(first) => Err(doc.error(format!(
            "duplicate object: document {first} already defines it"
        ))),
        None => Ok(()),
    }
}

/// Reads `apiVersion` (must be `v1`) and `metadata`; the namespace defaults
/// to "default".
fn read_meta(doc: &Doc<'_>) -> Result<ObjectMeta, ManifestError> {
    fields::require_core_v1(doc.object).map_err(|m| doc.error(m))?;
    let metadata = fields::metadata(doc.object).map_err(|m| doc.error(m))?;
    let name = fields::name(metadata, "name").map_err(|m| doc.error(m))?;
    let namespace = match metadata.get("namespace") {
        None | Some(Value::Null) => "default".to_string(),
        Some(_) => fields::name(metadata, "namespace").map_err(|m| doc.error(m))?,
    };
    let labels = fields::string_map(metadata.get("labels"), "metadata.labels");
    let annotations = fields::string_map(metadata.get("annotations"), "metadata.annotations");
    Ok(ObjectMeta {
        name,
        namespace: Some(namespace),
        uid: random::uuid(),
        labels: labels.map_err(|m| doc.error(m))?,
        annotations: annotations.map_err(|m| doc.error(m))?,
        created: rfc3339(unix_now()),
        document: doc.index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KINDS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app
  labels:
    tier: web
---
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: team
data:
  password: aHVudGVyMg==
  user: YWRtaW4=
stringData:
  user: root
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  region: eu-west-1
"#;

    #[test]
    fn parses_all_kinds_skipping_empty_documents() {
        let manifests = Manifests::parse(ALL_KINDS).expect("valid manifests");
        assert_eq!(manifests.len(), 4);
        let sa = manifests.service_account("team", "app").expect("sa");
        assert_eq!(
            sa.meta.annotations["eks.amazonaws.com/role-arn"],
            "arn:aws:iam::111122223333:role/app"
        );
        assert_eq!(sa.meta.labels["tier"], "web");
        assert_eq!(
            manifests.service_account_uid("team", "app"),
            Some(sa.meta.uid.as_str())
        );
        let secret = manifests.secret("team", "creds").expect("secret");
        assert_eq!(secret.data["password"], b"hunter2");
        assert_eq!(secret.data["user"], b"root", "stringData wins over data");
        assert_eq!(secret.secret_type, "Opaque");
        let config_map = manifests
            .config_map("default", "settings")
            .expect("namespace defaults");
        assert_eq!(config_map.data["region"], "eu-west-1");
        assert!(manifests.namespaces.contains_key("team"));
    }

    #[test]
    fn uids_differ_per_object() {
        let manifests = Manifests::parse(ALL_KINDS).expect("valid manifests");
        let sa = manifests.service_account_uid("team", "app");
        let secret = manifests
            .secret("team", "creds")
            .map(|s| s.meta.uid.as_str());
        assert!(sa.is_some() && sa != secret);
    }

    #[test]
    fn empty_input_is_empty() {
        let manifests = Manifests::parse("---\n---\n").expect("empty");
        assert!(manifests.is_empty());
    }

    #[test]
    fn bad_base64_names_document_and_key_but_not_the_value() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  token: 'not*base64'\n";
        let err = Manifests::parse(yaml).expect_err("bad base64");
        let text = err.to_string();
        assert!(
            text.starts_with("document 2 (v1 Secret 's'): data.token is not valid base64"),
            "{text}"
        );
        assert!(!text.contains("not*base64"), "{text}");
        assert_eq!(err.document(), Some(2));
    }

    #[test]
    fn unsupported_kind_is_named() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
        let err = Manifests::parse(yaml).expect_err("deployment");
        assert_eq!(
            err.to_string(),
            "document 3 (apps/v1 Deployment 'web'): kind Deployment is not supported; the sandbox loads Namespace, ServiceAccount, Secret and ConfigMap"
        );
    }

    #[test]
    fn missing_name_is_an_error() {
        let err =
            Manifests::parse("apiVersion: v1\nkind: ServiceAccount\nmetadata: {namespace: x}\n")
                .expect_err("no name");
        assert_eq!(
            err.to_string(),
            "document 1 (v1 ServiceAccount): metadata.name is missing"
        );
        let err = Manifests::parse("apiVersion: v1\nkind: ConfigMap\n").expect_err("no metadata");
        assert_eq!(
            err.to_string(),
            "document 1 (v1 ConfigMap): metadata.name is missing"
        );
    }

    #[test]
    fn other_shape_errors_are_clear() {
        let cases = [
            (
                "kind: Secret\nmetadata: {name: a}\n",
                "document 1 (Secret 'a'): apiVersion is missing (expected v1)",
            ),
            (
                "apiVersion: v1\nmetadata: {name: a}\n",
                "document 1 (v1 object without kind 'a'): kind is missing",
            ),
            (
                "- 1\n- 2\n",
                "document 1: expected a Kubernetes object (a mapping)",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {port: 80}\n",
                "document 1 (v1 ConfigMap 'a'): data.port must be a string (quote it in YAML)",
            ),
        ];
        for (yaml, expected) in cases {
            let err = Manifests::parse(yaml).expect_err(yaml);
            assert_eq!(err.to_string(), expected);
        }
    }

    #[test]
    fn duplicates_are_refused() {
        let yaml = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: default}\n";
        let err = Manifests::parse(yaml).expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "document 2 (v1 ServiceAccount 'a'): duplicate object: document 1 already defines it"
        );
    }

    #[test]
    fn invalid_yaml_is_an_error_not_a_panic() {
        let err = Manifests::parse("a: [1, 2\n").expect_err("syntax");
        assert!(err.to_string().starts_with("invalid YAML: "), "{err}");
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.yaml");
        std::fs::write(&path, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n").expect("write");
        let err = Manifests::load(&path).expect_err("pod");
        assert_eq!(err.file(), Some(path.as_path()));
        assert!(err.to_string().starts_with(&format!(
            "{}: document 1 (v1 Pod 'p'): kind Pod",
            path.display()
        )));
        let missing = Manifests::load(&dir.path().join("nope.yaml")).expect_err("missing");
        assert!(
            missing.to_string().contains("nope.yaml: cannot read: "),
            "{missing}"
        );
    }
}
