//! The Google APIs the access checks call, on one loopback port, each checking the bearer
//! token the other stand-ins issued against the resource's role bindings
//! ([`super::grants`]):
//!
//! - Cloud Storage `GET /storage/v1/b/{bucket}/o` (`storage.objects.list`): a token-checking
//!   front of fake-gcs-server ([`super::fake_gcs`], which ignores tokens), forwarding the
//!   allowed listings to it;
//! - Cloud KMS, Pub/Sub and Artifact Registry `POST /v1/{resource}:testIamPermissions` (a key,
//!   a topic, a repository `projects/P/locations/L/repositories/R`): the subset of the asked
//!   permissions the caller holds (`{}` for none, as Google answers); any other resource is not
//!   served.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::error::ApiError;
use super::grants;
use super::iam::caller;
use super::state::{GcpState, Issued};

const LIST: &str = "storage.objects.list";

/// The router of the Google APIs stand-in.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new()
        .route("/storage/v1/b/{bucket}/o", get(list_objects))
        .route("/v1/{*name}", post(test_permissions))
        .with_state(state)
}

/// The permissions `caller` holds on `resource`.
fn held(state: &GcpState, caller: &Issued, resource: &str) -> Vec<&'static str> {
    grants::held(&state.config, &caller.members, resource)
}

async fn list_objects(
    State(state): State<Arc<GcpState>>,
    Path(bucket): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&state, &headers) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if !held(&state, &caller, &format!("gs://{bucket}")).contains(&LIST) {
        tracing::debug!(principal = %caller.info.principal, bucket, "no storage.objects.list");
        return ApiError::permission_denied(LIST).into_response();
    }
    state.count(LIST);
    match state.config.gcs_upstream.as_deref() {
        Some(upstream) => forward(upstream, &bucket, query.as_deref()).await,
        None => ApiError::unavailable("No Cloud Storage backend is configured.").into_response(),
    }
}

/// Sends the listing on to fake-gcs-server; its answer as is.
async fn forward(upstream: &str, bucket: &str, query: Option<&str>) -> Response {
    let Ok(mut url) = url::Url::parse(upstream) else {
        return ApiError::unavailable("The Cloud Storage backend URL is invalid.").into_response();
    };
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear().extend(["storage", "v1", "b", bucket, "o"]);
    }
    url.set_query(query);
    let answer = match super::fake_gcs::loopback_client().get(url).send().await {
        Ok(answer) => answer,
        Err(_) => {
            return ApiError::unavailable("The Cloud Storage backend is down.").into_response();
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = answer.bytes().await.unwrap_or_default();
    (status, [("content-type", "application/json")], body).into_response()
}

#[derive(Deserialize)]
struct Asked {
    #[serde(default)]
    permissions: Vec<String>,
}

async fn test_permissions(
    State(state): State<Arc<GcpState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match tested(&state, &name, &headers, &body) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

fn tested(
    state: &GcpState,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let resource = resource(name)?;
    let caller = caller(state, headers)?;
    let asked: Asked = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_argument(format!("Invalid JSON payload received. {e}")))?;
    if !state
        .config
        .resource_bindings
        .iter()
        .any(|b| b.resource == resource)
    {
        return Err(ApiError::not_found(format!(
            "Resource {name} was not found."
        )));
    }
    let held = held(state, &caller, &resource);
    let granted: Vec<&String> = asked
        .permissions
        .iter()
        .filter(|p| held.contains(&p.as_str()))
        .collect();
    state.count("testIamPermissions");
    Ok(match granted.is_empty() {
        true => serde_json::json!({}),
        false => serde_json::json!({ "permissions": granted }),
    })
}

/// The target form (`gcpkms://…`, `pubsub://…`, `gar://L-docker.pkg.dev/P/R`) of
/// `<resource>:testIamPermissions`.
fn resource(name: &str) -> Result<String, ApiError> {
    let not_served = || ApiError::not_found("The requested method is not served here.");
    let resource = name
        .strip_suffix(":testIamPermissions")
        .ok_or_else(not_served)?;
    let parts: Vec<&str> = resource.split('/').collect();
    match parts.as_slice() {
        [
            "projects",
            _,
            "locations",
            _,
            "keyRings",
            _,
            "cryptoKeys",
            _,
        ] => Ok(format!("gcpkms://{resource}")),
        ["projects", _, "topics", _] => Ok(format!("pubsub://{resource}")),
        [
            "projects",
            project,
            "locations",
            location,
            "repositories",
            repository,
        ] => Ok(format!(
            "gar://{location}-docker.pkg.dev/{project}/{repository}"
        )),
        _ => Err(not_served()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_topics_and_repositories_are_tested() {
        assert_eq!(
            resource("projects/p/topics/t:testIamPermissions"),
            Ok("pubsub://projects/p/topics/t".to_owned())
        );
        assert_eq!(
            resource("projects/p/locations/l/keyRings/r/cryptoKeys/k:testIamPermissions"),
            Ok("gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k".to_owned())
        );
        assert_eq!(
            resource("projects/p/locations/europe-west1/repositories/r:testIamPermissions"),
            Ok("gar://europe-west1-docker.pkg.dev/p/r".to_owned())
        );
        for other in [
            "projects/p/topics/t:publish",
            "projects/p/subscriptions/s:testIamPermissions",
            "projects/p/topics/t/x:testIamPermissions",
            "projects/p/locations/l/repositories/r/packages/x:testIamPermissions",
            "projects/p/locations/l/repositories:testIamPermissions",
            "projects/p/locations/l:testIamPermissions",
        ] {
            assert_eq!(resource(other).map_err(|e| e.code()), Err(404), "{other}");
        }
    }
}
