//! The EC2 instance metadata service, IMDSv2 only: a session token from
//! `PUT /latest/api/token`, then the node role's credentials under
//! `/latest/meta-data/iam/security-credentials/`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use super::config::parse_role_arn;
use super::http::header as header_value;
use super::state::{AwsState, Session, lock};
use crate::clock::{rfc3339, unix_now};
use crate::random;

/// The instance id this node reports.
pub(crate) const INSTANCE_ID: &str = "i-0123456789abcdef0";
/// How long node-role credentials last (IMDS rotates them well before).
const CREDENTIAL_SECONDS: i64 = 6 * 3600;
/// Remaining lifetime under which a new node session is issued.
const ROTATE_BELOW_SECONDS: i64 = 3600;
/// Counter name of a successful credentials read.
pub(crate) const CREDENTIALS_CALL: &str = "ImdsCredentials";
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// The IMDS router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new()
        .route("/latest/api/token", put(token))
        .route("/latest/meta-data/instance-id", get(instance_id))
        .route(
            "/latest/meta-data/iam/security-credentials/",
            get(role_name),
        )
        .route(
            "/latest/meta-data/iam/security-credentials/{name}",
            get(credentials),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state)
}

async fn token(State(state): State<Arc<AwsState>>, headers: HeaderMap) -> Response {
    if headers.contains_key("x-forwarded-for") {
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }
    let ttl = header_value(&headers, TTL_HEADER)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|ttl| (1..=21_600).contains(ttl));
    let Some(ttl) = ttl else {
        return (StatusCode::BAD_REQUEST, "Bad Request").into_response();
    };
    let token = random::bearer_token();
    let now = unix_now();
    let mut tokens = lock(&state.imds_tokens);
    tokens.retain(|_, expires| *expires > now);
    tokens.insert(token.clone(), now + ttl);
    drop(tokens);
    (
        [
            (header::CONTENT_TYPE, "text/plain".to_string()),
            (header::HeaderName::from_static(TTL_HEADER), ttl.to_string()),
        ],
        token,
    )
        .into_response()
}

/// IMDSv2: every read needs a live session token.
fn authorized(state: &AwsState, headers: &HeaderMap) -> bool {
    let now = unix_now();
    header_value(headers, TOKEN_HEADER).is_some_and(|t| {
        lock(&state.imds_tokens)
            .get(t)
            .is_some_and(|exp| *exp > now)
    })
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
}

async fn instance_id(State(state): State<Arc<AwsState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    INSTANCE_ID.into_response()
}

fn node_role_name(state: &AwsState) -> Option<String> {
    let arn = state.config.node_role.as_deref()?;
    Some(parse_role_arn(arn).map_or_else(|| arn.to_string(), |r| r.name))
}

async fn role_name(State(state): State<Arc<AwsState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    match node_role_name(&state) {
        Some(name) => name.into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn credentials(
    State(state): State<Arc<AwsState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let (Some(role), Some(arn)) = (node_role_name(&state), state.config.node_role.clone()) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    if name != role {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let session = node_session(&state, &arn);
    state.count(CREDENTIALS_CALL);
    let body = serde_json::json!({
        "Code": "Success",
        "LastUpdated": rfc3339(session.issued_at),
        "Type": "AWS-HMAC",
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "Expiration": rfc3339(session.expires_at),
    });
    ([(header::CONTENT_TYPE, "text/plain")], format!("{body:#}")).into_response()
}

/// The current node session, rotated when less than an hour remains.
fn node_session(state: &AwsState, role_arn: &str) -> Session {
    let mut current = lock(&state.node_session);
    match current.as_ref() {
        Some(session) if session.expires_at - unix_now() > ROTATE_BELOW_SECONDS => session.clone(),
        _ => {
            let session = state.issue_session(role_arn, INSTANCE_ID, CREDENTIAL_SECONDS);
            *current = Some(session.clone());
            session
        }
    }
}
