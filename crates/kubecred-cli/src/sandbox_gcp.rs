//! The GCP side of `kubecred sandbox`: stand-ins for project [`GCP_PROJECT_ID`] whose STS
//! trusts the sandbox's issuer (through a workload identity pool provider and as a GKE
//! cluster) and whose service accounts may be impersonated by the ServiceAccounts annotated
//! with them, as `iam.gke.io/gcp-service-account` bindings written for each would allow; the
//! access checks' APIs (a bucket listing in front of fake-gcs-server, KMS, Pub/Sub and
//! Artifact Registry `testIamPermissions`), granting what each ServiceAccount's `sandbox.kubecred.io/gcp-grants`
//! annotation lists. GKE's `clusters.get` reports the sandbox's own API server for cluster
//! [`GKE_CLUSTER`], and that API server takes the access tokens the stand-ins issue (as the
//! service account's email, else the federated principal), as GKE's takes Google's.

use std::io::Write;

use anyhow::Context;
use kubecred_sandbox::Manifests;
use kubecred_sandbox::gcp::{
    ControlPlane, FakeGcs, GcpConfig, GcpServiceAccount, GcpStandIns, GkeCluster, OidcProvider,
    WorkloadIdentityPool, resource_bindings_for_annotated_service_accounts,
    service_accounts_for_annotated_service_accounts,
};
use kubecred_sandbox::{Sandbox, SourceCluster};

/// The GCP project of the sandbox (the one `examples/sandbox.yaml` names).
pub const GCP_PROJECT_ID: &str = "example-project";
/// Its project number.
pub const GCP_PROJECT_NUMBER: &str = "123456789000";
/// The workload identity pool trusting the sandbox's issuer.
pub const GCP_POOL: &str = "kubecred-sandbox";
/// Its OIDC provider (attribute mapping `google.subject=assertion.sub`, default audiences).
pub const GCP_PROVIDER: &str = "sandbox";
/// The GKE cluster the metadata server describes.
pub const GKE_CLUSTER: &str = "kubecred-sandbox";
/// Its location.
pub const GKE_LOCATION: &str = "europe-west1";
/// The service account the metadata server serves (node level).
pub const GCP_NODE_SERVICE_ACCOUNT: &str =
    "kubecred-sandbox-node@example-project.iam.gserviceaccount.com";

/// Starts the GCP stand-ins for `manifests` on the sandbox's issuer.
pub async fn start_gcp(sandbox: &Sandbox, manifests: &Manifests) -> anyhow::Result<GcpStandIns> {
    let verifier = sandbox
        .verifier()
        .await
        .context("discovering the sandbox issuer")?;
    let mut config = GcpConfig {
        project_id: GCP_PROJECT_ID.into(),
        project_number: GCP_PROJECT_NUMBER.into(),
        pools: vec![WorkloadIdentityPool {
            id: GCP_POOL.into(),
            providers: vec![OidcProvider {
                id: GCP_PROVIDER.into(),
                verifier: verifier.clone(),
                allowed_audiences: Vec::new(),
            }],
        }],
        gke: gke_cluster(sandbox, verifier),
        node_service_account: Some(GCP_NODE_SERVICE_ACCOUNT.into()),
        control_plane: Some(ControlPlane {
            endpoint: sandbox.url().trim_start_matches("https://").to_owned(),
            ca_pem: sandbox.ca_pem().to_owned(),
        }),
        ..GcpConfig::default()
    };
    config.service_accounts =
        service_accounts_for_annotated_service_accounts(manifests, &config, GCP_POOL);
    config.service_accounts.push(GcpServiceAccount {
        email: GCP_NODE_SERVICE_ACCOUNT.into(),
        bindings: Vec::new(),
    });
    config.resource_bindings =
        resource_bindings_for_annotated_service_accounts(manifests, &config, GCP_POOL);
    let gcs = start_gcs(&config).await;
    config.gcs_upstream = gcs.as_ref().map(|gcs| gcs.url().to_owned());
    let mut gcp = GcpStandIns::start(config)
        .await
        .context("starting the GCP stand-ins")?;
    if let Some(gcs) = gcs {
        gcp.keep_gcs(gcs);
    }
    sandbox.accept_bearer_tokens(gcp.gke_authenticator());
    Ok(gcp)
}

/// The GKE cluster the metadata server describes and STS takes tokens of through the identity
/// namespace: the sandbox's own when it presents itself as GKE (or as a plain kind cluster,
/// playing every cloud's), none when it is another cloud's cluster, whose tokens GKE's identity
/// namespace never takes.
fn gke_cluster(sandbox: &Sandbox, verifier: kubecred_sandbox::JwtVerifier) -> Option<GkeCluster> {
    match sandbox.source() {
        SourceCluster::Gke {
            location, cluster, ..
        } => Some(GkeCluster {
            name: cluster.clone(),
            location: location.clone(),
            verifier,
        }),
        SourceCluster::Kind => Some(GkeCluster {
            name: GKE_CLUSTER.into(),
            location: GKE_LOCATION.into(),
            verifier,
        }),
        _ => None,
    }
}

/// fake-gcs-server with the buckets the manifests grant, if any are granted; without it (not
/// installed) the bucket check answers 503 and a warning says why.
async fn start_gcs(config: &GcpConfig) -> Option<FakeGcs> {
    let mut buckets: Vec<&str> = config
        .resource_bindings
        .iter()
        .filter_map(|binding| binding.resource.strip_prefix("gs://"))
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    if buckets.is_empty() {
        return None;
    }
    FakeGcs::start(&buckets)
        .await
        .inspect_err(|e| tracing::warn!("no Cloud Storage stand-in: {e}"))
        .ok()
}

/// The banner's GCP lines.
pub fn print_gcp(
    out: &mut impl Write,
    sandbox: &Sandbox,
    gcp: &GcpStandIns,
) -> std::io::Result<()> {
    let pool = format!(
        "//iam.googleapis.com/projects/{GCP_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{GCP_POOL}"
    );
    writeln!(
        out,
        "GCP stand-ins (project {GCP_PROJECT_ID}; STS trusts the sandbox issuer; each ServiceAccount annotated with iam.gke.io/gcp-service-account may impersonate it):"
    )?;
    writeln!(out, "  export GCE_METADATA_HOST={}", gcp.metadata_host())?;
    writeln!(out, "  export KUBECRED_GCP_STS_URL={}", gcp.sts_token_url())?;
    writeln!(
        out,
        "  export KUBECRED_GCP_IAM_CREDENTIALS_URL={}",
        gcp.iam_credentials_url()
    )?;
    writeln!(
        out,
        "  export KUBECRED_GCP_CONTAINER_URL={}",
        gcp.container_url()
    )?;
    for name in [
        "KUBECRED_GCP_STORAGE_URL",
        "KUBECRED_GCP_KMS_URL",
        "KUBECRED_GCP_PUBSUB_URL",
        "KUBECRED_GCP_ARTIFACTREGISTRY_URL",
    ] {
        writeln!(out, "  export {name}={}", gcp.apis_url())?;
    }
    writeln!(out, "  OAuth token URL: {}", gcp.oauth_token_url())?;
    writeln!(out, "  provider audience: {pool}/providers/{GCP_PROVIDER}")?;
    match sandbox.source() {
        SourceCluster::Kind | SourceCluster::Gke { .. } => {
            let (location, cluster) = match sandbox.source() {
                SourceCluster::Gke {
                    location, cluster, ..
                } => (location.as_str(), cluster.as_str()),
                _ => (GKE_LOCATION, GKE_CLUSTER),
            };
            writeln!(
                out,
                "  GKE cluster (its API server is this sandbox): projects/{GCP_PROJECT_ID}/locations/{location}/clusters/{cluster}"
            )?;
            writeln!(
                out,
                "  GKE audience: identitynamespace:{GCP_PROJECT_ID}.svc.id.goog:https://container.googleapis.com/v1/projects/{GCP_PROJECT_ID}/locations/{location}/clusters/{cluster}"
            )
        }
        _ => writeln!(
            out,
            "  GKE: none (the sandbox is a {} cluster: GCP trusts it through the pool provider only)",
            sandbox.source().kind_name()
        ),
    }
}
