//! The Security Token Service stand-in: `POST /v1/token`, the RFC 8693 token exchange of a
//! workload's OIDC token for a federated access token, as `sts.googleapis.com` does it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::audience;
use super::error::OAuthError;
use super::params::Params;
use super::state::GcpState;
use super::subject;
use crate::verify::JwtVerifier;

/// The path of the exchange.
pub(crate) const PATH: &str = "/v1/token";
/// What [`GcpState::calls`] counts a successful exchange as.
pub(crate) const ACTION: &str = "sts.token";

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const SUBJECT_TOKEN_TYPES: [&str; 2] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
];
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Lifetime of a federated token, seconds.
const LIFETIME: i64 = 3600;

/// The STS router.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new().route(PATH, post(handle)).with_state(state)
}

async fn handle(State(state): State<Arc<GcpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let subject_token = Params::parse(content_type, &body)
        .ok()
        .and_then(|params| params.get("subject_token").map(str::to_owned));
    if let Some(token) = subject_token {
        // Clones share their keys: refreshing one refreshes the configuration's.
        let mut verifiers: Vec<JwtVerifier> = Vec::new();
        for pool in &state.config.pools {
            verifiers.extend(pool.providers.iter().map(|p| p.verifier.clone()));
        }
        verifiers.extend(state.config.gke.iter().map(|c| c.verifier.clone()));
        crate::verify::refresh_issuer_of(&verifiers, &token).await;
    }
    match exchange(&state, content_type, &body) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "GCP STS refused an exchange");
            error.into_response()
        }
    }
}

/// The whole exchange; returns the response body.
fn exchange(
    state: &GcpState,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let params = Params::parse(content_type, body)?;
    let grant_type = params.required("grant_type")?;
    if grant_type != TOKEN_EXCHANGE {
        return Err(OAuthError::unsupported_grant_type(grant_type));
    }
    check_token_types(&params)?;
    let target = audience::parse(params.required("audience")?)?;
    let token = params.required("subject_token")?;
    let federated = subject::federate(&state.config, &target, token)?;
    let scopes = scopes(params.get("scope"));
    let access_token = state.issue(federated.principal, federated.members, scopes, LIFETIME);
    Ok(serde_json::json!({
        "access_token": access_token,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": LIFETIME,
    }))
}

fn check_token_types(params: &Params) -> Result<(), OAuthError> {
    let subject_type = params.required("subject_token_type")?;
    if !SUBJECT_TOKEN_TYPES.contains(&subject_type) {
        return Err(OAuthError::invalid_request(
            "Invalid value for \"subject_token_type\". Expected one of urn:ietf:params:oauth:token-type:jwt, urn:ietf:params:oauth:token-type:id_token.",
        ));
    }
    // Required by Google's STS, with this one value.
    if params.required("requested_token_type")? != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(
            "Invalid value for \"requested_token_type\". Expected urn:ietf:params:oauth:token-type:access_token.",
        ));
    }
    Ok(())
}

/// The space-separated `scope`, or cloud-platform.
pub(crate) fn scopes(scope: Option<&str>) -> Vec<String> {
    let listed: Vec<String> = scope
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if listed.is_empty() {
        vec![CLOUD_PLATFORM.to_string()]
    } else {
        listed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::config::GcpConfig;

    fn refused(form: &str) -> OAuthError {
        let state = GcpState::new(GcpConfig::default(), String::new());
        exchange(&state, None, form.as_bytes()).expect_err("refused")
    }

    #[test]
    fn wrong_grant_and_token_types_are_refused() {
        assert_eq!(
            refused("grant_type=password").code(),
            "unsupported_grant_type"
        );
        let wrong_type = refused(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token_type=saml",
        );
        assert!(
            wrong_type.description().contains("subject_token_type"),
            "{wrong_type}"
        );
    }

    #[test]
    fn the_requested_token_type_is_required() {
        let error = refused(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&subject_token=x.y.z",
        );
        assert_eq!(
            error.description(),
            "Invalid value for \"requested_token_type\": it is missing."
        );
    }

    #[test]
    fn unknown_providers_are_invalid_targets() {
        let error = refused(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt&subject_token=x.y.z\
             &audience=%2F%2Fiam.googleapis.com%2Fprojects%2F1%2Flocations%2Fglobal%2FworkloadIdentityPools%2Fpool%2Fproviders%2Fprov",
        );
        assert_eq!(error.code(), "invalid_target");
    }

    #[test]
    fn scopes_default_to_cloud_platform() {
        assert_eq!(scopes(None), [CLOUD_PLATFORM]);
        assert_eq!(scopes(Some("a b")), ["a", "b"]);
    }
}
