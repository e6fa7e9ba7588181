//! Flux-shaped objects from a manifest, as the requests their controllers make: the fields
//! `provider`, `serviceAccountName`, `secretRef`, `url` / `endpoint` / `bucketName` / `image`,
//! `region` of OCIRepository, HelmRepository (OCI), Bucket, ImageRepository, GitRepository,
//! Kustomization (`decryption`, `kubeConfig.configMapRef`) and notification Provider
//! (`azureeventhub`, `googlepubsub`). An object kubecred does not serve is listed with why.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::identity::Purpose;
use crate::{Identity, Provider, Request};

/// One object of a manifest and the request its controller would make (or why none).
#[derive(Clone, Debug)]
pub struct FluxObject {
    /// `Kind namespace/name`.
    pub object: String,
    /// The request, when the object asks kubecred's providers for credentials.
    pub request: Option<Request>,
    /// What to know (why no request, or what the request assumes).
    pub note: Option<String>,
    /// A Kustomization's remote cluster: the namespace and name of its kubeconfig ConfigMap
    /// (`kubeConfig.configMapRef`), whose provider and identity are read from the cluster
    /// ([`super::explain_config_map_cluster`]).
    pub config_map: Option<(String, String)>,
}

/// The Flux objects of the manifest file at `path` (read bounded, as credential files are).
pub async fn objects_in_file(
    path: &std::path::Path,
    decryption_provider: Option<Provider>,
) -> Result<Vec<FluxObject>> {
    let text = crate::fs::read_bounded(path).await?;
    objects(&text, decryption_provider)
        .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))
}

/// The Flux objects of `yaml` (one or more documents). `decryption_provider`: the cloud of a
/// Kustomization's SOPS keys, which the object does not name. Errors name the document.
pub fn objects(yaml: &str, decryption_provider: Option<Provider>) -> Result<Vec<FluxObject>> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).map_err(|e| {
        Error::invalid(format!(
            "the manifest is not YAML: {}",
            e.render_with_formatter(&serde_saphyr::UserMessageFormatter)
        ))
    })?;
    Ok(documents
        .iter()
        .filter(|d| !d.is_null())
        .flat_map(|d| uses(d))
        .map(|(d, part)| {
            let mut found = object(&d, decryption_provider);
            if let Some(part) = part {
                found.object = format!("{} ({part})", found.object);
            }
            found
        })
        .collect())
}

/// A Kustomization that both decrypts and applies to a remote cluster asks for two credentials:
/// one document per use (without the other's field), named by the field; any other document
/// as it is.
fn uses(document: &Value) -> Vec<(Value, Option<&'static str>)> {
    let spec = &document["spec"];
    let both = document["kind"] == "Kustomization"
        && spec.get("decryption").is_some()
        && text(spec, &["kubeConfig", "configMapRef", "name"]).is_some();
    if !both {
        return vec![(document.clone(), None)];
    }
    ["decryption", "kubeConfig"]
        .into_iter()
        .map(|keep| {
            let mut one = document.clone();
            let drop = if keep == "decryption" {
                "kubeConfig"
            } else {
                "decryption"
            };
            if let Some(spec) = one.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove(drop);
            }
            (one, Some(keep))
        })
        .collect()
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn object(document: &Value, decryption_provider: Option<Provider>) -> FluxObject {
    let kind = text(document, &["kind"]).unwrap_or("(no kind)");
    let namespace = text(document, &["metadata", "namespace"]).unwrap_or("default");
    let name = text(document, &["metadata", "name"]).unwrap_or("(no name)");
    let label = format!("{kind} {namespace}/{name}");
    let spec = document.get("spec").cloned().unwrap_or(Value::Null);
    let none = |note: String| FluxObject {
        object: label.clone(),
        request: None,
        note: Some(note),
        config_map: None,
    };
    let (provider, purpose, account) = match kind {
        "OCIRepository" | "HelmRepository" | "Bucket" | "ImageRepository" | "GitRepository" => (
            text(&spec, &["provider"]).unwrap_or("generic").to_owned(),
            Purpose::General,
            text(&spec, &["serviceAccountName"]),
        ),
        "Kustomization" if spec.get("decryption").is_some() => {
            let Some(provider) = decryption_provider else {
                return none(
                    "decryption: the cloud follows from the SOPS file's keys; give --provider"
                        .into(),
                );
            };
            (
                provider.name().to_owned(),
                Purpose::Decryption,
                text(&spec, &["decryption", "serviceAccountName"]),
            )
        }
        "Kustomization" if text(&spec, &["kubeConfig", "configMapRef", "name"]).is_some() => {
            let map = text(&spec, &["kubeConfig", "configMapRef", "name"]).unwrap_or_default();
            return FluxObject {
                config_map: Some((namespace.to_owned(), map.to_owned())),
                ..none(format!(
                    "a remote cluster from ConfigMap {namespace}/{map} (its provider, cluster \
                     and serviceAccountName)"
                ))
            };
        }
        "Provider" => {
            let provider = match text(&spec, &["type"]) {
                Some("azureeventhub") => "azure",
                Some("googlepubsub") => "gcp",
                Some(other) => {
                    return none(format!(
                        "notification provider type {other} uses a Secret's token, not a cloud \
                         identity"
                    ));
                }
                None => return none("a notification Provider without a type".into()),
            };
            (
                provider.to_owned(),
                Purpose::General,
                text(&spec, &["serviceAccountName"]),
            )
        }
        other => return none(format!("{other} asks for no cloud credentials")),
    };
    let provider: Provider = match provider.parse() {
        Ok(provider) => provider,
        Err(e) => return none(format!("spec.provider: {e}")),
    };
    if provider == Provider::Generic && kind != "Kustomization" {
        return none(
            "provider generic (the default): static credentials from secretRef, no workload \
             identity"
                .into(),
        );
    }
    let identity = match (account, text(&spec, &["secretRef", "name"])) {
        (Some(account), _) => Identity::service_account(account),
        (None, Some(secret)) if kind == "Bucket" => Identity::secret(secret),
        _ => Identity::Controller,
    };
    let region = text(&spec, &["region"])
        .map(str::to_owned)
        .or_else(|| ecr_region(text(&spec, &["url"]).or(text(&spec, &["image"]))));
    let note = (provider == Provider::Aws && region.is_none()).then(|| {
        "no region in the object (spec.region, or an ECR URL): object level on AWS needs one".into()
    });
    FluxObject {
        config_map: None,
        object: label,
        request: Some(Request {
            identity,
            namespace: Some(namespace.to_owned()),
            purpose,
            region,
            ..Request::new(provider)
        }),
        note,
    }
}

/// The region of an ECR image or `oci://` URL, by the ECR host parser of the `aws` module
/// (anchored, look-alike tested); without that module no AWS request can be served anyway.
fn ecr_region(url: Option<&str>) -> Option<String> {
    let rest = url?;
    let rest = rest.strip_prefix("oci://").unwrap_or(rest);
    let host = rest.split('/').next()?;
    registry_region(host)
}

#[cfg(feature = "aws")]
fn registry_region(host: &str) -> Option<String> {
    crate::aws::hosts::ecr_registry(host)
        .ok()
        .map(|registry| registry.region().to_owned())
}

#[cfg(not(feature = "aws"))]
fn registry_region(_host: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app, namespace: team-a}
spec: {provider: aws, url: 'oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/app', serviceAccountName: puller}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: Bucket
metadata: {name: b, namespace: team-a}
spec: {provider: gcp, bucketName: flux, secretRef: {name: gcs-key}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: k, namespace: team-a}
spec: {decryption: {provider: sops, serviceAccountName: decrypter}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: hub, namespace: team-a}
spec: {type: azureeventhub}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: g, namespace: team-a}
spec: {url: 'https://github.com/x/y'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: team-a}
";

    #[cfg(feature = "aws")]
    #[test]
    fn each_object_becomes_its_controllers_request() -> Result<()> {
        let objects = objects(MANIFEST, Some(Provider::Aws))?;
        assert_eq!(objects.len(), 6);
        let oci = objects[0].request.as_ref().expect("request");
        assert_eq!(oci.provider, Provider::Aws);
        assert_eq!(oci.identity, Identity::service_account("puller"));
        assert_eq!(oci.region.as_deref(), Some("eu-west-1"));
        assert_eq!(oci.namespace.as_deref(), Some("team-a"));
        let bucket = objects[1].request.as_ref().expect("request");
        assert_eq!(bucket.identity, Identity::secret("gcs-key"));
        let decryption = objects[2].request.as_ref().expect("request");
        assert_eq!(decryption.purpose, Purpose::Decryption);
        assert_eq!(decryption.identity, Identity::service_account("decrypter"));
        let hub = objects[3].request.as_ref().expect("request");
        assert_eq!(
            (hub.provider, &hub.identity),
            (Provider::Azure, &Identity::Controller)
        );
        assert!(objects[4].request.is_none() && objects[4].note.is_some());
        assert!(
            objects[5]
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("no cloud credentials")
        );
        Ok(())
    }

    proptest::proptest! {
        /// Any text as a manifest, and any value in an object's fields: an answer, never a
        /// panic; every object named is one of the documents.
        #[test]
        fn any_manifest_is_answered(text in "\\PC{0,200}", provider in "\\PC{0,20}", url in "\\PC{0,60}") {
            let _ = objects(&text, None);
            let manifest = format!(
                "kind: OCIRepository\nmetadata: {{name: a, namespace: b}}\nspec: {{provider: {provider:?}, url: {url:?}, serviceAccountName: {url:?}}}\n"
            );
            if let Ok(found) = objects(&manifest, Some(Provider::Aws)) {
                proptest::prop_assert!(found.len() <= 1);
            }
        }
    }

    #[test]
    fn a_kustomization_that_decrypts_and_applies_remotely_is_two_uses() -> Result<()> {
        let manifest = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n\
            metadata: {name: prod, namespace: team-a}\n\
            spec: {decryption: {provider: sops, serviceAccountName: decrypter}, \
            kubeConfig: {configMapRef: {name: remote}}}\n";
        let found = objects(manifest, Some(Provider::Aws))?;
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].object, "Kustomization team-a/prod (decryption)");
        let decryption = found[0].request.as_ref().expect("a decryption request");
        assert_eq!(decryption.purpose, Purpose::Decryption);
        assert_eq!(found[0].config_map, None);
        assert_eq!(found[1].object, "Kustomization team-a/prod (kubeConfig)");
        assert!(found[1].request.is_none());
        assert_eq!(
            found[1].config_map,
            Some(("team-a".to_owned(), "remote".to_owned()))
        );
        Ok(())
    }

    #[test]
    fn decryption_without_a_provider_and_bad_yaml_are_explained() {
        let objects = objects(MANIFEST, None).expect("objects");
        assert!(
            objects[2]
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("--provider")
        );
        let error = super::objects("a: [", None).expect_err("not YAML");
        assert!(error.to_string().contains("not YAML"), "{error}");
        let unknown =
            super::objects("kind: Bucket\nspec: {provider: ibm}\n", None).expect("objects");
        assert!(
            unknown[0]
                .note
                .as_deref()
                .unwrap_or_default()
                .contains("spec.provider")
        );
    }
}
