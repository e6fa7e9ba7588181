//! The GCE/GKE metadata server stand-in (what `GCE_METADATA_HOST` points at): project id and
//! number, the GKE cluster's name and location, and the node's service account with its
//! access tokens. As on GCE, every `/computeMetadata/v1/` request must carry
//! `Metadata-Flavor: Google` and no `X-Forwarded-For` (403 otherwise), and every answer carries
//! `Metadata-Flavor: Google`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::state::GcpState;

/// What [`GcpState::calls`] counts a served node token as.
pub(crate) const ACTION: &str = "metadata.token";
const ROOT: &str = "/computeMetadata/v1/";
const FLAVOR: &str = "metadata-flavor";
const TEXT: &str = "application/text";
const JSON: &str = "application/json";
/// Lifetime of node tokens, seconds.
const LIFETIME: i64 = 3600;

/// The metadata server router.
pub(crate) fn router(state: Arc<GcpState>) -> Router {
    Router::new()
        .route("/", get(root))
        .fallback(get(serve))
        .with_state(state)
}

async fn root() -> Response {
    answer(StatusCode::OK, TEXT, "computeMetadata/\n".into())
}

async fn serve(
    State(state): State<Arc<GcpState>>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers.contains_key("x-forwarded-for") {
        return answer(
            StatusCode::FORBIDDEN,
            TEXT,
            "Request with X-Forwarded-For header is not allowed.\n".into(),
        );
    }
    if headers.get(FLAVOR).and_then(|v| v.to_str().ok()) != Some("Google") {
        return answer(
            StatusCode::FORBIDDEN,
            TEXT,
            "Missing Metadata-Flavor:Google header.\n".into(),
        );
    }
    let Some(path) = uri.path().strip_prefix(ROOT) else {
        return not_found();
    };
    match lookup(&state, path, &query) {
        Some((content_type, body)) => answer(StatusCode::OK, content_type, body),
        None => not_found(),
    }
}

/// The value at `path` (below `/computeMetadata/v1/`): content type and body.
fn lookup(
    state: &GcpState,
    path: &str,
    query: &HashMap<String, String>,
) -> Option<(&'static str, String)> {
    let config = &state.config;
    let gke = config.gke.as_ref();
    let text = |value: &str| Some((TEXT, value.to_string()));
    match path {
        "project/project-id" => text(&config.project_id),
        "project/numeric-project-id" => text(&config.project_number),
        "instance/attributes/cluster-name" => text(&gke?.name),
        "instance/attributes/cluster-location" => text(&gke?.location),
        "universe/universe-domain" => text("googleapis.com"),
        "instance/service-accounts/" => text("default/\n"),
        _ => {
            let rest = path.strip_prefix("instance/service-accounts/")?;
            let (account, item) = rest.split_once('/')?;
            let email = config.node_service_account.as_deref()?;
            if account != "default" && account != email {
                return None;
            }
            service_account(state, email, item, query)
        }
    }
}

fn service_account(
    state: &GcpState,
    email: &str,
    item: &str,
    query: &HashMap<String, String>,
) -> Option<(&'static str, String)> {
    let scopes = super::sts::scopes(query.get("scopes").map(String::as_str));
    match item {
        "" if query.get("recursive").map(String::as_str) == Some("true") => {
            let info =
                serde_json::json!({"aliases": ["default"], "email": email, "scopes": scopes});
            Some((JSON, info.to_string()))
        }
        "" => Some((TEXT, "aliases\nemail\nscopes\ntoken\n".into())),
        "email" => Some((TEXT, email.to_string())),
        "scopes" => Some((TEXT, format!("{}\n", scopes.join("\n")))),
        "token" => {
            let token = state.issue_for_service_account(email, scopes, LIFETIME);
            state.count(ACTION);
            let body = serde_json::json!({"access_token": token, "expires_in": LIFETIME - 1, "token_type": "Bearer"});
            Some((JSON, body.to_string()))
        }
        _ => None,
    }
}

fn not_found() -> Response {
    answer(StatusCode::NOT_FOUND, TEXT, "Not Found\n".into())
}

fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(FLAVOR, HeaderValue::from_static("Google"));
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::config::GcpConfig;

    fn state() -> GcpState {
        let config = GcpConfig {
            project_id: "proj".into(),
            project_number: "42".into(),
            node_service_account: Some("node@proj.iam.gserviceaccount.com".into()),
            ..GcpConfig::default()
        };
        GcpState::new(config, String::new())
    }

    #[test]
    fn values_are_served_by_path() {
        let state = state();
        let none = HashMap::new();
        let value = |path| lookup(&state, path, &none).map(|(_, body)| body);
        assert_eq!(value("project/project-id").as_deref(), Some("proj"));
        assert_eq!(value("project/numeric-project-id").as_deref(), Some("42"));
        assert_eq!(
            value("instance/service-accounts/default/email").as_deref(),
            Some("node@proj.iam.gserviceaccount.com")
        );
        assert_eq!(value("instance/attributes/cluster-name"), None);
        assert_eq!(value("instance/service-accounts/other@x/email"), None);
        assert_eq!(value("instance/service-accounts/default/../../x"), None);
    }

    #[test]
    fn node_tokens_belong_to_the_node_service_account() {
        let state = state();
        let query = HashMap::from([("scopes".to_string(), "a,b".to_string())]);
        let (content_type, body) =
            lookup(&state, "instance/service-accounts/default/token", &query).expect("token");
        assert_eq!(content_type, JSON);
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let info = state
            .lookup(json["access_token"].as_str().unwrap_or_default())
            .expect("issued")
            .info;
        assert_eq!(
            info.principal,
            "serviceAccount:node@proj.iam.gserviceaccount.com"
        );
        assert_eq!(info.scopes, ["a", "b"]);
    }
}
