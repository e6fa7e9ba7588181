//! Reading Google's credential files: the `type` that says which file it is, and one deserializer
//! whose errors name the field (through `serde_path_to_error`) and never repeat a value (serde's
//! own messages quote the offending value, which could be a key).

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The largest credential file read (keys are ~2.4 kB, configurations less).
pub(crate) use crate::fs::MAX_FILE_LEN;

/// What a Google credential file is, by its `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialType {
    /// `service_account`: a service-account key ([`super::key::ServiceAccountKey`]).
    ServiceAccount,
    /// `external_account`: a workload identity federation configuration
    /// ([`super::external_account::ExternalAccount`]).
    ExternalAccount,
    /// `authorized_user`: a user's refresh token (gcloud's ADC file).
    AuthorizedUser,
    /// `impersonated_service_account`: a source credential and an account to impersonate.
    ImpersonatedServiceAccount,
}

#[derive(Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: String,
}

/// The `type` of a credential file.
pub fn credential_type(json: &str) -> Result<CredentialType> {
    let file: TypeOnly = parse(json, "GCP credential file")?;
    match file.kind.as_str() {
        "service_account" => Ok(CredentialType::ServiceAccount),
        "external_account" => Ok(CredentialType::ExternalAccount),
        "authorized_user" => Ok(CredentialType::AuthorizedUser),
        "impersonated_service_account" => Ok(CredentialType::ImpersonatedServiceAccount),
        other => Err(Error::invalid(format!(
            "invalid GCP credential file: field 'type': unsupported type{}. expected \
             service_account, external_account, authorized_user or impersonated_service_account",
            shown_type(other)
        ))),
    }
}

/// ` '<type>'` when it looks like a type name (the value of a file holding a key is not shown).
fn shown_type(kind: &str) -> String {
    let name = !kind.is_empty()
        && kind.len() <= 40
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    match name {
        true => format!(" '{kind}'"),
        false => String::new(),
    }
}

/// Deserializes `json` as a `what`; the error names the field and the problem, no value.
pub(crate) fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    if json.len() > MAX_FILE_LEN {
        return Err(Error::invalid(format!(
            "invalid {what}: larger than {MAX_FILE_LEN} bytes"
        )));
    }
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = match path.as_str() {
            "." | "" => String::new(),
            path => format!("field '{path}': "),
        };
        Error::invalid(format!("invalid {what}: {field}{}", problem(&inner)))
    })
}

/// serde_json's message without the value it quotes: missing, unknown and duplicate fields and
/// syntax errors name no value and are kept; type and value errors become their category.
fn problem(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let keeps = ["missing field", "unknown field", "duplicate field"];
    let kept = error.is_syntax() || error.is_eof() || keeps.iter().any(|k| message.starts_with(k));
    match kept {
        true => message,
        false => format!(
            "wrong type or value at line {} column {}",
            error.line(),
            error.column()
        ),
    }
}

/// Fails with `invalid {what}: field '{field}': {why}`.
pub(crate) fn field_error(what: &str, field: &str, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("invalid {what}: field '{field}': {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn credential_types() {
        for (kind, expected) in [
            ("service_account", CredentialType::ServiceAccount),
            ("external_account", CredentialType::ExternalAccount),
            ("authorized_user", CredentialType::AuthorizedUser),
            (
                "impersonated_service_account",
                CredentialType::ImpersonatedServiceAccount,
            ),
        ] {
            let json = format!(r#"{{"type": "{kind}", "other": 1}}"#);
            assert_eq!(credential_type(&json).ok(), Some(expected));
        }
        assert_eq!(
            message(credential_type(r#"{"type": "gdch_service_account"}"#)),
            "invalid GCP credential file: field 'type': unsupported type 'gdch_service_account'. \
             expected service_account, external_account, authorized_user or impersonated_service_account"
        );
        assert!(message(credential_type("{}")).contains("missing field `type`"));
        assert!(
            message(credential_type(
                r#"{"type": "-----BEGIN PRIVATE KEY-----"}"#
            ))
            .contains("field 'type': unsupported type. expected")
        );
        assert!(message(credential_type("[")).starts_with("invalid GCP credential file: EOF"));
    }

    /// serde would print `invalid type: string "<the value>"`; the value must not appear.
    #[test]
    fn type_errors_name_the_field_and_hide_the_value() {
        #[derive(Debug, Deserialize)]
        struct Nested {
            #[allow(dead_code)]
            n: u32,
        }
        #[derive(Debug, Deserialize)]
        struct Outer {
            #[allow(dead_code)]
            inner: Nested,
        }
        let error = message(parse::<Outer>(
            r#"{"inner": {"n": "SECRET-VALUE"}}"#,
            "thing",
        ));
        assert_eq!(
            error,
            "invalid thing: field 'inner.n': wrong type or value at line 1 column 30"
        );
        let big = " ".repeat(MAX_FILE_LEN + 1);
        assert!(message(parse::<Outer>(&big, "thing")).contains("larger than"));
    }
}
