//! Field readers for manifest documents. Each returns a message naming the
//! field that was wrong; the caller adds the document and object.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// "apps/v1 Deployment 'web'" for a document, as far as it can be told.
pub(super) fn describe(document: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let api_version = text(document.get("apiVersion"));
    let kind = text(document.get("kind")).unwrap_or_else(|| "object without kind".into());
    let name = text(document.get("metadata").and_then(|m| m.get("name")));
    let mut out = api_version.map_or_else(String::new, |v| format!("{v} "));
    out.push_str(&kind);
    if let Some(name) = name {
        out.push_str(&format!(" '{name}'"));
    }
    out
}

/// The document's `kind`.
pub(super) fn kind(object: &Map<String, Value>) -> Result<&str, String> {
    match object.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => Ok(kind),
        None | Some(Value::Null) => Err("kind is missing".into()),
        Some(_) => Err("kind must be a string".into()),
    }
}

/// Checks `apiVersion: v1` (all supported kinds are core/v1).
pub(super) fn require_core_v1(object: &Map<String, Value>) -> Result<(), String> {
    match object.get("apiVersion").and_then(Value::as_str) {
        Some("v1") => Ok(()),
        Some(other) => Err(format!("apiVersion {other} is not supported; expected v1")),
        None => Err("apiVersion is missing (expected v1)".into()),
    }
}

/// The `metadata` mapping.
pub(super) fn metadata(object: &Map<String, Value>) -> Result<&Map<String, Value>, String> {
    match object.get("metadata") {
        Some(Value::Object(metadata)) => Ok(metadata),
        None | Some(Value::Null) => Err("metadata.name is missing".into()),
        Some(_) => Err("metadata must be a mapping".into()),
    }
}

/// `metadata.<field>` as a valid object name (a DNS subdomain).
pub(super) fn name(metadata: &Map<String, Value>, field: &str) -> Result<String, String> {
    let value = match metadata.get(field) {
        None | Some(Value::Null) => return Err(format!("metadata.{field} is missing")),
        Some(Value::String(value)) => value,
        Some(_) => return Err(format!("metadata.{field} must be a string")),
    };
    if !is_dns_subdomain(value) {
        return Err(format!(
            "metadata.{field} '{value}' is not a valid name: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        ));
    }
    Ok(value.clone())
}

fn is_dns_subdomain(value: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    value.len() <= 253
        && value.chars().all(allowed)
        && edge(value.chars().next())
        && edge(value.chars().last())
}

/// An optional string field at the top level (e.g. a Secret's `type`).
pub(super) fn optional_string<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, String> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(format!("{field} must be a string")),
    }
}

/// A mapping of strings to strings (`data`, labels, annotations); absent
/// means empty.
pub(super) fn string_map(
    value: Option<&Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, String> {
    let entries = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => return Err(format!("{field} must be a mapping of strings")),
    };
    entries
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            _ => Err(format!("{field}.{key} must be a string (quote it in YAML)")),
        })
        .collect()
}

/// A Secret's `data` (base64, decoded here) merged with its `stringData`
/// (which wins, as in the real API).
pub(super) fn secret_data(
    object: &Map<String, Value>,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut data = BTreeMap::new();
    for (key, encoded) in string_map(object.get("data"), "data")? {
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("data.{key} is not valid base64 ({e})"))?;
        data.insert(key, decoded);
    }
    for (key, text) in string_map(object.get("stringData"), "stringData")? {
        data.insert(key, text.into_bytes());
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_documents() {
        let doc =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        assert_eq!(describe(&doc), "apps/v1 Deployment 'web'");
        assert_eq!(describe(&json!({"kind": "Secret"})), "Secret");
        assert_eq!(describe(&json!([1])), "object without kind");
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        let meta = |name: Value| {
            json!({"name": name})
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(name(&meta(json!("app-1.x")), "name"), Ok("app-1.x".into()));
        for bad in ["App", "-a", "a-", "", "a_b"] {
            assert!(name(&meta(json!(bad)), "name").is_err(), "{bad}");
        }
        assert_eq!(
            name(&meta(json!(3)), "name"),
            Err("metadata.name must be a string".into())
        );
    }

    #[test]
    fn string_maps_refuse_non_strings_naming_the_key() {
        let value = json!({"port": 8080});
        assert_eq!(
            string_map(Some(&value), "data"),
            Err("data.port must be a string (quote it in YAML)".into())
        );
    }
}
