//! An AWS CodeCommit stand-in: git smart HTTP over HTTPS for one empty repository, with
//! CodeCommit's SigV4 git credentials checked by [`super::codecommit_auth`].
//!
//! It listens on 127.0.0.1 with a certificate for the CodeCommit host name (e.g.
//! `git-codecommit.us-east-1.amazonaws.com`) signed by a CA generated at start; clients reach it
//! by resolving that name to loopback (git: `http.curloptResolve`). Only the ref advertisement
//! is served (`GET /v1/repos/<repo>/info/refs?service=git-upload-pack`), which is all `git
//! ls-remote` and a clone of an empty repository ask for:
//!
//! - no `Authorization` → 401 with `WWW-Authenticate: Basic realm="codecommit"`;
//! - credentials that do not verify → 403 (counted as refused);
//! - verified credentials → 200 with the advertisement of an empty repository (counted as
//!   authenticated), or 404 for another repository.

use std::sync::Arc;
use std::sync::Mutex;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::codecommit_auth::{self, Presented};
use super::error::AwsStartError;
use super::https::{self, HttpsStandIn};
use super::permissions::{self, Need};
use super::state::{AwsState, lock};
use crate::clock::unix_now;

/// The smart-HTTP service served.
const UPLOAD_PACK: &str = "git-upload-pack";
/// The capabilities advertised (those of `git upload-pack` 2.47 for an empty repository).
const CAPABILITIES: &str = "multi_ack thin-pack side-band side-band-64k ofs-delta shallow \
     deepen-since deepen-not deepen-relative no-progress include-tag multi_ack_detailed no-done \
     object-format=sha1";
/// The `agent=` capability's value.
const AGENT: &str = "kubecred-sandbox";

/// A running CodeCommit stand-in. Dropping it stops the server;
/// [`CodeCommitStandIn::shutdown`] also waits for it.
pub struct CodeCommitStandIn {
    shared: Arc<Shared>,
    server: HttpsStandIn,
}

impl std::fmt::Debug for CodeCommitStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeCommitStandIn")
            .field("host", &self.shared.host)
            .field("port", &self.server.port())
            .field("repository", &self.shared.repository)
            .finish_non_exhaustive()
    }
}

/// What the handler needs.
struct Shared {
    state: Arc<AwsState>,
    host: String,
    region: String,
    repository: String,
    outcomes: Mutex<Outcomes>,
}

/// Authentication outcomes so far.
#[derive(Default)]
struct Outcomes {
    /// The caller ARN of each verified request.
    callers: Vec<String>,
    refused: u64,
}

/// Starts the stand-in for `host`, serving the empty repository `repository`.
pub(crate) async fn start(
    state: Arc<AwsState>,
    host: &str,
    repository: &str,
) -> Result<CodeCommitStandIn, AwsStartError> {
    let region = region_of(host).ok_or_else(|| {
        AwsStartError::new(
            format!(
                "'{host}' is not a CodeCommit host (git-codecommit[-fips].<region>.amazonaws.com[.cn])"
            ),
            None,
        )
    })?;
    let shared = Arc::new(Shared {
        state,
        host: host.to_owned(),
        region,
        repository: repository.to_owned(),
        outcomes: Mutex::default(),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&shared));
    let server = https::serve(app, &[host]).await?;
    tracing::info!(port = server.port(), host, "CodeCommit stand-in listening");
    Ok(CodeCommitStandIn { shared, server })
}

impl CodeCommitStandIn {
    /// The CA (PEM) that signed the server's certificate for the CodeCommit host.
    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The CodeCommit host name the certificate is for.
    pub fn host(&self) -> &str {
        &self.shared.host
    }

    /// The repository's clone URL, `https://<host>:<port>/v1/repos/<repository>` (the host
    /// must resolve to 127.0.0.1 for the client).
    pub fn repository_url(&self) -> String {
        format!(
            "https://{}:{}/v1/repos/{}",
            self.shared.host,
            self.port(),
            self.shared.repository
        )
    }

    /// Requests whose credentials verified.
    pub fn authenticated(&self) -> u64 {
        lock(&self.shared.outcomes).callers.len() as u64
    }

    /// Requests whose credentials did not verify.
    pub fn refused(&self) -> u64 {
        lock(&self.shared.outcomes).refused
    }

    /// The caller ARN of each verified request, in order.
    pub fn callers(&self) -> Vec<String> {
        lock(&self.shared.outcomes).callers.clone()
    }

    /// Stops accepting connections and waits for the server (up to 5 s).
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The region of `git-codecommit[-fips].<region>.amazonaws.com[.cn]`.
fn region_of(host: &str) -> Option<String> {
    let rest = host
        .strip_prefix("git-codecommit.")
        .or_else(|| host.strip_prefix("git-codecommit-fips."))?;
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))?;
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| region.to_owned())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let Some(repository_path) = uri.path().strip_suffix("/info/refs") else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    if method != Method::GET {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let service = uri.query().unwrap_or_default();
    if service != format!("service={UPLOAD_PACK}") {
        return plain(
            StatusCode::FORBIDDEN,
            "the stand-in serves git-upload-pack only",
        );
    }
    let Some(authorization) = header_text(&headers, header::AUTHORIZATION) else {
        return challenge();
    };
    let Some(host) = header_text(&headers, header::HOST) else {
        return plain(StatusCode::BAD_REQUEST, "no Host header");
    };
    let presented = Presented {
        repository_path,
        host,
        authorization,
    };
    let caller =
        match codecommit_auth::verify(&shared.state, &shared.region, &presented, unix_now()) {
            Ok(caller) => caller,
            Err(refusal) => {
                tracing::info!(reason = %refusal.0, "CodeCommit stand-in refused git credentials");
                lock(&shared.outcomes).refused += 1;
                return plain(StatusCode::FORBIDDEN, &refusal.0);
            }
        };
    // Pulling needs codecommit:GitPull on the repository (checked when permissions are loaded).
    let name = repository_path.rsplit('/').next().unwrap_or_default();
    let arn = format!(
        "arn:aws:codecommit:{}:{}:{name}",
        shared.region,
        shared.state.account_of(&caller.principal_arn)
    );
    let need = Need {
        action: "codecommit:GitPull",
        resource: &arn,
        context: &[],
    };
    if let Err(denied) = permissions::permit(&shared.state, &caller, need, "AccessDenied") {
        lock(&shared.outcomes).refused += 1;
        return plain(StatusCode::FORBIDDEN, denied.message());
    }
    lock(&shared.outcomes).callers.push(caller.arn);
    if repository_path != format!("/v1/repos/{}", shared.repository) {
        return plain(StatusCode::NOT_FOUND, "repository not found");
    }
    advertise()
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// 401 asking for Basic credentials, as CodeCommit does.
fn challenge() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"codecommit\"")],
        "credentials required",
    )
        .into_response()
}

fn plain(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

fn advertise() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/x-git-upload-pack-advertisement",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        advertisement(AGENT),
    )
        .into_response()
}

/// The smart-HTTP ref advertisement of an empty repository (protocol v0): the service line, a
/// flush, the capabilities on the null id's `capabilities^{}` line, a flush.
fn advertisement(agent: &str) -> Vec<u8> {
    let mut out = pkt_line(format!("# service={UPLOAD_PACK}\n").as_bytes());
    out.extend_from_slice(b"0000");
    let refs = format!(
        "{} capabilities^{{}}\0{CAPABILITIES} agent={agent}\n",
        "0".repeat(40)
    );
    out.extend(pkt_line(refs.as_bytes()));
    out.extend_from_slice(b"0000");
    out
}

/// One pkt-line: four hex digits of length (including themselves), then the payload.
fn pkt_line(payload: &[u8]) -> Vec<u8> {
    let mut line = format!("{:04x}", payload.len() + 4).into_bytes();
    line.extend_from_slice(payload);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git upload-pack --advertise-refs --stateless-rpc` of an empty bare repository (git
    /// 2.47.3), after the `# service=` line git-http-backend adds.
    #[test]
    fn advertisement_matches_git_upload_pack() {
        let from_git = concat!(
            "001e# service=git-upload-pack\n0000",
            "00fa0000000000000000000000000000000000000000 capabilities^{}\0",
            "multi_ack thin-pack side-band side-band-64k ofs-delta shallow deepen-since ",
            "deepen-not deepen-relative no-progress include-tag multi_ack_detailed no-done ",
            "object-format=sha1 agent=git/2.47.3\n0000"
        );
        assert_eq!(
            String::from_utf8_lossy(&advertisement("git/2.47.3")),
            from_git
        );
    }

    #[test]
    fn regions_come_from_codecommit_hosts_only() {
        for (host, region) in [
            ("git-codecommit.us-east-1.amazonaws.com", Some("us-east-1")),
            (
                "git-codecommit-fips.us-west-2.amazonaws.com",
                Some("us-west-2"),
            ),
            (
                "git-codecommit.cn-north-1.amazonaws.com.cn",
                Some("cn-north-1"),
            ),
            ("git-codecommit..amazonaws.com", None),
            ("codecommit.us-east-1.amazonaws.com", None),
            ("git-codecommit.a.b.amazonaws.com", None),
        ] {
            assert_eq!(region_of(host).as_deref(), region, "{host}");
        }
    }
}
