//! Blob storage (HTTPS, path-style `/<account>/<container>[/<blob>]`, Azurite's form) in front of
//! Azurite: the bearer token must be an unexpired Storage token of these stand-ins and the
//! caller must hold a data role on the container (or account); the request then goes to Azurite
//! with the token unchanged, so Azurite accepts or refuses it itself. Refusals in Azure
//! Storage's XML shape (`AuthorizationPermissionMismatch`, `InvalidAuthenticationInfo`, ...).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::config::{STORAGE_AUDIENCE, STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER};
use super::error::StorageError;
use super::state::{AzureState, TokenProblem, lock};

/// What [`AzureState::calls`] counts a forwarded request as.
pub(crate) const ACTION: &str = "blob.request";
const OWNER: &str = "Storage Blob Data Owner";
const READERS: [&str; 3] = [
    STORAGE_BLOB_DATA_READER,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    OWNER,
];
const WRITERS: [&str; 2] = [STORAGE_BLOB_DATA_CONTRIBUTOR, OWNER];
/// Headers not forwarded.
const HOP_BY_HOP: [&str; 5] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// The Blob router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// `azblob://account[/container]` of a path, if it names an account.
fn scope(path: &str) -> Option<String> {
    let mut parts = path.trim_start_matches('/').split('/');
    let account = parts.next().filter(|a| !a.is_empty())?;
    Some(match parts.next().filter(|c| !c.is_empty()) {
        Some(container) => format!("azblob://{account}/{container}"),
        None => format!("azblob://{account}"),
    })
}

async fn handle(
    State(state): State<Arc<AzureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match check(&state, &method, &uri, &headers) {
        Ok(()) => forward(&state, method, &uri, &headers, body).await,
        Err(error) => {
            tracing::debug!(%error, "the Blob stand-in refused a request");
            error.into_response()
        }
    }
}

fn check(
    state: &AzureState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), StorageError> {
    let Some(scope) = scope(uri.path()) else {
        return Err(StorageError::new(
            400,
            "InvalidUri",
            "The requested URI does not represent any resource on the server.",
        ));
    };
    let account = scope
        .trim_start_matches("azblob://")
        .split('/')
        .next()
        .unwrap_or_default();
    let account_audience = format!("https://{account}.blob.core.windows.net");
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let challenge = format!(
        "Bearer authorization_uri=https://login.microsoftonline.com/{}/oauth2/authorize resource_id={STORAGE_AUDIENCE}",
        state.config.tenant_id
    );
    let unauthenticated = |code: &'static str, detail: Option<&str>| StorageError {
        detail: detail.map(str::to_owned),
        challenge: Some(challenge.clone()),
        ..StorageError::new(
            401,
            code,
            "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
        )
    };
    let caller = state
        .authenticate(authorization, &[STORAGE_AUDIENCE, &account_audience])
        .map_err(|problem| match problem {
            TokenProblem::Missing => unauthenticated("NoAuthenticationInformation", None),
            TokenProblem::Invalid => unauthenticated(
                "InvalidAuthenticationInfo",
                Some("Signature validation failed. Signature verification failed."),
            ),
            TokenProblem::Expired { .. } => unauthenticated(
                "InvalidAuthenticationInfo",
                Some("Lifetime validation failed. The token is expired."),
            ),
            TokenProblem::Audience(_) => unauthenticated(
                "InvalidAuthenticationInfo",
                Some("Audience validation failed. Audience did not match."),
            ),
        })?;
    let roles: &[&str] = match *method {
        Method::GET | Method::HEAD => &READERS,
        _ => &WRITERS,
    };
    if !state.granted(&caller, &scope, roles) {
        return Err(StorageError::permission_mismatch());
    }
    Ok(())
}

async fn forward(
    state: &AzureState,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let upstream = lock(&state.blob_upstream).clone();
    let Some(upstream) = upstream else {
        return StorageError::new(
            503,
            "ServerBusy",
            "No Blob service (Azurite) runs behind this stand-in.",
        )
        .into_response();
    };
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{upstream}{path_and_query}");
    let mut request = super::tls::client(&state.ca_pem).request(method, url);
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    let answer = match request.body(body).send().await {
        Ok(answer) => answer,
        Err(_) => {
            return StorageError::new(503, "ServerBusy", "The Blob service (Azurite) is down.")
                .into_response();
        }
    };
    state.count(ACTION);
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response_headers.append(name.clone(), value.clone());
        }
    }
    let body = answer.bytes().await.unwrap_or_default();
    (status, response_headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_come_from_path_style_urls() {
        assert_eq!(scope("/acct/c").as_deref(), Some("azblob://acct/c"));
        assert_eq!(
            scope("/acct/c/some/blob").as_deref(),
            Some("azblob://acct/c")
        );
        assert_eq!(scope("/acct").as_deref(), Some("azblob://acct"));
        assert_eq!(scope("/"), None);
    }
}
