//! What the Azure stand-ins trust and serve: the tenant, its app registrations (client secrets,
//! certificates, federated identity credentials), the node's managed identities, container
//! registries, AKS clusters, Azure DevOps repositories and role assignments on the resources the
//! access checks test.

use crate::verify::JwtVerifier;

/// The audience a Kubernetes token must carry to be exchanged (federated identity credentials).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// ACR's token audience (`https://containerregistry.azure.net/.default`).
pub const ACR_AUDIENCE: &str = "https://containerregistry.azure.net";
/// ARM's token audience (scope `https://management.core.windows.net//.default`).
pub const ARM_AUDIENCE: &str = "https://management.core.windows.net/";
/// The AKS Entra server application (scope `6dae42f8-…/.default`).
pub const AKS_AUDIENCE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
/// Azure Storage's token audience.
pub const STORAGE_AUDIENCE: &str = "https://storage.azure.com";
/// Key Vault's token audience.
pub const KEY_VAULT_AUDIENCE: &str = "https://vault.azure.net";
/// Event Hubs' token audience.
pub const EVENT_HUBS_AUDIENCE: &str = "https://eventhubs.azure.net";
/// Azure DevOps' token audience.
pub const DEVOPS_AUDIENCE: &str = "499b84ac-1321-427f-aa17-267ca6975798";
/// The resources Entra issues tokens for without configuration (besides
/// [`AzureConfig::extra_resources`]); ARM also in its other public and sovereign forms.
pub(crate) const KNOWN_RESOURCES: [&str; 12] = [
    ACR_AUDIENCE,
    ARM_AUDIENCE,
    "https://management.azure.com/",
    "https://management.core.chinacloudapi.cn/",
    "https://management.core.usgovcloudapi.net/",
    AKS_AUDIENCE,
    STORAGE_AUDIENCE,
    KEY_VAULT_AUDIENCE,
    EVENT_HUBS_AUDIENCE,
    DEVOPS_AUDIENCE,
    "https://graph.microsoft.com",
    "https://vault.azure.net/",
];

/// The ServiceAccount annotation naming the app (client id) a workload federates as.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// The ServiceAccount annotation naming the tenant.
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";

/// `Storage Blob Data Reader`: lists and reads blobs.
pub const STORAGE_BLOB_DATA_READER: &str = "Storage Blob Data Reader";
/// `Storage Blob Data Contributor`: also writes (creates containers, uploads).
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "Storage Blob Data Contributor";
/// `Key Vault Crypto User`: reads keys and uses them.
pub const KEY_VAULT_CRYPTO_USER: &str = "Key Vault Crypto User";
/// `Azure Event Hubs Data Sender`: sends events.
pub const EVENT_HUBS_DATA_SENDER: &str = "Azure Event Hubs Data Sender";
/// `Azure Event Hubs Data Owner`: sends, receives and manages.
pub const EVENT_HUBS_DATA_OWNER: &str = "Azure Event Hubs Data Owner";
/// `AcrPull`: pulls from a registry (what ACR's exchange asks for when
/// [`AzureConfig::require_role_assignments`]).
pub const ACR_PULL: &str = "AcrPull";
/// `Azure Kubernetes Service Cluster User Role`: reads a cluster and lists its user credentials
/// (what ARM asks for when [`AzureConfig::require_role_assignments`]).
pub const AKS_CLUSTER_USER: &str = "Azure Kubernetes Service Cluster User Role";

/// The tenant the stand-ins play.
#[derive(Clone, Debug, Default)]
pub struct AzureConfig {
    /// The tenant id (a GUID); Entra serves `/{tenant_id}/oauth2/v2.0/token`.
    pub tenant_id: String,
    /// App registrations (service principals) that may obtain tokens.
    pub apps: Vec<EntraApp>,
    /// Issuers whose tokens federated identity credentials may name, with their keys (the
    /// sandbox's: [`crate::Sandbox::verifier`]). A federated credential naming another issuer
    /// never verifies.
    pub issuers: Vec<JwtVerifier>,
    /// The node's managed identities, served by the IMDS stand-in.
    pub node: NodeIdentities,
    /// Container registry hosts served by the ACR exchange (e.g. `sandbox.azurecr.io`).
    pub registries: Vec<String>,
    /// AKS clusters served by ARM.
    pub clusters: Vec<AksCluster>,
    /// Role assignments on Blob containers, Key Vault keys and Event Hubs (always enforced), and
    /// on registries and AKS clusters (enforced with [`AzureConfig::require_role_assignments`]).
    pub grants: Vec<RoleGrant>,
    /// Whether ACR's exchange and ARM's cluster calls also require a role assignment, as Azure
    /// does: [`ACR_PULL`] on `acr://REGISTRY` (the registry's name, its host's first label), and
    /// [`AKS_CLUSTER_USER`] on the cluster's resource id (or its group's or subscription's). Off
    /// by default: every token of the tenant may log in to the registries and read the clusters
    /// (the sandbox's worlds grant neither); a loaded policy ([`super::load_policy`]) turns it
    /// on.
    pub require_role_assignments: bool,
    /// Azure DevOps repositories, `org/project/repo`, served by the git stand-in.
    pub devops_repositories: Vec<String>,
    /// Azure DevOps' own access control. `None` (the default): no membership model, every token
    /// of the tenant for Azure DevOps reads every served repository. `Some`: a caller must be
    /// entitled in the repository's organization and a member of a group of its project that
    /// reads repositories, as Azure DevOps requires; a loaded policy ([`super::load_policy`])
    /// turns it on.
    pub devops_access: Option<DevOpsAccess>,
    /// Resources (token audiences) Entra issues tokens for besides the public ones, e.g. a
    /// private cloud's ARM audience `https://management.core.azure.private/`. ACR also accepts
    /// tokens for them (as it accepts ARM tokens).
    pub extra_resources: Vec<String>,
}

/// Who may read Azure DevOps repositories (see [`AzureConfig::devops_access`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevOpsAccess {
    /// Service principals that are users of an organization.
    pub entitlements: Vec<DevOpsEntitlement>,
    /// Memberships of project groups.
    pub memberships: Vec<DevOpsMembership>,
}

/// The project groups whose members read the project's repositories by default.
pub const DEVOPS_READING_GROUPS: [&str; 3] = ["Readers", "Contributors", "Project Administrators"];

impl DevOpsAccess {
    /// Whether `principal` (an object or client id) is a user of `organization` (compared
    /// case-insensitively, as Azure DevOps names are).
    pub(crate) fn entitled(&self, organization: &str, is: impl Fn(&str) -> bool) -> bool {
        self.entitlements
            .iter()
            .any(|e| e.organization.eq_ignore_ascii_case(organization) && is(&e.principal))
    }

    /// Whether the principal `is` names belongs to a group of `organization/project` that reads
    /// its repositories ([`DEVOPS_READING_GROUPS`]).
    pub(crate) fn reads(
        &self,
        organization: &str,
        project: &str,
        is: impl Fn(&str) -> bool,
    ) -> bool {
        self.memberships.iter().any(|m| {
            m.organization.eq_ignore_ascii_case(organization)
                && m.project.eq_ignore_ascii_case(project)
                && DEVOPS_READING_GROUPS
                    .iter()
                    .any(|g| g.eq_ignore_ascii_case(&m.group))
                && is(&m.principal)
        })
    }
}

/// A service principal entitlement: the principal is a user of the organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevOpsEntitlement {
    /// The organization.
    pub organization: String,
    /// The service principal's object id (or client id).
    pub principal: String,
}

/// A principal's membership of a project group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevOpsMembership {
    /// The organization.
    pub organization: String,
    /// The project.
    pub project: String,
    /// The group's name in the project (`Readers`).
    pub group: String,
    /// The service principal's object id (or client id).
    pub principal: String,
}

/// An app registration and its service principal.
#[derive(Clone, Debug, Default)]
pub struct EntraApp {
    /// The application (client) id, a GUID.
    pub client_id: String,
    /// The service principal's object id (`oid` of its tokens); empty: derived from the client id.
    pub object_id: String,
    /// Client secrets (values).
    pub secrets: Vec<String>,
    /// Registered certificates (PEM, RSA keys).
    pub certificates: Vec<String>,
    /// Whether certificate assertions must carry the certificate (`x5c`), as an app set up for
    /// subject name and issuer authentication requires.
    pub require_x5c: bool,
    /// Federated identity credentials.
    pub federated_credentials: Vec<FederatedCredential>,
}

impl EntraApp {
    /// An app with only a client id.
    pub fn new(client_id: impl Into<String>) -> EntraApp {
        EntraApp {
            client_id: client_id.into(),
            ..EntraApp::default()
        }
    }

    /// The service principal's object id ([`EntraApp::object_id`] or one derived from the
    /// client id).
    pub fn principal_id(&self) -> String {
        match self.object_id.is_empty() {
            true => derived_id("service-principal", &self.client_id),
            false => self.object_id.clone(),
        }
    }
}

/// A federated identity credential: Entra exchanges a token from `issuer` with subject
/// `subject` and one of `audiences` (exact, case-sensitive matches) for the app's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederatedCredential {
    /// The issuer URL.
    pub issuer: String,
    /// The subject, e.g. `system:serviceaccount:<ns>:<name>`.
    pub subject: String,
    /// Accepted audiences (Entra's default: [`TOKEN_EXCHANGE_AUDIENCE`]).
    pub audiences: Vec<String>,
}

impl FederatedCredential {
    /// A credential for ServiceAccount `namespace/name` of `issuer`, audience
    /// [`TOKEN_EXCHANGE_AUDIENCE`].
    pub fn service_account(issuer: &str, namespace: &str, name: &str) -> FederatedCredential {
        FederatedCredential {
            issuer: issuer.to_owned(),
            subject: crate::claims::subject(namespace, name),
            audiences: vec![TOKEN_EXCHANGE_AUDIENCE.to_owned()],
        }
    }
}

/// The managed identities of the node the IMDS stand-in plays.
#[derive(Clone, Debug, Default)]
pub struct NodeIdentities {
    /// The system-assigned identity (used when a request names none).
    pub system_assigned: Option<ManagedIdentity>,
    /// User-assigned identities, picked by `client_id`, `object_id` or `msi_res_id`.
    pub user_assigned: Vec<ManagedIdentity>,
}

/// A managed identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedIdentity {
    /// Its client id.
    pub client_id: String,
    /// Its object (principal) id; empty: derived from the client id.
    pub object_id: String,
    /// Its ARM resource id (`/subscriptions/…/userAssignedIdentities/<name>`), if any.
    pub resource_id: String,
}

impl ManagedIdentity {
    /// An identity with `client_id`, other ids derived.
    pub fn new(client_id: impl Into<String>) -> ManagedIdentity {
        ManagedIdentity {
            client_id: client_id.into(),
            ..ManagedIdentity::default()
        }
    }

    /// [`ManagedIdentity::object_id`] or one derived from the client id.
    pub fn principal_id(&self) -> String {
        match self.object_id.is_empty() {
            true => derived_id("managed-identity", &self.client_id),
            false => self.object_id.clone(),
        }
    }
}

/// An AKS cluster as ARM describes it.
#[derive(Clone, Debug, Default)]
pub struct AksCluster {
    /// The subscription id (a GUID).
    pub subscription_id: String,
    /// The resource group.
    pub resource_group: String,
    /// The cluster name.
    pub name: String,
    /// The region, e.g. `westeurope`.
    pub location: String,
    /// The API server URL its kubeconfigs name (the sandbox's, e.g. `https://127.0.0.1:PORT`).
    pub server: String,
    /// The cluster CA (PEM), as `certificate-authority-data` of its kubeconfigs.
    pub ca_pem: String,
    /// Whether Entra integration is on (`properties.aadProfile`).
    pub entra_integration: bool,
    /// Principals (object or client ids) allowed to read it; empty: everyone with an ARM token.
    pub readers: Vec<String>,
}

impl AksCluster {
    /// Its ARM resource id.
    pub fn resource_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }
}

/// A role assignment on a resource, named as the check targets name it: `azblob://ACCOUNT` or
/// `azblob://ACCOUNT/CONTAINER`, `azkv://VAULT` or `azkv://VAULT/keys/KEY`, `eventhub://NS` or
/// `eventhub://NS/HUB`; a registry as `acr://REGISTRY`; an AKS cluster by its ARM resource id
/// (`/subscriptions/…/managedClusters/NAME`, compared case-insensitively as ARM does). An
/// assignment on the account, vault, namespace, resource group or subscription covers what is in
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    /// The scope.
    pub scope: String,
    /// The role name, e.g. [`STORAGE_BLOB_DATA_READER`].
    pub role: String,
    /// The principal: its object id or client id.
    pub principal: String,
}

impl RoleGrant {
    /// `role` on `scope` for `principal`.
    pub fn new(
        scope: impl Into<String>,
        role: impl Into<String>,
        principal: impl Into<String>,
    ) -> RoleGrant {
        RoleGrant {
            scope: scope.into(),
            role: role.into(),
            principal: principal.into(),
        }
    }
}

/// A stable GUID-shaped id for `value` in `namespace` (SHA-256 based).
pub(crate) fn derived_id(namespace: &str, value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{namespace}\0{value}").as_bytes(),
    );
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    crate::random::guid(&bytes)
}

/// The sandbox annotation of a ServiceAccount granting its app (`azure.workload.identity/client-id`)
/// the check permission on each target it lists (space-separated `azblob://ACCOUNT/CONTAINER`,
/// `azkv://VAULT/keys/KEY`, `eventhub://NAMESPACE/HUB`).
pub const AZURE_GRANTS_ANNOTATION: &str = "sandbox.kubecred.io/azure-grants";

/// An app with a federated identity credential (issuer `issuer`, audience
/// [`TOKEN_EXCHANGE_AUDIENCE`]) for each ServiceAccount annotated with
/// [`CLIENT_ID_ANNOTATION`]; ServiceAccounts naming the same client id share the app. What
/// `kubecred sandbox` serves by default.
pub fn apps_for_annotated_service_accounts(
    manifests: &crate::Manifests,
    issuer: &str,
) -> Vec<EntraApp> {
    let mut apps: Vec<EntraApp> = Vec::new();
    for (namespace, name, annotations) in manifests.service_accounts() {
        let Some(client_id) = annotations.get(CLIENT_ID_ANNOTATION) else {
            continue;
        };
        let credential = FederatedCredential::service_account(issuer, namespace, name);
        match apps.iter_mut().find(|a| &a.client_id == client_id) {
            Some(app) => app.federated_credentials.push(credential),
            None => apps.push(EntraApp {
                federated_credentials: vec![credential],
                ..EntraApp::new(client_id.clone())
            }),
        }
    }
    apps
}

/// The role that grants a check target's permission.
fn role_for(target: &str) -> Option<&'static str> {
    [
        ("azblob://", STORAGE_BLOB_DATA_READER),
        ("azkv://", KEY_VAULT_CRYPTO_USER),
        ("eventhub://", EVENT_HUBS_DATA_SENDER),
    ]
    .into_iter()
    .find_map(|(scheme, role)| target.starts_with(scheme).then_some(role))
}

/// The role assignments of every ServiceAccount annotated with both [`AZURE_GRANTS_ANNOTATION`]
/// and [`CLIENT_ID_ANNOTATION`], for its client id. Unknown schemes are skipped.
pub fn grants_for_annotated_service_accounts(manifests: &crate::Manifests) -> Vec<RoleGrant> {
    let mut grants = Vec::new();
    for (_, _, annotations) in manifests.service_accounts() {
        let (Some(targets), Some(client_id)) = (
            annotations.get(AZURE_GRANTS_ANNOTATION),
            annotations.get(CLIENT_ID_ANNOTATION),
        ) else {
            continue;
        };
        for target in targets.split_whitespace() {
            if let Some(role) = role_for(target) {
                grants.push(RoleGrant::new(
                    target.trim_end_matches('/'),
                    role,
                    client_id.clone(),
                ));
            }
        }
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFESTS: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ns, annotations: {azure.workload.identity/client-id: c1, azure.workload.identity/tenant-id: t, sandbox.kubecred.io/azure-grants: 'azblob://acct/c/ eventhub://ns/h ftp://x'}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: ns, annotations: {azure.workload.identity/client-id: c1}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: c, namespace: ns, annotations: {azure.workload.identity/client-id: c2, azure.workload.identity/tenant-id: other}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: d, namespace: ns}\n";

    #[test]
    fn annotated_service_accounts_get_apps_and_grants() -> Result<(), crate::ManifestError> {
        let manifests = crate::Manifests::parse(MANIFESTS)?;
        let apps = apps_for_annotated_service_accounts(&manifests, "https://iss");
        assert_eq!(apps.len(), 2);
        assert_eq!(apps[0].client_id, "c1");
        let subjects: Vec<&str> = apps[0]
            .federated_credentials
            .iter()
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(
            subjects,
            ["system:serviceaccount:ns:a", "system:serviceaccount:ns:b"]
        );
        assert_eq!(
            apps[0].federated_credentials[0].audiences,
            [TOKEN_EXCHANGE_AUDIENCE]
        );
        let grants = grants_for_annotated_service_accounts(&manifests);
        assert_eq!(
            grants,
            [
                RoleGrant::new("azblob://acct/c", STORAGE_BLOB_DATA_READER, "c1"),
                RoleGrant::new("eventhub://ns/h", EVENT_HUBS_DATA_SENDER, "c1"),
            ]
        );
        Ok(())
    }

    #[test]
    fn derived_ids_are_stable_guids() {
        let id = EntraApp::new("c").principal_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id, EntraApp::new("c").principal_id());
        assert_ne!(id, ManagedIdentity::new("c").principal_id());
    }
}
