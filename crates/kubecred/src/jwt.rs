//! Reading the claims of a Kubernetes token without verifying it.
//!
//! kubecred only ever reads tokens that the API server just issued to it (or the pod's own
//! projected token), to learn their expiry and subject; the token's audience verifies the
//! signature. Decoding by hand is three lines of base64 and JSON, so no JWT crate is pulled in
//! for it. Errors never include the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The claims kubecred reads.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) sub: Option<String>,
    pub(crate) exp: Option<i64>,
}

/// Decodes the claims of a JWT without checking its signature.
pub(crate) fn unverified_claims(token: &str) -> Result<Claims> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::upstream(
            "token is not a JWT: expected three dot-separated parts",
        ));
    };
    let json = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| Error::upstream("token payload is not base64url").with_source(e))?;
    serde_json::from_slice(&json)
        .map_err(|e| Error::upstream("token payload is not a JSON claim set").with_source(e))
}

/// Splits `system:serviceaccount:<namespace>:<name>` into its namespace and name.
pub(crate) fn service_account_of(subject: &str) -> Result<(&str, &str)> {
    match subject.split(':').collect::<Vec<_>>()[..] {
        ["system", "serviceaccount", namespace, name]
            if !namespace.is_empty() && !name.is_empty() =>
        {
            Ok((namespace, name))
        }
        _ => Err(Error::invalid(format!(
            "token subject '{subject}' is not of the form system:serviceaccount:<namespace>:<name>"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn reads_subject_and_expiry() -> Result<()> {
        let claims = unverified_claims(&jwt(r#"{"sub":"system:serviceaccount:a:b","exp":42}"#))?;
        assert_eq!(claims.sub.as_deref(), Some("system:serviceaccount:a:b"));
        assert_eq!(claims.exp, Some(42));
        Ok(())
    }

    #[test]
    fn malformed_tokens_are_clear_errors() {
        for (token, expected) in [
            ("", "expected three dot-separated parts"),
            ("a.b", "expected three dot-separated parts"),
            ("a.b.c.d", "expected three dot-separated parts"),
            ("a.!!!.c", "not base64url"),
            (&jwt("[1]"), "not a JSON claim set"),
        ] {
            let message = unverified_claims(token)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{token:?}: {message}");
        }
    }

    #[test]
    fn subjects_split_into_namespace_and_name() {
        assert_eq!(
            service_account_of("system:serviceaccount:flux:kc").ok(),
            Some(("flux", "kc"))
        );
        for bad in [
            "system:serviceaccount:flux",
            "user:x:y:z",
            "system:serviceaccount::kc",
            "a:b:c:d:e",
        ] {
            assert!(service_account_of(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(token in ".*") {
            let _ = unverified_claims(&token);
            let _ = service_account_of(&token);
        }
    }
}
