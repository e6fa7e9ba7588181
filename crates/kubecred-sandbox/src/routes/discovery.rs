//! OIDC discovery: the issuer's configuration and its JWKS, served without
//! authentication like kube-apiserver with anonymous discovery enabled; and, for a managed
//! source type, the same documents as that service publishes them at its public issuer URL.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::source::SourceCluster;
use crate::state::AppState;

/// The discovery document with this `jwks_uri`.
fn document(issuer: &str, jwks_uri: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

/// `GET /.well-known/openid-configuration`: kube-apiserver's own. Its `jwks_uri` is the API
/// server's JWKS for a kind cluster, the `--service-account-jwks-uri` under the issuer for a
/// self-managed one (where `kubecred issuer generate` puts it), and the managed service's
/// public JWKS otherwise.
pub(super) async fn openid_configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    let jwks_uri = match &state.source {
        SourceCluster::Kind => format!("{}/openid/v1/jwks", state.api_url),
        SourceCluster::Other { issuer } => {
            format!("{}/openid/v1/jwks", issuer.trim_end_matches('/'))
        }
        managed => managed
            .hosted_paths(&state.api_url)
            .map(|paths| paths.jwks_url)
            .unwrap_or_default(),
    };
    Json(document(&state.issuer, &jwks_uri))
}

/// `GET /openid/v1/jwks`: every verification key.
pub(super) async fn jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.key_ring().jwks())
}

/// The managed service's public discovery document.
pub(super) async fn hosted_configuration(State(state): State<Arc<AppState>>) -> Json<Value> {
    let jwks_uri = state
        .source
        .hosted_paths(&state.api_url)
        .map(|paths| paths.jwks_url)
        .unwrap_or_default();
    Json(document(&state.issuer, &jwks_uri))
}

/// The managed service's public JWKS: the keys published so far.
pub(super) async fn hosted_jwks(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.key_ring().published_jwks())
}
