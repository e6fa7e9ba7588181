//! A `kubecred policy --output json` object for Azure, loaded into the stand-ins' configuration
//! so that they enforce exactly it:
//!
//! - `identity` (`clientId`, `principalId`, `tenantId`): the app Entra issues tokens for, whose
//!   service principal's object id (the `oid` of its tokens) is the principal id;
//! - each trust document `azure_federated_identity_credential` (`issuer`, `subject`,
//!   `audiences`): a [`FederatedCredential`] of that app;
//! - each permission document `azure_role_assignment` (`scope`, `roleDefinitionName`,
//!   `roleDefinitionId`, `principalId`): a [`RoleGrant`] on the scope as the stand-ins name it:
//!   a container id `…/storageAccounts/A/blobServices/default/containers/C` is `azblob://A/C`
//!   (an account id `azblob://A`), a key id `…/vaults/V/keys/K` is `azkv://V/keys/K` (a vault id
//!   `azkv://V`), an event hub id `…/namespaces/N/eventhubs/H` is `eventhub://N/H` (a namespace
//!   id `eventhub://N`), a registry id `…/registries/R` is `acr://R`, and an AKS cluster keeps its
//!   id (ARM checks it);
//! - each permission document `azuredevops_service_principal_entitlement` (`organization`,
//!   `principalId`, `accountLicenseType` `basic` or `express`, the access level that reads code):
//!   a [`DevOpsEntitlement`]; each `azuredevops_group_membership` (`organization`, `project`,
//!   `group`, `principalId`): a [`DevOpsMembership`].
//!
//! Loading also turns on [`AzureConfig::require_role_assignments`], so that the registry and
//! cluster stand-ins check roles as the data-plane ones always do, and Azure DevOps' access
//! control ([`AzureConfig::devops_access`]). Anything the stand-ins would
//! not enforce is an error naming it: another provider or tenant, an unknown kind, field, role
//! (or a role id that is not its name's) or scope. The sandbox reads the JSON itself (it does not
//! depend on kubecred).

use serde_json::{Map, Value};

use super::config::{
    ACR_PULL, AKS_CLUSTER_USER, AzureConfig, DevOpsEntitlement, DevOpsMembership,
    EVENT_HUBS_DATA_SENDER, EntraApp, FederatedCredential, KEY_VAULT_CRYPTO_USER, RoleGrant,
    STORAGE_BLOB_DATA_READER,
};

/// Why a policy cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    message: String,
}

impl PolicyError {
    fn new(message: impl Into<String>) -> PolicyError {
        PolicyError {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Azure policy: {}", self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The built-in roles a policy may assign, by name, with their definitions' GUIDs.
const ROLES: [(&str, &str); 5] = [
    (ACR_PULL, "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    (
        STORAGE_BLOB_DATA_READER,
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    ),
    (
        KEY_VAULT_CRYPTO_USER,
        "12338af0-0e69-4776-bea7-57ae8d297424",
    ),
    (AKS_CLUSTER_USER, "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"),
    (
        EVENT_HUBS_DATA_SENDER,
        "2b629674-e913-4c01-ae53-ef4638d8f975",
    ),
];

use crate::policy_fields::TOP_LEVEL;
const IDENTITY: [&str; 3] = ["clientId", "principalId", "tenantId"];
const CREDENTIAL_KIND: &str = "azure_federated_identity_credential";
const CREDENTIAL: [&str; 8] = [
    "kind",
    "name",
    "issuer",
    "subject",
    "audiences",
    "identityName",
    "resourceGroup",
    "applicationId",
];
const ASSIGNMENT_KIND: &str = "azure_role_assignment";
const ASSIGNMENT: [&str; 5] = [
    "kind",
    "scope",
    "roleDefinitionName",
    "roleDefinitionId",
    "principalId",
];

const ENTITLEMENT_KIND: &str = "azuredevops_service_principal_entitlement";
const ENTITLEMENT: [&str; 4] = ["kind", "organization", "principalId", "accountLicenseType"];
/// The access levels that read code (Basic; `express` is its name in the API).
const LICENSES: [&str; 2] = ["basic", "express"];
const MEMBERSHIP_KIND: &str = "azuredevops_group_membership";
const MEMBERSHIP: [&str; 5] = ["kind", "organization", "project", "group", "principalId"];

/// What a permission document grants.
enum Permission {
    Role(RoleGrant),
    Entitlement(DevOpsEntitlement),
    Membership(DevOpsMembership),
}

/// Loads `policy` (the JSON `kubecred policy --provider azure --output json` prints) into
/// `config`: the identity's app (created if absent), its federated credentials, the role
/// assignments, and [`AzureConfig::require_role_assignments`]. On error `config` may hold part
/// of the policy.
pub fn load_policy(config: &mut AzureConfig, policy: &Value) -> Result<(), PolicyError> {
    let top = object(policy, "the policy")?;
    only(top, &TOP_LEVEL, "the policy")?;
    match top.get("provider").and_then(Value::as_str) {
        Some("azure") => {}
        other => {
            return Err(PolicyError::new(format!(
                "provider is {}, not \"azure\"",
                shown_value(other.map(Value::from).as_ref())
            )));
        }
    }
    let identity = object(top.get("identity").unwrap_or(&Value::Null), "the identity")?;
    only(identity, &IDENTITY, "the identity")?;
    let client_id = text(identity, "clientId", "the identity")?;
    let principal_id = text(identity, "principalId", "the identity")?;
    let tenant_id = text(identity, "tenantId", "the identity")?;
    if !config.tenant_id.is_empty() && !config.tenant_id.eq_ignore_ascii_case(tenant_id) {
        return Err(PolicyError::new(format!(
            "tenant {tenant_id:?} is not the stand-ins' tenant {:?}",
            config.tenant_id
        )));
    }
    let credentials = documents(top, "trust")?
        .iter()
        .enumerate()
        .map(|(index, document)| credential(document, &format!("trust[{index}]"), client_id))
        .collect::<Result<Vec<_>, _>>()?;
    let grants = documents(top, "permissions")?
        .iter()
        .enumerate()
        .map(|(index, document)| permission(document, &format!("permissions[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;

    let app = match config
        .apps
        .iter()
        .position(|a| a.client_id.eq_ignore_ascii_case(client_id))
    {
        Some(index) => &mut config.apps[index],
        None => {
            config.apps.push(EntraApp::new(client_id));
            let last = config.apps.len() - 1;
            &mut config.apps[last]
        }
    };
    if !app.object_id.is_empty() && !app.object_id.eq_ignore_ascii_case(principal_id) {
        return Err(PolicyError::new(format!(
            "principal {principal_id:?} of client {client_id:?} is not its app's object id {:?}",
            app.object_id
        )));
    }
    app.object_id = principal_id.to_owned();
    app.federated_credentials.extend(credentials);
    let devops = config.devops_access.get_or_insert_default();
    for permission in grants {
        match permission {
            Permission::Role(grant) => config.grants.push(grant),
            Permission::Entitlement(entitlement) => devops.entitlements.push(entitlement),
            Permission::Membership(membership) => devops.memberships.push(membership),
        }
    }
    config.require_role_assignments = true;
    Ok(())
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, PolicyError> {
    value
        .as_object()
        .ok_or_else(|| PolicyError::new(format!("{what} is not a JSON object")))
}

/// Refuses any key of `map` not in `known`, naming it.
fn only(map: &Map<String, Value>, known: &[&str], what: &str) -> Result<(), PolicyError> {
    match map.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(PolicyError::new(format!(
            "{what} has an unknown field {key:?} (known: {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, PolicyError> {
    match map.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(other) => Err(PolicyError::new(format!(
            "{what}: {key} is {}, not a non-empty string",
            shown_value(Some(other))
        ))),
        None => Err(PolicyError::new(format!("{what} has no {key}"))),
    }
}

fn shown_value(value: Option<&Value>) -> String {
    let text = value
        .map(Value::to_string)
        .unwrap_or_else(|| "missing".into());
    text.chars().take(100).collect()
}

/// The documents of array `key` (absent: none).
fn documents<'a>(top: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], PolicyError> {
    match top.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(PolicyError::new(format!(
            "{key} is {}, not an array of documents",
            shown_value(Some(other))
        ))),
    }
}

/// A document's fields, after its kind is checked to be `kind` and its fields to be `known`.
fn kind<'a>(
    document: &'a Value,
    what: &str,
    kind: &str,
    known: &[&str],
) -> Result<&'a Map<String, Value>, PolicyError> {
    let map = object(document, what)?;
    match map.get("kind").and_then(Value::as_str) {
        Some(given) if given == kind => {}
        given => {
            return Err(PolicyError::new(format!(
                "{what} has kind {}: the stand-ins load only {kind} here",
                shown_value(given.map(Value::from).as_ref())
            )));
        }
    }
    only(map, known, what)?;
    Ok(map)
}

fn credential(
    document: &Value,
    what: &str,
    client_id: &str,
) -> Result<FederatedCredential, PolicyError> {
    let map = kind(document, what, CREDENTIAL_KIND, &CREDENTIAL)?;
    text(map, "name", what)?;
    if map.contains_key("applicationId") {
        let app = text(map, "applicationId", what)?;
        if !app.eq_ignore_ascii_case(client_id) {
            return Err(PolicyError::new(format!(
                "{what}: applicationId {app:?} is not the identity's clientId {client_id:?}"
            )));
        }
    }
    let audiences = match map.get("audiences") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| PolicyError::new(format!("{what}: audiences are not all strings")))?,
        Some(other) => {
            return Err(PolicyError::new(format!(
                "{what}: audiences is {}, not a non-empty array of strings",
                shown_value(Some(other))
            )));
        }
        None => return Err(PolicyError::new(format!("{what} has no audiences"))),
    };
    Ok(FederatedCredential {
        issuer: text(map, "issuer", what)?.to_owned(),
        subject: text(map, "subject", what)?.to_owned(),
        audiences,
    })
}

/// A permission document of any kind the stand-ins enforce.
fn permission(document: &Value, what: &str) -> Result<Permission, PolicyError> {
    let given = document.get("kind").and_then(Value::as_str);
    match given {
        Some(ENTITLEMENT_KIND) => {
            let map = kind(document, what, ENTITLEMENT_KIND, &ENTITLEMENT)?;
            let license = text(map, "accountLicenseType", what)?;
            if !LICENSES.iter().any(|l| l.eq_ignore_ascii_case(license)) {
                return Err(PolicyError::new(format!(
                    "{what}: accountLicenseType {license:?} does not read code (the stand-ins \
                     enforce {})",
                    LICENSES.join(" or ")
                )));
            }
            Ok(Permission::Entitlement(DevOpsEntitlement {
                organization: text(map, "organization", what)?.to_owned(),
                principal: text(map, "principalId", what)?.to_owned(),
            }))
        }
        Some(MEMBERSHIP_KIND) => {
            let map = kind(document, what, MEMBERSHIP_KIND, &MEMBERSHIP)?;
            Ok(Permission::Membership(DevOpsMembership {
                organization: text(map, "organization", what)?.to_owned(),
                project: text(map, "project", what)?.to_owned(),
                group: text(map, "group", what)?.to_owned(),
                principal: text(map, "principalId", what)?.to_owned(),
            }))
        }
        _ => grant(document, what).map(Permission::Role),
    }
}

fn grant(document: &Value, what: &str) -> Result<RoleGrant, PolicyError> {
    let map = kind(document, what, ASSIGNMENT_KIND, &ASSIGNMENT)?;
    let role = text(map, "roleDefinitionName", what)?;
    let id = text(map, "roleDefinitionId", what)?;
    let Some((_, guid)) = ROLES.iter().find(|(name, _)| *name == role) else {
        let known: Vec<&str> = ROLES.iter().map(|(name, _)| *name).collect();
        return Err(PolicyError::new(format!(
            "{what}: role {role:?} is not one the stand-ins enforce ({})",
            known.join(", ")
        )));
    };
    let expected = format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}");
    if !id.eq_ignore_ascii_case(&expected) {
        return Err(PolicyError::new(format!(
            "{what}: roleDefinitionId {id:?} is not {role}'s ({expected})"
        )));
    }
    let scope = text(map, "scope", what)?;
    let stand_in = stand_in_scope(scope).ok_or_else(|| {
        PolicyError::new(format!(
            "{what}: scope {scope:?} is not a resource the stand-ins enforce (a storage account \
             or container, a vault or key, an Event Hubs namespace or event hub, a registry, an \
             AKS cluster)"
        ))
    })?;
    let principal = text(map, "principalId", what)?;
    Ok(RoleGrant::new(stand_in, role, principal))
}

/// The names of `tail` where `pattern` has `*`, when its other segments are `pattern`'s words
/// (either case).
fn names<'a>(tail: &[&'a str], pattern: &[&str]) -> Option<Vec<&'a str>> {
    if tail.len() != pattern.len() {
        return None;
    }
    let mut names = Vec::new();
    for (part, word) in tail.iter().zip(pattern) {
        match *word {
            "*" => names.push(*part),
            word if part.eq_ignore_ascii_case(word) => {}
            _ => return None,
        }
    }
    Some(names)
}

/// How the stand-ins name the resource of ARM id `id` (see the module's documentation).
fn stand_in_scope(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.strip_prefix('/')?.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
        || parts.len() < 6
    {
        return None;
    }
    names(
        &parts[..5],
        &["subscriptions", "*", "resourceGroups", "*", "providers"],
    )?;
    let tail = &parts[5..];
    let lower = str::to_ascii_lowercase;
    const STORAGE: &str = "Microsoft.Storage";
    const VAULT: &str = "Microsoft.KeyVault";
    const HUB: &str = "Microsoft.EventHub";
    let container = [
        STORAGE,
        "storageAccounts",
        "*",
        "blobServices",
        "default",
        "containers",
        "*",
    ];
    if let Some(n) = names(tail, &container) {
        return Some(format!("azblob://{}/{}", lower(n[0]), n[1]));
    }
    if let Some(n) = names(tail, &[STORAGE, "storageAccounts", "*"]) {
        return Some(format!("azblob://{}", lower(n[0])));
    }
    if let Some(n) = names(tail, &[VAULT, "vaults", "*", "keys", "*"]) {
        return Some(format!("azkv://{}/keys/{}", lower(n[0]), n[1]));
    }
    if let Some(n) = names(tail, &[VAULT, "vaults", "*"]) {
        return Some(format!("azkv://{}", lower(n[0])));
    }
    if let Some(n) = names(tail, &[HUB, "namespaces", "*", "eventhubs", "*"]) {
        return Some(format!("eventhub://{}/{}", lower(n[0]), n[1]));
    }
    if let Some(n) = names(tail, &[HUB, "namespaces", "*"]) {
        return Some(format!("eventhub://{}", lower(n[0])));
    }
    if let Some(n) = names(tail, &["Microsoft.ContainerRegistry", "registries", "*"]) {
        return Some(format!("acr://{}", lower(n[0])));
    }
    names(
        tail,
        &["Microsoft.ContainerService", "managedClusters", "*"],
    )?;
    Some(id.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::azure::config::TOKEN_EXCHANGE_AUDIENCE;

    const CLIENT: &str = "00000000-0000-0000-0000-00000000000a";
    const PRINCIPAL: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const TENANT: &str = "00000000-0000-0000-0000-000000000001";
    const RG: &str =
        "/subscriptions/00000000-0000-0000-0000-0000000000c1/resourceGroups/rg/providers";

    fn policy(scope: &str, role: &str, guid: &str) -> Value {
        json!({
            "provider": "azure",
            "for": "bucket",
            "resource": scope,
            "serviceAccount": "team-a/app",
            "identity": {"clientId": CLIENT, "principalId": PRINCIPAL, "tenantId": TENANT},
            "trust": [{
                "kind": "azure_federated_identity_credential",
                "name": "kubecred-team-a-app",
                "issuer": "https://issuer.example",
                "subject": "system:serviceaccount:team-a:app",
                "audiences": [TOKEN_EXCHANGE_AUDIENCE],
                "identityName": "id",
                "resourceGroup": "rg",
            }],
            "permissions": [{
                "kind": "azure_role_assignment",
                "scope": scope,
                "roleDefinitionName": role,
                "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
                "principalId": PRINCIPAL,
            }],
            "annotations": {},
            "commands": [],
            "notes": [],
        })
    }

    fn config() -> AzureConfig {
        AzureConfig {
            tenant_id: TENANT.into(),
            ..AzureConfig::default()
        }
    }

    #[test]
    fn each_scope_is_named_as_the_stand_ins_check_it() -> Result<(), PolicyError> {
        for (id, role, guid, scope) in [
            (
                "Microsoft.Storage/storageAccounts/devstoreaccount1/blobServices/default/containers/flux",
                STORAGE_BLOB_DATA_READER,
                ROLES[1].1,
                "azblob://devstoreaccount1/flux",
            ),
            (
                "microsoft.storage/STORAGEACCOUNTS/devstoreaccount1",
                STORAGE_BLOB_DATA_READER,
                ROLES[1].1,
                "azblob://devstoreaccount1",
            ),
            (
                "Microsoft.KeyVault/vaults/Flux-Vault/keys/sops",
                KEY_VAULT_CRYPTO_USER,
                ROLES[2].1,
                "azkv://flux-vault/keys/sops",
            ),
            (
                "Microsoft.KeyVault/vaults/v1v",
                KEY_VAULT_CRYPTO_USER,
                ROLES[2].1,
                "azkv://v1v",
            ),
            (
                "Microsoft.EventHub/namespaces/Flux-Events/eventhubs/alerts",
                EVENT_HUBS_DATA_SENDER,
                ROLES[4].1,
                "eventhub://flux-events/alerts",
            ),
            (
                "Microsoft.EventHub/namespaces/flux-events",
                EVENT_HUBS_DATA_SENDER,
                ROLES[4].1,
                "eventhub://flux-events",
            ),
            (
                "Microsoft.ContainerRegistry/registries/KubecredSandbox",
                ACR_PULL,
                ROLES[0].1,
                "acr://kubecredsandbox",
            ),
            (
                "Microsoft.ContainerService/managedClusters/aks",
                AKS_CLUSTER_USER,
                ROLES[3].1,
                &format!("{RG}/Microsoft.ContainerService/managedClusters/aks"),
            ),
        ] {
            let mut config = config();
            load_policy(&mut config, &policy(&format!("{RG}/{id}"), role, guid))?;
            assert_eq!(config.grants, [RoleGrant::new(scope, role, PRINCIPAL)]);
            assert!(config.require_role_assignments);
            assert_eq!(config.apps.len(), 1);
            assert_eq!(config.apps[0].client_id, CLIENT);
            assert_eq!(config.apps[0].principal_id(), PRINCIPAL);
            assert_eq!(
                config.apps[0].federated_credentials,
                [FederatedCredential::service_account(
                    "https://issuer.example",
                    "team-a",
                    "app"
                )]
            );
        }
        Ok(())
    }

    fn refused(policy: &Value) -> String {
        let mut config = config();
        match load_policy(&mut config, policy) {
            Ok(()) => panic!("loaded: {policy}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn what_would_not_be_enforced_is_refused_by_name() {
        let scope = format!("{RG}/Microsoft.KeyVault/vaults/v1v/keys/k");
        let good = policy(&scope, KEY_VAULT_CRYPTO_USER, ROLES[2].1);
        let changed = |edit: &dyn Fn(&mut Value)| {
            let mut p = good.clone();
            edit(&mut p);
            p
        };
        for (p, why) in [
            (
                changed(&|p| p["extra"] = json!(1)),
                "unknown field \"extra\"",
            ),
            (
                changed(&|p| p["provider"] = json!("aws")),
                "provider is \"aws\"",
            ),
            (
                changed(&|p| p["identity"]["objectId"] = json!("x")),
                "unknown field \"objectId\"",
            ),
            (
                changed(&|p| p["identity"]["tenantId"] = json!("other")),
                "tenant \"other\"",
            ),
            (
                changed(&|p| p["trust"][0]["kind"] = json!("aws_iam_role")),
                "trust[0] has kind \"aws_iam_role\"",
            ),
            (
                changed(&|p| p["trust"][0]["claimsMatchingExpression"] = json!("x")),
                "unknown field \"claimsMatchingExpression\"",
            ),
            (
                changed(&|p| {
                    p["trust"][0].as_object_mut().map(|m| m.remove("subject"));
                }),
                "trust[0] has no subject",
            ),
            (
                changed(&|p| p["trust"][0]["audiences"] = json!([])),
                "audiences is []",
            ),
            (
                changed(&|p| p["trust"][0]["applicationId"] = json!(PRINCIPAL)),
                "applicationId",
            ),
            (
                changed(&|p| p["permissions"][0]["kind"] = json!("gcp_iam_member")),
                "permissions[0] has kind \"gcp_iam_member\"",
            ),
            (
                changed(&|p| p["permissions"][0]["roleDefinitionName"] = json!("Owner")),
                "role \"Owner\" is not one",
            ),
            (
                changed(&|p| {
                    p["permissions"][0]["roleDefinitionId"] = json!(format!(
                        "/providers/Microsoft.Authorization/roleDefinitions/{}",
                        ROLES[0].1
                    ))
                }),
                "is not Key Vault Crypto User's",
            ),
            (
                changed(&|p| p["permissions"][0]["scope"] = json!(format!("{scope}/"))),
                "is not a resource the stand-ins enforce",
            ),
            (
                changed(&|p| {
                    p["permissions"][0]["scope"] =
                        json!("/subscriptions/00000000-0000-0000-0000-0000000000c1")
                }),
                "is not a resource the stand-ins enforce",
            ),
            (
                changed(&|p| {
                    p["permissions"][0]["scope"] =
                        json!(format!("{RG}/Microsoft.KeyVault/vaults/v1v/secrets/k"))
                }),
                "is not a resource the stand-ins enforce",
            ),
            (
                changed(&|p| p["permissions"] = json!({})),
                "permissions is {}",
            ),
            (json!([]), "the policy is not a JSON object"),
        ] {
            let error = refused(&p);
            assert!(error.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn devops_documents_are_entitlements_and_memberships() -> Result<(), PolicyError> {
        let mut p = policy("unused", ACR_PULL, ROLES[0].1);
        p["permissions"] = json!([
            {
                "kind": ENTITLEMENT_KIND,
                "organization": "contoso",
                "principalId": PRINCIPAL,
                "accountLicenseType": "basic",
            },
            {
                "kind": MEMBERSHIP_KIND,
                "organization": "contoso",
                "project": "platform",
                "group": "Readers",
                "principalId": PRINCIPAL,
            },
        ]);
        let mut config = config();
        load_policy(&mut config, &p)?;
        assert!(config.grants.is_empty());
        let access = config.devops_access.clone().unwrap_or_default();
        assert_eq!(
            access.entitlements,
            [DevOpsEntitlement {
                organization: "contoso".into(),
                principal: PRINCIPAL.into(),
            }]
        );
        assert_eq!(
            access.memberships,
            [DevOpsMembership {
                organization: "contoso".into(),
                project: "platform".into(),
                group: "Readers".into(),
                principal: PRINCIPAL.into(),
            }]
        );
        let is = |p: &str| p == PRINCIPAL;
        assert!(access.entitled("Contoso", is));
        assert!(!access.entitled("fabrikam", is));
        assert!(access.reads("contoso", "PLATFORM", is));
        assert!(!access.reads("contoso", "other", is));
        assert!(!access.reads("contoso", "platform", |p| p == "someone-else"));

        for (edit, why) in [
            (
                json!({"accountLicenseType": "stakeholder"}),
                "accountLicenseType \"stakeholder\" does not read code",
            ),
            (json!({"origin": "aad"}), "unknown field \"origin\""),
            (json!({"organization": ""}), "organization is \"\""),
        ] {
            let mut bad = p.clone();
            if let (Some(doc), Some(fields)) =
                (bad["permissions"][0].as_object_mut(), edit.as_object())
            {
                doc.extend(fields.clone());
            }
            let error = refused(&bad);
            assert!(error.contains(why), "{why}: {error}");
        }
        let mut bad = p.clone();
        bad["permissions"][1]["members"] = json!([]);
        assert!(refused(&bad).contains("unknown field \"members\""));
        bad = p.clone();
        bad["permissions"][1]
            .as_object_mut()
            .map(|m| m.remove("project"));
        assert!(refused(&bad).contains("permissions[1] has no project"));
        Ok(())
    }

    #[test]
    fn a_policy_without_documents_loads_only_the_identity() -> Result<(), PolicyError> {
        let mut config = config();
        config.apps.push(EntraApp::new(CLIENT));
        let mut p = policy("unused", ACR_PULL, ROLES[0].1);
        p["trust"] = json!([]);
        p["permissions"] = json!([]);
        load_policy(&mut config, &p)?;
        assert_eq!(config.apps.len(), 1);
        assert_eq!(config.apps[0].object_id, PRINCIPAL);
        assert!(config.apps[0].federated_credentials.is_empty());
        assert!(config.grants.is_empty());
        // Another principal for the same app is a contradiction.
        p["identity"]["principalId"] = json!("bbbbbbbb-0000-4000-8000-000000000002");
        let error = load_policy(&mut config, &p).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("is not its app's object id")));
        Ok(())
    }
}
