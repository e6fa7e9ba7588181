//! Azure Container Registry's token exchange (HTTPS): `POST /oauth2/exchange` with form
//! `grant_type=access_token&service=<registry>&access_token=<Entra token>` (optional `tenant`),
//! for the configured registries, taking Entra tokens for ACR's audience or ARM's (public,
//! sovereign or the private cloud's, [`super::AzureConfig::extra_resources`]). Answers
//! `{"refresh_token": "<JWT with exp>"}`. With [`super::AzureConfig::require_role_assignments`],
//! the caller needs `AcrPull` on `acr://<registry name>` (real ACR checks the role when the
//! refresh token is used; kubecred's login stops at the exchange, so it is checked here).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::config::{ACR_AUDIENCE, ACR_PULL, KNOWN_RESOURCES};
use super::error::{AcrError, shown};
use super::form::Form;
use super::state::{AzureState, TokenProblem};
use crate::clock::unix_now;

/// The exchange path.
pub(crate) const PATH: &str = "/oauth2/exchange";
/// What [`AzureState::calls`] counts an exchange as.
pub(crate) const ACTION: &str = "acr.exchange";
/// Lifetime of refresh tokens, seconds (ACR's are three hours).
const REFRESH_LIFETIME: i64 = 3 * 3600;

/// The ACR router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().route(PATH, post(exchange)).with_state(state)
}

async fn exchange(State(state): State<Arc<AzureState>>, body: Bytes) -> Response {
    match refresh_token(&state, &body) {
        Ok(token) => {
            state.count(ACTION);
            axum::Json(serde_json::json!({ "refresh_token": token })).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "the ACR stand-in refused an exchange");
            error.into_response()
        }
    }
}

fn refresh_token(state: &AzureState, body: &[u8]) -> Result<String, AcrError> {
    let invalid = |message: String| AcrError::new(400, "INVALID_REQUEST", message);
    let form =
        Form::parse(body).map_err(|_| invalid("The request body is not a valid form.".into()))?;
    match form.get("grant_type") {
        Some("access_token") => {}
        Some(other) => {
            return Err(invalid(format!(
                "unsupported grant_type '{}'",
                shown(other)
            )));
        }
        None => return Err(invalid("grant_type is required".into())),
    }
    let service = form
        .get("service")
        .ok_or_else(|| invalid("service is required".into()))?;
    if !state
        .config
        .registries
        .iter()
        .any(|r| r.eq_ignore_ascii_case(service))
    {
        return Err(AcrError::new(
            404,
            "NOT_FOUND",
            format!("registry '{}' is not served here", shown(service)),
        ));
    }
    if form
        .get("tenant")
        .is_some_and(|t| !t.eq_ignore_ascii_case(&state.config.tenant_id))
    {
        return Err(unauthorized("the token's tenant is not the registry's"));
    }
    let token = form
        .get("access_token")
        .ok_or_else(|| invalid("access_token is required".into()))?;
    let mut audiences: Vec<&str> = vec![ACR_AUDIENCE];
    audiences.extend(KNOWN_RESOURCES.iter().filter(|r| r.contains("management")));
    audiences.extend(state.config.extra_resources.iter().map(String::as_str));
    let caller = state
        .verify(token, &audiences)
        .map_err(|problem| match problem {
            TokenProblem::Expired { .. } => unauthorized("the access token has expired"),
            TokenProblem::Audience(_) => {
                unauthorized("the access token's audience is not ACR's or ARM's")
            }
            _ => unauthorized("the access token is invalid"),
        })?;
    // Only with role assignments required: the name of the registry, its host's first label.
    let registry = service
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if state.config.require_role_assignments
        && !state.granted(&caller, &format!("acr://{registry}"), &[ACR_PULL])
    {
        return Err(unauthorized(&format!(
            "the identity '{}' has no role that pulls from registry '{}'",
            shown(&caller.oid),
            shown(&registry)
        )));
    }
    let now = unix_now();
    let claims = serde_json::json!({
        "jti": crate::random::uuid(),
        "sub": caller.oid,
        "nbf": now,
        "exp": now.saturating_add(REFRESH_LIFETIME),
        "iat": now,
        "iss": "Azure Container Registry",
        "aud": service.to_ascii_lowercase(),
        "version": "1.0",
        "grant_type": "refresh_token",
        "appid": caller.appid,
        "tenant": caller.tid,
        "permissions": {"actions": ["read", "write"], "notActions": []},
        "roles": [],
    });
    state
        .signing
        .sign_jwt(&claims)
        .map_err(|_| AcrError::new(500, "INTERNAL", "signing failed"))
}

fn unauthorized(detail: &str) -> AcrError {
    AcrError::new(
        401,
        "UNAUTHORIZED",
        format!(
            "{detail}; authentication required, visit https://aka.ms/acr/authorization for more information."
        ),
    )
}
