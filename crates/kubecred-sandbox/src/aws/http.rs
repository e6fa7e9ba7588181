//! Glue between axum requests and the verifier's view of them.

use axum::http::{HeaderMap, Method, Uri};

use super::sigv4::RequestView;

/// The verifier's view of an axum request.
pub(crate) fn view<'a>(
    method: &'a Method,
    uri: &'a Uri,
    headers: &HeaderMap,
    body: &'a [u8],
) -> RequestView<'a> {
    let mut pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    if !pairs.iter().any(|(n, _)| n == "host") {
        // HTTP/2 carries the host as the URI's authority.
        if let Some(authority) = uri.authority() {
            pairs.push(("host".into(), authority.to_string()));
        }
    }
    RequestView {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: pairs,
        body,
    }
}

/// The value of header `name` as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
