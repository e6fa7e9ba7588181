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
        self.namespaces.len() + self.service_accounts.len() + self.secrets.len() + self.config_maps.len()
    }

    /// Whether no object was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The uid of ServiceAccount `namespace/name`, if it was loaded.
    pub fn service_account_uid(&self, namespace: &str, name: &str) -> Option<&str> {
        self.service_account(namespace, name).map(|sa| sa.meta.uid.as_str())
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
        self.namespaces.insert(meta.name.clone(), Namespace { meta });
        Ok(())
    }

    fn add_service_account(&mut self, doc: &Doc<'_>) -> Result<(), ManifestError> {
        let meta = read_meta(doc)?;
        let key = meta_key(&meta);
        check_unique(doc, self.service_accounts.get(&key).map(|o| o.meta.document))?;
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

fn meta_key(meta: &ObjectMeta) -> (String, String) {
    key(meta.namespace.as_deref().unwrap_or("default"), &meta.name)
}

fn check_unique(doc: &Doc<'_>, first: Option<usize>) -> Result<(), ManifestError> {
    match first {
        Some(first) => Err(doc.error(format!("duplicate object: document {first} already defines it"))),
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
mod tests;
