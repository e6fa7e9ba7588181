//! The constants of GCP's token exchange and the audiences of a ServiceAccount's token: off GKE
//! the workload identity provider's, on GKE the cluster's workload pool.

use super::cluster::GkeCluster;
use super::parse::WorkloadIdentityProvider;

/// The scopes of every GCP access token kubecred asks for (the reference's two).
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];
/// The scope of the STS exchange when the token is then used to impersonate.
pub const IMPERSONATION_STS_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's universe domain.
pub const UNIVERSE_DOMAIN: &str = "googleapis.com";
/// Google STS's token-exchange endpoint.
pub const STS_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// Google STS's introspection endpoint (the token info URL of direct access).
pub const STS_INTROSPECT_URL: &str = "https://sts.googleapis.com/v1/introspect";
/// The subject token type of a Kubernetes ServiceAccount token.
pub const SUBJECT_TOKEN_TYPE_JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The RFC 8693 grant type of the STS exchange.
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token type asked of the STS exchange.
pub const REQUESTED_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The username of GAR, GCR and S3NS registry logins (the password is the access token).
pub const REGISTRY_USERNAME: &str = "oauth2accesstoken";

/// Where a ServiceAccount's token is federated: GKE's workload pool, or a workload identity
/// provider (the [`super::annotations::WORKLOAD_IDENTITY_PROVIDER`] annotation, off GKE).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Federation {
    /// GKE Workload Identity, for this cluster (from the metadata server).
    Gke(GkeCluster),
    /// Workload Identity Federation through this provider.
    Provider(WorkloadIdentityProvider),
}

impl Federation {
    /// The audience of the Kubernetes token: `<project>.svc.id.goog` on GKE,
    /// `//iam.googleapis.com/<provider>` otherwise.
    pub fn token_audience(&self) -> String {
        match self {
            Federation::Gke(cluster) => cluster.workload_pool(),
            Federation::Provider(provider) => provider.audience(),
        }
    }

    /// The `audience` of the STS exchange: `identitynamespace:<pool>:<cluster URL>` on GKE, the
    /// provider's audience otherwise.
    pub fn sts_audience(&self) -> String {
        match self {
            Federation::Gke(cluster) => cluster.sts_audience(),
            Federation::Provider(provider) => provider.audience(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::parse::workload_identity_provider;

    /// The reference's vectors for both clusters (on GKE with a real location, see
    /// `cluster::tests::gke_audiences`).
    #[test]
    fn audiences_on_and_off_gke() {
        let cluster = GkeCluster::from_metadata("project-id", "us-central1", "cluster-name");
        let gke = Federation::Gke(cluster.unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(gke.token_audience(), "project-id.svc.id.goog");
        assert_eq!(
            gke.sts_audience(),
            "identitynamespace:project-id.svc.id.goog:https://container.googleapis.com/v1/projects/project-id/locations/us-central1/clusters/cluster-name"
        );
        let name = "projects/1234567890/locations/global/workloadIdentityPools/test-pool/providers/test-provider";
        let provider = workload_identity_provider(name).unwrap_or_else(|e| panic!("{e}"));
        let federated = Federation::Provider(provider);
        let audience = format!("//iam.googleapis.com/{name}");
        assert_eq!(federated.token_audience(), audience);
        assert_eq!(federated.sts_audience(), audience);
    }

    #[test]
    fn constants_are_the_reference_values() {
        assert_eq!(SCOPES.len(), 2);
        assert_eq!(SCOPES[0], IMPERSONATION_STS_SCOPE);
        assert_eq!(
            STS_TOKEN_URL,
            format!("https://sts.{UNIVERSE_DOMAIN}/v1/token")
        );
    }
}
