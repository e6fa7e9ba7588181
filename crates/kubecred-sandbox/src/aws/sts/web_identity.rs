//! `AssumeRoleWithWebIdentity`: an OIDC token for temporary role keys, as
//! IRSA uses it. Unsigned; the token itself is the proof.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::params::{MAX_DURATION, Params};
use super::xml::{element, session};
use crate::aws::config::Trust;
use crate::aws::error::AwsError;
use crate::aws::state::AwsState;
use crate::claims::Claims;
use crate::verify::{JwtVerifier, VerifyErrorKind};

/// The action name.
pub(crate) const ACTION: &str = "AssumeRoleWithWebIdentity";

fn invalid_token(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidIdentityToken", 400, message)
}

fn not_authorized() -> AwsError {
    AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity")
}

/// Runs the action; returns the `<AssumeRoleWithWebIdentityResult>` content.
pub(crate) fn run(state: &AwsState, params: &Params) -> Result<String, AwsError> {
    let role_arn = params.required("RoleArn", "roleArn")?;
    let session_name = params.session_name()?;
    let token = params.required("WebIdentityToken", "webIdentityToken")?;
    let duration = params.duration(MAX_DURATION)?;
    let issuer = unverified_issuer(token)?;
    let verifier = provider(state, &issuer)?;
    let claims = verify(verifier, token)?;
    let audience = trusted_audience(state, role_arn, &claims)?;
    let issued = state.issue_session(role_arn, session_name, duration);
    let provider_arn = format!(
        "arn:aws:iam::{}:oidc-provider/{}",
        state.account_of(role_arn),
        strip_scheme(&issuer)
    );
    Ok(format!(
        "    {}\n    {}\n{}    {}\n",
        element("SubjectFromWebIdentityToken", &claims.sub),
        element("Audience", audience),
        session(&issued),
        element("Provider", &provider_arn),
    ))
}

fn strip_scheme(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

/// The `iss` claim, read before the signature is checked to pick the
/// provider.
fn unverified_issuer(token: &str) -> Result<String, AwsError> {
    let malformed = || invalid_token("The ID token provided is not a valid JSON Web Token.");
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    value
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid_token("The ID token provided has no 'iss' claim."))
}

fn provider<'a>(state: &'a AwsState, issuer: &str) -> Result<&'a JwtVerifier, AwsError> {
    state
        .config
        .oidc_providers
        .iter()
        .find(|v| v.issuer() == issuer)
        .ok_or_else(|| {
            let shown: String = issuer.chars().take(200).collect();
            invalid_token(format!(
                "No OpenIDConnect provider found in your account for {shown}"
            ))
        })
}

fn verify(verifier: &JwtVerifier, token: &str) -> Result<Claims, AwsError> {
    verifier
        .verify_any_audience(token)
        .map_err(|e| match e.kind() {
            VerifyErrorKind::Expired => AwsError::new(
                "ExpiredTokenException",
                400,
                "Token expired: the token's exp is in the past",
            ),
            _ => invalid_token(format!(
                "The web identity token could not be validated: {e}"
            )),
        })
}

/// The audience of the trust entry that admits `claims` to `role_arn`.
/// Entries for the issuer whose audiences all miss make the token invalid
/// (as an OIDC provider's client-ID list does); otherwise a missing role or
/// subject mismatch is AccessDenied.
fn trusted_audience<'a>(
    state: &'a AwsState,
    role_arn: &str,
    claims: &Claims,
) -> Result<&'a str, AwsError> {
    let role = state
        .config
        .roles
        .iter()
        .find(|r| r.arn == role_arn)
        .ok_or_else(not_authorized)?;
    let entries: Vec<(&String, &Option<String>)> = role
        .trust
        .iter()
        .filter_map(|t| match t {
            Trust::WebIdentity {
                issuer,
                audience,
                subject,
            } if *issuer == claims.iss => Some((audience, subject)),
            _ => None,
        })
        .collect();
    let audience_ok = |audience: &String| claims.aud.contains(audience);
    if !entries.is_empty() && !entries.iter().any(|(audience, _)| audience_ok(audience)) {
        return Err(invalid_token("Incorrect token audience"));
    }
    entries
        .iter()
        .find(|(audience, subject)| {
            audience_ok(audience) && subject.as_ref().is_none_or(|s| *s == claims.sub)
        })
        .map(|(audience, _)| audience.as_str())
        .ok_or_else(not_authorized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_is_read_without_verifying() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://issuer"}"#);
        assert_eq!(
            unverified_issuer(&format!("h.{payload}.s")).as_deref(),
            Ok("https://issuer")
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a.!!.c",
            &format!("h.{}.s", URL_SAFE_NO_PAD.encode(b"{}")),
        ] {
            let err = unverified_issuer(bad).expect_err(bad);
            assert_eq!(err.code(), "InvalidIdentityToken");
        }
    }

    #[test]
    fn provider_arn_drops_the_scheme() {
        assert_eq!(strip_scheme("https://127.0.0.1:1/x"), "127.0.0.1:1/x");
    }
}
