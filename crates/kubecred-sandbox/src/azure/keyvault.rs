//! Key Vault keys (HTTPS): `GET /<vault>/keys/<key>[/<version>]?api-version=…` answers the key
//! as a JWK with `key_ops` to callers holding a crypto role on the key or vault, else 403
//! `ForbiddenByRbac` in Key Vault's error shape; 401 with the Bearer challenge without a valid
//! Key Vault token.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};

use super::config::{KEY_VAULT_AUDIENCE, KEY_VAULT_CRYPTO_USER};
use super::error::{KeyVaultError, shown};
use super::state::{AzureState, TokenProblem};

/// What [`AzureState::calls`] counts a key read as.
pub(crate) const ACTION: &str = "keyvault.keys.get";
const ROLES: [&str; 3] = [
    KEY_VAULT_CRYPTO_USER,
    "Key Vault Crypto Officer",
    "Key Vault Administrator",
];

/// The Key Vault router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn error(status: u16, code: &'static str, message: impl Into<String>) -> KeyVaultError {
    KeyVaultError {
        status,
        code,
        message: message.into(),
        inner: None,
        challenge: None,
    }
}

async fn handle(
    State(state): State<Arc<AzureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match key(&state, &method, &uri, &headers) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(refusal) => {
            tracing::debug!(error = %refusal, "the Key Vault stand-in refused a request");
            refusal.into_response()
        }
    }
}

/// `(vault, key, version)` of `/<vault>/keys/<key>[/<version>]`.
fn parse(path: &str) -> Option<(&str, &str, Option<&str>)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [vault, "keys", key] if !vault.is_empty() && !key.is_empty() => Some((vault, key, None)),
        [vault, "keys", key, version] if !vault.is_empty() && !key.is_empty() => {
            Some((vault, key, Some(*version).filter(|v| !v.is_empty())))
        }
        _ => None,
    }
}

fn key(
    state: &AzureState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<serde_json::Value, KeyVaultError> {
    let challenge = format!(
        "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"{KEY_VAULT_AUDIENCE}\"",
        state.config.tenant_id
    );
    let unauthorized = |message: String| KeyVaultError {
        challenge: Some(challenge.clone()),
        ..error(401, "Unauthorized", message)
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = state
        .authenticate(authorization, &[KEY_VAULT_AUDIENCE])
        .map_err(|problem| match problem {
            TokenProblem::Missing => {
                unauthorized("AKV10000: Request is missing a Bearer or PoP token.".into())
            }
            TokenProblem::Invalid => unauthorized("AKV10031: Token validation failed.".into()),
            TokenProblem::Expired { .. } => unauthorized("AKV10032: Token has expired.".into()),
            TokenProblem::Audience(audience) => unauthorized(format!(
                "AKV10022: Invalid audience. Expected {KEY_VAULT_AUDIENCE}, found: {}.",
                shown(&audience)
            )),
        })?;
    let has_version = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|p| p.starts_with("api-version=") && p.len() > 12);
    if !has_version {
        return Err(error(
            400,
            "BadParameter",
            "The 'api-version' parameter is missing.",
        ));
    }
    let Some((vault, name, version)) = parse(uri.path()) else {
        return Err(error(
            404,
            "NotFound",
            "The requested operation is not served here.",
        ));
    };
    if method != Method::GET {
        return Err(error(
            405,
            "MethodNotAllowed",
            format!("'{method}' is not allowed here."),
        ));
    }
    let scope = format!("azkv://{vault}/keys/{name}");
    if !state.granted(&caller, &scope, &ROLES) {
        return Err(KeyVaultError {
            inner: Some("ForbiddenByRbac"),
            ..error(
                403,
                "Forbidden",
                format!(
                    "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss={}\r\nAction: 'Microsoft.KeyVault/vaults/keys/read'\r\nResource: '{}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {};location=westeurope\r\n",
                    caller.appid,
                    caller.oid,
                    state.token_issuer(),
                    shown(&scope),
                    shown(vault)
                ),
            )
        });
    }
    let version = version.map_or_else(
        || super::config::derived_id("key-version", &scope).replace('-', ""),
        str::to_owned,
    );
    let jwk = state.signing.jwk();
    let now = crate::clock::unix_now();
    Ok(serde_json::json!({
        "key": {
            "kid": format!("https://{vault}.vault.azure.net/keys/{name}/{version}"),
            "kty": "RSA",
            "key_ops": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
            "n": jwk["n"],
            "e": jwk["e"],
        },
        "attributes": {
            "enabled": true,
            "created": now,
            "updated": now,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
            "exportable": false,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths() {
        assert_eq!(parse("/v/keys/k"), Some(("v", "k", None)));
        assert_eq!(parse("/v/keys/k/abc"), Some(("v", "k", Some("abc"))));
        assert_eq!(parse("/v/secrets/k"), None);
        assert_eq!(parse("//keys/k"), None);
    }
}
