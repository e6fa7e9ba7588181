//! The EKS Pod Identity agent: `GET /v1/credentials` with the pod's token in
//! `Authorization` returns the associated role's temporary keys.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::http::header;
use super::state::AwsState;
use crate::clock::rfc3339;
use crate::random;

/// The agent's credentials path.
pub(crate) const PATH: &str = "/v1/credentials";
/// How long the agent's credentials last.
const CREDENTIAL_SECONDS: i64 = 6 * 3600;
/// Counter name of a successful credentials read.
pub(crate) const CREDENTIALS_CALL: &str = "PodIdentityCredentials";

/// The agent's router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new()
        .route(PATH, get(credentials))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "NotFoundException", "Not Found") })
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn credentials(State(state): State<Arc<AwsState>>, headers: HeaderMap) -> Response {
    let Some(association) = state.config.pod_identity.as_ref() else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "No Pod Identity association",
        );
    };
    let Some(presented) = header(&headers, "authorization") else {
        return error(
            StatusCode::UNAUTHORIZED,
            "AccessDeniedException",
            "Authorization header is missing",
        );
    };
    if presented != association.token {
        return error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "Service account token is not valid",
        );
    }
    let id = random::uuid();
    let session_name = format!("eks-sandbox-pod-{}", id.get(..8).unwrap_or(&id));
    let session = state.issue_session(&association.role_arn, &session_name, CREDENTIAL_SECONDS);
    state.count(CREDENTIALS_CALL);
    Json(serde_json::json!({
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "AccountId": state.account_of(&association.role_arn),
        "Expiration": rfc3339(session.expires_at),
    }))
    .into_response()
}
