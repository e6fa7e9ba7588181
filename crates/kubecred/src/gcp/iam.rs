//! Impersonation through IAM Credentials `generateAccessToken`: the federated token (the
//! bearer) for a GCP service account's access token. Hand-written for the reasons given in
//! `sts.rs`.

use std::time::SystemTime;

use serde::Deserialize;
use url::Url;

use super::wire;
use crate::Secret;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;

/// The lifetime asked for (the longest without an organisation policy extending it).
const LIFETIME: &str = "3600s";
const ACTION: &str = "impersonate the GCP service account (generateAccessToken)";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    access_token: String,
    expire_time: String,
}

/// Calls `url` (a checked `generateAccessToken` URL) with `bearer` for `scopes`.
pub(crate) async fn generate_access_token(
    url: &Url,
    bearer: &Secret,
    scopes: &[String],
    proxy: Option<&Url>,
    timeouts: &Timeouts,
) -> Result<AccessToken> {
    let client = http::client(ACTION, Proxy::Request(proxy), timeouts)?;
    let body = serde_json::json!({ "lifetime": LIFETIME, "scope": scopes });
    tracing::debug!(%url, "GCP service account impersonation");
    let request = client
        .post(url.clone())
        .bearer_auth(bearer.expose())
        .json(&body);
    let answer: Answer = wire::json(request, ACTION).await?;
    Ok(AccessToken {
        token: Secret::new(answer.access_token),
        expires_at: expire_time(&answer.expire_time)?,
        scopes: scopes.to_vec(),
    })
}

/// An RFC 3339 `expireTime`.
fn expire_time(text: &str) -> Result<SystemTime> {
    text.parse::<jiff::Timestamp>()
        .map(SystemTime::from)
        .map_err(|_| {
            Error::upstream(format!(
                "{ACTION}: the answer's expireTime '{}' is not an RFC 3339 time",
                text.chars().take(64).collect::<String>().escape_default()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expire_times_are_rfc3339() {
        let at = expire_time("2026-12-03T10:00:00Z").ok();
        let expected = jiff::Timestamp::from_second(1_796_292_000)
            .ok()
            .map(SystemTime::from);
        assert_eq!(at, expected);
        assert!(expire_time("tomorrow").is_err());
    }
}
