//! The Azure side of `kubecred sandbox`: stand-ins for tenant [`AZURE_TENANT_ID`] whose Entra ID
//! trusts the sandbox's issuer through a federated credential of each app a ServiceAccount's
//! `azure.workload.identity/client-id` annotation names (subject that ServiceAccount, audience
//! `api://AzureADTokenExchange`), granting what its `sandbox.kubecred.io/azure-grants`
//! annotation lists; the node's managed identities (one system-assigned, one user-assigned);
//! the ACR registries [`ACR_REGISTRIES`] (and [`PRIVATE_REGISTRY`] of the private cloud whose
//! Resource Manager is [`PRIVATE_CLOUD_ARM`]); AKS cluster [`AKS_CLUSTER`] with Entra
//! integration, whose API server is the sandbox's own (which then takes the stand-ins' AKS
//! tokens as AKS takes Entra's), and [`AKS_CLUSTER_WITHOUT_ENTRA`] without; the Azure DevOps
//! repository [`DEVOPS_REPOSITORY`]; Blob storage through Azurite when it is installed.
//!
//! Only this crate's dependencies are used here (no `crate::` paths): the CLI's tests include
//! this file to build the very configuration `kubecred sandbox` serves.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kubecred_sandbox::JwtVerifier;
use kubecred_sandbox::azure::{
    AZURITE_ACCOUNT, AksCluster, AzureConfig, AzureStandIns, ManagedIdentity, NodeIdentities,
    RoleGrant, STORAGE_AUDIENCE, apps_for_annotated_service_accounts,
    grants_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox};

/// The tenant (the one `examples/sandbox.yaml` names).
pub const AZURE_TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// The subscription of the AKS clusters.
pub const AZURE_SUBSCRIPTION_ID: &str = "00000000-0000-0000-0000-0000000000c1";
/// Their resource group.
pub const AZURE_RESOURCE_GROUP: &str = "kubecred-sandbox";
/// The AKS cluster with Entra integration; its API server is the sandbox's.
pub const AKS_CLUSTER: &str = "kubecred-sandbox";
/// An AKS cluster with local accounts only (no Entra integration).
pub const AKS_CLUSTER_WITHOUT_ENTRA: &str = "kubecred-local-accounts";
/// The container registries of the public and China clouds.
pub const ACR_REGISTRIES: [&str; 2] = ["kubecredsandbox.azurecr.io", "kubecredsandbox.azurecr.cn"];
/// A private cloud's Resource Manager endpoint (and token audience), as its environment file
/// (`AZURE_ENVIRONMENT_FILEPATH`) names it.
pub const PRIVATE_CLOUD_ARM: &str = "https://management.core.azure.private";
/// That cloud's registry suffix (`containerRegistryDNSSuffix`).
pub const PRIVATE_REGISTRY_SUFFIX: &str = "azurecr.azure.private";
/// Its registry.
pub const PRIVATE_REGISTRY: &str = "kubecredsandbox.azurecr.azure.private";
/// The node's system-assigned managed identity (client id).
pub const NODE_IDENTITY: &str = "00000000-0000-0000-0000-0000000000b1";
/// The node's user-assigned managed identity (client id).
pub const NODE_USER_ASSIGNED_IDENTITY: &str = "00000000-0000-0000-0000-0000000000b2";
/// The Azure DevOps repository: organization, project, repository.
pub const DEVOPS_REPOSITORY: [&str; 3] = ["kubecred", "sandbox", "app"];

/// The ARM resource id of AKS cluster `name`.
pub fn aks_cluster_id(name: &str) -> String {
    format!(
        "/subscriptions/{AZURE_SUBSCRIPTION_ID}/resourceGroups/{AZURE_RESOURCE_GROUP}/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
}

/// What the stand-ins serve for `manifests` beside `sandbox` (whose issuer `verifier` checks).
pub fn config(sandbox: &Sandbox, verifier: JwtVerifier, manifests: &Manifests) -> AzureConfig {
    let cluster = |name: &str, entra_integration: bool| AksCluster {
        subscription_id: AZURE_SUBSCRIPTION_ID.into(),
        resource_group: AZURE_RESOURCE_GROUP.into(),
        name: name.into(),
        location: "westeurope".into(),
        server: sandbox.url(),
        ca_pem: sandbox.ca_pem().to_owned(),
        entra_integration,
        readers: Vec::new(),
    };
    let [org, project, repo] = DEVOPS_REPOSITORY;
    AzureConfig {
        tenant_id: AZURE_TENANT_ID.into(),
        apps: apps_for_annotated_service_accounts(manifests, &sandbox.issuer()),
        issuers: vec![verifier],
        node: NodeIdentities {
            system_assigned: Some(ManagedIdentity::new(NODE_IDENTITY)),
            user_assigned: vec![ManagedIdentity::new(NODE_USER_ASSIGNED_IDENTITY)],
        },
        registries: ACR_REGISTRIES
            .iter()
            .chain([&PRIVATE_REGISTRY])
            .map(|r| r.to_string())
            .collect(),
        clusters: vec![
            cluster(AKS_CLUSTER, true),
            cluster(AKS_CLUSTER_WITHOUT_ENTRA, false),
        ],
        grants: grants_for_annotated_service_accounts(manifests),
        devops_repositories: vec![format!("{org}/{project}/{repo}")],
        devops_access: None,
        extra_resources: vec![PRIVATE_CLOUD_ARM.into()],
        require_role_assignments: false,
    }
}

/// Starts the stand-ins for `manifests`, Azurite behind the Blob stand-in when a container is
/// granted and Azurite is installed (holding each granted container, with one blob), and lets the sandbox's API server take
/// their AKS tokens.
pub async fn start_azure(
    sandbox: &Sandbox,
    manifests: &Manifests,
) -> anyhow::Result<AzureStandIns> {
    let verifier = sandbox
        .verifier()
        .await
        .context("discovering the sandbox issuer")?;
    start_azure_with(sandbox, config(sandbox, verifier, manifests)).await
}

/// [`start_azure`] with this configuration.
pub async fn start_azure_with(
    sandbox: &Sandbox,
    config: AzureConfig,
) -> anyhow::Result<AzureStandIns> {
    let containers = granted_containers(&config.grants);
    let mut azure = AzureStandIns::start(config)
        .await
        .context("starting the Azure stand-ins")?;
    if containers.is_empty() {
        tracing::debug!("no Blob container is granted: Azurite is not started");
    } else if let Err(e) = fill_azurite(&mut azure, &containers).await {
        tracing::warn!("no Blob storage stand-in (Azurite): {e:#}");
    }
    sandbox.accept_bearer_tokens(azure.aks_authenticator());
    Ok(azure)
}

/// The Azurite containers the grants name (`azblob://devstoreaccount1/CONTAINER`).
fn granted_containers(grants: &[RoleGrant]) -> Vec<String> {
    let prefix = format!("azblob://{AZURITE_ACCOUNT}/");
    let mut containers: Vec<String> = grants
        .iter()
        .filter_map(|g| g.scope.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    containers.sort_unstable();
    containers.dedup();
    containers
}

/// Starts Azurite and creates `containers`, each with one blob.
async fn fill_azurite(azure: &mut AzureStandIns, containers: &[String]) -> anyhow::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let token = azure
        .access_token(NODE_IDENTITY, STORAGE_AUDIENCE, now - 60, 3600)
        .context("no storage token for the set-up")?;
    let azurite = azure.start_azurite().await?;
    for container in containers {
        let created = azurite.create_container(&token, container).await?;
        anyhow::ensure!(created == 201, "creating container {container}: {created}");
        let put = azurite
            .put_blob(&token, container, "README", b"kubecred sandbox\n")
            .await?;
        anyhow::ensure!(put == 201, "writing a blob into {container}: {put}");
    }
    Ok(())
}

/// Where `kubecred sandbox` writes the stand-ins' CA (for `SSL_CERT_FILE`): beside the
/// kubeconfig.
pub fn ca_file(kubeconfig: &Path) -> PathBuf {
    let mut name = kubeconfig.file_stem().unwrap_or_default().to_os_string();
    name.push(".azure-ca.pem");
    kubeconfig.with_file_name(name)
}

/// The banner's Azure lines; `ca_file` holds [`AzureStandIns::ca_pem`].
pub fn print_azure(
    out: &mut impl Write,
    azure: &AzureStandIns,
    ca_file: &Path,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Azure stand-ins (tenant {AZURE_TENANT_ID}; Entra ID trusts each ServiceAccount annotated with azure.workload.identity/client-id as that app):"
    )?;
    for (name, value) in azure.env_vars() {
        writeln!(out, "  export {name}={value}")?;
    }
    writeln!(out, "  export SSL_CERT_FILE={}", ca_file.display())?;
    writeln!(
        out,
        "  kubecred token --provider azure --namespace team-a --service-account app --output json"
    )?;
    writeln!(
        out,
        "  kubecred registry login {} --namespace team-a --service-account app",
        ACR_REGISTRIES[0]
    )?;
    writeln!(out, "  Entra token URL: {}", azure.token_url())?;
    writeln!(
        out,
        "  container registries: {}, {}; {PRIVATE_REGISTRY} with an environment file (AZURE_ENVIRONMENT_FILEPATH) naming {PRIVATE_CLOUD_ARM} and {PRIVATE_REGISTRY_SUFFIX}",
        ACR_REGISTRIES[0], ACR_REGISTRIES[1]
    )?;
    writeln!(
        out,
        "  AKS cluster (its API server is this sandbox): {}",
        aks_cluster_id(AKS_CLUSTER)
    )?;
    writeln!(
        out,
        "  AKS cluster without Entra integration: {}",
        aks_cluster_id(AKS_CLUSTER_WITHOUT_ENTRA)
    )?;
    writeln!(
        out,
        "  managed identities: system-assigned {NODE_IDENTITY}, user-assigned {NODE_USER_ASSIGNED_IDENTITY}"
    )?;
    let [org, project, repo] = DEVOPS_REPOSITORY;
    writeln!(
        out,
        "  Azure DevOps repository: {} (git -c http.curloptResolve=dev.azure.com:{}:127.0.0.1)",
        azure.devops_repository_url(org, project, repo),
        azure.devops_port()
    )?;
    match azure.azurite() {
        Some(azurite) => writeln!(
            out,
            "  Blob storage (Azurite at {}): azblob://{AZURITE_ACCOUNT}/CONTAINER",
            azurite.url()
        ),
        None => writeln!(
            out,
            "  Blob storage: not served (no azblob:// grant in the manifests, or Azurite is not installed: npm ci --prefix conformance/azure)"
        ),
    }
}
