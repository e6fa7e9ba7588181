//! CodeCommit HTTPS git credentials from resolved keys, computed locally (no network call):
//! username `<access key id>%<session token>`, password `<YYYYMMDDTHHMMSS>Z<signature>`, where the
//! signature is SigV4 over the pseudo-request `GIT <path>` with only `host` signed, an empty
//! payload-hash line, service `codecommit` and the region of the URL's host
//! (`git-codecommit[-fips].<region>.amazonaws.com[.cn]`). Valid 15 minutes, or until the keys
//! expire if sooner.
//!
//! The signature is computed by hand with `aws_lc_rs::hmac`: CodeCommit's string to sign uses
//! the timestamp `YYYYMMDDTHHMMSS` without the trailing `Z`, and `aws-sigv4` always writes
//! `YYYYMMDDTHHMMSSZ` (and cannot leave the payload-hash line empty), so it cannot produce it.

use std::time::{Duration, SystemTime};

use aws_lc_rs::{digest, hmac};
use url::Url;

use super::parse;
use super::signing::hex;
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{AwsKeys, Provider, Secret};

/// How long a CodeCommit password is valid.
pub const VALIDITY: Duration = Duration::from_secs(15 * 60);
const SERVICE: &str = "codecommit";

/// Git credentials for `url` (an `https://git-codecommit.<region>.amazonaws.com/...` URL),
/// signed at `now`.
pub fn git_credentials(url: &str, keys: &AwsKeys, now: SystemTime) -> Result<GitCredentials> {
    sign(url, keys, now).map_err(|e| {
        e.at("sign CodeCommit git credentials")
            .for_provider(Provider::Aws)
    })
}

fn sign(url: &str, keys: &AwsKeys, now: SystemTime) -> Result<GitCredentials> {
    let region = parse::codecommit_region(url)?;
    let parsed = Url::parse(url).map_err(|e| {
        Error::invalid(format!("invalid AWS CodeCommit Git URL '{url}'")).with_source(e)
    })?;
    let host = host_with_port(&parsed);
    let stamp = timestamp(now)?;
    let canonical = format!(
        "GIT\n{}\n\nhost:{host}\n\nhost\n",
        encode_path(parsed.path())
    );
    let scope = format!("{}/{region}/{SERVICE}/aws4_request", &stamp[..8]);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let signature = signature(
        keys.secret_access_key.expose(),
        &stamp[..8],
        &region,
        &to_sign,
    );
    let token = keys.session_token.as_ref().map_or("", Secret::expose);
    Ok(GitCredentials {
        username: Secret::new(format!("{}%{token}", keys.access_key_id)),
        password: Secret::new(format!("{stamp}Z{signature}")),
        expires_at: expiry(now, keys.expires_at),
    })
}

/// The `Host` as Go's `url.Host` has it: with the port when the URL names one.
fn host_with_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    url.port()
        .map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"))
}

/// `YYYYMMDDTHHMMSS` in UTC.
fn timestamp(now: SystemTime) -> Result<String> {
    let at = jiff::Timestamp::try_from(now)
        .map_err(|e| Error::invalid("signing time out of range").with_source(e))?;
    Ok(at.strftime("%Y%m%dT%H%M%S").to_string())
}

/// Percent-encodes every byte but `A-Z a-z 0-9 - . _ ~ /` of the (already escaped) path, as the
/// SigV4 signer of the reference does; an empty path is `/`.
fn encode_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The SigV4 signature: HMAC chain `AWS4<secret>` → date → region → service → `aws4_request`.
fn signature(secret: &str, date: &str, region: &str, to_sign: &str) -> String {
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, SERVICE, "aws4_request", to_sign] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes());
        key.fill(0);
        key = tag.as_ref().to_vec();
    }
    hex(&key)
}

/// `now` + 15 minutes, or the keys' expiry if sooner.
fn expiry(now: SystemTime, keys_expire: Option<SystemTime>) -> SystemTime {
    let own = now + VALIDITY;
    keys_expire.map_or(own, |at| at.min(own))
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn keys(token: Option<&str>, expires_at: Option<SystemTime>) -> AwsKeys {
        AwsKeys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
            expires_at,
        }
    }

    fn at_2024_01_02_030405() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    #[test]
    fn debug_shows_no_session_token_and_no_password() -> Result<()> {
        let url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/r";
        let credentials = git_credentials(
            url,
            &keys(Some("FwoGZXIvYXdzEXAMPLESESSIONTOKEN"), None),
            at_2024_01_02_030405(),
        )?;
        let shown = format!("{credentials:?}");
        assert!(
            !shown.contains("FwoGZXIvYXdzEXAMPLESESSIONTOKEN"),
            "{shown}"
        );
        assert!(!shown.contains(credentials.password.expose()), "{shown}");
        assert!(!shown.contains("AKIDEXAMPLE%"), "{shown}");
        Ok(())
    }

    /// Expected password computed independently once with a python3 one-off (hashlib/hmac,
    /// canonical request `GIT\n/v1/repos/my%2520repo\n\nhost:<host>\n\nhost\n`) and pasted here.
    #[test]
    fn fixed_vector() {
        let url = "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/my%20repo";
        let credentials = git_credentials(
            url,
            &keys(Some("session-token"), None),
            at_2024_01_02_030405(),
        );
        let credentials = credentials.map_err(|e| e.to_string());
        let shown = credentials
            .as_ref()
            .map(|c| (c.username.expose(), c.password.expose()));
        assert_eq!(
            shown,
            Ok((
                "AKIDEXAMPLE%session-token",
                "20240102T030405Z591b14c6114fcd9ea7450670fecf0525d0ce800acc97f702d7c29f7da0ad68b5"
            ))
        );
    }

    #[test]
    fn password_and_username_formats() {
        let pattern = Regex::new("^[0-9]{8}T[0-9]{6}Z[0-9a-f]{64}$").map_err(|e| e.to_string());
        let url = "https://git-codecommit-fips.us-west-2.amazonaws.com/v1/repos/test-repo";
        let credentials = git_credentials(url, &keys(None, None), at_2024_01_02_030405())
            .map_err(|e| e.to_string());
        let password = credentials
            .as_ref()
            .map(|c| c.password.expose())
            .unwrap_or_default();
        assert!(pattern.is_ok_and(|p| p.is_match(password)), "{password}");
        assert_eq!(
            credentials.map(|c| c.username.expose().to_owned()),
            Ok("AKIDEXAMPLE%".to_owned())
        );
    }

    #[test]
    fn expiry_is_the_sooner_of_fifteen_minutes_and_the_keys() {
        let now = at_2024_01_02_030405();
        let soon = now + Duration::from_secs(60);
        let late = now + Duration::from_secs(3600);
        assert_eq!(expiry(now, None), now + VALIDITY);
        assert_eq!(expiry(now, Some(late)), now + VALIDITY);
        assert_eq!(expiry(now, Some(soon)), soon);
        let url = "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/r";
        let credentials = git_credentials(url, &keys(Some("t"), Some(soon)), now);
        assert_eq!(credentials.map(|c| c.expires_at).ok(), Some(soon));
    }

    #[test]
    fn urls_are_validated_and_ports_kept_in_the_host() {
        let error = git_credentials(
            "https://github.com/org/repo",
            &keys(None, None),
            at_2024_01_02_030405(),
        );
        let message = error.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with(
                "aws: sign CodeCommit git credentials: invalid AWS CodeCommit Git URL: github.com. expected"
            ),
            "{message}"
        );
        let url = Url::parse("https://git-codecommit.us-east-1.amazonaws.com:8443/v1/repos/r")
            .map_err(|e| e.to_string());
        assert_eq!(
            url.map(|u| host_with_port(&u)).as_deref(),
            Ok("git-codecommit.us-east-1.amazonaws.com:8443")
        );
        assert_eq!(encode_path(""), "/");
        assert_eq!(encode_path("/a b/%41~"), "/a%20b/%2541~");
    }
}
