//! The IAM Credentials stand-in:
//! `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`, minting a service
//! account's access token for a caller whose bearer token (federated, or another service
//! account's) is a member of `roles/iam.workloadIdentityUser` or
//! `roles/iam.serviceAccountTokenCreator` on that service account.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;

use super::config::{TOKEN_CREATOR, WORKLOAD_IDENTITY_USER};
use super::error::ApiError;
use super::state::{GcpState, Issued};
use crate::clock::{rfc3339, unix_now};

/// What [`GcpState::calls`] counts a minted token as.
pub(crate) const ACTION: &str = "iamcredentials.generateAccessToken";
const PERMISSION: &str = "iam.serviceAccounts.getAccessToken";
/// The longest lifetime without the organisation's `constraints/iam.allowServiceAccountCredentialLifetimeExtension`.
const MAX_LIFETIME: i64 = 3600;

/// The IAM Credentials router.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new()
        .route(
            "/v1/projects/{project}/serviceAccounts/{name}",
            post(handle),
        )
        .with_state(state)
}

/// The request body (`GenerateAccessTokenRequest`). As in protobuf JSON, `null` is the
/// field's default (google-auth sends `"delegates": null`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    scope: Option<Vec<String>>,
    #[serde(default)]
    lifetime: Option<String>,
    #[serde(default)]
    delegates: Option<Vec<String>>,
}

async fn handle(
    State(state): State<Arc<GcpState>>,
    Path((project, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match generate(&state, &project, &name, &headers, &body) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "IAM Credentials refused a request");
            error.into_response()
        }
    }
}

fn generate(
    state: &GcpState,
    project: &str,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let email = target(state, project, name)?;
    let caller = caller(state, headers)?;
    let body: Body = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_argument(format!("Invalid JSON payload received. {e}")))?;
    let scope = body.scope.unwrap_or_default();
    if scope.is_empty() {
        return Err(ApiError::invalid_argument("Scope required."));
    }
    if body.delegates.is_some_and(|d| !d.is_empty()) {
        return Err(ApiError::invalid_argument(
            "Delegation chains are not supported by this stand-in.",
        ));
    }
    let lifetime = lifetime(body.lifetime.as_deref())?;
    authorize(state, &caller, email)?;
    let token = state.issue_for_service_account(email, scope, lifetime);
    Ok(serde_json::json!({
        "accessToken": token,
        "expireTime": rfc3339(unix_now().saturating_add(lifetime)),
    }))
}

/// The service account of `projects/<project>/serviceAccounts/<email>:generateAccessToken`.
fn target<'a>(state: &GcpState, project: &str, name: &'a str) -> Result<&'a str, ApiError> {
    let Some((email, "generateAccessToken")) = name.rsplit_once(':') else {
        return Err(ApiError::not_found(
            "The requested method is not served here.",
        ));
    };
    if project != "-" && project != state.config.project_id {
        return Err(ApiError::invalid_argument(
            "The project of the resource name must be '-' or the service account's project.",
        ));
    }
    Ok(email)
}

/// The issued token in `Authorization: Bearer`.
pub(crate) fn caller(state: &GcpState, headers: &HeaderMap) -> Result<Issued, ApiError> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| state.lookup(token.trim()))
        .ok_or_else(ApiError::unauthenticated)
}

fn authorize(state: &GcpState, caller: &Issued, email: &str) -> Result<(), ApiError> {
    let allowed = state
        .config
        .service_accounts
        .iter()
        .filter(|account| account.email == email)
        .flat_map(|account| &account.bindings)
        .any(|binding| {
            (binding.role == WORKLOAD_IDENTITY_USER || binding.role == TOKEN_CREATOR)
                && caller.members.contains(&binding.member)
        });
    if allowed {
        Ok(())
    } else {
        tracing::debug!(principal = %caller.info.principal, email, "no binding");
        Err(ApiError::permission_denied(PERMISSION))
    }
}

/// `"<seconds>s"` (a protobuf Duration in JSON), 1 to 3600; absent means 3600.
fn lifetime(text: Option<&str>) -> Result<i64, ApiError> {
    let Some(text) = text else {
        return Ok(MAX_LIFETIME);
    };
    let seconds = text
        .strip_suffix('s')
        .and_then(|n| n.split('.').next())
        .filter(|n| !n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| {
            ApiError::invalid_argument("Invalid value at 'lifetime': expected e.g. \"3600s\".")
        })?;
    if !(1..=MAX_LIFETIME).contains(&seconds) {
        return Err(ApiError::invalid_argument(format!(
            "The lifetime must be between 1s and {MAX_LIFETIME}s."
        )));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lifetimes_are_durations_up_to_an_hour() {
        assert_eq!(lifetime(None), Ok(3600));
        assert_eq!(lifetime(Some("600s")), Ok(600));
        assert_eq!(lifetime(Some("600.5s")), Ok(600));
        for bad in ["", "s", "600", "-1s", "0s", "3601s", "1e3s", "99999999999s"] {
            assert!(lifetime(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_generate_access_token_is_served() {
        let state = GcpState::new(super::super::GcpConfig::default(), String::new());
        let error =
            target(&state, "-", "sa@p.iam.gserviceaccount.com:signJwt").expect_err("other method");
        assert_eq!(error.status(), "NOT_FOUND");
        assert_eq!(
            target(
                &state,
                "-",
                "sa@p.iam.gserviceaccount.com:generateAccessToken"
            ),
            Ok("sa@p.iam.gserviceaccount.com")
        );
    }

    #[test]
    fn an_unknown_bearer_is_unauthenticated() {
        let state = GcpState::new(super::super::GcpConfig::default(), String::new());
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, "Bearer ya29.nope".parse().expect("header"));
        let error = generate(&state, "-", "a@b:generateAccessToken", &headers, b"{}")
            .expect_err("unknown token");
        assert_eq!(error.code(), 401);
    }

    #[test]
    fn null_fields_are_defaults_and_a_binding_is_required() {
        let config = crate::gcp::config::GcpConfig {
            service_accounts: vec![crate::gcp::config::GcpServiceAccount {
                email: "t@p".into(),
                bindings: vec![crate::gcp::config::Binding {
                    role: TOKEN_CREATOR.into(),
                    member: "serviceAccount:a@p".into(),
                }],
            }],
            ..crate::gcp::config::GcpConfig::default()
        };
        let state = GcpState::new(config, String::new());
        let headers = |email: &str| {
            let token = state.issue_for_service_account(email, vec![], 60);
            let mut headers = HeaderMap::new();
            headers.insert(
                AUTHORIZATION,
                format!("Bearer {token}").parse().expect("header"),
            );
            headers
        };
        let body = br#"{"delegates": null, "scope": ["s"], "lifetime": "60s"}"#;
        let granted = generate(
            &state,
            "-",
            "t@p:generateAccessToken",
            &headers("a@p"),
            body,
        )
        .expect("bound caller");
        assert!(
            granted["accessToken"]
                .as_str()
                .is_some_and(|t| state.lookup(t).is_some())
        );
        let denied = generate(
            &state,
            "-",
            "t@p:generateAccessToken",
            &headers("b@p"),
            body,
        )
        .expect_err("unbound caller");
        assert_eq!(denied.code(), 403);
        let no_scope = generate(
            &state,
            "-",
            "t@p:generateAccessToken",
            &headers("a@p"),
            b"{}",
        )
        .expect_err("no scope");
        assert_eq!(no_scope.message(), "Scope required.");
    }

    proptest! {
        #[test]
        fn any_lifetime_text_is_handled_without_panicking(text in ".{0,40}") {
            let _ = lifetime(Some(&text));
        }

        #[test]
        fn any_body_is_handled_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let state = GcpState::new(super::super::GcpConfig::default(), String::new());
            let issued = state.issue_for_service_account("a@b", vec![], 60);
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, format!("Bearer {issued}").parse().expect("header"));
            let _ = generate(&state, "-", "a@b:generateAccessToken", &headers, &body);
        }
    }
}
