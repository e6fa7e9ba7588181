//! OIDC discovery: the issuer's configuration and its JWKS, served without
//! authentication like kube-apiserver with anonymous discovery enabled.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /.well-known/openid-configuration`.
pub(super) async fn openid_configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({
        "issuer": state.issuer,
        "jwks_uri": format!("{}/openid/v1/jwks", state.issuer),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

/// `GET /openid/v1/jwks`.
pub(super) async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(json!({"keys": [state.key.jwk()]}))
}
