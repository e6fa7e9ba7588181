//! A static HTTPS site: fixed answers at fixed paths, behind a certificate from a CA generated
//! at start. It stands in for wherever a self-managed cluster publishes its issuer (a bucket, a
//! CDN), including the mistakes made there: a wrong content type, a redirect, a missing object.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
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

fn status_only(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}
