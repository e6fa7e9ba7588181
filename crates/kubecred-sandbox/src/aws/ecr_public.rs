//! ECR Public's `GetAuthorizationToken` (JSON 1.1, SigV4 service
//! `ecr-public` in us-east-1): a 12-hour registry password.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::auth::{self, Expect, json_error};
use super::error::AwsError;
use super::http::{header as header_value, view};
use super::ids;
use super::state::{AwsState, lock};
use crate::clock::unix_now;
use crate::random;

/// The operation's `X-Amz-Target`.
const TARGET: &str = "SpencerFrontendService.GetAuthorizationToken";
/// Counter name of a successful call.
pub(crate) const ACTION: &str = "GetAuthorizationToken";
/// How long a password lasts.
const PASSWORD_SECONDS: i64 = 12 * 3600;

/// The ECR Public router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new().route("/", post(handle)).with_state(state)
}

async fn handle(
    State(state): State<Arc<AwsState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = random::uuid();
    match run(&state, &method, &uri, &headers, &body) {
        Ok(answer) => {
            state.count(ACTION);
            respond(StatusCode::OK, &request_id, answer)
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            respond(
                status,
                &request_id,
                serde_json::json!({"__type": e.code(), "message": e.message()}),
            )
        }
    }
}

fn respond(status: StatusCode, request_id: &str, body: serde_json::Value) -> Response {
    let headers = [
        (header::CONTENT_TYPE, "application/x-amz-json-1.1"),
        (
            header::HeaderName::from_static("x-amzn-requestid"),
            request_id,
        ),
    ];
    (status, headers, body.to_string()).into_response()
}

fn run(
    state: &AwsState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, AwsError> {
    match header_value(headers, "x-amz-target") {
        Some(TARGET) => {}
        Some(other) => {
            let shown: String = other.chars().take(100).collect();
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation {shown}"),
            ));
        }
        None => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                "Missing X-Amz-Target",
            ));
        }
    }
    let request = view(method, uri, headers, body);
    let expect = Expect {
        service: "ecr-public",
        region: Some("us-east-1"),
        now: unix_now(),
    };
    auth::authenticate(state, &request, expect).map_err(json_error)?;
    let password = ids::password();
    let expires_at = unix_now() + PASSWORD_SECONDS;
    let mut passwords = lock(&state.ecr_passwords);
    let now = unix_now();
    passwords.retain(|_, at| *at > now);
    passwords.insert(password.clone(), expires_at);
    Ok(serde_json::json!({
        "authorizationData": {
            "authorizationToken": STANDARD.encode(format!("AWS:{password}")),
            "expiresAt": expires_at,
        }
    }))
}

/// Whether `password` is one this stand-in issued and still valid.
pub(crate) fn password_valid(state: &AwsState, password: &str) -> bool {
    let now = unix_now();
    lock(&state.ecr_passwords)
        .get(password)
        .is_some_and(|at| *at > now)
}
