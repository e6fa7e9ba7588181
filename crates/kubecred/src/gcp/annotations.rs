//! The ServiceAccount annotations GCP reads, together, and what they say (users bring both from
//! the seeds): the GCP service account to impersonate, and the workload identity provider of a
//! cluster that is not GKE.

use crate::ServiceAccountInfo;
use crate::error::Result;

use super::parse::{self, ServiceAccountEmail, WorkloadIdentityProvider};

/// The GCP service account the token is exchanged for by impersonation (optional: without it
/// the federated token is used directly). Defined by GKE; Flux reads it off GKE too.
pub const SERVICE_ACCOUNT: &str = "iam.gke.io/gcp-service-account";
/// The workload identity provider of a cluster that is not GKE (optional: without it the
/// cluster is GKE and the audience comes from the metadata server).
pub const WORKLOAD_IDENTITY_PROVIDER: &str = "gcp.auth.fluxcd.io/workload-identity-provider";

/// Every annotation read.
pub const ALL: &[&str] = &[SERVICE_ACCOUNT, WORKLOAD_IDENTITY_PROVIDER];
/// The annotations object level cannot work without: none (GKE needs neither).
pub const REQUIRED: &[&str] = &[];

/// What a ServiceAccount's GCP annotations say, validated.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct GcpAnnotations {
    /// The service account to impersonate ([`SERVICE_ACCOUNT`]), if any.
    pub service_account: Option<ServiceAccountEmail>,
    /// The workload identity provider ([`WORKLOAD_IDENTITY_PROVIDER`]); `None` on GKE.
    pub workload_identity_provider: Option<WorkloadIdentityProvider>,
}

impl GcpAnnotations {
    /// Reads and validates both annotations of `account`. An empty value counts as absent, as in
    /// the reference (an empty email means direct access).
    pub fn read(account: &ServiceAccountInfo) -> Result<Self> {
        let value = |key: &str| account.annotations.get(key).filter(|v| !v.is_empty());
        Ok(GcpAnnotations {
            service_account: value(SERVICE_ACCOUNT)
                .map(|v| parse::service_account_email(v))
                .transpose()?,
            workload_identity_provider: value(WORKLOAD_IDENTITY_PROVIDER)
                .map(|v| parse::workload_identity_provider(v))
                .transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(pairs: &[(&str, &str)]) -> ServiceAccountInfo {
        ServiceAccountInfo::annotated(pairs)
    }

    #[test]
    fn both_annotations_are_read_and_validated() {
        let read = GcpAnnotations::read(&account(&[
            (SERVICE_ACCOUNT, "test-sa@project-id.iam.gserviceaccount.com"),
            (
                WORKLOAD_IDENTITY_PROVIDER,
                "projects/1234567890/locations/global/workloadIdentityPools/test-pool/providers/test-provider",
            ),
        ]))
        .ok();
        let read = read.unwrap_or_default();
        assert_eq!(
            read.service_account.as_ref().map(|e| e.as_str()),
            Some("test-sa@project-id.iam.gserviceaccount.com")
        );
        assert_eq!(
            read.workload_identity_provider.map(|p| p.audience()),
            Some("//iam.googleapis.com/projects/1234567890/locations/global/workloadIdentityPools/test-pool/providers/test-provider".into())
        );
    }

    #[test]
    fn absent_or_empty_annotations_mean_gke_and_direct_access() {
        for pairs in [
            &[][..],
            &[(SERVICE_ACCOUNT, ""), (WORKLOAD_IDENTITY_PROVIDER, "")],
        ] {
            assert_eq!(
                GcpAnnotations::read(&account(pairs)).ok(),
                Some(GcpAnnotations::default())
            );
        }
    }

    /// The reference's vectors: `foobar` in either annotation gives its error.
    #[test]
    fn invalid_annotations_give_the_reference_errors() {
        let email = GcpAnnotations::read(&account(&[(SERVICE_ACCOUNT, "foobar")]));
        assert_eq!(
            email.err().map(|e| e.to_string()).unwrap_or_default(),
            r"invalid iam.gke.io/gcp-service-account annotation: 'foobar'. must match ^[a-zA-Z0-9-]{1,100}@[a-zA-Z0-9-]{1,100}\.iam\.gserviceaccount\.com$"
        );
        let provider = GcpAnnotations::read(&account(&[(WORKLOAD_IDENTITY_PROVIDER, "foobar")]));
        assert_eq!(
            provider.err().map(|e| e.to_string()).unwrap_or_default(),
            "invalid gcp.auth.fluxcd.io/workload-identity-provider annotation: 'foobar'. must match \
             ^projects/[0-9]{1,30}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$"
        );
    }

    #[test]
    fn the_constants_list_every_annotation() {
        assert_eq!(ALL, [SERVICE_ACCOUNT, WORKLOAD_IDENTITY_PROVIDER]);
        assert!(REQUIRED.is_empty());
    }
}
