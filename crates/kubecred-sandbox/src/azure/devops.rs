//! An Azure DevOps git stand-in for `dev.azure.com` (HTTPS; the certificate names it, clients
//! resolve it to loopback, git with `http.curloptResolve`): the smart-HTTP ref advertisement of
//! an empty repository at `/<org>/<project>/_git/<repo>/info/refs?service=git-upload-pack`, for
//! `Authorization: Basic` whose password is an Entra token for Azure DevOps (any username) or
//! `Authorization: Bearer <token>`; 401 with `WWW-Authenticate` otherwise.
//!
//! With [`super::AzureConfig::devops_access`], Azure DevOps' own access control: a caller whose
//! principal (its token's `oid`, or `appid`) is not a user of the organization gets 401 and
//! `TF400813: The user '<oid>' is not authorized to access this resource.`; one that is, but is
//! in no group of the project that reads repositories, gets what a missing repository gets, 404
//! and `TF401019` (Azure DevOps does not tell the two apart).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::config::DEVOPS_AUDIENCE;
use super::state::{AzureState, bearer};

/// What [`AzureState::calls`] counts an advertisement as.
pub(crate) const ACTION: &str = "devops.info_refs";
/// What [`AzureState::calls`] counts refused credentials as.
pub(crate) const REFUSED: &str = "devops.refused";
/// What [`AzureState::calls`] counts valid tokens of principals without access as.
pub(crate) const DENIED: &str = "devops.denied";
const UPLOAD_PACK: &str = "git-upload-pack";
const CAPABILITIES: &str = "multi_ack thin-pack side-band side-band-64k ofs-delta shallow \
     deepen-since deepen-not deepen-relative no-progress include-tag multi_ack_detailed no-done \
     object-format=sha1 agent=kubecred-sandbox";

/// The DevOps router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// `org/project/repo` of `/<org>/<project>/_git/<repo>/info/refs`.
fn repository(path: &str) -> Option<String> {
    let repository = path.strip_suffix("/info/refs")?;
    let parts: Vec<&str> = repository.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [org, project, "_git", repo] if [org, project, repo].iter().all(|p| !p.is_empty()) => {
            Some(format!("{org}/{project}/{repo}"))
        }
        _ => None,
    }
}

/// The token of `Bearer <token>` or the password of `Basic base64(user:password)`.
fn presented_token(authorization: &str) -> Option<String> {
    if let Some(token) = bearer(authorization) {
        return Some(token.to_owned());
    }
    let (scheme, encoded) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned()).filter(|p| !p.is_empty())
}

async fn handle(
    State(state): State<Arc<AzureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(repository) = repository(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if method != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
    }
    if uri.query() != Some("service=git-upload-pack") {
        return (
            StatusCode::FORBIDDEN,
            "the stand-in serves git-upload-pack only",
        )
            .into_response();
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(presented_token);
    let caller = token
        .as_deref()
        .map(|t| state.verify(t, &[DEVOPS_AUDIENCE]));
    let caller = match caller {
        Some(Ok(caller)) => caller,
        Some(Err(_)) => {
            state.count(REFUSED);
            return challenge(&state.config.tenant_id);
        }
        None => return challenge(&state.config.tenant_id),
    };
    let served = state.config.devops_repositories.is_empty()
        || state
            .config
            .devops_repositories
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&repository));
    let [organization, project, name] = repository.splitn(3, '/').collect::<Vec<_>>()[..] else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if let Some(access) = &state.config.devops_access {
        if !access.entitled(organization, |p| caller.is(p)) {
            state.count(DENIED);
            return (
                StatusCode::UNAUTHORIZED,
                format!(
                    "TF400813: The user '{}' is not authorized to access this resource.",
                    super::error::shown(&caller.oid)
                ),
            )
                .into_response();
        }
        if !access.reads(organization, project, |p| caller.is(p)) {
            state.count(DENIED);
            return not_found(name);
        }
    }
    if !served {
        return not_found(name);
    }
    state.count(ACTION);
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/x-git-upload-pack-advertisement",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        advertisement(),
    )
        .into_response()
}

/// 404 with Azure DevOps' text for a repository that does not exist or that the caller may not
/// read.
fn not_found(repository: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "TF401019: The Git repository with name or identifier {} does not exist or you do not \
             have permissions for the operation you are attempting.",
            super::error::shown(repository)
        ),
    )
        .into_response()
}

/// 401 asking for Bearer or Basic credentials, as Azure DevOps does.
fn challenge(tenant: &str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "credentials required").into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "Bearer authorization_uri=https://login.microsoftonline.com/{tenant}"
    )) {
        headers.append(header::WWW_AUTHENTICATE, value);
    }
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"https://dev.azure.com/\""),
    );
    response
}

/// The smart-HTTP ref advertisement of an empty repository (protocol v0).
fn advertisement() -> Vec<u8> {
    let mut out = pkt_line(format!("# service={UPLOAD_PACK}\n").as_bytes());
    out.extend_from_slice(b"0000");
    let refs = format!("{} capabilities^{{}}\0{CAPABILITIES}\n", "0".repeat(40));
    out.extend(pkt_line(refs.as_bytes()));
    out.extend_from_slice(b"0000");
    out
}

fn pkt_line(payload: &[u8]) -> Vec<u8> {
    let mut line = format!("{:04x}", payload.len() + 4).into_bytes();
    line.extend_from_slice(payload);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_and_credentials_are_read() {
        assert_eq!(
            repository("/org/proj/_git/repo/info/refs").as_deref(),
            Some("org/proj/repo")
        );
        assert_eq!(repository("/org/_git/repo/info/refs"), None);
        let basic = format!("Basic {}", STANDARD.encode("anyone:tok"));
        assert_eq!(presented_token(&basic).as_deref(), Some("tok"));
        assert_eq!(presented_token("Bearer tok").as_deref(), Some("tok"));
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(
            presented_token(&format!("Basic {}", STANDARD.encode("user"))),
            None
        );
    }
}
