//! What the GCP stand-ins trust and serve: the project, its workload identity pools and their
//! OIDC providers, a GKE cluster's identity namespace, service accounts with their IAM bindings,
//! and the node's service account the metadata server hands out.

use crate::verify::JwtVerifier;

/// `roles/iam.workloadIdentityUser`: lets a federated principal impersonate a service account.
pub const WORKLOAD_IDENTITY_USER: &str = "roles/iam.workloadIdentityUser";
/// `roles/iam.serviceAccountTokenCreator`: lets any principal mint a service account's tokens.
pub const TOKEN_CREATOR: &str = "roles/iam.serviceAccountTokenCreator";

/// The project the stand-ins play.
#[derive(Debug, Default)]
pub struct GcpConfig {
    /// The project id, e.g. `example-project`.
    pub project_id: String,
    /// The project number, e.g. `123456789000`; workload identity pools are named by it.
    pub project_number: String,
    /// Workload identity pools (off GKE).
    pub pools: Vec<WorkloadIdentityPool>,
    /// The GKE cluster whose identity namespace (`<project>.svc.id.goog`) STS trusts.
    pub gke: Option<GkeCluster>,
    /// Service accounts and who may impersonate them.
    pub service_accounts: Vec<GcpServiceAccount>,
    /// The email of the service account the metadata server serves (node level).
    pub node_service_account: Option<String>,
    /// The control plane of [`GcpConfig::gke`] that `clusters.get` reports; without it,
    /// `clusters.get` finds no cluster.
    pub control_plane: Option<ControlPlane>,
    /// Role bindings on buckets, KMS keys and topics (the access checks' resources).
    pub resource_bindings: Vec<super::grants::ResourceBinding>,
    /// The Cloud Storage server (fake-gcs-server) allowed listings are forwarded to.
    pub gcs_upstream: Option<String>,
    /// `clusters.get` needs `container.clusters.get` on the project: a [`ResourceBinding`]
    /// on `projects/<id or number>` (e.g. `roles/container.clusterViewer`) for the caller. Off
    /// (the default), any token the stand-ins issued gets the cluster. Loading a policy
    /// ([`super::GcpPolicy::apply`]) turns it on.
    ///
    /// [`ResourceBinding`]: super::ResourceBinding
    pub enforce_project_bindings: bool,
}

/// The API server of the GKE cluster: what `clusters.get` reports.
#[derive(Clone, Debug)]
pub struct ControlPlane {
    /// The `endpoint`, a host and optional port without scheme (GKE reports e.g. `34.1.2.3`).
    pub endpoint: String,
    /// The cluster CA (PEM), reported base64-encoded as `masterAuth.clusterCaCertificate`.
    pub ca_pem: String,
}

/// A workload identity pool (`projects/N/locations/global/workloadIdentityPools/<id>`).
#[derive(Clone, Debug)]
pub struct WorkloadIdentityPool {
    /// The pool id.
    pub id: String,
    /// Its OIDC providers.
    pub providers: Vec<OidcProvider>,
}

/// An OIDC provider of a pool. Its attribute mapping is `google.subject=assertion.sub`.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    /// The provider id.
    pub id: String,
    /// The issuer it trusts, with that issuer's keys (named by [`JwtVerifier::issuer`]).
    pub verifier: JwtVerifier,
    /// Allowed audiences; empty means Google's default, the provider's full resource name
    /// with an `https:` or `//` prefix.
    pub allowed_audiences: Vec<String>,
}

/// A GKE cluster with Workload Identity: STS takes its ServiceAccount tokens for the audience
/// `<project>.svc.id.goog` through `identitynamespace:<project>.svc.id.goog:<cluster URL>`.
#[derive(Clone, Debug)]
pub struct GkeCluster {
    /// The cluster name (metadata `instance/attributes/cluster-name`).
    pub name: String,
    /// The cluster location (metadata `instance/attributes/cluster-location`).
    pub location: String,
    /// The cluster's issuer and keys.
    pub verifier: JwtVerifier,
}

/// A Google service account and the members of its IAM policy.
#[derive(Clone, Debug)]
pub struct GcpServiceAccount {
    /// `<name>@<project>.iam.gserviceaccount.com`.
    pub email: String,
    /// Role bindings on the service account.
    pub bindings: Vec<Binding>,
}

/// One member of one role on a service account's IAM policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// E.g. [`WORKLOAD_IDENTITY_USER`].
    pub role: String,
    /// `principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/subject/S`,
    /// `principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/*`,
    /// `serviceAccount:<project>.svc.id.goog[<ns>/<name>]` or `serviceAccount:<email>`.
    pub member: String,
}

impl Binding {
    /// `roles/iam.workloadIdentityUser` for `member`.
    pub fn workload_identity_user(member: impl Into<String>) -> Binding {
        Binding {
            role: WORKLOAD_IDENTITY_USER.into(),
            member: member.into(),
        }
    }
}

impl GcpConfig {
    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/<pool>`.
    pub fn pool_name(&self, pool: &str) -> String {
        format!(
            "//iam.googleapis.com/projects/{}/locations/global/workloadIdentityPools/{pool}",
            self.project_number
        )
    }

    /// The STS audience of `provider` in `pool`: `<pool name>/providers/<provider>`.
    pub fn provider_audience(&self, pool: &str, provider: &str) -> String {
        format!("{}/providers/{provider}", self.pool_name(pool))
    }

    /// The principal a token with subject `subject` becomes in `pool`.
    pub fn principal(&self, pool: &str, subject: &str) -> String {
        format!("principal:{}/subject/{subject}", self.pool_name(pool))
    }

    /// The GKE identity namespace, `<project>.svc.id.goog`.
    pub fn identity_namespace(&self) -> String {
        format!("{}.svc.id.goog", self.project_id)
    }

    /// The GKE STS audience,
    /// `identitynamespace:<project>.svc.id.goog:https://container.googleapis.com/v1/projects/<project>/locations/<l>/clusters/<c>`.
    pub fn gke_audience(&self) -> Option<String> {
        let gke = self.gke.as_ref()?;
        Some(format!(
            "identitynamespace:{}:https://container.googleapis.com/v1/projects/{}/locations/{}/clusters/{}",
            self.identity_namespace(),
            self.project_id,
            gke.location,
            gke.name
        ))
    }
}

/// The annotation naming the Google service account a ServiceAccount impersonates.
pub const GCP_SERVICE_ACCOUNT_ANNOTATION: &str = "iam.gke.io/gcp-service-account";

/// Service accounts that let each Kubernetes ServiceAccount annotated with them impersonate
/// them, as `gcloud iam service-accounts add-iam-policy-binding --role
/// roles/iam.workloadIdentityUser` would for both ways of federating: the GKE member
/// `serviceAccount:<project>.svc.id.goog[<ns>/<name>]` and the principal of subject
/// `system:serviceaccount:<ns>:<name>` in `pool`. What `kubecred sandbox` serves by default.
pub fn service_accounts_for_annotated_service_accounts(
    manifests: &crate::Manifests,
    config: &GcpConfig,
    pool: &str,
) -> Vec<GcpServiceAccount> {
    let mut accounts: Vec<GcpServiceAccount> = Vec::new();
    for (namespace, name, annotations) in manifests.service_accounts() {
        let Some(email) = annotations.get(GCP_SERVICE_ACCOUNT_ANNOTATION) else {
            continue;
        };
        let subject = format!("system:serviceaccount:{namespace}:{name}");
        let members = [
            format!(
                "serviceAccount:{}[{namespace}/{name}]",
                config.identity_namespace()
            ),
            config.principal(pool, &subject),
        ];
        let bindings = members.into_iter().map(Binding::workload_identity_user);
        match accounts.iter_mut().find(|a| &a.email == email) {
            Some(account) => account.bindings.extend(bindings),
            None => accounts.push(GcpServiceAccount {
                email: email.clone(),
                bindings: bindings.collect(),
            }),
        }
    }
    accounts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GcpConfig {
        GcpConfig {
            project_id: "proj".into(),
            project_number: "42".into(),
            ..GcpConfig::default()
        }
    }

    #[test]
    fn names_follow_google_resource_names() {
        let c = config();
        assert_eq!(
            c.provider_audience("pool", "prov"),
            "//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool/providers/prov"
        );
        assert_eq!(
            c.principal("pool", "system:serviceaccount:ns:app"),
            "principal://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool/subject/system:serviceaccount:ns:app"
        );
        assert_eq!(c.gke_audience(), None);
    }

    #[test]
    fn annotated_service_accounts_are_bound_both_ways() -> Result<(), crate::ManifestError> {
        let manifests = crate::Manifests::parse(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ns, annotations: {iam.gke.io/gcp-service-account: 'sa@proj.iam.gserviceaccount.com'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: ns}\n",
        )?;
        let accounts = service_accounts_for_annotated_service_accounts(&manifests, &config(), "p");
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].email, "sa@proj.iam.gserviceaccount.com");
        let members: Vec<&str> = accounts[0]
            .bindings
            .iter()
            .map(|b| b.member.as_str())
            .collect();
        assert_eq!(
            members,
            [
                "serviceAccount:proj.svc.id.goog[ns/a]",
                "principal://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/p/subject/system:serviceaccount:ns:a",
            ]
        );
        Ok(())
    }
}
