//! The reqwest client of the calls kubecred makes by hand (the AWS S3/KMS and GCP checks, GCP's STS,
//! IAM Credentials and metadata calls), for any cloud: a request's proxy, the engine's
//! [`Timeouts`], and the classification of failures to send.
//!
//! A request's proxy carries every call (its URL's user info as basic authentication); without
//! one, reqwest follows `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`. The timeouts bound
//! connecting, each read, and the whole call.

use url::Url;

use crate::error::{Error, Result};
use crate::request::redacted_url;
use crate::timeouts::Timeouts;

/// Whether a client goes through a proxy.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Proxy<'a> {
    /// The request's proxy, else the proxy environment variables.
    Request(Option<&'a Url>),
    /// Never (link-local metadata servers: a proxy elsewhere would answer for its own host).
    #[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
    Never,
}

/// A client for `action` (named in errors) with these timeouts and proxy.
pub(crate) fn client(
    action: &str,
    proxy: Proxy<'_>,
    timeouts: &Timeouts,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .timeout(timeouts.overall);
    match proxy {
        Proxy::Never => builder = builder.no_proxy(),
        Proxy::Request(None) => {}
        Proxy::Request(Some(url)) => builder = builder.proxy(fixed_proxy(action, url)?),
    }
    builder.build().map_err(|e| {
        Error::invalid(format!("{action}: cannot build the HTTP client")).with_source(e)
    })
}

fn fixed_proxy(action: &str, url: &Url) -> Result<reqwest::Proxy> {
    check_proxy(url)?;
    reqwest::Proxy::all(url.as_str()).map_err(|_| {
        Error::invalid(format!(
            "{action}: proxy {} is not usable",
            redacted_url(url)
        ))
    })
}

/// A request's proxy must be an `http://` or `https://` URL with a host, whichever HTTP stack
/// carries the call (the AWS SDK pool, or reqwest here).
pub(crate) fn check_proxy(url: &Url) -> Result<()> {
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "proxy {}: expected an http:// or https:// URL with a host",
        redacted_url(url)
    )))
}

/// A call that got no answer: a timeout or a connection failure is transient. The URL is
/// dropped from the source (it may carry a query the caller did not mean to show).
pub(crate) fn send_error(error: reqwest::Error, action: &str) -> Error {
    match (error.is_builder(), error.is_timeout()) {
        (true, _) => Error::invalid(format!("{action}: cannot build the request")),
        (false, true) => Error::transient(format!(
            "{action}: timed out (connect, read or overall timeout)"
        )),
        (false, false) => Error::transient(format!("{action}: request failed")),
    }
    .with_source(error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_must_be_http_with_a_host() -> std::result::Result<(), url::ParseError> {
        let timeouts = Timeouts::default();
        let proxy = Url::parse("http://team-a:p%40ss@proxy.example:3128")?;
        assert!(client("call", Proxy::Request(Some(&proxy)), &timeouts).is_ok());
        assert!(client("call", Proxy::Never, &timeouts).is_ok());
        let socks = Url::parse("socks5://user:s3cret@proxy.example:1080")?;
        let error = client("call", Proxy::Request(Some(&socks)), &timeouts)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("expected an http:// or https:// URL") && !error.contains("s3cret"),
            "{error}"
        );
        Ok(())
    }
}
