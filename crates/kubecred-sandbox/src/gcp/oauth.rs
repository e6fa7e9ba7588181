//! The OAuth 2.0 token endpoint (`oauth2.googleapis.com`): `POST /token` with the JWT-bearer
//! grant (RFC 7523) a service-account key signs, and `GET /tokeninfo?access_token=...`
//! describing a token the stand-ins issued.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::error::OAuthError;
use super::params::Params;
use super::state::GcpState;
use crate::clock::unix_now;

/// The token path.
pub(crate) const PATH: &str = "/token";
/// What [`GcpState::calls`] counts a granted assertion as.
pub(crate) const ACTION: &str = "oauth2.token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's own token URI, also accepted as an assertion's audience.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Lifetime of granted tokens and the longest assertion, seconds.
const LIFETIME: i64 = 3600;
const SHORT_LIVED: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// The OAuth router.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new()
        .route(PATH, post(token))
        .route("/tokeninfo", get(tokeninfo))
        .with_state(state)
}

/// The assertion's claims.
#[derive(Debug, Deserialize)]
struct Assertion {
    iss: String,
    iat: i64,
    exp: i64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    target_audience: Option<String>,
}

async fn token(State(state): State<Arc<GcpState>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    match grant(&state, content_type, &body) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "the OAuth token endpoint refused a grant");
            error.into_response()
        }
    }
}

fn grant(
    state: &GcpState,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let params = Params::parse(content_type, body)?;
    let grant_type = params.required("grant_type")?;
    if grant_type != JWT_BEARER {
        return Err(OAuthError::unsupported_grant_type(grant_type));
    }
    let (email, claims) = verify(state, params.required("assertion")?)?;
    if claims.sub.as_deref().is_some_and(|sub| sub != email) {
        return Err(OAuthError::unauthorized_client(
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        ));
    }
    if claims.target_audience.is_some() {
        return Err(OAuthError::invalid_request(
            "ID tokens (target_audience) are not served by this stand-in.",
        ));
    }
    if claims.scope.as_deref().is_none_or(|s| s.trim().is_empty()) {
        return Err(OAuthError::invalid_scope(
            "Empty or missing scope not allowed.",
        ));
    }
    let scopes = super::sts::scopes(claims.scope.as_deref());
    let token = state.issue_for_service_account(&email, scopes, LIFETIME);
    Ok(serde_json::json!({
        "access_token": token,
        "expires_in": LIFETIME - 1,
        "token_type": "Bearer",
    }))
}

/// Checks the assertion's key, signature, audience, issuer and lifetime; returns the key's
/// service account and the claims.
fn verify(state: &GcpState, assertion: &str) -> Result<(String, Assertion), OAuthError> {
    let malformed = |what: &str| OAuthError::invalid_grant(format!("Invalid JWT: {what}."));
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed("not a JWT"))?;
    if header.alg != Algorithm::RS256 {
        return Err(malformed("the algorithm is not RS256"));
    }
    let kid = header
        .kid
        .ok_or_else(|| malformed("no kid in the header"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 30;
    validation.set_audience(&[state.token_uri.as_str(), GOOGLE_TOKEN_URI]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let decoded = state
        .with_key(&kid, |record| {
            jsonwebtoken::decode::<Assertion>(assertion, &record.key, &validation)
                .map(|data| (record.email.clone(), data.claims))
        })
        .ok_or_else(|| OAuthError::invalid_grant("Invalid JWT Signature."))?;
    let (email, claims) = decoded.map_err(|e| jwt_error(&e))?;
    if claims.iss != email {
        return Err(malformed("the issuer is not the key's service account"));
    }
    let now = unix_now();
    if claims.exp.saturating_sub(claims.iat) > LIFETIME || claims.iat > now.saturating_add(30) {
        return Err(OAuthError::invalid_grant(SHORT_LIVED));
    }
    Ok((email, claims))
}

fn jwt_error(error: &jsonwebtoken::errors::Error) -> OAuthError {
    match error.kind() {
        ErrorKind::InvalidSignature => OAuthError::invalid_grant("Invalid JWT Signature."),
        ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
            OAuthError::invalid_grant(SHORT_LIVED)
        }
        ErrorKind::InvalidAudience => {
            OAuthError::invalid_grant("Invalid JWT: the audience is not this token endpoint.")
        }
        ErrorKind::MissingRequiredClaim(claim) => {
            OAuthError::invalid_grant(format!("Invalid JWT: no '{claim}' claim."))
        }
        _ => OAuthError::invalid_grant("Invalid JWT: malformed claims."),
    }
}

async fn tokeninfo(
    State(state): State<Arc<GcpState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let issued = query.get("access_token").and_then(|t| state.lookup(t));
    let Some(issued) = issued else {
        let body =
            serde_json::json!({"error": "invalid_token", "error_description": "Invalid Value"});
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    };
    let info = issued.info;
    let mut body = serde_json::json!({
        "scope": info.scopes.join(" "),
        "exp": info.expires_at.to_string(),
        "expires_in": info.expires_at.saturating_sub(unix_now()).to_string(),
        "sub": info.principal,
    });
    if let Some(email) = info.service_account {
        body["email"] = serde_json::Value::String(email);
        body["email_verified"] = serde_json::Value::String("true".into());
    }
    axum::Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::config::GcpConfig;
    use proptest::prelude::*;

    fn state() -> GcpState {
        GcpState::new(GcpConfig::default(), "http://127.0.0.1:1/token".into())
    }

    #[test]
    fn other_grants_and_unknown_keys_are_refused() {
        let state = state();
        let other = grant(&state, None, b"grant_type=client_credentials").expect_err("grant");
        assert_eq!(other.code(), "unsupported_grant_type");
        let header = r#"{"alg":"RS256","kid":"nope","typ":"JWT"}"#;
        let jwt = format!(
            "{}.e30.c2ln",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
        );
        let form = format!(
            "grant_type={}&assertion={jwt}",
            JWT_BEARER.replace(':', "%3A")
        );
        let unknown = grant(&state, None, form.as_bytes()).expect_err("unknown kid");
        assert_eq!(unknown.description(), "Invalid JWT Signature.");
    }

    proptest! {
        #[test]
        fn any_assertion_is_handled_without_panicking(assertion in ".{0,300}") {
            let _ = verify(&state(), &assertion);
        }
    }
}
