//! Service-account keys, as `gcloud iam service-accounts keys create` makes them: an RSA-2048
//! key pair whose private half goes into the JSON key file Google's libraries read, and whose
//! public half the OAuth token endpoint keeps to verify JWT-bearer assertions.

use super::state::GcpState;
use crate::random;

/// A created key: the JSON key file's text. `Debug` shows only the key id.
pub struct ServiceAccountKey {
    key_id: String,
    json: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// The key id (`private_key_id`, the `kid` of assertions it signs).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The JSON key file (`"type": "service_account"`, with the private key): a secret.
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Creates a key for `email` (a configured service account) whose `token_uri` is the
/// stand-in's token endpoint.
pub(crate) fn create(state: &GcpState, email: &str) -> Result<ServiceAccountKey, KeyError> {
    if !state.has_service_account(email) {
        return Err(KeyError(format!(
            "service account '{email}' is not configured"
        )));
    }
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .map_err(|e| KeyError(format!("cannot generate an RSA key: {e}")))?;
    let public = jsonwebtoken::DecodingKey::from_rsa_pem(pair.public_key_pem().as_bytes())
        .map_err(|e| KeyError(format!("the generated public key is unusable: {e}")))?;
    let key_id = random::uuid().replace('-', "");
    state.add_key(key_id.clone(), email.to_string(), public);
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": state.config.project_id,
        "private_key_id": key_id,
        "private_key": pair.serialize_pem(),
        "client_email": email,
        "client_id": client_id(email),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": state.token_uri,
        "universe_domain": "googleapis.com",
    });
    Ok(ServiceAccountKey {
        key_id,
        json: json.to_string(),
    })
}

/// A stable 21-digit numeric id for `email`, like Google's `client_id`s.
fn client_id(email: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, email.as_bytes());
    let digits: String = digest
        .as_ref()
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .take(20)
        .collect();
    format!("1{digits}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::config::{GcpConfig, GcpServiceAccount};

    #[test]
    fn keys_are_made_for_configured_accounts_only_and_hide_their_secret() {
        let config = GcpConfig {
            project_id: "p".into(),
            service_accounts: vec![GcpServiceAccount {
                email: "a@p.iam.gserviceaccount.com".into(),
                bindings: vec![],
            }],
            ..GcpConfig::default()
        };
        let state = GcpState::new(config, "http://127.0.0.1:1/token".into());
        assert!(create(&state, "b@p.iam.gserviceaccount.com").is_err());
        let key = create(&state, "a@p.iam.gserviceaccount.com").expect("key");
        let json: serde_json::Value = serde_json::from_str(key.json()).expect("JSON");
        assert_eq!(json["token_uri"], "http://127.0.0.1:1/token");
        assert!(
            json["private_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("-----BEGIN PRIVATE KEY-----"))
        );
        assert!(!format!("{key:?}").contains("PRIVATE"));
        assert!(state.with_key(key.key_id(), |_| ()).is_some());
        assert_eq!(client_id("x").len(), 21);
    }
}
