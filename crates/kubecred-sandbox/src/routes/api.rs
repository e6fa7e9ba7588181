//! API discovery as kubectl reads it: `/api` (the core group's versions),
//! `/api/v1` (its resources) and `/apis` (no other groups). Served to any
//! authenticated user, like kube-apiserver's `system:discovery` role.
//!
//! Aggregated discovery (`apidiscovery.k8s.io/v2`) is not served: clients
//! that ask for it get the legacy documents and fall back to them.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::state::AppState;
use crate::status::ApiError;

/// `GET /api`: the core group's `APIVersions`.
pub(super) async fn versions(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.authenticated(&headers)?;
    let address = state.api_url.trim_start_matches("https://");
    Ok(Json(json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    })))
}

/// `GET /apis`: an empty `APIGroupList` (only the core group is served).
pub(super) async fn groups(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.authenticated(&headers)?;
    Ok(Json(
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}),
    ))
}

/// `GET /api/v1`: the `APIResourceList` of what the sandbox serves.
pub(super) async fn core_v1(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.authenticated(&headers)?;
    Ok(Json(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "v1",
        "resources": [
            resource("configmaps", "ConfigMap", true, &["get", "list"], &["cm"]),
            resource("namespaces", "Namespace", false, &["get"], &["ns"]),
            resource("secrets", "Secret", true, &["get", "list"], &[]),
            resource("serviceaccounts", "ServiceAccount", true, &["get", "list"], &["sa"]),
            token_subresource(),
        ],
    })))
}

fn resource(
    name: &str,
    kind: &str,
    namespaced: bool,
    verbs: &[&str],
    short_names: &[&str],
) -> Value {
    let mut resource = json!({
        "name": name,
        "singularName": kind.to_lowercase(),
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs,
    });
    if !short_names.is_empty() {
        resource["shortNames"] = json!(short_names);
    }
    resource
}

/// `serviceaccounts/token`, as kube-apiserver lists it.
fn token_subresource() -> Value {
    json!({
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": true,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    })
}
