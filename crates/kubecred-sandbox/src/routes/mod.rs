//! The HTTP routes of the Kubernetes API subset.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use crate::status::ApiError;

mod api;
mod discovery;
mod objects;
mod token;

/// The sandbox's router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    if let Some(paths) = state.source.hosted_paths(&state.api_url) {
        router = router
            .route(&paths.discovery, get(discovery::hosted_configuration))
            .route(&paths.jwks, get(discovery::hosted_jwks));
    }
    router
        .route("/version", get(objects::version))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/openid/v1/jwks", get(discovery::jwks))
        .route("/api", get(api::versions))
        .route("/api/v1", get(api::core_v1))
        .route("/apis", get(api::groups))
        .route("/api/v1/namespaces/{namespace}", get(objects::namespace))
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts",
            get(objects::service_accounts),
        )
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}",
            get(objects::service_account),
        )
        .route(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            post(token::create_token),
        )
        .route(
            "/api/v1/namespaces/{namespace}/secrets",
            get(objects::secrets),
        )
        .route(
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            get(objects::secret),
        )
        .route(
            "/api/v1/namespaces/{namespace}/configmaps",
            get(objects::config_maps),
        )
        .route(
            "/api/v1/namespaces/{namespace}/configmaps/{name}",
            get(objects::config_map),
        )
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}
