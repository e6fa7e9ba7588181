//! The edge of every Azure call kubecred makes by hand (ACR's exchange, ARM, the Blob, Key Vault
//! and Event Hubs checks): an answer is read up to 1 MiB, as JSON when it is a
//! success, else classified by its status and described with Azure's own error text, in any of
//! its shapes (ARM and Key Vault `{"error": {"code", "message"}}`; ACR's registry API
//! `{"errors": [{"code", "message"}]}`; OAuth `{"error", "error_description"}`; Storage and
//! Service Bus XML `<Error><Code>…</Code><Message>…</Message>` or `<Detail>`). No error carries
//! a token: requests are never shown, and answers are read only for their error fields.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::http;

/// The longest error text shown.
const MAX_TEXT: usize = 500;

/// Sends `request`, for `action` (named in errors); the JSON body of a 2xx answer as `T`.
pub(crate) async fn json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    action: &str,
) -> Result<T> {
    http::json(request, action, refusal).await
}

/// Sends `request`; the body of a 2xx answer, else the classified refusal.
pub(crate) async fn text(request: reqwest::RequestBuilder, action: &str) -> Result<String> {
    http::text(request, action, refusal).await
}

/// A success's body as `T` ([`crate`]'s one JSON edge; public for the fuzz targets).
pub fn parse<T: DeserializeOwned>(body: &str, action: &str) -> Result<T> {
    http::parse(body, action)
}

/// A non-2xx answer as an error: 408, 429 and 5xx transient; 401 and 403 denied; 404 not
/// found; any other status invalid. The message is Azure's text (bounded), else the status.
pub fn refusal(status: u16, body: &str, action: &str) -> Error {
    let azure = azure_text(body)
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    let message = format!("{action}: HTTP {status}{azure}");
    match status {
        408 | 429 | 500..=599 => Error::transient(message),
        401 | 403 => Error::denied(message),
        404 => Error::not_found(message),
        _ => Error::invalid(message),
    }
}

/// Azure's error code and message in `body`, escaped and cut.
fn azure_text(body: &str) -> Option<String> {
    let text = json_text(body).or_else(|| xml_text(body))?;
    // Control characters escaped (one line, no terminal escapes); quotes kept as Azure wrote them.
    Some(
        text.chars()
            .take(MAX_TEXT)
            .flat_map(|c| match c.is_control() {
                true => c.escape_default().collect::<Vec<_>>(),
                false => vec![c],
            })
            .collect(),
    )
}

fn json_text(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let joined = |code: Option<&str>, message: Option<&str>| match (code, message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (Some(text), None) | (None, Some(text)) => Some(text.to_owned()),
        (None, None) => None,
    };
    let error = &value["error"];
    if let Some(code) = error.as_str() {
        return joined(Some(code), value["error_description"].as_str());
    }
    let registry = &value["errors"][0];
    let inner = if error.is_object() { error } else { registry };
    joined(inner["code"].as_str(), inner["message"].as_str())
}

/// `<Code>` and `<Message>` (or `<Detail>`) of an XML error, without an XML parser: the first
/// occurrence of each element's text.
fn xml_text(body: &str) -> Option<String> {
    let element = |name: &str| {
        let start = body.find(&format!("<{name}>"))? + name.len() + 2;
        let end = body[start..].find(&format!("</{name}>"))? + start;
        Some(body[start..end].trim().to_owned())
    };
    let message = element("Message").or_else(|| element("Detail"));
    match (element("Code"), message) {
        (Some(code), Some(message)) => Some(format!("{code}: {message}")),
        (Some(text), None) | (None, Some(text)) => Some(text),
        (None, None) => None,
    }
}

/// Who an Entra access token was issued to, for messages: its client (`appid` of v1 tokens,
/// `azp` of v2) and object id (`oid`), read without verification (kubecred's own token). Only
/// GUID-shaped values are taken, so nothing else of the token can reach a message.
pub fn token_holder(token: &crate::Secret) -> Option<String> {
    let claims = claims(token)?;
    let object = guid(&claims, "oid");
    match (client_id(&claims), object) {
        (Some(client), Some(object)) => Some(format!("client {client} (object {object})")),
        (Some(client), None) => Some(format!("client {client}")),
        (None, Some(object)) => Some(format!("object {object}")),
        (None, None) => None,
    }
}

/// The client id of an Entra access token (`appid`, else `azp`), when GUID-shaped.
pub(crate) fn token_client_id(token: &crate::Secret) -> Option<String> {
    client_id(&claims(token)?).map(str::to_owned)
}

fn client_id(claims: &serde_json::Value) -> Option<&str> {
    guid(claims, "appid").or_else(|| guid(claims, "azp"))
}

fn guid<'a>(claims: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    claims[name].as_str().filter(|v| super::is_guid(v))
}

fn claims(token: &crate::Secret) -> Option<serde_json::Value> {
    use base64::Engine as _;
    let payload = token.expose().split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Test support: a loopback HTTP/1.1 stand-in that records each request and answers it with
/// a closure's `(status, body)`, one request per connection.
#[cfg(test)]
pub(crate) mod stand_in {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A request as the stand-in saw it.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct Seen {
        pub(crate) method: String,
        /// The request target (path and query).
        pub(crate) target: String,
        /// Header names lowercased.
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: String,
    }

    impl Seen {
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    /// The requests a stand-in saw.
    pub(crate) type Log = Arc<Mutex<Vec<Seen>>>;

    type Answer = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

    /// Starts the stand-in; its base URL (`http://127.0.0.1:PORT`) and the requests seen.
    pub(crate) async fn serve(
        answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
    ) -> std::io::Result<(String, Log)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, answer): (_, Answer) = (seen.clone(), Arc::new(answer));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let Some(request) = read_request(&mut stream).await else {
                    continue;
                };
                let (status, body) = answer(&request);
                if let Ok(mut log) = log.lock() {
                    log.push(request);
                }
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        Ok((base, seen))
    }

    async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Seen> {
        let mut bytes = Vec::new();
        let mut buf = vec![0; 8192];
        let head_end = loop {
            if let Some(at) = find(&bytes, b"\r\n\r\n") {
                break at;
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while bytes.len() < head_end + 4 + length {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        let body = String::from_utf8_lossy(&bytes[(head_end + 4).min(bytes.len())..]).to_string();
        Some(Seen {
            method,
            target,
            headers,
            body,
        })
    }

    fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified_with_azures_text() {
        let arm = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' does not have authorization to perform action."}}"#;
        let error = refusal(403, arm, "describe AKS cluster");
        assert!(error.is_denied());
        assert_eq!(
            error.to_string(),
            "describe AKS cluster: HTTP 403: AuthorizationFailed: The client 'x' does not have authorization to perform action."
        );
        let acr = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
        assert!(
            refusal(401, acr, "x")
                .to_string()
                .ends_with("HTTP 401: UNAUTHORIZED: authentication required")
        );
        let oauth = r#"{"error":"invalid_request","error_description":"bad"}"#;
        assert_eq!(
            refusal(400, oauth, "x").to_string(),
            "x: HTTP 400: invalid_request: bad"
        );
        let blob = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:1</Message></Error>";
        let error = refusal(403, blob, "list");
        assert!(error.is_denied());
        assert!(
            error
                .to_string()
                .contains("AuthorizationPermissionMismatch: This request is not authorized")
                && !error.to_string().contains('\n'),
            "{error}"
        );
        let bus =
            "<Error><Code>401</Code><Detail>Unauthorized. Claim 'Send' required.</Detail></Error>";
        assert!(
            refusal(401, bus, "x")
                .to_string()
                .ends_with("401: Unauthorized. Claim 'Send' required.")
        );
        assert!(refusal(429, "", "x").is_transient());
        assert!(refusal(503, "<html>", "x").is_transient());
        assert!(refusal(404, "", "x").is_not_found());
        assert_eq!(refusal(500, "not json", "x").to_string(), "x: HTTP 500");
        let bad = refusal(400, "{}", "x");
        assert!(!bad.is_denied() && !bad.is_transient());
    }

    /// Every status class and every error shape Azure answers with, one row each.
    #[test]
    fn each_status_and_shape_is_classified_and_described() {
        #[derive(Debug, PartialEq)]
        enum Kind {
            Denied,
            Transient,
            NotFound,
            Invalid,
        }
        let kind = |e: &Error| {
            if e.is_denied() {
                Kind::Denied
            } else if e.is_transient() {
                Kind::Transient
            } else if e.is_not_found() {
                Kind::NotFound
            } else {
                Kind::Invalid
            }
        };
        for (status, body, expected, expected_kind) in [
            (401, "", "x: HTTP 401", Kind::Denied),
            (403, "{}", "x: HTTP 403", Kind::Denied),
            (404, "", "x: HTTP 404", Kind::NotFound),
            (408, "", "x: HTTP 408", Kind::Transient),
            (429, "", "x: HTTP 429", Kind::Transient),
            (500, "", "x: HTTP 500", Kind::Transient),
            (599, "", "x: HTTP 599", Kind::Transient),
            (302, "", "x: HTTP 302", Kind::Invalid),
            (400, "", "x: HTTP 400", Kind::Invalid),
            (409, "", "x: HTTP 409", Kind::Invalid),
            (600, "", "x: HTTP 600", Kind::Invalid),
            (
                403,
                r#"{"error":{"code":"Forbidden","message":"Caller is not authorized"}}"#,
                "x: HTTP 403: Forbidden: Caller is not authorized",
                Kind::Denied,
            ),
            (
                404,
                r#"{"error":{"code":"ResourceNotFound"}}"#,
                "x: HTTP 404: ResourceNotFound",
                Kind::NotFound,
            ),
            (
                400,
                r#"{"error":{"message":"only a message"}}"#,
                "x: HTTP 400: only a message",
                Kind::Invalid,
            ),
            (
                401,
                r#"{"error":"invalid_client"}"#,
                "x: HTTP 401: invalid_client",
                Kind::Denied,
            ),
            (
                401,
                r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"},{"code":"second"}]}"#,
                "x: HTTP 401: DENIED: requested access to the resource is denied",
                Kind::Denied,
            ),
            (401, r#"{"errors":[]}"#, "x: HTTP 401", Kind::Denied),
            (
                401,
                r#"{"errors":{"code":"c"}}"#,
                "x: HTTP 401",
                Kind::Denied,
            ),
            (400, r#"{"error":5}"#, "x: HTTP 400", Kind::Invalid),
            (
                400,
                r#"{"error":{"code":5,"message":["m"]}}"#,
                "x: HTTP 400",
                Kind::Invalid,
            ),
            (400, "[1,2]", "x: HTTP 400", Kind::Invalid),
            (400, "null", "x: HTTP 400", Kind::Invalid),
            (
                404,
                "<Error><Code>ContainerNotFound</Code><Message>The specified container does not exist.</Message></Error>",
                "x: HTTP 404: ContainerNotFound: The specified container does not exist.",
                Kind::NotFound,
            ),
            (
                401,
                "<Error><Detail>  Claim 'Send' required.  </Detail></Error>",
                "x: HTTP 401: Claim 'Send' required.",
                Kind::Denied,
            ),
            (500, "<Error><Code>Unclosed", "x: HTTP 500", Kind::Transient),
            (500, "</Code>x<Code>", "x: HTTP 500", Kind::Transient),
            (500, "<Code></Code>", "x: HTTP 500: ", Kind::Transient),
            (
                400,
                "<Code>a\u{7}b</Code><Message>\u{1b}[2Jc\td</Message>",
                "x: HTTP 400: a\\u{7}b: \\u{1b}[2Jc\\td",
                Kind::Invalid,
            ),
        ] {
            let error = refusal(status, body, "x");
            assert_eq!(
                (error.to_string(), kind(&error)),
                (expected.to_owned(), expected_kind),
                "{status} {body}"
            );
        }
    }

    /// Who a token was issued to: GUID-shaped `appid`/`azp` and `oid` only.
    #[test]
    fn token_holders_are_guids_only() {
        use base64::Engine as _;
        let token = |claims: &str| {
            crate::Secret::new(format!(
                "e30.{}.c2ln",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims)
            ))
        };
        const A: &str = "11111111-2222-3333-4444-555555555555";
        const O: &str = "66666666-7777-8888-9999-000000000000";
        for (claims, expected) in [
            (
                format!(r#"{{"appid":"{A}","oid":"{O}"}}"#),
                Some(format!("client {A} (object {O})")),
            ),
            (format!(r#"{{"azp":"{A}"}}"#), Some(format!("client {A}"))),
            (
                format!(r#"{{"appid":"s3cret","azp":"{A}"}}"#),
                Some(format!("client {A}")),
            ),
            (format!(r#"{{"oid":"{O}"}}"#), Some(format!("object {O}"))),
            (r#"{"appid":"s3cret","oid":5}"#.to_owned(), None),
            (format!(r#"{{"appid":"{A}\n"}}"#), None),
            ("[]".to_owned(), None),
            ("not json".to_owned(), None),
        ] {
            assert_eq!(token_holder(&token(&claims)), expected, "{claims}");
        }
        for opaque in ["", "s3cret", "a.!!.c", "a..c"] {
            assert_eq!(token_holder(&crate::Secret::new(opaque)), None, "{opaque}");
        }
    }

    #[test]
    fn error_texts_are_bounded_and_escaped() {
        let long = format!(
            r#"{{"error":{{"code":"c","message":"{}\n"}}}}"#,
            "a".repeat(5000)
        );
        let text = refusal(400, &long, "x").to_string();
        assert!(text.len() < 700 && !text.contains('\n'), "{text}");
    }

    proptest::proptest! {
        #[test]
        fn any_error_body_is_described_without_panicking(status in 100u16..600, body in "\\PC{0,300}") {
            let text = refusal(status, &body, "x").to_string();
            proptest::prop_assert!(text.chars().count() < MAX_TEXT * 12 + 40);
        }
    }
}
