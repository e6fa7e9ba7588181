//! Managed identity: a token from the instance metadata service (IMDS) of an Azure VM or AKS
//! node, for the system-assigned identity or the user-assigned one a client id names.
//!
//! Written by hand rather than with `azure_identity`'s `ManagedIdentityCredential`: that one
//! hard-codes `http://169.254.169.254` (no stand-in can take its place in tests) and retries for
//! up to 72 s, so a controller-level chain off Azure would wait a minute before saying "no
//! managed identity". Here: one GET, never proxied (a proxy elsewhere would answer with its own
//! host's identity), a short connect timeout (the address is link-local: it answers at once or
//! not at all), and IMDS's own error text.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use url::Url;

use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;
use crate::{Env, Secret};

const API_VERSION: &str = "2018-02-01";
/// The connect timeout of the link-local IMDS address.
const CONNECT: Duration = Duration::from_secs(2);
/// The largest answer read (a token is a few KB).
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    /// Seconds, as a string (IMDS's format) or a number.
    expires_in: serde_json::Value,
}

/// The managed identity's token for `scope` (one `<resource>/.default`): the user-assigned
/// identity `client_id`, else the system-assigned one.
pub(crate) async fn token(
    env: &Env,
    timeouts: &Timeouts,
    token_url: &Url,
    client_id: Option<&str>,
    scope: &str,
) -> Result<AccessToken> {
    let which = match client_id {
        Some(id) => format!("user-assigned managed identity {id}"),
        None => "system-assigned managed identity".to_owned(),
    };
    let action = format!(
        "get a token of the {which} from IMDS at {}",
        token_url.as_str()
    );
    let resource = resource(scope)?;
    let mut url = token_url.clone();
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION)
        .append_pair("resource", resource);
    if let Some(id) = client_id {
        url.query_pairs_mut().append_pair("client_id", id);
    }
    let timeouts = Timeouts {
        connect: timeouts.connect.min(CONNECT),
        ..*timeouts
    };
    let client = http::client(&action, Proxy::Never, &timeouts)?;
    let response = client
        .get(url)
        .header("Metadata", "true")
        .send()
        .await
        .map_err(|e| {
            Error::not_configured(format!(
                "{action}: no answer (not on an Azure VM or node with a managed identity?)"
            ))
            .with_source(e.without_url())
        })?;
    let status = response.status().as_u16();
    let body = http::bounded_text(response, MAX_ANSWER, &action).await?;
    let (token, expires_at) = answer(status, body.as_bytes(), env.now(), &action)?;
    Ok(AccessToken {
        token,
        expires_at,
        scopes: vec![scope.to_owned()],
    })
}

/// IMDS's answer (`status`, `body`) to a token request (`action`, named in errors) at `now`:
/// the token and when it expires, else the refusal, classified. Errors never show the token.
pub fn answer(
    status: u16,
    body: &[u8],
    now: SystemTime,
    action: &str,
) -> Result<(Secret, SystemTime)> {
    if body.len() > MAX_ANSWER {
        return Err(Error::upstream(format!(
            "{action}: answer of {} bytes, more than {MAX_ANSWER}",
            body.len()
        )));
    }
    if !(200..300).contains(&status) {
        return Err(refusal(status, body, action));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        Error::upstream(format!("{action}: unexpected answer ({:?})", e.classify()))
    })?;
    let seconds = match &answer.expires_in {
        serde_json::Value::String(s) => s.parse::<u64>().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
    .filter(|s| *s > 0)
    .ok_or_else(|| {
        Error::upstream(format!(
            "{action}: the answer's expires_in is not a positive number of seconds"
        ))
    })?;
    // A lifetime past the clock's range was a panic (`SystemTime + Duration` overflows).
    let expires_at = now
        .checked_add(Duration::from_secs(seconds))
        .ok_or_else(|| {
            Error::upstream(format!(
                "{action}: the answer's expires_in ({seconds} s) is out of range"
            ))
        })?;
    Ok((Secret::new(answer.access_token), expires_at))
}

/// IMDS's `resource` for a scope: the scope without `/.default` (Entra's v1 resource).
pub fn resource(scope: &str) -> Result<&str> {
    scope
        .strip_suffix("/.default")
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            Error::invalid(format!(
                "scope '{}' cannot be asked of a managed identity: expected one \
                 '<resource>/.default' scope",
                scope.escape_default()
            ))
        })
}

/// IMDS's refusal: 400 for an identity not assigned to this machine (denied), 429/5xx transient,
/// with IMDS's `error_description` (bounded).
fn refusal(status: u16, body: &[u8], action: &str) -> Error {
    #[derive(Deserialize)]
    struct Refusal {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let said = serde_json::from_slice::<Refusal>(body)
        .ok()
        .map(|r| {
            let text: String = format!("{}: {}", r.error, r.error_description)
                .chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect();
            format!(": {text}")
        })
        .unwrap_or_default();
    let message = format!("{action}: HTTP {status}{said}");
    match status {
        429 | 500..=599 => Error::transient(message),
        400 | 401 | 403 | 404 => Error::denied(message),
        _ => Error::upstream(message),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn resources_are_scopes_without_default() {
        assert_eq!(
            resource("https://management.core.windows.net//.default").ok(),
            Some("https://management.core.windows.net/")
        );
        assert_eq!(
            resource("6dae42f8-4368-4678-94ff-3960e28e3630/.default").ok(),
            Some("6dae42f8-4368-4678-94ff-3960e28e3630")
        );
        for bad in ["https://storage.azure.com", "/.default", "a b/.default", ""] {
            assert!(resource(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_carry_imds_text_and_kind() {
        let body = br#"{"error":"invalid_request","error_description":"Identity not found"}"#;
        let error = refusal(400, body, "get a token");
        assert!(error.is_denied());
        assert_eq!(
            error.to_string(),
            "get a token: HTTP 400: invalid_request: Identity not found"
        );
        assert!(refusal(503, b"", "x").is_transient());
        assert_eq!(refusal(500, b"<html>", "x").to_string(), "x: HTTP 500");
        let long = format!(
            r#"{{"error":"e","error_description":"a\nb\u001b[31m{}"}}"#,
            "c".repeat(1000)
        );
        let shown = refusal(404, long.as_bytes(), "x").to_string();
        assert!(
            shown.starts_with("x: HTTP 404: e: ab[31mccc")
                && shown.chars().count() < 320
                && !shown.chars().any(char::is_control),
            "{shown}"
        );
        assert_eq!(
            refusal(418, br#"{"error":1}"#, "x").to_string(),
            "x: HTTP 418"
        );
    }

    /// IMDS's answers: `expires_in` a string (IMDS's form) or a number of seconds; anything
    /// else, or a refusal, an error that never shows the token.
    #[test]
    fn answers_are_read_or_refused_without_the_token() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let read = |status: u16, body: &str| answer(status, body.as_bytes(), now, "x");
        for body in [
            r#"{"access_token":"tok-s3cret","expires_in":"3599","token_type":"Bearer"}"#,
            r#"{"access_token":"tok-s3cret","expires_in":3599}"#,
        ] {
            let (token, expires_at) = read(200, body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(token.expose(), "tok-s3cret");
            assert_eq!(expires_at, now + Duration::from_secs(3599));
        }
        for (status, body, expected) in [
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":"0"}"#,
                "x: the answer's expires_in is not a positive number of seconds",
            ),
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":"-5"}"#,
                "not a positive number",
            ),
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":1.5}"#,
                "not a positive number",
            ),
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":null}"#,
                "not a positive number",
            ),
            // Was a panic: `now + u64::MAX seconds` overflows `SystemTime`.
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":"18446744073709551615"}"#,
                "x: the answer's expires_in (18446744073709551615 s) is out of range",
            ),
            (
                200,
                r#"{"access_token":"tok-s3cret","expires_in":9223372036854775807}"#,
                "is out of range",
            ),
            (
                200,
                r#"{"expires_in":"3599"}"#,
                "x: unexpected answer (Data)",
            ),
            (
                200,
                r#"{"access_token":"tok-s3cret""#,
                "x: unexpected answer (Eof)",
            ),
            (200, "tok-s3cret", "x: unexpected answer (Syntax)"),
            (
                400,
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
                "x: HTTP 400: invalid_request: Identity not found",
            ),
            (
                503,
                r#"{"access_token":"tok-s3cret","expires_in":"3599"}"#,
                "x: HTTP 503",
            ),
        ] {
            let error = read(status, body)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.starts_with("x: ") && error.contains(expected),
                "{body}: {error}"
            );
            assert!(!error.contains("s3cret"), "{error}");
        }
        let huge = format!(
            r#"{{"access_token":"{}","expires_in":"1"}}"#,
            "t".repeat(MAX_ANSWER)
        );
        let error = read(200, &huge)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("more than 65536"), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn any_answer_is_read_or_refused_without_panicking(status in 100u16..600, body in "\\PC{0,300}") {
            let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let _ = answer(status, body.as_bytes(), now, "x");
        }
    }
}
