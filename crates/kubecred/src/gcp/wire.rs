//! The edge of every GCP call kubecred makes by hand (STS, IAM Credentials, the metadata
//! server): an answer is read as JSON when it is a success, else classified by its status and
//! described with Google's own error text, in either of Google's shapes (OAuth endpoints:
//! `{"error": code, "error_description": text}`; Google APIs: `{"error": {"code", "message",
//! "status"}}`). No error carries a token: requests' bodies and headers are never shown, and
//! answers are read only for their error fields.

use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use url::Url;

use crate::Secret;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http;

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

/// A non-2xx answer as an error: 408, 429 and 5xx transient; 401 and 403 denied, as are the
/// OAuth refusals of the credential itself (`invalid_grant`, `unauthorized_client`); 404 not
/// found; any other 4xx invalid. The message is Google's text (bounded), else the status.
pub(crate) fn refusal(status: u16, body: &str, action: &str) -> Error {
    let google = google_text(body)
        .map(|t| format!(": {t}"))
        .unwrap_or_default();
    let message = format!("{action}: HTTP {status}{google}");
    let oauth_code = oauth_code(body);
    match status {
        408 | 429 | 500..=599 => Error::transient(message),
        401 | 403 => Error::denied(message),
        404 => Error::not_found(message),
        400 if matches!(
            oauth_code.as_deref(),
            Some("invalid_grant" | "unauthorized_client" | "invalid_target")
        ) =>
        {
            Error::denied(message)
        }
        _ => Error::invalid(message),
    }
}

/// The longest error text shown (Google's are a few hundred characters).
const MAX_TEXT: usize = 500;

fn google_text(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let error = &value["error"];
    let text = match (error.as_str(), value["error_description"].as_str()) {
        (Some(code), Some(description)) => format!("{code}: {description}"),
        (Some(code), None) => code.to_owned(),
        _ => match (error["status"].as_str(), error["message"].as_str()) {
            (Some(status), Some(message)) => format!("{status}: {message}"),
            (None, Some(message)) => message.to_owned(),
            _ => return None,
        },
    };
    Some(
        text.chars()
            .take(MAX_TEXT)
            .collect::<String>()
            .escape_debug()
            .to_string(),
    )
}

fn oauth_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    value["error"].as_str().map(str::to_owned)
}

/// An OAuth token endpoint's answer (RFC 6749 §5.1), the fields kubecred reads.
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    access_token: String,
    expires_in: i64,
    /// The granted scopes, space-separated, when the endpoint says.
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl TokenAnswer {
    /// The access token, expiring `expires_in` after `now`, carrying `scopes`.
    pub(crate) fn into_access_token(
        self,
        now: SystemTime,
        scopes: Vec<String>,
        action: &str,
    ) -> Result<AccessToken> {
        Ok(AccessToken {
            expires_at: expiry(now, self.expires_in, action)?,
            token: Secret::new(self.access_token),
            scopes,
        })
    }
}

/// POSTs `form` URL-encoded to the OAuth token endpoint `url` (STS, a key's or a user's
/// `token_uri`) and reads its token answer.
pub(crate) async fn token_grant(
    client: &reqwest::Client,
    url: &Url,
    form: &[(&str, &str)],
    action: &str,
) -> Result<TokenAnswer> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let request = client
        .post(url.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    json(request, action).await
}

/// `now + expires_in`, for an answer's `expires_in` (seconds, must be positive).
pub(crate) fn expiry(now: SystemTime, expires_in: i64, action: &str) -> Result<SystemTime> {
    match u64::try_from(expires_in) {
        Ok(seconds) if seconds > 0 => {
            now.checked_add(Duration::from_secs(seconds))
                .ok_or_else(|| {
                    Error::upstream(format!(
                        "{action}: the answer's expires_in is {expires_in}, out of range"
                    ))
                })
        }
        _ => Err(Error::upstream(format!(
            "{action}: the answer's expires_in is {expires_in}, not a positive number of seconds"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_classified_with_googles_text() {
        let grant = r#"{"error":"invalid_grant","error_description":"The audience in ID Token [x] does not match the expected audience."}"#;
        let error = refusal(400, grant, "exchange at STS");
        assert!(error.is_denied(), "{error}");
        assert_eq!(
            error.to_string(),
            "exchange at STS: HTTP 400: invalid_grant: The audience in ID Token [x] does not match the expected audience."
        );
        let api = r#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED"}}"#;
        let error = refusal(403, api, "impersonate");
        assert!(error.is_denied());
        assert!(
            error.to_string().contains("PERMISSION_DENIED: Permission"),
            "{error}"
        );
        assert!(refusal(429, "", "x").is_transient());
        assert!(refusal(503, "<html>", "x").is_transient());
        assert!(refusal(404, "", "x").is_not_found());
        let bad = refusal(
            400,
            r#"{"error":"invalid_request","error_description":"d"}"#,
            "x",
        );
        assert!(!bad.is_denied() && !bad.is_transient());
        assert_eq!(refusal(500, "not json", "x").to_string(), "x: HTTP 500");
    }

    #[test]
    fn error_texts_are_bounded_and_escaped() {
        let long = format!(
            r#"{{"error":"e","error_description":"{}\n"}}"#,
            "a".repeat(2000)
        );
        let text = refusal(400, &long, "x").to_string();
        assert!(text.len() < 600 && !text.contains('\n'), "{text}");
    }

    #[test]
    fn expiries_must_be_positive() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            expiry(now, 3599, "x").ok(),
            Some(now + Duration::from_secs(3599))
        );
        for bad in [0, -1] {
            assert!(expiry(now, bad, "x").is_err());
        }
        // A hostile answer's huge expires_in is an error, not an overflow panic.
        let far = expiry(now + Duration::from_secs(1), i64::MAX, "x");
        assert!(far.is_err_and(|e| e.to_string().ends_with("out of range")));
    }
}
