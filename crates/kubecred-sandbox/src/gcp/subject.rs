//! Checking an STS subject token against what its audience names, as Google's STS does: the
//! provider's (or GKE cluster's) issuer, the token's signature against that issuer's JWKS, its
//! lifetime and audience; then the principal the mapping `google.subject=assertion.sub` gives.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::audience::Target;
use super::config::{GcpConfig, OidcProvider};
use super::error::OAuthError;
use crate::claims::Claims;
use crate::verify::JwtVerifier;

/// Google's limit on `google.subject`, in bytes.
const MAX_SUBJECT_BYTES: usize = 127;

/// A federated identity: its principal and every IAM member it matches.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Federated {
    pub(crate) principal: String,
    pub(crate) members: Vec<String>,
}

/// Verifies `token` for `target`; returns the federated identity.
pub(crate) fn federate(
    config: &GcpConfig,
    target: &Target<'_>,
    token: &str,
) -> Result<Federated, OAuthError> {
    match *target {
        Target::Provider {
            project_number,
            pool,
            provider,
        } => {
            let found = find_provider(config, project_number, pool, provider)?;
            let claims = check(&found.verifier, token)?;
            let allowed = allowed_audiences(config, pool, found);
            check_audience(&claims, &allowed)?;
            Ok(federated(config, pool, mapped_subject(&claims.sub)?, None))
        }
        Target::IdentityNamespace { .. } => gke(config, target, token),
    }
}

fn find_provider<'a>(
    config: &'a GcpConfig,
    project_number: &str,
    pool: &str,
    provider: &str,
) -> Result<&'a OidcProvider, OAuthError> {
    if project_number != config.project_number {
        return Err(OAuthError::invalid_target());
    }
    config
        .pools
        .iter()
        .find(|p| p.id == pool)
        .and_then(|p| p.providers.iter().find(|r| r.id == provider))
        .ok_or_else(OAuthError::invalid_target)
}

/// Google's default audiences (the provider's name with `https:` or `//`), or the configured.
fn allowed_audiences(config: &GcpConfig, pool: &str, provider: &OidcProvider) -> Vec<String> {
    if !provider.allowed_audiences.is_empty() {
        return provider.allowed_audiences.clone();
    }
    let name = config.provider_audience(pool, &provider.id);
    vec![format!("https:{name}"), name]
}

fn gke(config: &GcpConfig, target: &Target<'_>, token: &str) -> Result<Federated, OAuthError> {
    let (Some(expected), Some(cluster)) = (config.gke_audience(), config.gke.as_ref()) else {
        return Err(OAuthError::invalid_target());
    };
    let Target::IdentityNamespace {
        namespace,
        cluster: url,
    } = *target
    else {
        return Err(OAuthError::invalid_target());
    };
    if format!("identitynamespace:{namespace}:{url}") != expected {
        return Err(OAuthError::invalid_target());
    }
    let claims = check(&cluster.verifier, token)?;
    check_audience(&claims, &[config.identity_namespace()])?;
    let (ns, name) = claims
        .sub
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(|| {
            OAuthError::invalid_grant("The subject is not a Kubernetes ServiceAccount.")
        })?;
    let subject = format!("ns/{ns}/sa/{name}");
    let legacy = format!(
        "serviceAccount:{}[{ns}/{name}]",
        config.identity_namespace()
    );
    let pool = config.identity_namespace();
    Ok(federated(config, &pool, &subject, Some(legacy)))
}

fn federated(config: &GcpConfig, pool: &str, subject: &str, extra: Option<String>) -> Federated {
    let principal = config.principal(pool, subject);
    let set = format!("principalSet:{}/*", config.pool_name(pool));
    let members = [principal.clone(), set].into_iter().chain(extra).collect();
    Federated { principal, members }
}

/// The issuer (read unverified, to name the mismatch), then the signature and lifetime.
fn check(verifier: &JwtVerifier, token: &str) -> Result<Claims, OAuthError> {
    let issuer = unverified_issuer(token)?;
    if issuer != verifier.issuer() {
        let shown: String = issuer.chars().take(200).collect();
        return Err(OAuthError::invalid_grant(format!(
            "The issuer in ID Token {shown} does not match the expected ones: {}.",
            verifier.issuer()
        )));
    }
    verifier
        .verify_any_audience(token)
        .map_err(|e| OAuthError::invalid_grant(format!("The ID Token is not acceptable: {e}.")))
}

fn check_audience(claims: &Claims, allowed: &[String]) -> Result<(), OAuthError> {
    if claims.aud.iter().any(|a| allowed.contains(a)) {
        return Ok(());
    }
    let shown: Vec<String> = claims
        .aud
        .iter()
        .take(5)
        .map(|a| a.chars().take(200).collect())
        .collect();
    Err(OAuthError::invalid_grant(format!(
        "The audience in ID Token [{}] does not match the expected audience.",
        shown.join(", ")
    )))
}

fn mapped_subject(sub: &str) -> Result<&str, OAuthError> {
    if sub.is_empty() || sub.len() > MAX_SUBJECT_BYTES {
        return Err(OAuthError::invalid_grant(format!(
            "The mapped attribute google.subject must be 1 to {MAX_SUBJECT_BYTES} bytes long."
        )));
    }
    Ok(sub)
}

fn unverified_issuer(token: &str) -> Result<String, OAuthError> {
    let malformed = || OAuthError::invalid_grant("The subject token is not a valid JWT.");
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    value
        .get("iss")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn malformed_tokens_are_invalid_grants() {
        for bad in ["", "a.b", "a.b.c.d", "a.!!.c", "a.e30.c"] {
            let error = unverified_issuer(bad).expect_err(bad);
            assert_eq!(
                (error.code(), error.description()),
                ("invalid_grant", "The subject token is not a valid JWT.")
            );
        }
    }

    #[test]
    fn long_subjects_are_refused() {
        assert!(mapped_subject(&"s".repeat(127)).is_ok());
        assert!(mapped_subject(&"s".repeat(128)).is_err());
    }

    proptest! {
        #[test]
        fn any_token_text_is_handled_without_panicking(token in ".{0,300}") {
            let _ = unverified_issuer(&token);
        }
    }
}
