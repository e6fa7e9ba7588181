//! Azure's side of `kubecred policy`: an Entra identity (a user-assigned managed identity or an
//! app registration) that trusts the cluster's issuer for one ServiceAccount through a federated
//! identity credential (issuer setup's, [`crate::issuer::setup`]), and the one built-in role the
//! integration needs, assigned to the identity's service principal on exactly the resource named:
//!
//! | `--for` | resource (ARM resource id, or URL) | role |
//! |---|---|---|
//! | registry | `…/providers/Microsoft.ContainerRegistry/registries/R` | AcrPull |
//! | bucket | `…/providers/Microsoft.Storage/storageAccounts/A/blobServices/default/containers/C` | Storage Blob Data Reader |
//! | kms | `…/providers/Microsoft.KeyVault/vaults/V/keys/K` | Key Vault Crypto User |
//! | cluster | `…/providers/Microsoft.ContainerService/managedClusters/C` | Azure Kubernetes Service Cluster User Role |
//! | eventhub | `…/providers/Microsoft.EventHub/namespaces/N/eventhubs/H` | Azure Event Hubs Data Sender |
//! | git | `https://dev.azure.com/ORG/PROJECT/_git/REPO` | none: Azure DevOps' own access control (below) |
//!
//! (`…` is `/subscriptions/SUBSCRIPTION/resourceGroups/GROUP`.) `pubsub` is GCP's and `sqs` AWS's.
//!
//! Azure DevOps does not read Azure RBAC: the service principal (its object id, the principal
//! ID) must be a user of the organization, a service principal entitlement with access level
//! Basic (Stakeholder has no access to Repos), and a member of a group that reads the
//! repository, the project's `Readers` (Terraform's `azuredevops` provider:
//! `azuredevops_service_principal_entitlement`, `azuredevops_group_membership` of the group a
//! `data "azuredevops_group"` looks up by name). No `az devops` command adds a service
//! principal to an organization (`az devops user add` takes users' e-mail addresses), so the
//! commands carry that REST call as a comment line.
//!
//! A resource id is read segment by segment: the fixed ones (`subscriptions`, `resourceGroups`,
//! `providers`, the provider namespace, the resource types, `default`) case-insensitively, as ARM
//! reads them; the subscription as a GUID; the group and each name by Azure's rules (the check
//! targets' own, [`crate::azure_names`]). Another number of segments, an empty one (a trailing
//! `/`), `..`, an escape, whitespace or any non-ASCII character is refused. The scope written
//! is the id with ARM's spelling of the fixed segments and a lowercase subscription.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

use super::{
    CloudOptions, Document, Policy, PolicyRequest, Purpose, command, document, shown, unsupported,
};
use crate::azure_names;
use crate::error::{Error, Result};
use crate::issuer::setup::{AZURE_GROUP, GUID, check};
use crate::issuer::{AZURE_AUDIENCE, AzureIdentity, SetupTarget};

/// A built-in role: its name and the GUID of its definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Role {
    pub(super) name: &'static str,
    pub(super) id: &'static str,
}

impl Role {
    /// `/providers/Microsoft.Authorization/roleDefinitions/<GUID>`.
    pub(super) fn definition_id(self) -> String {
        format!(
            "/providers/Microsoft.Authorization/roleDefinitions/{}",
            self.id
        )
    }
}

/// Pull from a registry.
pub(super) const ACR_PULL: Role = Role {
    name: "AcrPull",
    id: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
};
/// Read a container's blobs.
pub(super) const STORAGE_BLOB_DATA_READER: Role = Role {
    name: "Storage Blob Data Reader",
    id: "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
};
/// Read a key and use it (decrypt, unwrap).
pub(super) const KEY_VAULT_CRYPTO_USER: Role = Role {
    name: "Key Vault Crypto User",
    id: "12338af0-0e69-4776-bea7-57ae8d297424",
};
/// Read a cluster and list its user credentials.
pub(super) const AKS_CLUSTER_USER: Role = Role {
    name: "Azure Kubernetes Service Cluster User Role",
    id: "4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
};
/// Send to an event hub.
pub(super) const EVENT_HUBS_DATA_SENDER: Role = Role {
    name: "Azure Event Hubs Data Sender",
    id: "2b629674-e913-4c01-ae53-ef4638d8f975",
};

/// A named segment of a resource id and its rule.
#[derive(Clone, Copy)]
struct Name {
    /// What the segment is, for errors (`storage account name`).
    field: &'static str,
    /// Its placeholder in the expected shape (`ACCOUNT`).
    placeholder: &'static str,
    valid: fn(&str) -> bool,
    rule: &'static str,
}

/// One segment of a resource id.
#[derive(Clone, Copy)]
enum Segment {
    /// A fixed word, matched case-insensitively and written as here.
    Word(&'static str),
    /// A name.
    Name(Name),
}

/// A resource type: the provider namespace, the segments after it, and the role on it.
struct Shape {
    /// What it is, for errors (`storage container`).
    what: &'static str,
    provider: &'static str,
    segments: &'static [Segment],
    role: Role,
}

fn subscription(text: &str) -> bool {
    GUID.is_match(text)
}

fn group(text: &str) -> bool {
    AZURE_GROUP.is_match(text)
}

const SUBSCRIPTION: Name = Name {
    field: "subscription ID",
    placeholder: "SUBSCRIPTION",
    valid: subscription,
    rule: "a GUID (8-4-4-4-12 hexadecimal digits)",
};
const GROUP: Name = Name {
    field: "resource group",
    placeholder: "GROUP",
    valid: group,
    rule: "1 to 90 letters, digits and _().-, not ending in '.'",
};
const REGISTRY_NAME: Name = Name {
    field: "registry name",
    placeholder: "REGISTRY",
    valid: azure_names::registry,
    rule: "5 to 50 letters and digits",
};
const ACCOUNT: Name = Name {
    field: "storage account name",
    placeholder: "ACCOUNT",
    valid: azure_names::storage_account,
    rule: "3 to 24 lowercase letters and digits",
};
const CONTAINER: Name = Name {
    field: "container name",
    placeholder: "CONTAINER",
    valid: azure_names::container,
    rule: "3 to 63 lowercase letters, digits and '-', beginning and ending with a letter or \
           digit, without '--' (or $root, $web, $logs)",
};
const VAULT: Name = Name {
    field: "vault name",
    placeholder: "VAULT",
    valid: azure_names::vault,
    rule: "3 to 24 letters, digits and '-', beginning with a letter, ending with a letter or \
           digit, without '--'",
};
const KEY: Name = Name {
    field: "key name",
    placeholder: "KEY",
    valid: azure_names::key,
    rule: "1 to 127 letters, digits and '-'",
};
const CLUSTER: Name = Name {
    field: "cluster name",
    placeholder: "CLUSTER",
    valid: azure_names::aks_cluster,
    rule: "1 to 63 letters, digits, '_' and '-', beginning and ending with a letter or digit",
};
const NAMESPACE: Name = Name {
    field: "Event Hubs namespace",
    placeholder: "NAMESPACE",
    valid: azure_names::event_hubs_namespace,
    rule: "6 to 50 letters, digits and '-', beginning with a letter, ending with a letter or \
           digit, not ending in -sb or -mgmt",
};
const HUB: Name = Name {
    field: "event hub name",
    placeholder: "HUB",
    valid: azure_names::event_hub,
    rule: "1 to 256 letters, digits, '.', '_' and '-', beginning and ending with a letter or \
           digit",
};

const REGISTRY_SHAPE: Shape = Shape {
    what: "container registry",
    provider: "Microsoft.ContainerRegistry",
    segments: &[Segment::Word("registries"), Segment::Name(REGISTRY_NAME)],
    role: ACR_PULL,
};
const BUCKET_SHAPE: Shape = Shape {
    what: "storage container",
    provider: "Microsoft.Storage",
    segments: &[
        Segment::Word("storageAccounts"),
        Segment::Name(ACCOUNT),
        Segment::Word("blobServices"),
        Segment::Word("default"),
        Segment::Word("containers"),
        Segment::Name(CONTAINER),
    ],
    role: STORAGE_BLOB_DATA_READER,
};
const KMS_SHAPE: Shape = Shape {
    what: "Key Vault key",
    provider: "Microsoft.KeyVault",
    segments: &[
        Segment::Word("vaults"),
        Segment::Name(VAULT),
        Segment::Word("keys"),
        Segment::Name(KEY),
    ],
    role: KEY_VAULT_CRYPTO_USER,
};
const CLUSTER_SHAPE: Shape = Shape {
    what: "AKS cluster",
    provider: "Microsoft.ContainerService",
    segments: &[Segment::Word("managedClusters"), Segment::Name(CLUSTER)],
    role: AKS_CLUSTER_USER,
};
const EVENTHUB_SHAPE: Shape = Shape {
    what: "event hub",
    provider: "Microsoft.EventHub",
    segments: &[
        Segment::Word("namespaces"),
        Segment::Name(NAMESPACE),
        Segment::Word("eventhubs"),
        Segment::Name(HUB),
    ],
    role: EVENT_HUBS_DATA_SENDER,
};

impl Shape {
    /// Every segment, from `subscriptions` on.
    fn all(&self) -> Vec<Segment> {
        let mut all = vec![
            Segment::Word("subscriptions"),
            Segment::Name(SUBSCRIPTION),
            Segment::Word("resourceGroups"),
            Segment::Name(GROUP),
            Segment::Word("providers"),
            Segment::Word(self.provider),
        ];
        all.extend_from_slice(self.segments);
        all
    }

    /// The id's shape, with placeholders.
    fn expected(&self) -> String {
        self.all()
            .iter()
            .map(|segment| match segment {
                Segment::Word(word) => format!("/{word}"),
                Segment::Name(name) => format!("/{}", name.placeholder),
            })
            .collect()
    }
}

/// A role on one resource, from its checked id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Assignment {
    /// The resource id as ARM spells it (fixed segments canonical, subscription lowercase).
    pub(super) scope: String,
    /// The subscription, lowercase.
    pub(super) subscription: String,
    /// The names in the id, in order (subscription, group, then the resource's).
    pub(super) names: Vec<String>,
    /// The role.
    pub(super) role: Role,
}

/// Reads `text` as the ARM resource id of `shape`'s resource type.
fn resource_id(shape: &Shape, text: &str) -> Result<Assignment> {
    let bad = |why: String| {
        Error::invalid(format!(
            "resource {} is not the ARM resource id of {} {}: {why}; expected {}",
            shown(text),
            article(shape.what),
            shape.what,
            shape.expected()
        ))
    };
    let Some(rest) = text.strip_prefix('/') else {
        return Err(bad("it does not begin with '/'".into()));
    };
    let segments = shape.all();
    let parts: Vec<&str> = rest.split('/').collect();
    if parts.len() != segments.len() {
        return Err(bad(format!(
            "it has {} segments, not {}",
            parts.len(),
            segments.len()
        )));
    }
    let mut scope = String::new();
    let mut names = Vec::new();
    for (part, segment) in parts.iter().zip(&segments) {
        match segment {
            Segment::Word(word) if part.eq_ignore_ascii_case(word) => {
                scope.push('/');
                scope.push_str(word);
            }
            Segment::Word(word) => {
                return Err(bad(format!("{} is not '{word}'", shown(part))));
            }
            Segment::Name(name) if (name.valid)(part) => {
                let written = match name.placeholder {
                    "SUBSCRIPTION" => part.to_ascii_lowercase(),
                    _ => (*part).to_owned(),
                };
                scope.push('/');
                scope.push_str(&written);
                names.push(written);
            }
            Segment::Name(name) => {
                return Err(bad(format!(
                    "{} {} is not valid: {}",
                    name.field,
                    shown(part),
                    name.rule
                )));
            }
        }
    }
    let subscription = names.first().cloned().unwrap_or_default();
    Ok(Assignment {
        scope,
        subscription,
        names,
        role: shape.role,
    })
}

fn article(what: &str) -> &'static str {
    match what.starts_with(['A', 'E', 'a', 'e']) {
        true => "an",
        false => "a",
    }
}

/// An Azure DevOps organization: 1 to 50 letters, digits and `-`, beginning and ending with a
/// letter or digit.
static DEVOPS_ORGANIZATION: LazyLock<Regex> =
    LazyLock::new(|| azure_regex(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$"));
/// An Azure DevOps project or repository, as a URL segment kubecred takes: 1 to 64 letters,
/// digits, `.`, `_` and `-`, not beginning with `.` or `_`, not ending with `.` (Azure DevOps'
/// rules; names with spaces or other characters, which URLs escape, are not taken).
static DEVOPS_NAME: LazyLock<Regex> =
    LazyLock::new(|| azure_regex(r"^[A-Za-z0-9-](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?$"));

fn azure_regex(pattern: &str) -> Regex {
    // Constants covered by tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

/// An Azure DevOps repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DevOpsRepository {
    pub(super) organization: String,
    pub(super) project: String,
    pub(super) repository: String,
}

const DEVOPS_EXPECTED: &str = "https://dev.azure.com/ORGANIZATION/PROJECT/_git/REPOSITORY";

/// Reads `https://dev.azure.com/ORG/PROJECT/_git/REPO` (the host in any case, port 443 at most).
pub(super) fn devops_repository(text: &str) -> Result<DevOpsRepository> {
    let bad = |why: String| {
        Error::invalid(format!(
            "resource {} is not an Azure DevOps repository URL: {why}; expected {DEVOPS_EXPECTED}",
            shown(text)
        ))
    };
    let Some(rest) = text.strip_prefix("https://") else {
        return Err(bad("it does not begin with https://".into()));
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if crate::hosts::dns_name(authority).as_deref() != Some("dev.azure.com") {
        return Err(bad(format!(
            "the host {} is not dev.azure.com",
            shown(authority)
        )));
    }
    let parts: Vec<&str> = path.split('/').collect();
    let [organization, project, "_git", repository] = parts[..] else {
        return Err(bad(
            "the path is not ORGANIZATION/PROJECT/_git/REPOSITORY".into()
        ));
    };
    let rule = "1 to 64 letters, digits, '.', '_' and '-', not beginning with '.' or '_', not \
                ending with '.'";
    for (field, value, pattern, rule) in [
        (
            "organization",
            organization,
            &DEVOPS_ORGANIZATION,
            "1 to 50 letters, digits and '-', beginning and ending with a letter or digit",
        ),
        ("project", project, &DEVOPS_NAME, rule),
        ("repository", repository, &DEVOPS_NAME, rule),
    ] {
        if !pattern.is_match(value) {
            return Err(bad(format!(
                "{field} {} is not valid: {rule}",
                shown(value)
            )));
        }
    }
    Ok(DevOpsRepository {
        organization: organization.to_owned(),
        project: project.to_owned(),
        repository: repository.to_owned(),
    })
}

/// What the identity is granted.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Grant {
    /// A role on a resource.
    Role(Assignment),
    /// Azure DevOps: membership, outside Azure RBAC.
    DevOps(DevOpsRepository),
}

fn grant(purpose: Purpose, resource: &str) -> Result<Grant> {
    let shape = match purpose {
        Purpose::Registry => &REGISTRY_SHAPE,
        Purpose::Bucket => &BUCKET_SHAPE,
        Purpose::Kms => &KMS_SHAPE,
        Purpose::Cluster => &CLUSTER_SHAPE,
        Purpose::Eventhub => &EVENTHUB_SHAPE,
        Purpose::Git => return devops_repository(resource).map(Grant::DevOps),
        Purpose::Pubsub => {
            return Err(unsupported(
                "azure",
                purpose,
                "Pub/Sub is GCP's; on Azure, --for eventhub sends to an Event Hub",
            ));
        }
        Purpose::Sqs => {
            return Err(unsupported(
                "azure",
                purpose,
                "SQS is AWS's; on Azure, --for eventhub sends to an Event Hub",
            ));
        }
    };
    resource_id(shape, resource).map(Grant::Role)
}

const GUID_RULE: &str = "a GUID (8-4-4-4-12 hexadecimal digits)";

pub(super) fn policy(request: &PolicyRequest) -> Result<Policy> {
    let CloudOptions::Azure {
        identity,
        principal_id,
        client_id,
        tenant_id,
    } = &request.cloud
    else {
        return Err(Error::invalid(
            "an Azure policy needs the Azure identity, its principal ID, client ID and tenant ID",
        ));
    };
    let grant = grant(request.purpose, &request.resource)?;
    check("principal ID", principal_id, &GUID, GUID_RULE)?;
    check("client ID", client_id, &GUID, GUID_RULE)?;
    check("tenant ID", tenant_id, &GUID, GUID_RULE)?;
    if let AzureIdentity::App { app_id } = identity {
        check("application ID", app_id, &GUID, GUID_RULE)?;
        if !app_id.eq_ignore_ascii_case(client_id) {
            return Err(Error::invalid(format!(
                "client ID {} is not application ID {}: an app registration's client ID is its \
                 application ID",
                shown(client_id),
                shown(app_id)
            )));
        }
    }
    let Some(issuer) = request.issuer.as_deref() else {
        return Err(Error::invalid(
            "issuer is required: Entra's federated identity credential trusts the cluster's \
             issuer (kubecred issuer show prints it)",
        ));
    };
    // Issuer setup checks the issuer, the ServiceAccount and the identity, and writes the
    // credential, its command and the annotations.
    let setup = crate::issuer::setup(
        issuer,
        &request.service_account,
        &SetupTarget::Azure {
            identity: identity.clone(),
            credential_name: None,
            client_id: Some(client_id.clone()),
            tenant_id: Some(tenant_id.clone()),
        },
    )?;
    let credential = match setup.documents.get("federated_credential") {
        Some(Value::Object(fields)) => fields.clone(),
        _ => return Err(Error::invalid("issuer setup wrote no federated credential")),
    };
    let text = |key: &str| {
        credential
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let federated = Federated {
        name: text("name"),
        issuer: text("issuer"),
        subject: text("subject"),
    };
    let mut trust = credential.clone();
    match identity {
        AzureIdentity::Managed {
            identity_name,
            resource_group,
        } => {
            trust.insert("identityName".into(), json!(identity_name));
            trust.insert("resourceGroup".into(), json!(resource_group));
        }
        AzureIdentity::App { app_id } => {
            trust.insert("applicationId".into(), json!(app_id));
        }
    }
    let trust = vec![document(
        "azure_federated_identity_credential",
        Value::Object(trust),
    )];
    let mut permissions: Vec<Document> = Vec::new();
    let mut commands = setup.commands.clone();
    if let Grant::Role(assignment) = &grant {
        permissions.push(document(
            "azure_role_assignment",
            json!({
                "scope": assignment.scope,
                "roleDefinitionName": assignment.role.name,
                "roleDefinitionId": assignment.role.definition_id(),
                "principalId": principal_id,
            }),
        ));
        commands.push(command(&[
            "az",
            "role",
            "assignment",
            "create",
            "--assignee-object-id",
            principal_id,
            "--assignee-principal-type",
            "ServicePrincipal",
            "--role",
            assignment.role.id,
            "--scope",
            &assignment.scope,
        ])?);
    }
    if let Grant::DevOps(repository) = &grant {
        permissions.extend(devops_documents(repository, principal_id));
        commands.extend(devops_commands(repository, principal_id)?);
    }
    let annotations: BTreeMap<String, String> = setup
        .service_account_annotations
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    let label = terraform_label(&request.service_account);
    let terraform = terraform(&label, identity, &federated, &grant, principal_id);
    let notes = notes(request.purpose, &grant, client_id, principal_id)?;
    Ok(Policy {
        provider: "azure",
        purpose: request.purpose,
        resource: request.resource.clone(),
        service_account: request.service_account.clone(),
        identity: json!({
            "clientId": client_id,
            "principalId": principal_id,
            "tenantId": tenant_id,
        }),
        trust,
        permissions,
        annotations,
        commands,
        terraform,
        notes,
    })
}

/// The access level an entitlement needs to read code: Basic (`express` in the API; Terraform
/// takes `basic` as its alias). Stakeholder has no access to Repos.
pub(super) const DEVOPS_LICENSE: &str = "basic";
/// The project group that reads its repositories.
pub(super) const DEVOPS_READERS: &str = "Readers";

/// Azure DevOps' documents: the entitlement in the organization and the Readers membership.
fn devops_documents(repository: &DevOpsRepository, principal_id: &str) -> [Document; 2] {
    [
        document(
            "azuredevops_service_principal_entitlement",
            json!({
                "organization": repository.organization,
                "principalId": principal_id,
                "accountLicenseType": DEVOPS_LICENSE,
            }),
        ),
        document(
            "azuredevops_group_membership",
            json!({
                "organization": repository.organization,
                "project": repository.project,
                "group": DEVOPS_READERS,
                "principalId": principal_id,
            }),
        ),
    ]
}

/// The entitlement's REST call (no `az devops` command exists for it) and the group look-up,
/// then the membership (which needs both descriptors), as comments where a value is only known
/// once the call before has answered.
fn devops_commands(repository: &DevOpsRepository, principal_id: &str) -> Result<Vec<String>> {
    let organization_url = format!("https://dev.azure.com/{}", repository.organization);
    let body = json!({
        "accessLevel": {"accountLicenseType": "express"},
        "servicePrincipal": {"origin": "aad", "originId": principal_id, "subjectKind": "servicePrincipal"},
    });
    let readers = format!("graphGroups[?displayName=='{DEVOPS_READERS}'].descriptor");
    Ok(vec![
        format!(
            "# no az devops command adds a service principal to an organization; the REST call \
             (its answer carries the service principal's descriptor): POST \
             https://vsaex.dev.azure.com/{}/_apis/serviceprincipalentitlements?api-version=7.1 {body}",
            repository.organization
        ),
        command(&[
            "az",
            "devops",
            "security",
            "group",
            "list",
            "--organization",
            &organization_url,
            "--project",
            &repository.project,
            "--query",
            &readers,
            "-o",
            "tsv",
        ])?,
        format!(
            "# then: az devops security group membership add --organization {organization_url} \
             --group-id <the {DEVOPS_READERS} descriptor above> --member-id <the service \
             principal's descriptor>"
        ),
    ])
}

/// The federated credential's values, as issuer setup wrote them.
struct Federated {
    name: String,
    issuer: String,
    subject: String,
}

/// `kubecred_NAMESPACE_NAME`, each character Terraform does not take in a name as `_`.
fn terraform_label(service_account: &str) -> String {
    let raw = format!("kubecred_{service_account}");
    raw.chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                true => c,
                false => '_',
            },
        )
        .collect()
}

/// `text` as a literal in Terraform's JSON syntax, whose strings are templates: `${` and `%{`
/// written `$${` and `%%{`.
fn literal(text: &str) -> Value {
    Value::String(text.replace("${", "$${").replace("%{", "%%{"))
}

fn terraform(
    label: &str,
    identity: &AzureIdentity,
    federated: &Federated,
    grant: &Grant,
    principal_id: &str,
) -> Value {
    let mut data = Map::new();
    let mut resources = Map::new();
    let mut providers = Map::new();
    let azurerm = json!({"source": "hashicorp/azurerm", "version": "~> 4.0"});
    let audience = json!([AZURE_AUDIENCE]);
    match identity {
        AzureIdentity::Managed {
            identity_name,
            resource_group,
        } => {
            data.insert(
                "azurerm_user_assigned_identity".into(),
                json!({label: {
                    "name": literal(identity_name),
                    "resource_group_name": literal(resource_group),
                }}),
            );
            resources.insert(
                "azurerm_federated_identity_credential".into(),
                json!({label: {
                    "name": literal(&federated.name),
                    "resource_group_name": literal(resource_group),
                    "parent_id": format!("${{data.azurerm_user_assigned_identity.{label}.id}}"),
                    "audience": audience,
                    "issuer": literal(&federated.issuer),
                    "subject": literal(&federated.subject),
                }}),
            );
            providers.insert("azurerm".into(), azurerm.clone());
        }
        AzureIdentity::App { app_id } => {
            data.insert(
                "azuread_application".into(),
                json!({label: {"client_id": literal(app_id)}}),
            );
            resources.insert(
                "azuread_application_federated_identity_credential".into(),
                json!({label: {
                    "application_id": format!("${{data.azuread_application.{label}.id}}"),
                    "display_name": literal(&federated.name),
                    "audiences": audience,
                    "issuer": literal(&federated.issuer),
                    "subject": literal(&federated.subject),
                }}),
            );
            providers.insert(
                "azuread".into(),
                json!({"source": "hashicorp/azuread", "version": "~> 3.0"}),
            );
        }
    }
    if let Grant::Role(assignment) = grant {
        let definition = format!(
            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}",
            assignment.subscription, assignment.role.id
        );
        resources.insert(
            "azurerm_role_assignment".into(),
            json!({label: {
                "scope": literal(&assignment.scope),
                "role_definition_id": literal(&definition),
                "principal_id": literal(principal_id),
                "principal_type": "ServicePrincipal",
            }}),
        );
        providers.insert("azurerm".into(), azurerm);
    }
    let mut provider_settings = Map::new();
    if let Grant::DevOps(repository) = grant {
        resources.insert(
            "azuredevops_service_principal_entitlement".into(),
            json!({label: {
                "origin": "aad",
                "origin_id": literal(principal_id),
                "account_license_type": DEVOPS_LICENSE,
            }}),
        );
        data.insert(
            "azuredevops_project".into(),
            json!({label: {"name": literal(&repository.project)}}),
        );
        data.insert(
            "azuredevops_group".into(),
            json!({label: {
                "project_id": format!("${{data.azuredevops_project.{label}.id}}"),
                "name": DEVOPS_READERS,
            }}),
        );
        resources.insert(
            "azuredevops_group_membership".into(),
            json!({label: {
                "group": format!("${{data.azuredevops_group.{label}.descriptor}}"),
                "members": [format!("${{azuredevops_service_principal_entitlement.{label}.descriptor}}")],
                "mode": "add",
            }}),
        );
        providers.insert(
            "azuredevops".into(),
            json!({"source": "microsoft/azuredevops", "version": "~> 1.0"}),
        );
        provider_settings.insert(
            "azuredevops".into(),
            json!({"org_service_url": literal(&format!("https://dev.azure.com/{}", repository.organization))}),
        );
    }
    let mut root = Map::new();
    root.insert(
        "terraform".into(),
        json!({"required_providers": Value::Object(providers.clone())}),
    );
    if providers.contains_key("azurerm") {
        provider_settings.insert("azurerm".into(), json!({"features": {}}));
    }
    if !provider_settings.is_empty() {
        root.insert("provider".into(), Value::Object(provider_settings));
    }
    root.insert("data".into(), Value::Object(data));
    root.insert("resource".into(), Value::Object(resources));
    Value::Object(root)
}

fn notes(
    purpose: Purpose,
    grant: &Grant,
    client_id: &str,
    principal_id: &str,
) -> Result<Vec<String>> {
    let lookup = command(&[
        "az", "ad", "sp", "show", "--id", client_id, "--query", "id", "-o", "tsv",
    ])?;
    let mut notes = vec![
        format!(
            "tokens for Entra carry aud {AZURE_AUDIENCE}; the federated credential matches the \
             issuer and subject exactly (a trailing slash counts)"
        ),
        format!(
            "the principal ID is the object ID of the identity's service principal ({lookup}), \
             not its client ID"
        ),
    ];
    match grant {
        Grant::Role(assignment) => {
            notes.push(format!(
                "{} is assigned on exactly {}; role assignments can take minutes to apply",
                assignment.role.name, assignment.scope
            ));
            let specific = match purpose {
                Purpose::Registry => {
                    "AcrPull pulls only; a registry in the ABAC repository permissions mode \
                     needs Container Registry Repository Reader instead"
                }
                Purpose::Bucket => {
                    "the storage account must allow Entra ID authorization (not only shared keys)"
                }
                Purpose::Kms => {
                    "a role on a key needs the vault's Azure RBAC permission model (not access \
                     policies)"
                }
                Purpose::Cluster => {
                    "the role reads the cluster and lists its user kubeconfig; inside the \
                     cluster, bind Kubernetes RBAC to the principal ID (or grant an Azure RBAC \
                     for Kubernetes role); the cluster needs Microsoft Entra ID integration"
                }
                _ => "the role sends only (not receive or manage)",
            };
            notes.push(specific.to_owned());
        }
        Grant::DevOps(repository) => {
            notes.push(format!(
                "Azure DevOps does not use Azure RBAC (no role assignment here): service \
                 principal {principal_id} becomes a user of organization {} (a service principal \
                 entitlement, access level Basic: Stakeholder cannot read Repos) and a member of \
                 project {}'s {DEVOPS_READERS} group, which reads repository {} (Contributors to \
                 push)",
                repository.organization, repository.project, repository.repository
            ));
            notes.push(
                "no az devops command adds a service principal to an organization (az devops \
                 user add takes users): the commands show the REST call as a comment; Terraform's \
                 azuredevops provider does it all"
                    .to_owned(),
            );
        }
    }
    Ok(notes)
}

#[cfg(test)]
#[path = "azure_tests.rs"]
mod tests;
