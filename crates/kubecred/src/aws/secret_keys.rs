//! Secret level: long-lived or temporary keys from a Secret of the object's namespace.
//!
//! Secret data keys (Flux): `accesskey`, `secretkey`, optional `sessiontoken`; or the variable
//! names the AWS SDKs read and TriggerMesh's examples store (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`, as `kubectl create secret generic
//! --from-env-file` makes them); or the SOPS form, key `sops.aws-kms`, holding YAML with
//! `aws_access_key_id`, `aws_secret_access_key` and optional `aws_session_token`. The first form
//! present wins, in that order.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Secret;
use crate::credential::AwsKeys;
use crate::error::{Error, Result};

const SOPS_KEY: &str = "sops.aws-kms";

/// The data keys of one form: access key ID, secret access key, session token.
struct Form {
    access_key: &'static str,
    secret_key: &'static str,
    session_token: &'static str,
}

/// Flux's form first, then the SDK variable names.
const FORMS: [Form; 2] = [
    Form {
        access_key: "accesskey",
        secret_key: "secretkey",
        session_token: "sessiontoken",
    },
    Form {
        access_key: "AWS_ACCESS_KEY_ID",
        secret_key: "AWS_SECRET_ACCESS_KEY",
        session_token: "AWS_SESSION_TOKEN",
    },
];

#[derive(Deserialize)]
struct SopsKeys {
    aws_access_key_id: String,
    aws_secret_access_key: String,
    aws_session_token: Option<String>,
}

/// The keys a Secret holds.
pub(crate) fn keys(data: &BTreeMap<String, Secret>) -> Result<AwsKeys> {
    if let Some(sops) = data.get(SOPS_KEY) {
        return sops_keys(sops);
    }
    let field = |key: &str| {
        data.get(key)
            .map(|v| v.expose().trim())
            .filter(|v| !v.is_empty())
    };
    // The first form with either of its keys present; Flux's when none is.
    let form = FORMS
        .iter()
        .find(|form| field(form.access_key).is_some() || field(form.secret_key).is_some())
        .unwrap_or(&FORMS[0]);
    match (field(form.access_key), field(form.secret_key)) {
        (Some(access_key), Some(secret_key)) => Ok(AwsKeys {
            access_key_id: access_key.to_owned(),
            secret_access_key: Secret::new(secret_key),
            session_token: field(form.session_token).map(Secret::new),
            expires_at: None,
        }),
        (access_key, _) => {
            let missing = if access_key.is_none() {
                form.access_key
            } else {
                form.secret_key
            };
            let present: Vec<&str> = data.keys().map(String::as_str).collect();
            let [flux, sdk] = &FORMS;
            Err(Error::invalid(format!(
                "the secret has no '{missing}' key (AWS keys need '{}' and '{}', optionally '{}'; \
                 or '{}' and '{}', optionally '{}'; or '{SOPS_KEY}'; found keys: {})",
                flux.access_key,
                flux.secret_key,
                flux.session_token,
                sdk.access_key,
                sdk.secret_key,
                sdk.session_token,
                present.join(", ")
            )))
        }
    }
}

fn sops_keys(value: &Secret) -> Result<AwsKeys> {
    // The parser's message may quote the input; keep only its position.
    let parsed: SopsKeys = serde_saphyr::from_str(value.expose()).map_err(|_| {
        Error::invalid(format!(
            "the secret's '{SOPS_KEY}' value is not YAML with aws_access_key_id and aws_secret_access_key"
        ))
    })?;
    Ok(AwsKeys {
        access_key_id: parsed.aws_access_key_id,
        secret_access_key: Secret::new(parsed.aws_secret_access_key),
        session_token: parsed
            .aws_session_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        expires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect()
    }

    #[test]
    fn static_and_temporary_keys() -> Result<()> {
        let keys = keys(&data(&[("accesskey", "AKID"), ("secretkey", "SECRET\n")]))?;
        assert_eq!(
            (keys.access_key_id.as_str(), keys.secret_access_key.expose()),
            ("AKID", "SECRET")
        );
        assert!(keys.session_token.is_none());
        let temporary = super::keys(&data(&[
            ("accesskey", "ASIA"),
            ("secretkey", "S"),
            ("sessiontoken", "T"),
        ]))?;
        assert_eq!(
            temporary
                .session_token
                .map(|t| t.expose().to_owned())
                .as_deref(),
            Some("T")
        );
        Ok(())
    }

    #[test]
    fn sdk_variable_names_as_triggermesh_stores_them() -> Result<()> {
        let keys = keys(&data(&[
            ("AWS_ACCESS_KEY_ID", "ASIA"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_SESSION_TOKEN", "T"),
        ]))?;
        assert_eq!(
            (
                keys.access_key_id.as_str(),
                keys.secret_access_key.expose(),
                keys.session_token.as_ref().map(Secret::expose)
            ),
            ("ASIA", "S", Some("T"))
        );
        // Flux's form wins when both are there.
        let both = super::keys(&data(&[
            ("accesskey", "FLUX"),
            ("secretkey", "F"),
            ("AWS_ACCESS_KEY_ID", "SDK"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
        ]))?;
        assert_eq!(both.access_key_id, "FLUX");
        // A half-present form names its own missing key.
        let half = super::keys(&data(&[("AWS_ACCESS_KEY_ID", "SDK")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(half.contains("no 'AWS_SECRET_ACCESS_KEY' key"), "{half}");
        Ok(())
    }

    #[test]
    fn sops_form() -> Result<()> {
        let yaml =
            "aws_access_key_id: AKID\naws_secret_access_key: SECRET\naws_session_token: TOKEN\n";
        let keys = keys(&data(&[("sops.aws-kms", yaml)]))?;
        assert_eq!(keys.access_key_id, "AKID");
        assert_eq!(
            keys.session_token.map(|t| t.expose().to_owned()).as_deref(),
            Some("TOKEN")
        );
        Ok(())
    }

    #[test]
    fn missing_keys_are_named_without_values() {
        let error = keys(&data(&[("accesskey", "AKID"), ("password", "hunter2")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("no 'secretkey' key") && error.contains("accesskey, password"),
            "{error}"
        );
        assert!(!error.contains("hunter2") && !error.contains("AKID"));
        let bad = keys(&data(&[("sops.aws-kms", "aws_access_key_id: [hunter2")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            bad.contains("sops.aws-kms") && !bad.contains("hunter2"),
            "{bad}"
        );
    }
}
