//! Authenticating a SigV4-signed request (header or presigned URL) against
//! the keys the stand-ins know. Failures are protocol-neutral; each service
//! maps them to its own error codes.

use super::error::AwsError;
use super::sigv4::{self, RequestView, SignatureInfo, UNSIGNED_PAYLOAD};
use super::state::{AwsState, Caller, KeyRecord};

/// Largest clock difference tolerated on a request's signing time.
pub(crate) const MAX_SKEW_SECONDS: i64 = 300;
/// Longest validity a presigned URL may claim (7 days).
const MAX_PRESIGN_EXPIRES: i64 = 604_800;

/// Why a request's signature was not accepted. Messages hold no secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No signature at all.
    Missing,
    /// A signature that does not follow SigV4's form.
    Incomplete(String),
    /// The access key id is unknown.
    UnknownKey,
    /// The session token is missing, unexpected or wrong.
    InvalidToken,
    /// The signature does not verify (or a signed header is absent).
    Signature(String),
    /// The signing time is too far from now.
    Skew(String),
    /// A presigned URL whose validity has ended.
    PresignExpired(String),
    /// The session keys have expired.
    ExpiredKey,
}

/// What the service expects of a signature.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Expect<'a> {
    /// The service name in the credential scope.
    pub(crate) service: &'a str,
    /// The region required in the scope; `None` accepts any.
    pub(crate) region: Option<&'a str>,
    /// Now, in seconds since the epoch.
    pub(crate) now: i64,
}

/// Where the signature came from, and what that form adds.
struct Presented {
    info: SignatureInfo,
    amz_date: String,
    security_token: Option<String>,
    /// `X-Amz-Expires` of a presigned URL.
    expires: Option<i64>,
}

/// The JSON protocols' codes for signature failures.
pub(crate) fn json_error(failure: AuthFailure) -> AwsError {
    match failure {
        AuthFailure::Missing => AwsError::new(
            "MissingAuthenticationTokenException",
            403,
            "Missing Authentication Token",
        ),
        AuthFailure::Incomplete(message) => {
            AwsError::new("IncompleteSignatureException", 403, message)
        }
        AuthFailure::UnknownKey | AuthFailure::InvalidToken => AwsError::new(
            "UnrecognizedClientException",
            403,
            "The security token included in the request is invalid.",
        ),
        AuthFailure::Signature(message)
        | AuthFailure::Skew(message)
        | AuthFailure::PresignExpired(message) => {
            AwsError::new("InvalidSignatureException", 403, message)
        }
        AuthFailure::ExpiredKey => AwsError::new(
            "ExpiredTokenException",
            403,
            "The security token included in the request is expired",
        ),
    }
}

/// Verifies `request`'s signature and returns who signed it.
pub(crate) fn authenticate(
    state: &AwsState,
    request: &RequestView<'_>,
    expect: Expect<'_>,
) -> Result<Caller, AuthFailure> {
    let presented = match request.header("authorization") {
        Some(header) => from_header(request, &header)?,
        None if request.query_param("X-Amz-Algorithm").is_some() => from_query(request)?,
        None => return Err(AuthFailure::Missing),
    };
    check_scope(&presented, expect)?;
    let record = state
        .lookup_key(&presented.info.key_id)
        .ok_or(AuthFailure::UnknownKey)?;
    check_token(&record, presented.security_token.as_deref())?;
    check_signature(request, &presented, &record)?;
    check_time(&presented, expect.now)?;
    if record.expires_at.is_some_and(|at| at <= expect.now) {
        return Err(AuthFailure::ExpiredKey);
    }
    Ok(record.caller)
}

fn from_header(request: &RequestView<'_>, header: &str) -> Result<Presented, AuthFailure> {
    let info = sigv4::parse_authorization(header).ok_or_else(|| {
        AuthFailure::Incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of AWS4-HMAC-SHA256.".into(),
        )
    })?;
    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        AuthFailure::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    if !info.signed_headers.iter().any(|h| h == "x-amz-date") {
        return Err(AuthFailure::Incomplete(
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(Presented {
        info,
        amz_date,
        security_token: request.header("x-amz-security-token"),
        expires: None,
    })
}

fn from_query(request: &RequestView<'_>) -> Result<Presented, AuthFailure> {
    let param = |name: &str| {
        request.query_param(name).ok_or_else(|| {
            AuthFailure::Incomplete(format!(
                "AWS query-string parameters must include '{name}'."
            ))
        })
    };
    if param("X-Amz-Algorithm")? != sigv4::ALGORITHM {
        return Err(AuthFailure::Incomplete(
            "X-Amz-Algorithm must be AWS4-HMAC-SHA256.".into(),
        ));
    }
    let info = sigv4::info_from(
        &param("X-Amz-Credential")?,
        &param("X-Amz-SignedHeaders")?,
        &param("X-Amz-Signature")?,
    )
    .ok_or_else(|| {
        AuthFailure::Incomplete(
            "The presigned URL's credential or signed headers are malformed.".into(),
        )
    })?;
    let expires = param("X-Amz-Expires")?
        .parse::<i64>()
        .ok()
        .filter(|e| (1..=MAX_PRESIGN_EXPIRES).contains(e))
        .ok_or_else(|| {
            AuthFailure::Incomplete(
                "X-Amz-Expires must be a number of seconds from 1 to 604800.".into(),
            )
        })?;
    Ok(Presented {
        info,
        amz_date: param("X-Amz-Date")?,
        security_token: request.query_param("X-Amz-Security-Token"),
        expires: Some(expires),
    })
}

fn check_scope(presented: &Presented, expect: Expect<'_>) -> Result<(), AuthFailure> {
    let info = &presented.info;
    if !info.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthFailure::Incomplete(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if info.service != expect.service {
        return Err(AuthFailure::Signature(format!(
            "Credential should be scoped to correct service: '{}'.",
            expect.service
        )));
    }
    if let Some(region) = expect.region.filter(|r| *r != info.region) {
        return Err(AuthFailure::Signature(format!(
            "Credential should be scoped to a valid region, not '{}'; expected '{region}'.",
            info.region
        )));
    }
    if !presented.amz_date.starts_with(&info.scope_date) {
        return Err(AuthFailure::Signature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.".into(),
        ));
    }
    Ok(())
}

fn check_token(record: &KeyRecord, presented: Option<&str>) -> Result<(), AuthFailure> {
    match (record.session_token.as_deref(), presented) {
        (None, None) => Ok(()),
        (Some(expected), Some(given)) if constant_time_eq(expected, given) => Ok(()),
        _ => Err(AuthFailure::InvalidToken),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn check_signature(
    request: &RequestView<'_>,
    presented: &Presented,
    record: &KeyRecord,
) -> Result<(), AuthFailure> {
    let info = &presented.info;
    if let Some(absent) = info
        .signed_headers
        .iter()
        .find(|h| request.header(h).is_none())
    {
        return Err(AuthFailure::Signature(format!(
            "Signed header '{absent}' is not present on the request."
        )));
    }
    let key = sigv4::signing_key(&record.secret, info);
    let matches = payload_hashes(request, presented)?.iter().any(|hash| {
        let canonical = match info.service.as_str() {
            "s3" => sigv4::canonical_request_s3(request, &info.signed_headers, hash),
            _ => sigv4::canonical_request(request, &info.signed_headers, hash),
        };
        let to_sign = sigv4::string_to_sign(&presented.amz_date, &info.scope(), &canonical);
        sigv4::signature_matches(&key, &to_sign, &info.signature)
    });
    if matches {
        Ok(())
    } else {
        Err(AuthFailure::Signature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ))
    }
}

/// The payload hashes a signer may have used: `x-amz-content-sha256` if
/// sent (it must then match the body unless unsigned), else the body's hash;
/// presigned URLs may also use `UNSIGNED-PAYLOAD` (botocore does).
fn payload_hashes(
    request: &RequestView<'_>,
    presented: &Presented,
) -> Result<Vec<String>, AuthFailure> {
    let body_hash = sigv4::sha256_hex(request.body);
    if let Some(declared) = request.header("x-amz-content-sha256") {
        if declared != UNSIGNED_PAYLOAD && declared != body_hash {
            return Err(AuthFailure::Signature(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into(),
            ));
        }
        return Ok(vec![declared]);
    }
    let mut hashes = vec![body_hash];
    if presented.expires.is_some() {
        hashes.push(UNSIGNED_PAYLOAD.to_string());
    }
    Ok(hashes)
}

fn check_time(presented: &Presented, now: i64) -> Result<(), AuthFailure> {
    let signed_at = sigv4::parse_amz_date(&presented.amz_date).ok_or_else(|| {
        AuthFailure::Incomplete(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z'.".into(),
        )
    })?;
    let date = &presented.amz_date;
    if signed_at > now + MAX_SKEW_SECONDS {
        let latest = sigv4::format_amz_date(now + MAX_SKEW_SECONDS);
        return Err(AuthFailure::Skew(format!(
            "Signature not yet current: {date} is still later than {latest} ({} + 5 min.)",
            sigv4::format_amz_date(now)
        )));
    }
    match presented.expires {
        Some(expires) if now > signed_at + expires => Err(AuthFailure::PresignExpired(format!(
            "Request has expired: signed at {date} for {expires} seconds, now is {}.",
            sigv4::format_amz_date(now)
        ))),
        None if signed_at < now - MAX_SKEW_SECONDS => Err(AuthFailure::Skew(format!(
            "Signature expired: {date} is now earlier than {} ({} - 5 min.)",
            sigv4::format_amz_date(now - MAX_SKEW_SECONDS),
            sigv4::format_amz_date(now)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::config::{AwsConfig, AwsUser};
    use crate::clock::unix_now;

    fn state() -> AwsState {
        let config = AwsConfig {
            account_id: "123456789012".into(),
            users: vec![AwsUser {
                arn: "arn:aws:iam::123456789012:user/u".into(),
                access_key_id: "AKIAUSER".into(),
                secret_access_key: "secret".into(),
            }],
            ..AwsConfig::default()
        };
        AwsState::new(config, "127.0.0.1:1".into())
    }

    /// Signs a header-authenticated POST with this module's own SigV4 code
    /// (the conformance tests check it against real signers).
    fn signed(key: &str, secret: &str, token: Option<&str>, at: i64) -> Vec<(String, String)> {
        let date = sigv4::format_amz_date(at);
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:1".to_string()),
            ("x-amz-date".to_string(), date.clone()),
        ];
        if let Some(token) = token {
            headers.push(("x-amz-security-token".into(), token.into()));
        }
        let names: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        let request = RequestView {
            method: "POST",
            path: "/",
            query: "",
            headers: headers.clone(),
            body: b"Action=X",
        };
        let info = SignatureInfo {
            key_id: key.into(),
            scope_date: date[..8].into(),
            region: "us-east-1".into(),
            service: "sts".into(),
            signed_headers: names.clone(),
            signature: String::new(),
        };
        let canonical = sigv4::canonical_request(&request, &names, &sigv4::sha256_hex(b"Action=X"));
        let to_sign = sigv4::string_to_sign(&date, &info.scope(), &canonical);
        let tag = aws_lc_rs::hmac::sign(&sigv4::signing_key(secret, &info), to_sign.as_bytes());
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={key}/{}, SignedHeaders={}, Signature={}",
            info.scope(),
            names.join(";"),
            sigv4::hex(tag.as_ref())
        );
        headers.push(("authorization".into(), authorization));
        headers
    }

    fn check(state: &AwsState, headers: Vec<(String, String)>) -> Result<Caller, AuthFailure> {
        let request = RequestView {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body: b"Action=X",
        };
        authenticate(
            state,
            &request,
            Expect {
                service: "sts",
                region: None,
                now: unix_now(),
            },
        )
    }

    #[test]
    fn user_keys_verify_and_time_is_bounded() {
        let state = state();
        let now = unix_now();
        let caller = check(&state, signed("AKIAUSER", "secret", None, now)).expect("valid");
        assert_eq!(caller.arn, "arn:aws:iam::123456789012:user/u");
        assert!(matches!(
            check(&state, signed("AKIAUSER", "secret", None, now - 600)),
            Err(AuthFailure::Skew(_))
        ));
        assert!(matches!(
            check(&state, signed("AKIAUSER", "secret", None, now + 600)),
            Err(AuthFailure::Skew(_))
        ));
        assert!(matches!(
            check(&state, signed("AKIAUSER", "wrong", None, now)),
            Err(AuthFailure::Signature(_))
        ));
        assert_eq!(
            check(&state, signed("AKIANONE", "secret", None, now)),
            Err(AuthFailure::UnknownKey)
        );
        assert_eq!(
            check(&state, signed("AKIAUSER", "secret", Some("t"), now)),
            Err(AuthFailure::InvalidToken)
        );
    }

    #[test]
    fn session_keys_need_their_token_and_expire() {
        let state = state();
        let now = unix_now();
        let live = state.issue_session("arn:aws:iam::123456789012:role/r", "s1", 900);
        let (id, secret, token) = (
            &live.access_key_id,
            &live.secret_access_key,
            &live.session_token,
        );
        let caller = check(&state, signed(id, secret, Some(token), now)).expect("valid");
        assert_eq!(caller.principal_arn, "arn:aws:iam::123456789012:role/r");
        assert!(caller.is_session);
        assert_eq!(
            check(&state, signed(id, secret, None, now)),
            Err(AuthFailure::InvalidToken)
        );
        assert_eq!(
            check(&state, signed(id, secret, Some("other"), now)),
            Err(AuthFailure::InvalidToken)
        );
        let old = state.issue_session("arn:aws:iam::123456789012:role/r", "s2", -1);
        let headers = signed(
            &old.access_key_id,
            &old.secret_access_key,
            Some(&old.session_token),
            now,
        );
        assert_eq!(check(&state, headers), Err(AuthFailure::ExpiredKey));
    }

    #[test]
    fn unsigned_and_host_less_requests_are_refused() {
        let state = state();
        assert_eq!(check(&state, vec![]), Err(AuthFailure::Missing));
        let mut headers = signed("AKIAUSER", "secret", None, unix_now());
        headers.retain(|(n, _)| n != "x-amz-date");
        assert!(matches!(
            check(&state, headers),
            Err(AuthFailure::Incomplete(_))
        ));
    }
}
