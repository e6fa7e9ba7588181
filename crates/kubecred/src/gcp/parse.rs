//! Parsers of the GCP identifiers in ServiceAccount annotations: a GCP service account email and
//! a workload identity provider. Anchored, ASCII-only patterns; errors name the annotation, the
//! value (escaped) and the pattern, in the reference's form; no parser panics (fuzzed in `fuzz/`).
//! GKE cluster ids are in [`super::cluster`], registry hosts in [`super::hosts`].

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

use super::annotations;

/// The reference's pattern, kept as it is (its message is the reference's): anchored, ASCII.
const SERVICE_ACCOUNT_EMAIL: &str =
    r"^[a-zA-Z0-9-]{1,100}@[a-zA-Z0-9-]{1,100}\.iam\.gserviceaccount\.com$";
/// The reference's `^projects/\d{1,30}/locations/global/workloadIdentityPools/[^/]{1,100}/providers/[^/]{1,100}$`
/// let the pool and provider ids hold any character but `/` (spaces, newlines, `?`, `#`, `%`,
/// `..`, Unicode), which went on into the STS audience. Google's rule for both ids is 4-32
/// characters of `a-z0-9-`, which is what this pattern takes.
const WORKLOAD_IDENTITY_PROVIDER: &str = r"^projects/[0-9]{1,30}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$";

/// The host of Google's IAM API, which names workload identity providers in audiences.
const IAM_HOST: &str = "iam.googleapis.com";
/// The impersonation endpoint of IAM Credentials, before the email.
const IMPERSONATION_URL_PREFIX: &str =
    "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/";

pub(crate) fn compiled(pattern: &str) -> Regex {
    // The patterns are constants covered by tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static SERVICE_ACCOUNT_EMAIL_RE: LazyLock<Regex> =
    LazyLock::new(|| compiled(SERVICE_ACCOUNT_EMAIL));
static WORKLOAD_IDENTITY_PROVIDER_RE: LazyLock<Regex> =
    LazyLock::new(|| compiled(WORKLOAD_IDENTITY_PROVIDER));

/// A GCP service account email, `<name>@<project>.iam.gserviceaccount.com`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceAccountEmail(String);

impl ServiceAccountEmail {
    /// The email.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The IAM Credentials `generateAccessToken` URL that impersonates this account.
    pub fn impersonation_url(&self) -> String {
        format!("{IMPERSONATION_URL_PREFIX}{}:generateAccessToken", self.0)
    }
}

/// A workload identity pool provider's full name,
/// `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkloadIdentityProvider(String);

impl WorkloadIdentityProvider {
    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The audience of both the Kubernetes token and the STS exchange:
    /// `//iam.googleapis.com/<name>`.
    pub fn audience(&self) -> String {
        format!("//{IAM_HOST}/{}", self.0)
    }
}

fn invalid_annotation(annotation: &str, value: &str, pattern: &str) -> Error {
    Error::invalid(format!(
        "invalid {annotation} annotation: '{}'. must match {pattern}",
        value.escape_default()
    ))
}

/// Checks the value of the [`annotations::SERVICE_ACCOUNT`] annotation.
pub fn service_account_email(value: &str) -> Result<ServiceAccountEmail> {
    match SERVICE_ACCOUNT_EMAIL_RE.is_match(value) {
        true => Ok(ServiceAccountEmail(value.to_owned())),
        false => Err(invalid_annotation(
            annotations::SERVICE_ACCOUNT,
            value,
            SERVICE_ACCOUNT_EMAIL,
        )),
    }
}

/// Checks the value of the [`annotations::WORKLOAD_IDENTITY_PROVIDER`] annotation.
pub fn workload_identity_provider(value: &str) -> Result<WorkloadIdentityProvider> {
    match WORKLOAD_IDENTITY_PROVIDER_RE.is_match(value) {
        true => Ok(WorkloadIdentityProvider(value.to_owned())),
        false => Err(invalid_annotation(
            annotations::WORKLOAD_IDENTITY_PROVIDER,
            value,
            WORKLOAD_IDENTITY_PROVIDER,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn service_account_emails() {
        for valid in [
            "test-sa@project-id.iam.gserviceaccount.com",
            "Flux-1@MY-PROJECT-123.iam.gserviceaccount.com",
        ] {
            let email = service_account_email(valid).ok();
            assert_eq!(email.as_ref().map(|e| e.as_str()), Some(valid));
        }
        for invalid in [
            "",
            "foobar",
            "@project-id.iam.gserviceaccount.com",
            "sa@.iam.gserviceaccount.com",
            "sa@project-id.iam.gserviceaccount.com.evil.example",
            "sa@project-id.iam.gserviceaccount.com\n",
            "sa@project-id.iam.gserviceaccount.comx",
            "sa@project.id.iam.gserviceaccount.com",
            "s a@project-id.iam.gserviceaccount.com",
            "sa@project-id.iam.gserviceaccountxcom",
            "sa@project-id.iam.gserviceaccount.com/x",
            "123-compute@developer.gserviceaccount.com",
            "s\u{430}@project-id.iam.gserviceaccount.com",
        ] {
            assert!(service_account_email(invalid).is_err(), "{invalid:?}");
        }
        assert_eq!(
            message(service_account_email("a'b\n")),
            r"invalid iam.gke.io/gcp-service-account annotation: 'a\'b\n'. must match ^[a-zA-Z0-9-]{1,100}@[a-zA-Z0-9-]{1,100}\.iam\.gserviceaccount\.com$"
        );
    }

    /// The reference's vector: the impersonation URL of `test-sa@project-id`.
    #[test]
    fn impersonation_urls() {
        let email = service_account_email("test-sa@project-id.iam.gserviceaccount.com");
        assert_eq!(
            email.map(|e| e.impersonation_url()).ok().as_deref(),
            Some(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/test-sa@project-id.iam.gserviceaccount.com:generateAccessToken"
            )
        );
    }

    #[test]
    fn workload_identity_providers() {
        let valid = "projects/1234567890/locations/global/workloadIdentityPools/test-pool/providers/test-provider";
        assert_eq!(
            workload_identity_provider(valid)
                .map(|p| p.audience())
                .ok()
                .as_deref(),
            Some(
                "//iam.googleapis.com/projects/1234567890/locations/global/workloadIdentityPools/test-pool/providers/test-provider"
            )
        );
        let pools = "projects/1/locations/global/workloadIdentityPools";
        for invalid in [
            "foobar".to_owned(),
            String::new(),
            format!("{pools}/test-pool/providers/test-provider/"),
            format!("{pools}/test-pool/providers/test-provider\n"),
            format!("{pools}/test pool/providers/test-provider"),
            format!("{pools}/test-pool/providers/p?x=1"),
            format!("{pools}/test-pool/providers/p#x1"),
            format!("{pools}/test-pool/providers/../x"),
            format!("{pools}/test-pool/providers/a%2Fb"),
            format!("{pools}/Test-Pool/providers/test-provider"),
            format!("{pools}/abc/providers/test-provider"),
            format!("{pools}/{}/providers/test-provider", "a".repeat(33)),
            format!("{pools}/test-p\u{43e}ol/providers/test-provider"),
            "projects/x1/locations/global/workloadIdentityPools/test-pool/providers/test-provider"
                .to_owned(),
            "projects/1/locations/us/workloadIdentityPools/test-pool/providers/test-provider"
                .to_owned(),
            format!("//iam.googleapis.com/{valid}"),
        ] {
            assert!(workload_identity_provider(&invalid).is_err(), "{invalid:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(input in "\\PC{0,300}") {
            let _ = service_account_email(&input);
            let _ = workload_identity_provider(&input);
        }

        /// Whatever is accepted is a plain path of ASCII ids: the audience holds nothing else.
        #[test]
        fn accepted_providers_are_plain(pool in "[ -~]{1,40}", provider in "[ -~]{1,40}") {
            let value = format!("projects/1/locations/global/workloadIdentityPools/{pool}/providers/{provider}");
            if let Ok(parsed) = workload_identity_provider(&value) {
                proptest::prop_assert!(parsed.audience().bytes().all(|b| b.is_ascii_alphanumeric() || b"/-.:".contains(&b)));
                proptest::prop_assert_eq!(parsed.as_str().split('/').count(), 8);
            }
        }
    }
}
