//! The Kubernetes objects the sandbox serves, and their API JSON.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// Metadata shared by every stored object.
#[derive(Clone, Debug)]
pub(crate) struct ObjectMeta {
    pub(crate) name: String,
    /// `None` for cluster-scoped objects (Namespace).
    pub(crate) namespace: Option<String>,
    pub(crate) uid: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    /// RFC 3339 creation time.
    pub(crate) created: String,
    /// The 1-based manifest document the object came from.
    pub(crate) document: usize,
}

impl ObjectMeta {
    /// The `metadata` object as the API returns it.
    pub(crate) fn to_json(&self) -> Value {
        let mut meta = Map::new();
        meta.insert("name".into(), json!(self.name));
        if let Some(namespace) = &self.namespace {
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.insert("uid".into(), json!(self.uid));
        meta.insert("resourceVersion".into(), json!("1"));
        meta.insert("creationTimestamp".into(), json!(self.created));
        if !self.labels.is_empty() {
            meta.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            meta.insert("annotations".into(), json!(self.annotations));
        }
        Value::Object(meta)
    }
}

/// A Namespace.
#[derive(Clone, Debug)]
pub(crate) struct Namespace {
    pub(crate) meta: ObjectMeta,
}

impl Namespace {
    /// A namespace no manifest declared but the sandbox serves (`default`,
    /// or one holding loaded objects), with a fresh uid.
    pub(crate) fn implied(name: &str, uid: String, created: String) -> Namespace {
        let meta = ObjectMeta {
            name: name.to_string(),
            namespace: None,
            uid,
            labels: BTreeMap::from([("kubernetes.io/metadata.name".into(), name.to_string())]),
            annotations: BTreeMap::new(),
            created,
            document: 0,
        };
        Namespace { meta }
    }

    /// The API form, `Active`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": self.meta.to_json(),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })
    }
}

/// A `v1` list of `kind` (e.g. `SecretList`) holding `items`.
pub(crate) fn list_json(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"resourceVersion": "1"},
        "items": items,
    })
}

/// A ServiceAccount.
#[derive(Clone, Debug)]
pub(crate) struct ServiceAccount {
    pub(crate) meta: ObjectMeta,
}

impl ServiceAccount {
    pub(crate) fn to_json(&self) -> Value {
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": self.meta.to_json()})
    }
}

/// A Secret; `data` holds the decoded bytes.
#[derive(Clone)]
pub(crate) struct Secret {
    pub(crate) meta: ObjectMeta,
    pub(crate) secret_type: String,
    pub(crate) data: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("meta", &self.meta)
            .field("type", &self.secret_type)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secret {
    /// The API form: values base64-encoded, as the real API returns them.
    pub(crate) fn to_json(&self) -> Value {
        let data: BTreeMap<&String, String> = self
            .data
            .iter()
            .map(|(k, v)| (k, STANDARD.encode(v)))
            .collect();
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self.meta.to_json(),
            "type": self.secret_type,
            "data": data,
        })
    }
}

/// A ConfigMap.
#[derive(Clone, Debug)]
pub(crate) struct ConfigMap {
    pub(crate) meta: ObjectMeta,
    pub(crate) data: BTreeMap<String, String>,
}

impl ConfigMap {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.meta.to_json(),
            "data": self.data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: "creds".into(),
            namespace: Some("ns".into()),
            uid: "u".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::from([("a".into(), "b".into())]),
            created: "2026-01-01T00:00:00Z".into(),
            document: 1,
        }
    }

    #[test]
    fn secret_json_base64_encodes_and_debug_hides_values() {
        let secret = Secret {
            meta: meta(),
            secret_type: "Opaque".into(),
            data: BTreeMap::from([("password".into(), b"hunter2".to_vec())]),
        };
        let json = secret.to_json();
        assert_eq!(json["data"]["password"], "aHVudGVyMg==");
        assert_eq!(json["metadata"]["annotations"]["a"], "b");
        assert!(json["metadata"].get("labels").is_none());
        let debug = format!("{secret:?}");
        assert!(
            debug.contains("password") && !debug.contains("hunter2"),
            "{debug}"
        );
    }
}
