//! Reading ServiceAccounts, Secrets and ConfigMaps, and `/version`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::access::Action;
use crate::objects::{ConfigMap, Secret, ServiceAccount, list_json};
use crate::state::AppState;
use crate::status::ApiError;

type ObjectPath = Path<(String, String)>;

fn get_action<'a>(resource: &'a str, namespace: &'a str, name: &'a str) -> Action<'a> {
    Action {
        verb: "get",
        resource,
        namespace,
        name,
    }
}

/// `GET /api/v1/namespaces/{namespace}/serviceaccounts/{name}`.
pub(super) async fn service_account(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): ObjectPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &get_action("serviceaccounts", &namespace, &name))?;
    let account = state.store.service_account(&namespace, &name);
    let account = account.ok_or_else(|| ApiError::not_found("serviceaccounts", &name))?;
    Ok(Json(account.to_json()))
}

/// `GET /api/v1/namespaces/{namespace}/secrets/{name}`.
pub(super) async fn secret(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): ObjectPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &get_action("secrets", &namespace, &name))?;
    let secret = state.store.secret(&namespace, &name);
    let secret = secret.ok_or_else(|| ApiError::not_found("secrets", &name))?;
    Ok(Json(secret.to_json()))
}

/// `GET /api/v1/namespaces/{namespace}/configmaps/{name}`.
pub(super) async fn config_map(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): ObjectPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &get_action("configmaps", &namespace, &name))?;
    let config_map = state.store.config_map(&namespace, &name);
    let config_map = config_map.ok_or_else(|| ApiError::not_found("configmaps", &name))?;
    Ok(Json(config_map.to_json()))
}

/// `GET /api/v1/namespaces/{namespace}`: a Namespace that exists (see
/// `Manifests::namespaces`).
pub(super) async fn namespace(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &get_action("namespaces", &name, &name))?;
    let namespace = state.namespaces.get(&name);
    let namespace = namespace.ok_or_else(|| ApiError::not_found("namespaces", &name))?;
    Ok(Json(namespace.clone()))
}

fn list_action<'a>(resource: &'a str, namespace: &'a str) -> Action<'a> {
    Action {
        verb: "list",
        resource,
        namespace,
        name: "",
    }
}

/// `GET /api/v1/namespaces/{namespace}/serviceaccounts`.
pub(super) async fn service_accounts(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &list_action("serviceaccounts", &namespace))?;
    let items = state.store.service_accounts_in(&namespace);
    let items = items.map(ServiceAccount::to_json).collect();
    Ok(Json(list_json("ServiceAccountList", items)))
}

/// `GET /api/v1/namespaces/{namespace}/secrets`.
pub(super) async fn secrets(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &list_action("secrets", &namespace))?;
    let items = state.store.secrets_in(&namespace).map(Secret::to_json);
    Ok(Json(list_json("SecretList", items.collect())))
}

/// `GET /api/v1/namespaces/{namespace}/configmaps`.
pub(super) async fn config_maps(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.check(&headers, &list_action("configmaps", &namespace))?;
    let items = state
        .store
        .config_maps_in(&namespace)
        .map(ConfigMap::to_json);
    Ok(Json(list_json("ConfigMapList", items.collect())))
}

/// `GET /version` (any authenticated user).
pub(super) async fn version(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.authenticated(&headers)?;
    Ok(Json(json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0-kubecred-sandbox",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })))
}

/// The Go name of this machine's architecture.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
