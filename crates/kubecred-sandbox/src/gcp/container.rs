//! The GKE API stand-in: `GET /v1/projects/{project}/locations/{location}/clusters/{cluster}`
//! (`clusters.get`) for a bearer token these stand-ins issued. The configured cluster answers
//! its control plane's `endpoint` (a host, as GKE reports it) and
//! `masterAuth.clusterCaCertificate` (base64 of the PEM); another project is 403 (as Google
//! answers for a project the caller cannot see), another cluster of the project 404. With
//! [`GcpConfig::enforce_project_bindings`](super::GcpConfig::enforce_project_bindings), the
//! caller needs `container.clusters.get` on the project (`roles/container.clusterViewer`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::ApiError;
use super::grants::held;
use super::state::GcpState;

/// What [`GcpState::calls`] counts a served cluster as.
pub(crate) const ACTION: &str = "container.clusters.get";
const PERMISSION: &str = "container.clusters.get";

/// The GKE API router.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new()
        .route(
            "/v1/projects/{project}/locations/{location}/clusters/{cluster}",
            get(handle),
        )
        .with_state(state)
}

async fn handle(
    State(state): State<Arc<GcpState>>,
    Path((project, location, cluster)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    match get_cluster(&state, &headers, [&project, &location, &cluster]) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "GKE clusters.get refused a request");
            error.into_response()
        }
    }
}

fn get_cluster(
    state: &GcpState,
    headers: &HeaderMap,
    [project, location, name]: [&str; 3],
) -> Result<serde_json::Value, ApiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(caller) = bearer.and_then(|t| state.lookup(t.trim())) else {
        return Err(ApiError::unauthenticated());
    };
    if project != state.config.project_id {
        return Err(ApiError::permission_denied(PERMISSION));
    }
    if state.config.enforce_project_bindings {
        let config = &state.config;
        let granted = [&config.project_id, &config.project_number]
            .iter()
            .any(|p| held(config, &caller.members, &format!("projects/{p}")).contains(&PERMISSION));
        if !granted {
            tracing::debug!(principal = %caller.info.principal, "no container.clusters.get");
            return Err(ApiError::permission_denied(PERMISSION));
        }
    }
    let served = state
        .config
        .gke
        .as_ref()
        .zip(state.config.control_plane.as_ref());
    let Some((gke, plane)) = served.filter(|(g, _)| g.location == location && g.name == name)
    else {
        return Err(ApiError::not_found(format!(
            "Not found: projects/{project}/locations/{location}/clusters/{name}."
        )));
    };
    Ok(serde_json::json!({
        "name": gke.name,
        "location": gke.location,
        "endpoint": plane.endpoint,
        "masterAuth": { "clusterCaCertificate": STANDARD.encode(&plane.ca_pem) },
        "status": "RUNNING",
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{ControlPlane, GcpConfig, GkeCluster};
    use super::*;
    use crate::signing::SigningKey;
    use crate::verify::JwtVerifier;

    fn state() -> GcpState {
        let key = SigningKey::generate().expect("keygen");
        let jwks = serde_json::json!({"keys": [key.jwk()]});
        let verifier = JwtVerifier::from_jwks("https://issuer", &jwks).expect("verifier");
        let config = GcpConfig {
            project_id: "proj".into(),
            gke: Some(GkeCluster {
                name: "c".into(),
                location: "europe-west1".into(),
                verifier,
            }),
            control_plane: Some(ControlPlane {
                endpoint: "127.0.0.1:6443".into(),
                ca_pem: "PEM".into(),
            }),
            ..GcpConfig::default()
        };
        GcpState::new(config, String::new())
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Bearer {token}").parse().expect("header");
        headers.insert(AUTHORIZATION, value);
        headers
    }

    #[test]
    fn the_cluster_is_served_to_an_issued_token_only() {
        let state = state();
        let token = state.issue_for_service_account("sa@proj.iam.gserviceaccount.com", vec![], 60);
        let found = get_cluster(&state, &bearer(&token), ["proj", "europe-west1", "c"]);
        let found = found.expect("served");
        assert_eq!(found["endpoint"], "127.0.0.1:6443");
        assert_eq!(
            found["masterAuth"]["clusterCaCertificate"],
            STANDARD.encode("PEM")
        );
        let status = |headers: &HeaderMap, parts: [&str; 3]| {
            get_cluster(&state, headers, parts).err().map(|e| e.code())
        };
        let good = ["proj", "europe-west1", "c"];
        assert_eq!(status(&HeaderMap::new(), good), Some(401));
        assert_eq!(status(&bearer("ya29.unknown"), good), Some(401));
        assert_eq!(
            status(&bearer(&token), ["other", "europe-west1", "c"]),
            Some(403)
        );
        assert_eq!(
            status(&bearer(&token), ["proj", "us-east1", "c"]),
            Some(404)
        );
        assert_eq!(
            status(&bearer(&token), ["proj", "europe-west1", "d"]),
            Some(404)
        );
    }

    #[test]
    fn enforced_project_bindings_need_container_clusters_get() {
        let mut state = state();
        state.config.enforce_project_bindings = true;
        state.config.project_number = "42".into();
        let granted = state.issue_for_service_account("a@proj.iam.gserviceaccount.com", vec![], 60);
        let other = state.issue_for_service_account("b@proj.iam.gserviceaccount.com", vec![], 60);
        let good = ["proj", "europe-west1", "c"];
        let status = |state: &GcpState, token: &str| {
            get_cluster(state, &bearer(token), good)
                .err()
                .map(|e| e.code())
        };
        assert_eq!(status(&state, &granted), Some(403), "no binding yet");
        state.config.resource_bindings = vec![super::super::ResourceBinding {
            resource: "projects/42".into(),
            role: super::super::CLUSTER_VIEWER.into(),
            member: "serviceAccount:a@proj.iam.gserviceaccount.com".into(),
        }];
        assert_eq!(
            status(&state, &granted),
            None,
            "granted on the project number"
        );
        assert_eq!(status(&state, &other), Some(403));
        state.config.resource_bindings[0].resource = "projects/proj".into();
        assert_eq!(status(&state, &granted), None, "granted on the project id");
        state.config.resource_bindings[0].role = super::super::KMS_DECRYPTER.into();
        assert_eq!(status(&state, &granted), Some(403), "another role");
    }
}
