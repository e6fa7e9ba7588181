//! The reqwest client of the calls kubecred makes by hand (the AWS S3/KMS and GCP checks, GCP's STS,
//! IAM Credentials and metadata calls, Azure's ACR, ARM and check calls), for any cloud: a
//! request's proxy, the engine's [`Timeouts`], the classification of failures to send, answers
//! read up to a bound, and the checks shared by the operators' base-URL overrides (loopback
//! listeners, values shown without user info).
//!
//! A request's proxy carries every call (its URL's user info as basic authentication); without
//! one, reqwest follows `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`. The timeouts bound
//! connecting, each read, and the whole call.

use url::{Host, Url};

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
#[cfg_attr(
    not(any(feature = "aws", feature = "gcp", feature = "azure")),
    allow(dead_code)
)]
pub(crate) fn client(
    action: &str,
    proxy: Proxy<'_>,
    timeouts: &Timeouts,
) -> Result<reqwest::Client> {
    build(builder(action, proxy, timeouts)?, action)
}

/// The builder of [`client`], for callers that set more (the issuer check refuses redirects).
pub(crate) fn builder(
    action: &str,
    proxy: Proxy<'_>,
    timeouts: &Timeouts,
) -> Result<reqwest::ClientBuilder> {
    let builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .read_timeout(timeouts.read)
        .timeout(timeouts.overall);
    Ok(match proxy {
        Proxy::Never => builder.no_proxy(),
        Proxy::Request(None) => builder,
        Proxy::Request(Some(url)) => builder.proxy(fixed_proxy(action, url)?),
    })
}

/// Builds a client of [`builder`], for `action` (named in errors).
pub(crate) fn build(builder: reqwest::ClientBuilder, action: &str) -> Result<reqwest::Client> {
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

/// How a cloud turns a non-2xx answer (status, body, action) into an error (its error shapes).
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) type Refusal = fn(u16, &str, &str) -> Error;

/// The largest answer of a hand-made call read (tokens, kubeconfigs and listings are a few KB).
pub(crate) const MAX_ANSWER: usize = 1024 * 1024;

/// Sends `request`, for `action` (named in errors); the JSON body of a 2xx answer as `T`, else
/// the cloud's `refusal`.
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) async fn json<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    action: &str,
    refusal: Refusal,
) -> Result<T> {
    parse(&text(request, action, refusal).await?, action)
}

/// Sends `request`; the body of a 2xx answer (at most [`MAX_ANSWER`] bytes), else the cloud's
/// `refusal`, classified by its status even when its body is unreadable or too long.
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) async fn text(
    request: reqwest::RequestBuilder,
    action: &str,
    refusal: Refusal,
) -> Result<String> {
    let response = request.send().await.map_err(|e| send_error(e, action))?;
    let status = response.status().as_u16();
    match status {
        200..=299 => bounded_text(response, MAX_ANSWER, action).await,
        _ => {
            let body = bounded_text(response, MAX_ANSWER, action).await;
            Err(refusal(status, body.as_deref().unwrap_or_default(), action))
        }
    }
}

/// The first line of an answer, for an error: control characters dropped, at most `max`
/// characters (hosts name the reason there; the rest may be long or hold anything).
pub(crate) fn first_line(body: &str, max: usize) -> String {
    body.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// A success's body as `T`; an error names where it went wrong, never a value.
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &str, action: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| {
        // Only the category and position: serde_json's message may quote a value.
        Error::upstream(format!(
            "{action}: unexpected answer ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// Reads `response`'s body as text, refusing one longer than `max_bytes` (an answer is read whole
/// only when it is small, whoever sent it).
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) async fn bounded_text(
    mut response: reqwest::Response,
    max_bytes: usize,
    action: &str,
) -> Result<String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| send_error(e, action))? {
        if body.len() + chunk.len() > max_bytes {
            return Err(Error::upstream(format!(
                "{action}: the answer is larger than {max_bytes} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body)
        .map_err(|_| Error::upstream(format!("{action}: the answer is not UTF-8")))
}

/// Whether `url` names a loopback listener (`localhost`, `127.0.0.0/8`, `[::1]`).
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An operator's override `value` for an error: not at all if it may carry user info (a
/// password), else escaped and cut.
#[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
pub(crate) fn shown_override(value: &str) -> String {
    match value.contains('@') {
        true => "(not shown: it has user info)".to_owned(),
        false => value
            .chars()
            .take(200)
            .collect::<String>()
            .escape_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn unexpected_answers_quote_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Answer {
            access_token: String,
            expires_in: i64,
        }
        let body = r#"{"access_token": 1, "expires_in": "ya29.secret"}"#;
        let error = parse::<Answer>(body, "x").err().map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(
            error.starts_with("x: unexpected answer (Data error at line 1"),
            "{error}"
        );
        let body = r#"{"access_token": "ya29.secret", "expires_in": "3600"}"#;
        let error = parse::<Answer>(body, "x").err().map(|e| e.to_string());
        assert!(!error.unwrap_or_default().contains("ya29"));
    }
    use super::*;

    #[test]
    fn loopback_listeners() -> std::result::Result<(), url::ParseError> {
        for (url, loopback) in [
            ("http://127.0.0.1:1", true),
            ("http://127.1.2.3", true),
            ("http://[::1]:8080", true),
            ("https://localhost", true),
            ("http://localhost.evil.example", false),
            ("http://10.0.0.1", false),
            ("http://169.254.169.254", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(url)?), loopback, "{url}");
        }
        assert_eq!(
            shown_override("http://u:s3cret@x"),
            "(not shown: it has user info)"
        );
        assert_eq!(shown_override("http://x\n"), "http://x\\n");
        Ok(())
    }

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
