//! Secret level: long-lived or temporary keys from a Secret of the object's namespace.
//!
//! Secret data keys (TriggerMesh, Flux): `accesskey`, `secretkey`, optional `sessiontoken`; or
//! the SOPS form, key `sops.aws-kms`, holding YAML with `aws_access_key_id`,
//! `aws_secret_access_key` and optional `aws_session_token`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Secret;
use crate::credential::CloudKeys;
use crate::error::{Error, Result};

const ACCESS_KEY: &str = "accesskey";
const SECRET_KEY: &str = "secretkey";
const SESSION_TOKEN: &str = "sessiontoken";
const SOPS_KEY: &str = "sops.aws-kms";

#[derive(Deserialize)]
struct SopsKeys {
    aws_access_key_id: String,
    aws_secret_access_key: String,
    aws_session_token: Option<String>,
}

/// The keys a Secret holds.
pub(crate) fn keys(data: &BTreeMap<String, Secret>) -> Result<CloudKeys> {
    if let Some(sops) = data.get(SOPS_KEY) {
        return sops_keys(sops);
    }
    let field = |key: &str| {
        data.get(key)
            .map(|v| v.expose().trim())
            .filter(|v| !v.is_empty())
    };
    match (field(ACCESS_KEY), field(SECRET_KEY)) {
        (Some(access_key), Some(secret_key)) => Ok(CloudKeys {
            access_key_id: access_key.to_owned(),
            secret_access_key: Secret::new(secret_key),
            session_token: field(SESSION_TOKEN).map(Secret::new),
            expires_at: None,
        }),
        (access_key, _) => {
            let missing = if access_key.is_none() {
                ACCESS_KEY
            } else {
                SECRET_KEY
            };
            let present: Vec<&str> = data.keys().map(String::as_str).collect();
            Err(Error::invalid(format!(
                "the secret has no '{missing}' key (AWS keys need '{ACCESS_KEY}' and '{SECRET_KEY}', optionally \
                 '{SESSION_TOKEN}', or '{SOPS_KEY}'; found keys: {})",
                present.join(", ")
            )))
        }
    }
}

fn sops_keys(value: &Secret) -> Result<CloudKeys> {
    // The parser's message may quote the input; keep only its position.
    let parsed: SopsKeys = serde_saphyr::from_str(value.expose()).map_err(|_| {
        Error::invalid(format!(
            "the secret's '{SOPS_KEY}' value is not YAML with aws_access_key_id and aws_secret_access_key"
        ))
    })?;
    Ok(CloudKeys {
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
