//! A static HTTPS site: fixed answers at fixed paths, behind a certificate from a CA generated
//! at start. It stands in for wherever a self-managed cluster publishes its issuer (a bucket, a
//! CDN), including the mistakes made there: a wrong content type, a redirect, a missing object.
//!
//! [`HttpsFront`] is the other shape of such a site: the public HTTPS endpoint of a bucket whose
//! stand-in serves plain http on loopback (moto S3, fake-gcs-server), answering each `GET` with
//! what the bucket holds now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::Response;

use crate::aws::{AwsStartError, HttpsStandIn};

/// One answer of a [`StaticSite`].
#[derive(Clone, Debug)]
pub struct Page {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Location` header, if any (for redirects).
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Page {
    /// A `200 OK` with this content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            content_type: Some(content_type.to_owned()),
            location: None,
            body: body.into(),
        }
    }

    /// A `200 OK` JSON document (`application/json`).
    pub fn json(value: &serde_json::Value) -> Page {
        Page::ok("application/json", value.to_string())
    }

    /// A redirect (`status`, e.g. 301 or 302) to `location`.
    pub fn redirect(status: u16, location: &str) -> Page {
        Page {
            status,
            content_type: None,
            location: Some(location.to_owned()),
            body: Vec::new(),
        }
    }
}

type Pages = Arc<Mutex<HashMap<String, Page>>>;

/// A running static HTTPS site on `https://localhost:PORT`; any path without a page answers
/// 404. Dropping it stops accepting.
#[derive(Debug)]
pub struct StaticSite {
    server: HttpsStandIn,
    pages: Pages,
}

impl StaticSite {
    /// Serves an empty site on a loopback port of its own (pages are set with
    /// [`StaticSite::put`] once the URL is known).
    pub async fn start() -> Result<StaticSite, AwsStartError> {
        let pages = Pages::default();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&pages));
        let server = crate::aws::https::serve(app, &["localhost", "127.0.0.1"]).await?;
        Ok(StaticSite { server, pages })
    }

    /// `https://localhost:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The CA (PEM) that signed the site's certificate.
    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }

    /// Serves `page` at `path` (e.g. `/.well-known/openid-configuration`), replacing any.
    pub fn put(&self, path: &str, page: Page) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages.insert(path.to_owned(), page);
    }

    /// Stops serving `path` (it answers 404 again).
    pub fn remove(&self, path: &str) {
        let mut pages = self.pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages.remove(path);
    }

    /// Stops accepting connections and waits for the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn answer(State(pages): State<Pages>, uri: Uri) -> Response {
    let page = {
        let pages = pages.lock().unwrap_or_else(PoisonError::into_inner);
        pages.get(uri.path()).cloned()
    };
    let Some(page) = page else {
        return status_only(StatusCode::NOT_FOUND);
    };
    let mut response = Response::builder().status(page.status);
    if let Some(content_type) = &page.content_type {
        response = response.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(location) = &page.location {
        response = response.header(header::LOCATION, location);
    }
    response
        .body(Body::from(page.body))
        .unwrap_or_else(|_| status_only(StatusCode::INTERNAL_SERVER_ERROR))
}

/// How long a front waits for its upstream's whole answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest upstream body a front passes on; a larger one is answered `502`.
const MAX_UPSTREAM_BYTES: usize = 1024 * 1024;

/// The HTTPS front of a plain-http bucket endpoint: a bucket's public HTTPS endpoint
/// (`https://BUCKET.s3.amazonaws.com`, `https://storage.googleapis.com/BUCKET`) for a stand-in
/// that serves the bucket over http on loopback. Each `GET /PATH` is answered by fetching
/// `UPSTREAM/PATH` (no redirect followed, within 10 s, at most 1 MiB) and returning its status,
/// `Content-Type` and body unchanged; an upstream that cannot be read (unreachable, too slow,
/// too large) is `502`, another method `405`. Nothing is cached: an object deleted upstream is
/// gone at once. Dropping it stops accepting.
#[derive(Debug)]
pub struct HttpsFront {
    server: HttpsStandIn,
    upstream: String,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
}

impl HttpsFront {
    /// Serves the front of `upstream_base` (`http://127.0.0.1:PORT[/BUCKET]`, no trailing slash
    /// needed) on a loopback port of its own, with a certificate from a CA of its own.
    pub async fn start(upstream_base: &str) -> Result<HttpsFront, AwsStartError> {
        let base = upstream_base.trim_end_matches('/').to_owned();
        if url::Url::parse(&base).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
            return Err(AwsStartError::new(
                format!("the front's upstream '{base}' is not an http(s) URL"),
                None,
            ));
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(UPSTREAM_TIMEOUT)
            .build()
            .map_err(|e| {
                AwsStartError::new(format!("cannot build the front's client: {e}"), None)
            })?;
        let upstream = Upstream {
            base: base.clone(),
            client,
        };
        let app = Router::new().fallback(forward).with_state(upstream);
        let server = crate::aws::https::serve(app, &["localhost", "127.0.0.1"]).await?;
        Ok(HttpsFront {
            server,
            upstream: base,
        })
    }

    /// `https://localhost:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The CA (PEM) that signed the front's certificate.
    pub fn ca_pem(&self) -> &str {
        self.server.ca_pem()
    }

    /// The upstream base URL, without a trailing slash.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Stops accepting connections and waits for the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn forward(State(upstream): State<Upstream>, method: Method, uri: Uri) -> Response {
    if method != Method::GET {
        return status_only(StatusCode::METHOD_NOT_ALLOWED);
    }
    let url = format!("{}{}", upstream.base, uri.path());
    let mut answer = match upstream.client.get(&url).send().await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::debug!(%url, "the front's upstream did not answer: {e}");
            return status_only(StatusCode::BAD_GATEWAY);
        }
    };
    let status = answer.status().as_u16();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut body = Vec::new();
    loop {
        match answer.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_UPSTREAM_BYTES => {
                body.extend_from_slice(&chunk);
            }
            Ok(Some(_)) => {
                tracing::debug!(%url, "the front's upstream answered more than {MAX_UPSTREAM_BYTES} bytes");
                return status_only(StatusCode::BAD_GATEWAY);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(%url, "the front's upstream body could not be read: {e}");
                return status_only(StatusCode::BAD_GATEWAY);
            }
        }
    }
    let mut response = Response::builder().status(status);
    if let Some(content_type) = content_type {
        response = response.header(header::CONTENT_TYPE, content_type);
    }
    response
        .body(Body::from(body))
        .unwrap_or_else(|_| status_only(StatusCode::BAD_GATEWAY))
}

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::sync::watch;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A plain-http bucket on loopback: one JSON object, a redirect, an object over the bound;
    /// anything else 404.
    async fn bucket() -> Result<(String, watch::Sender<bool>), Box<dyn std::error::Error>> {
        let app = Router::new()
            .route(
                "/b/.well-known/openid-configuration",
                get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"a\":1}") }),
            )
            .route(
                "/b/moved",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "http://127.0.0.1:9/elsewhere")],
                    )
                }),
            )
            .route(
                "/b/big",
                get(|| async { vec![b'x'; MAX_UPSTREAM_BYTES + 1] }),
            );
        let (listener, address) = crate::aws::server::bind().await?;
        let (stop, stopped) = watch::channel(false);
        drop(crate::aws::server::serve(listener, app, stopped));
        Ok((format!("http://{address}/b"), stop))
    }

    fn client(front: &HttpsFront) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let roots = reqwest::Certificate::from_pem_bundle(front.ca_pem().as_bytes())?;
        Ok(reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only(roots)
            .build()?)
    }

    #[tokio::test]
    async fn a_front_answers_with_the_upstreams_status_type_and_body() -> TestResult {
        let (upstream, _stop) = bucket().await?;
        let front = HttpsFront::start(&format!("{upstream}/")).await?;
        assert_eq!(front.upstream(), upstream);
        assert!(front.url().starts_with("https://localhost:"));
        let client = client(&front)?;
        let get = |path: &str| client.get(format!("{}{path}", front.url())).send();

        let found = get("/.well-known/openid-configuration").await?;
        assert_eq!(found.status(), 200);
        let content_type = found.headers().get(header::CONTENT_TYPE).cloned();
        assert_eq!(
            content_type.as_ref().map(|v| v.to_str()).transpose()?,
            Some("application/json")
        );
        assert_eq!(found.text().await?, "{\"a\":1}");

        assert_eq!(get("/missing").await?.status(), 404);
        // Not followed, and the http Location is not passed on.
        let moved = get("/moved").await?;
        assert_eq!(moved.status(), 302);
        assert!(moved.headers().get(header::LOCATION).is_none());
        assert_eq!(get("/big").await?.status(), 502);
        let put = client.put(format!("{}/moved", front.url())).send().await?;
        assert_eq!(put.status(), 405);
        front.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn a_front_of_nothing_is_a_bad_gateway_and_of_no_url_an_error() -> TestResult {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let front = HttpsFront::start(&format!("http://127.0.0.1:{port}")).await?;
        let answer = client(&front)?
            .get(format!("{}/x", front.url()))
            .send()
            .await?;
        assert_eq!(answer.status(), 502);
        front.shutdown().await;
        for bad in ["", "127.0.0.1:80", "ftp://127.0.0.1/b"] {
            assert!(HttpsFront::start(bad).await.is_err(), "{bad}");
        }
        Ok(())
    }
}
