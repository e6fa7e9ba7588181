//! The managed-identity endpoint of the Azure Instance Metadata Service (plain HTTP on loopback,
//! as IMDS is plain HTTP): `GET /metadata/identity/oauth2/token?api-version=…&resource=…`
//! with `Metadata: true`, for the node's system-assigned identity or a user-assigned one picked
//! by `client_id`, `object_id` or `msi_res_id` (`mi_res_id`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::config::ManagedIdentity;
use super::error::{ImdsError, shown};
use super::state::{AzureState, Identity, LIFETIME};
use crate::clock::unix_now;

/// The token path.
pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";
/// What [`AzureState::calls`] counts an issued token as.
pub(crate) const ACTION: &str = "imds.token";

/// The IMDS router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().route(PATH, get(token)).with_state(state)
}

async fn token(
    State(state): State<Arc<AzureState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match issue(&state, &headers, &query) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "the IMDS stand-in refused a token request");
            error.into_response()
        }
    }
}

fn issue(
    state: &AzureState,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<serde_json::Value, ImdsError> {
    let metadata = headers.get("metadata").and_then(|v| v.to_str().ok());
    if !metadata.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err(ImdsError::invalid_request(
            "Required metadata header not specified",
        ));
    }
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if param("api-version").is_none() {
        return Err(ImdsError::invalid_request(
            "Required query variable 'api-version' is missing",
        ));
    }
    let resource = param("resource").ok_or_else(|| {
        ImdsError::invalid_request("Required query variable 'resource' is missing")
    })?;
    let bare = resource.trim_end_matches("/.default");
    if !state.knows_resource(bare) {
        return Err(ImdsError {
            status: 400,
            error: "invalid_resource",
            description: format!(
                "AADSTS500011: The resource principal named {} was not found in the tenant named {}.",
                shown(bare),
                state.config.tenant_id
            ),
        });
    }
    let identity = pick(state, param)?;
    let now = unix_now();
    let token = state
        .access_token(
            &Identity {
                client_id: identity.client_id.clone(),
                object_id: identity.principal_id(),
                auth_method: 2,
                resource_id: Some(identity.resource_id.clone()).filter(|r| !r.is_empty()),
            },
            bare,
            now,
            LIFETIME,
        )
        .ok_or_else(|| ImdsError::invalid_request("signing failed"))?;
    Ok(serde_json::json!({
        "access_token": token,
        "client_id": identity.client_id,
        "expires_in": LIFETIME.to_string(),
        "expires_on": now.saturating_add(LIFETIME).to_string(),
        "ext_expires_in": LIFETIME.to_string(),
        "not_before": now.to_string(),
        "resource": bare,
        "token_type": "Bearer",
    }))
}

/// The identity a request names, else the system-assigned one (or the only user-assigned one).
fn pick<'a>(
    state: &AzureState,
    param: impl Fn(&str) -> Option<&'a str>,
) -> Result<ManagedIdentity, ImdsError> {
    let node = &state.config.node;
    let not_found = || ImdsError::invalid_request("Identity not found");
    let all = || node.system_assigned.iter().chain(&node.user_assigned);
    let wanted = |field: fn(&ManagedIdentity) -> String, value: &str| {
        all()
            .find(|i| field(i).eq_ignore_ascii_case(value))
            .cloned()
            .ok_or_else(not_found)
    };
    if let Some(client_id) = param("client_id") {
        return wanted(|i| i.client_id.clone(), client_id);
    }
    if let Some(object_id) = param("object_id") {
        return wanted(ManagedIdentity::principal_id, object_id);
    }
    if let Some(resource_id) = param("msi_res_id").or_else(|| param("mi_res_id")) {
        return wanted(|i| i.resource_id.clone(), resource_id);
    }
    match (&node.system_assigned, node.user_assigned.as_slice()) {
        (Some(system), _) => Ok(system.clone()),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(not_found()),
        (None, _) => Err(ImdsError::invalid_request(
            "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
        )),
    }
}
