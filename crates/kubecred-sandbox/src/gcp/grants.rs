//! Grants on the resources the access checks test (Cloud Storage buckets, Cloud KMS keys,
//! Pub/Sub topics, Artifact Registry repositories) and on the project (GKE `clusters.get`): role bindings on each resource,
//! with the permissions of each role, and the bindings `kubecred sandbox` derives from the
//! manifests' ServiceAccounts.

use super::config::{GCP_SERVICE_ACCOUNT_ANNOTATION, GcpConfig};

/// `roles/storage.objectViewer` (lists and reads a bucket's objects).
pub const STORAGE_OBJECT_VIEWER: &str = "roles/storage.objectViewer";
/// `roles/cloudkms.cryptoKeyDecrypter` (decrypts with a key).
pub const KMS_DECRYPTER: &str = "roles/cloudkms.cryptoKeyDecrypter";
/// `roles/pubsub.publisher` (publishes to a topic).
pub const PUBSUB_PUBLISHER: &str = "roles/pubsub.publisher";
/// `roles/container.clusterViewer` (gets the project's GKE clusters), on `projects/P`.
pub const CLUSTER_VIEWER: &str = "roles/container.clusterViewer";
/// `roles/artifactregistry.reader` (pulls from a repository), asked by the `gar://` check.
pub const ARTIFACT_REGISTRY_READER: &str = "roles/artifactregistry.reader";

/// The sandbox annotation of a ServiceAccount granting its identity the check permission on
/// each target it lists (space-separated `gs://BUCKET`, `gcpkms://projects/…/cryptoKeys/K`,
/// `pubsub://projects/P/topics/T`, `gar://LOCATION-docker.pkg.dev/P/R`).
pub const GCP_GRANTS_ANNOTATION: &str = "sandbox.kubecred.io/gcp-grants";

/// One member of one role on a resource, named as the check targets name it
/// (`gs://BUCKET`, `gcpkms://projects/…`, `pubsub://projects/…`,
/// `gar://LOCATION-docker.pkg.dev/P/R`), or `projects/P` (the project, for `clusters.get`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceBinding {
    /// The resource, e.g. `gs://flux-artifacts`.
    pub resource: String,
    /// The role, e.g. [`STORAGE_OBJECT_VIEWER`].
    pub role: String,
    /// The member, as IAM names it (`serviceAccount:<email>`, `principal://…`, ...).
    pub member: String,
}

/// The permissions of `role` (only those the checks test).
pub(crate) fn permissions(role: &str) -> &'static [&'static str] {
    match role {
        STORAGE_OBJECT_VIEWER => &["storage.objects.list", "storage.objects.get"],
        KMS_DECRYPTER => &["cloudkms.cryptoKeyVersions.useToDecrypt"],
        PUBSUB_PUBLISHER => &["pubsub.topics.publish"],
        CLUSTER_VIEWER => &["container.clusters.get"],
        ARTIFACT_REGISTRY_READER => &["artifactregistry.repositories.downloadArtifacts"],
        _ => &[],
    }
}

/// The permissions a caller matching IAM `members` holds on `resource`.
pub(crate) fn held(config: &GcpConfig, members: &[String], resource: &str) -> Vec<&'static str> {
    config
        .resource_bindings
        .iter()
        .filter(|b| b.resource == resource && members.contains(&b.member))
        .flat_map(|b| permissions(&b.role).iter().copied())
        .collect()
}

/// The role that grants a target's check permission.
fn role_for(target: &str) -> Option<&'static str> {
    [
        ("gs://", STORAGE_OBJECT_VIEWER),
        ("gcpkms://", KMS_DECRYPTER),
        ("pubsub://", PUBSUB_PUBLISHER),
        ("gar://", ARTIFACT_REGISTRY_READER),
    ]
    .into_iter()
    .find_map(|(scheme, role)| target.starts_with(scheme).then_some(role))
}

/// The bindings of every ServiceAccount annotated with [`GCP_GRANTS_ANNOTATION`]: its Google
/// service account (`iam.gke.io/gcp-service-account`) if it names one, else its federated
/// identities (the GKE member and the principal in `pool`). Unknown schemes are skipped.
pub fn resource_bindings_for_annotated_service_accounts(
    manifests: &crate::Manifests,
    config: &GcpConfig,
    pool: &str,
) -> Vec<ResourceBinding> {
    let mut bindings = Vec::new();
    for (namespace, name, annotations) in manifests.service_accounts() {
        let Some(targets) = annotations.get(GCP_GRANTS_ANNOTATION) else {
            continue;
        };
        let members = match annotations.get(GCP_SERVICE_ACCOUNT_ANNOTATION) {
            Some(email) => vec![format!("serviceAccount:{email}")],
            None => vec![
                format!(
                    "serviceAccount:{}[{namespace}/{name}]",
                    config.identity_namespace()
                ),
                config.principal(pool, &format!("system:serviceaccount:{namespace}:{name}")),
            ],
        };
        for target in targets.split_whitespace() {
            let Some(role) = role_for(target) else {
                continue;
            };
            bindings.extend(members.iter().map(|member| ResourceBinding {
                resource: target.trim_end_matches('/').to_owned(),
                role: role.to_owned(),
                member: member.clone(),
            }));
        }
    }
    bindings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_service_accounts_are_granted_their_targets() -> Result<(), crate::ManifestError> {
        let manifests = crate::Manifests::parse(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ns, annotations: {iam.gke.io/gcp-service-account: 'sa@proj.iam.gserviceaccount.com', sandbox.kubecred.io/gcp-grants: 'gs://b/ pubsub://projects/proj/topics/t ftp://x gar://us-docker.pkg.dev/proj/r'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: ns, annotations: {sandbox.kubecred.io/gcp-grants: 'gcpkms://k'}}\n",
        )?;
        let config = GcpConfig {
            project_id: "proj".into(),
            project_number: "42".into(),
            ..GcpConfig::default()
        };
        let bindings = resource_bindings_for_annotated_service_accounts(&manifests, &config, "p");
        let seen: Vec<(&str, &str, &str)> = bindings
            .iter()
            .map(|b| (b.resource.as_str(), b.role.as_str(), b.member.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "gs://b",
                    STORAGE_OBJECT_VIEWER,
                    "serviceAccount:sa@proj.iam.gserviceaccount.com"
                ),
                (
                    "pubsub://projects/proj/topics/t",
                    PUBSUB_PUBLISHER,
                    "serviceAccount:sa@proj.iam.gserviceaccount.com"
                ),
                (
                    "gar://us-docker.pkg.dev/proj/r",
                    ARTIFACT_REGISTRY_READER,
                    "serviceAccount:sa@proj.iam.gserviceaccount.com"
                ),
                (
                    "gcpkms://k",
                    KMS_DECRYPTER,
                    "serviceAccount:proj.svc.id.goog[ns/b]"
                ),
                (
                    "gcpkms://k",
                    KMS_DECRYPTER,
                    "principal://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/p/subject/system:serviceaccount:ns:b"
                ),
            ]
        );
        assert_eq!(permissions("roles/owner"), &[] as &[&str]);
        assert_eq!(
            permissions(ARTIFACT_REGISTRY_READER),
            &["artifactregistry.repositories.downloadArtifacts"]
        );
        Ok(())
    }
}
