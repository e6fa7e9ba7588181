use proptest::prelude::*;

use super::*;
use crate::lookalike::{self, Pattern};
use crate::policy::policy as write;

const SUB: &str = "11111111-2222-3333-4444-555555555555";
const PRINCIPAL: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const CLIENT: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const TENANT: &str = "cccccccc-0000-4000-8000-000000000003";
const ISSUER: &str = "https://westeurope.oic.prod-aks.azure.com/cccccccc/issuer-1/";
const SUBJECT: &str = "system:serviceaccount:flux-system:source-controller";

fn managed() -> AzureIdentity {
    AzureIdentity::Managed {
        identity_name: "flux-identity".into(),
        resource_group: "identities".into(),
    }
}

fn request(purpose: Purpose, resource: &str) -> PolicyRequest {
    PolicyRequest {
        purpose,
        resource: resource.into(),
        service_account: "flux-system/source-controller".into(),
        issuer: Some(ISSUER.into()),
        cloud: CloudOptions::Azure {
            identity: managed(),
            principal_id: PRINCIPAL.into(),
            client_id: CLIENT.into(),
            tenant_id: TENANT.into(),
        },
    }
}

fn arm(rest: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-prod/providers/{rest}")
}

fn registry() -> String {
    arm("Microsoft.ContainerRegistry/registries/fluxregistry")
}
fn container() -> String {
    arm("Microsoft.Storage/storageAccounts/fluxstore/blobServices/default/containers/artifacts")
}
fn key() -> String {
    arm("Microsoft.KeyVault/vaults/flux-vault/keys/sops")
}
fn cluster() -> String {
    arm("Microsoft.ContainerService/managedClusters/prod-1")
}
fn hub() -> String {
    arm("Microsoft.EventHub/namespaces/flux-events/eventhubs/alerts")
}
const REPO: &str = "https://dev.azure.com/contoso/platform/_git/fleet";

/// Each purpose with a resource, the role and the stand-in's name of the scope.
fn purposes() -> Vec<(Purpose, String, Option<Role>)> {
    vec![
        (Purpose::Registry, registry(), Some(ACR_PULL)),
        (Purpose::Bucket, container(), Some(STORAGE_BLOB_DATA_READER)),
        (Purpose::Kms, key(), Some(KEY_VAULT_CRYPTO_USER)),
        (Purpose::Cluster, cluster(), Some(AKS_CLUSTER_USER)),
        (Purpose::Eventhub, hub(), Some(EVENT_HUBS_DATA_SENDER)),
        (Purpose::Git, REPO.into(), None),
    ]
}

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(value) => panic!("accepted: {value:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_purpose_has_the_identity_trust_one_role_on_the_resource_and_annotations() -> Result<()> {
    for (purpose, resource, role) in purposes() {
        let policy = write(&request(purpose, &resource))?;
        assert_eq!(policy.provider, "azure");
        assert_eq!(policy.purpose, purpose);
        assert_eq!(policy.resource, resource);
        assert_eq!(
            policy.identity,
            json!({"clientId": CLIENT, "principalId": PRINCIPAL, "tenantId": TENANT})
        );
        let trust = Value::Object(policy.trust[0].clone().into_iter().collect());
        assert_eq!(
            trust,
            json!({
                "kind": "azure_federated_identity_credential",
                "name": "kubecred-flux-system-source-controller",
                "issuer": ISSUER,
                "subject": SUBJECT,
                "audiences": ["api://AzureADTokenExchange"],
                "identityName": "flux-identity",
                "resourceGroup": "identities",
            }),
            "{purpose:?}"
        );
        assert_eq!(policy.trust.len(), 1);
        assert_eq!(
            policy.annotations,
            BTreeMap::from([
                (
                    "azure.workload.identity/client-id".to_owned(),
                    CLIENT.to_owned()
                ),
                (
                    "azure.workload.identity/tenant-id".to_owned(),
                    TENANT.to_owned()
                ),
            ])
        );
        assert!(policy.commands[0].starts_with(
            "az identity federated-credential create --name kubecred-flux-system-source-controller \
             --identity-name flux-identity --resource-group identities --issuer"
        ));
        match role {
            Some(role) => {
                let permission = Value::Object(policy.permissions[0].clone().into_iter().collect());
                assert_eq!(
                    permission,
                    json!({
                        "kind": "azure_role_assignment",
                        "scope": resource,
                        "roleDefinitionName": role.name,
                        "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", role.id),
                        "principalId": PRINCIPAL,
                    })
                );
                assert_eq!(policy.permissions.len(), 1);
                assert_eq!(
                    policy.commands[1],
                    format!(
                        "az role assignment create --assignee-object-id {PRINCIPAL} \
                         --assignee-principal-type ServicePrincipal --role {} --scope {resource}",
                        role.id
                    )
                );
                let assignment = &policy.terraform["resource"]["azurerm_role_assignment"]["kubecred_flux-system_source-controller"];
                assert_eq!(assignment["scope"], resource.as_str());
                assert_eq!(
                    assignment["role_definition_id"],
                    format!(
                        "/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{}",
                        role.id
                    )
                );
                assert_eq!(assignment["principal_id"], PRINCIPAL);
                assert_eq!(assignment["principal_type"], "ServicePrincipal");
            }
            None => {
                let permissions: Vec<Value> = policy
                    .permissions
                    .iter()
                    .map(|d| Value::Object(d.clone().into_iter().collect()))
                    .collect();
                assert_eq!(
                    permissions,
                    [
                        json!({
                            "kind": "azuredevops_service_principal_entitlement",
                            "organization": "contoso",
                            "principalId": PRINCIPAL,
                            "accountLicenseType": "basic",
                        }),
                        json!({
                            "kind": "azuredevops_group_membership",
                            "organization": "contoso",
                            "project": "platform",
                            "group": "Readers",
                            "principalId": PRINCIPAL,
                        }),
                    ]
                );
                assert!(
                    policy
                        .notes
                        .iter()
                        .any(|n| n.contains("organization contoso")
                            && n.contains(PRINCIPAL)
                            && n.contains("project platform's Readers group")
                            && n.contains("Basic")),
                    "{:?}",
                    policy.notes
                );
                assert!(
                    policy.terraform["resource"]
                        .get("azurerm_role_assignment")
                        .is_none()
                );
            }
        }
        let json = policy.json();
        assert_eq!(json["for"], purpose.name());
        assert_eq!(json["serviceAccount"], "flux-system/source-controller");
        assert!(json.get("terraform").is_none());
    }
    Ok(())
}

#[test]
fn terraform_for_a_managed_identity_reads_it_and_trusts_the_issuer() -> Result<()> {
    let policy = write(&request(Purpose::Kms, &key()))?;
    let label = "kubecred_flux-system_source-controller";
    let tf = &policy.terraform;
    assert_eq!(
        tf["terraform"]["required_providers"]["azurerm"]["source"],
        "hashicorp/azurerm"
    );
    assert_eq!(tf["provider"]["azurerm"]["features"], json!({}));
    assert_eq!(
        tf["data"]["azurerm_user_assigned_identity"][label],
        json!({"name": "flux-identity", "resource_group_name": "identities"})
    );
    assert_eq!(
        tf["resource"]["azurerm_federated_identity_credential"][label],
        json!({
            "name": "kubecred-flux-system-source-controller",
            "resource_group_name": "identities",
            "parent_id": format!("${{data.azurerm_user_assigned_identity.{label}.id}}"),
            "audience": ["api://AzureADTokenExchange"],
            "issuer": ISSUER,
            "subject": SUBJECT,
        })
    );
    assert!(policy.terraform_text().starts_with('{'));
    Ok(())
}

#[test]
fn an_app_registration_gets_its_credential_by_application_id() -> Result<()> {
    let mut req = request(Purpose::Registry, &registry());
    req.cloud = CloudOptions::Azure {
        identity: AzureIdentity::App {
            app_id: CLIENT.into(),
        },
        principal_id: PRINCIPAL.into(),
        client_id: CLIENT.into(),
        tenant_id: TENANT.into(),
    };
    let policy = write(&req)?;
    assert_eq!(policy.trust[0]["applicationId"], CLIENT);
    assert!(!policy.trust[0].contains_key("identityName"));
    assert!(
        policy.commands[0].starts_with(&format!(
            "az ad app federated-credential create --id {CLIENT} --parameters "
        )),
        "{}",
        policy.commands[0]
    );
    let label = "kubecred_flux-system_source-controller";
    let tf = &policy.terraform;
    assert_eq!(
        tf["data"]["azuread_application"][label],
        json!({"client_id": CLIENT})
    );
    let credential = &tf["resource"]["azuread_application_federated_identity_credential"][label];
    assert_eq!(
        credential["application_id"],
        format!("${{data.azuread_application.{label}.id}}")
    );
    assert_eq!(credential["subject"], SUBJECT);
    assert_eq!(
        tf["terraform"]["required_providers"]["azuread"]["source"],
        "hashicorp/azuread"
    );

    // An app's client ID is its application ID.
    req.cloud = CloudOptions::Azure {
        identity: AzureIdentity::App {
            app_id: PRINCIPAL.into(),
        },
        principal_id: PRINCIPAL.into(),
        client_id: CLIENT.into(),
        tenant_id: TENANT.into(),
    };
    let error = message(write(&req));
    assert!(error.contains("is not application ID"), "{error}");
    Ok(())
}

#[test]
fn pubsub_and_sqs_are_other_clouds() {
    for (purpose, cloud) in [(Purpose::Pubsub, "GCP"), (Purpose::Sqs, "AWS")] {
        let error = message(write(&request(purpose, "projects/p/topics/t")));
        assert!(
            error.starts_with(&format!("azure has no '{}' integration", purpose.name()))
                && error.contains(cloud),
            "{error}"
        );
    }
}

#[test]
fn identities_and_the_issuer_are_checked_and_named() {
    let with = |principal: &str, client: &str, tenant: &str| {
        let mut req = request(Purpose::Kms, &key());
        req.cloud = CloudOptions::Azure {
            identity: managed(),
            principal_id: principal.into(),
            client_id: client.into(),
            tenant_id: tenant.into(),
        };
        req
    };
    for (req, field) in [
        (with("x", CLIENT, TENANT), "principal ID 'x'"),
        (
            with(PRINCIPAL, &format!("{CLIENT}\n"), TENANT),
            "client ID 'bbbbbbbb",
        ),
        (with(PRINCIPAL, CLIENT, "common"), "tenant ID 'common'"),
        (with(PRINCIPAL, CLIENT, &format!(" {TENANT}")), "tenant ID"),
    ] {
        let error = message(write(&req));
        assert!(
            error.contains(field) && error.contains("a GUID") && !error.contains('\n'),
            "{error}"
        );
    }
    let mut req = request(Purpose::Kms, &key());
    req.issuer = None;
    assert!(message(write(&req)).starts_with("issuer is required"));
    req.issuer = Some("http://issuer.example".into());
    assert!(message(write(&req)).contains("https"));
    let mut req = request(Purpose::Kms, &key());
    req.service_account = "flux-system/Source".into();
    assert!(message(write(&req)).contains("service account name"));
    let mut req = request(Purpose::Kms, &key());
    req.cloud = CloudOptions::Azure {
        identity: AzureIdentity::Managed {
            identity_name: "id; rm -rf /".into(),
            resource_group: "rg".into(),
        },
        principal_id: PRINCIPAL.into(),
        client_id: CLIENT.into(),
        tenant_id: TENANT.into(),
    };
    assert!(message(write(&req)).contains("managed identity name"));
}

#[test]
fn ids_are_read_case_insensitively_and_written_as_arm_spells_them() -> Result<()> {
    let given = format!(
        "/SUBSCRIPTIONS/{}/resourcegroups/My_Group(1)/providers/microsoft.storage/STORAGEACCOUNTS/fluxstore/blobservices/DEFAULT/containers/$web",
        SUB.to_uppercase()
    );
    let policy = write(&request(Purpose::Bucket, &given))?;
    assert_eq!(policy.resource, given);
    assert_eq!(
        policy.permissions[0]["scope"],
        format!(
            "/subscriptions/{SUB}/resourceGroups/My_Group(1)/providers/Microsoft.Storage/storageAccounts/fluxstore/blobServices/default/containers/$web"
        )
    );
    let argv = shlex::split(&policy.commands[1]).unwrap_or_default();
    assert_eq!(
        argv.last(),
        Some(
            &policy.permissions[0]["scope"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        )
    );
    // Names keep their case (ARM compares them case-insensitively).
    let vault = arm("Microsoft.KeyVault/vaults/Flux-Vault/keys/SOPS");
    assert_eq!(
        write(&request(Purpose::Kms, &vault))?.permissions[0]["scope"],
        vault
    );
    Ok(())
}

/// Tricks any resource id must refuse.
fn tricks(valid: &str) -> Vec<(String, &'static str)> {
    let last_slash = valid.rfind('/').unwrap_or(0);
    let mut fullwidth = valid.to_owned();
    fullwidth.replace_range(last_slash..=last_slash, "\u{ff0f}");
    vec![
        (format!("{valid}/"), "trailing slash"),
        (format!("{valid}//"), "two trailing slashes"),
        (format!("{valid}/extra"), "an extra segment"),
        (format!("{valid}/x/y"), "two extra segments"),
        (format!("{valid}/.."), "a parent segment after"),
        (format!("/{valid}"), "a leading empty segment"),
        (valid[1..].to_owned(), "no leading slash"),
        (
            valid.replacen("/resourceGroups/rg-prod", "/resourceGroups/..", 1),
            "group '..'",
        ),
        (
            valid.replacen("/rg-prod/", "/rg-prod/../rg-prod/", 1),
            "a '..' segment inside",
        ),
        (
            valid.replacen("/providers/", "/providers//", 1),
            "an empty segment",
        ),
        (format!(" {valid}"), "leading space"),
        (format!("{valid} "), "trailing space"),
        (format!("{valid}\n"), "trailing newline"),
        (valid.replacen("rg-prod", "rg prod", 1), "a space in a name"),
        (valid.replacen("rg-prod", "rg\tprod", 1), "a tab in a name"),
        (format!("{valid}\0"), "NUL"),
        (valid.replacen("rg-prod", "rg-pr\0od", 1), "NUL in a name"),
        (format!("{valid}?api-version=2023-01-01"), "a query"),
        (format!("{valid}#x"), "a fragment"),
        (format!("{valid}%2F.."), "an escaped slash"),
        (
            valid.replacen("rg-prod", "rg%2Dprod", 1),
            "an escaped character",
        ),
        (format!("https://management.azure.com{valid}"), "a URL"),
        (valid.replace('/', "\\"), "backslashes"),
        (fullwidth, "a fullwidth solidus"),
        (
            valid.replacen("rg-prod", "rg-pr\u{43e}d", 1),
            "a homoglyph in the group",
        ),
        (
            valid.replacen("Microsoft.", "Microsoft\u{2024}", 1),
            "a one-dot leader",
        ),
        (
            valid.replacen("Microsoft.", "Microsoft.Evil", 1),
            "another provider",
        ),
        (
            valid.replacen("/providers/Microsoft.", "/providers/Evil.", 1),
            "another namespace",
        ),
        (
            valid.replacen("Microsoft.", "Microsoft.Compute/x/Microsoft.", 1),
            "a provider inserted",
        ),
        (
            valid.replacen(SUB, &"x".repeat(36), 1),
            "36 characters as a subscription",
        ),
        (valid.replacen(SUB, &SUB[1..], 1), "a short subscription"),
        (valid.replacen(SUB, "{subscriptionId}", 1), "a placeholder"),
        (
            valid.replacen("/subscriptions/", "/subscription/", 1),
            "a misspelt word",
        ),
        (
            valid.replacen("resourceGroups", "resource\u{200b}Groups", 1),
            "a zero-width space",
        ),
        (
            valid.replacen("rg-prod", &"g".repeat(91), 1),
            "a 91-character group",
        ),
        (valid.replacen("rg-prod", "rg.", 1), "a group ending in '.'"),
        (
            valid.replacen("rg-prod", "r\u{e9}g", 1),
            "a non-ASCII group",
        ),
        (String::new(), "empty"),
        ("/".into(), "a slash"),
    ]
}

#[test]
fn resource_ids_refuse_look_alikes() {
    for (purpose, valid, role) in purposes() {
        if role.is_none() {
            continue;
        }
        assert!(
            grant(purpose, &valid).is_ok(),
            "{purpose:?} {valid} is refused"
        );
        for (id, trick) in tricks(&valid) {
            let error = message(grant(purpose, &id));
            assert!(
                error.starts_with("resource ")
                    && error.contains("expected /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.")
                    && !error.contains('\n')
                    && !error.contains('\0'),
                "{purpose:?}, {trick}: {error}"
            );
        }
        // Each purpose's shape is its own.
        for (other, other_valid, other_role) in purposes() {
            if other != purpose && other_role.is_some() {
                assert!(
                    grant(purpose, &other_valid).is_err(),
                    "{purpose:?} took {other_valid}"
                );
            }
        }
    }
}

#[test]
fn names_follow_azures_rules() {
    for (purpose, id, why) in [
        (
            Purpose::Registry,
            arm("Microsoft.ContainerRegistry/registries/flux-registry"),
            "registry name",
        ),
        (
            Purpose::Registry,
            arm("Microsoft.ContainerRegistry/registries/abcd"),
            "registry name",
        ),
        (
            Purpose::Registry,
            arm("Microsoft.ContainerRegistry/registries/fluxregistry.azurecr.io"),
            "registry name",
        ),
        (
            Purpose::Registry,
            arm("Microsoft.ContainerRegistry/registry/fluxregistry"),
            "'registries'",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/FluxStore/blobServices/default/containers/c1c"),
            "storage account name",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/flux-store/blobServices/default/containers/c1c"),
            "storage account name",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/fluxstore/blobServices/default/containers/a--b"),
            "container name",
        ),
        (
            Purpose::Bucket,
            arm(
                "Microsoft.Storage/storageAccounts/fluxstore/blobServices/default/containers/Artifacts",
            ),
            "container name",
        ),
        (
            Purpose::Bucket,
            arm(
                "Microsoft.Storage/storageAccounts/fluxstore/blobServices/default/containers/$other",
            ),
            "container name",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/fluxstore/blobServices/other/containers/c1c"),
            "'default'",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/fluxstore/fileServices/default/containers/c1c"),
            "'blobServices'",
        ),
        (
            Purpose::Bucket,
            arm("Microsoft.Storage/storageAccounts/fluxstore"),
            "segments",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/flux--vault/keys/sops"),
            "vault name",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/1vault/keys/sops"),
            "vault name",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/flux-vault/keys/sops_1"),
            "key name",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/flux-vault/secrets/sops"),
            "'keys'",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/flux-vault/keys/sops/0123abcd"),
            "segments",
        ),
        (
            Purpose::Kms,
            arm("Microsoft.KeyVault/vaults/flux-vault"),
            "segments",
        ),
        (
            Purpose::Cluster,
            arm("Microsoft.ContainerService/managedClusters/-prod"),
            "cluster name",
        ),
        (
            Purpose::Cluster,
            arm("Microsoft.ContainerService/managedClusters/prod_"),
            "cluster name",
        ),
        (
            Purpose::Cluster,
            arm(&format!(
                "Microsoft.ContainerService/managedClusters/{}",
                "c".repeat(64)
            )),
            "cluster name",
        ),
        (
            Purpose::Eventhub,
            arm("Microsoft.EventHub/namespaces/flux-events-sb/eventhubs/alerts"),
            "Event Hubs namespace",
        ),
        (
            Purpose::Eventhub,
            arm("Microsoft.EventHub/namespaces/short/eventhubs/alerts"),
            "Event Hubs namespace",
        ),
        (
            Purpose::Eventhub,
            arm("Microsoft.EventHub/namespaces/flux-events/eventhubs/.alerts"),
            "event hub name",
        ),
        (
            Purpose::Eventhub,
            arm("Microsoft.EventHub/namespaces/flux-events/eventhubs/alerts/consumergroups/x"),
            "segments",
        ),
        (
            Purpose::Eventhub,
            arm("Microsoft.EventHub/namespaces/flux-events"),
            "segments",
        ),
    ] {
        let error = message(grant(purpose, &id));
        assert!(error.contains(why), "{id}: {error}");
    }
}

#[test]
fn devops_repositories_are_dev_azure_com_urls() {
    for (url, org, project, repo) in [
        (REPO, "contoso", "platform", "fleet"),
        (
            "https://DEV.AZURE.COM/contoso/platform/_git/fleet",
            "contoso",
            "platform",
            "fleet",
        ),
        (
            "https://dev.azure.com:443/a/p.1_x/_git/r-2.git",
            "a",
            "p.1_x",
            "r-2.git",
        ),
    ] {
        assert_eq!(
            devops_repository(url).ok(),
            Some(DevOpsRepository {
                organization: org.into(),
                project: project.into(),
                repository: repo.into()
            }),
            "{url}"
        );
    }
    for (url, why) in [
        ("http://dev.azure.com/o/p/_git/r", "https://"),
        ("HTTPS://dev.azure.com/o/p/_git/r", "https://"),
        (
            "https://dev.azure.com.evil.com/o/p/_git/r",
            "not dev.azure.com",
        ),
        (
            "https://evil.com/dev.azure.com/o/p/_git/r",
            "not dev.azure.com",
        ),
        (
            "https://evil.com#@dev.azure.com/o/p/_git/r",
            "not dev.azure.com",
        ),
        ("https://user@dev.azure.com/o/p/_git/r", "not dev.azure.com"),
        ("https://dev.azure.com:8443/o/p/_git/r", "not dev.azure.com"),
        (
            "https://contoso.visualstudio.com/p/_git/r",
            "not dev.azure.com",
        ),
        ("https://ssh.dev.azure.com/v3/o/p/r", "not dev.azure.com"),
        ("https://dev.azure.com/o/p/_git/r/", "the path"),
        ("https://dev.azure.com/o/p/_git/r?path=/x", "the path"),
        ("https://dev.azure.com/o/p/_git/r?x", "repository"),
        ("https://dev.azure.com/o/p/_git/r#x", "repository"),
        ("https://dev.azure.com/o/p/r", "the path"),
        ("https://dev.azure.com/o/p/_GIT/r", "the path"),
        ("https://dev.azure.com//o/p/_git/r", "the path"),
        ("https://dev.azure.com/o/../_git/r", "project"),
        ("https://dev.azure.com/o/p/_git/..", "repository"),
        ("https://dev.azure.com/o/p/_git/.r", "repository"),
        ("https://dev.azure.com/o/p/_git/r.", "repository"),
        ("https://dev.azure.com/o/_p/_git/r", "project"),
        ("https://dev.azure.com/o/my%20project/_git/r", "project"),
        ("https://dev.azure.com/o/my project/_git/r", "project"),
        ("https://dev.azure.com/-o/p/_git/r", "organization"),
        ("https://dev.azure.com/o\u{430}/p/_git/r", "organization"),
        ("https://dev.azure.com/o/p/_git/r\0", "repository"),
        ("https://dev.azure.com/o/p/_git/r\n", "repository"),
        (" https://dev.azure.com/o/p/_git/r", "https://"),
        ("https://dev.azure.com", "the path"),
        ("", "https://"),
    ] {
        let error = message(devops_repository(url));
        assert!(
            error.contains(why)
                && error.contains("expected https://dev.azure.com/")
                && !error.contains('\n'),
            "{url:?}: {error}"
        );
    }
    let long = format!("https://dev.azure.com/o/{}/_git/r", "p".repeat(65));
    assert!(message(devops_repository(&long)).contains("project"));
}

fn devops_host(host: &str) -> Option<String> {
    devops_repository(&format!("https://{host}/o/p/_git/r"))
        .ok()
        .map(|r| r.organization)
}

const DEVOPS: Pattern = Pattern {
    name: "policy's Azure DevOps repositories",
    valid: &["dev.azure.com"],
    accept: devops_host,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: false,
};

#[test]
fn the_devops_host_refuses_every_trick() {
    lookalike::assert_tricks_refused(&DEVOPS);
}

/// A valid name of each rule, or anything (to reach the refusals).
fn group_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[A-Za-z0-9_().-]{0,20}[A-Za-z0-9_()-]", 1 => "\\PC{0,12}"]
}

fn shaped(purpose: Purpose) -> BoxedStrategy<String> {
    let any = "\\PC{0,12}";
    let prefix = (
        prop_oneof![2 => Just(SUB.to_owned()), 2 => Just(SUB.to_uppercase()), 1 => any.prop_map(|s| s)],
        group_name(),
        prop_oneof![2 => Just("resourceGroups"), 2 => Just("resourcegroups"), 1 => Just("resource-groups")],
    )
        .prop_map(|(sub, group, word)| format!("/subscriptions/{sub}/{word}/{group}/providers"));
    let tail: BoxedStrategy<String> = match purpose {
        Purpose::Registry => prop_oneof![4 => "[A-Za-z0-9]{5,12}", 1 => any]
            .prop_map(|r| format!("Microsoft.ContainerRegistry/registries/{r}"))
            .boxed(),
        Purpose::Bucket => (prop_oneof![4 => "[a-z0-9]{3,10}", 1 => any], prop_oneof![4 => "[a-z0-9]{1}[a-z0-9-]{1,8}[a-z0-9]", 1 => "\\$(root|web|logs)", 1 => any])
            .prop_map(|(a, c)| format!("microsoft.storage/storageAccounts/{a}/blobServices/default/containers/{c}"))
            .boxed(),
        Purpose::Kms => (prop_oneof![4 => "[A-Za-z][A-Za-z0-9-]{1,8}[A-Za-z0-9]", 1 => any], prop_oneof![4 => "[A-Za-z0-9-]{1,10}", 1 => any])
            .prop_map(|(v, k)| format!("Microsoft.KeyVault/vaults/{v}/keys/{k}"))
            .boxed(),
        Purpose::Cluster => prop_oneof![4 => "[A-Za-z0-9]([A-Za-z0-9_-]{0,8}[A-Za-z0-9])?", 1 => any]
            .prop_map(|c| format!("Microsoft.ContainerService/managedClusters/{c}"))
            .boxed(),
        _ => (prop_oneof![4 => "[A-Za-z][A-Za-z0-9-]{4,10}[A-Za-z0-9]", 1 => any], prop_oneof![4 => "[A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?", 1 => any])
            .prop_map(|(n, h)| format!("Microsoft.EventHub/namespaces/{n}/eventhubs/{h}"))
            .boxed(),
    };
    (
        prefix,
        tail,
        prop_oneof![6 => Just(""), 1 => Just("/"), 1 => Just("/x")],
    )
        .prop_map(|(prefix, tail, end)| format!("{prefix}/{tail}{end}"))
        .boxed()
}

fn arm_purpose() -> impl Strategy<Value = Purpose> {
    prop_oneof![
        Just(Purpose::Registry),
        Just(Purpose::Bucket),
        Just(Purpose::Kms),
        Just(Purpose::Cluster),
        Just(Purpose::Eventhub),
    ]
}

proptest! {
    #[test]
    fn any_text_is_refused_or_taken_without_panicking(purpose in arm_purpose(), text in "\\PC{0,300}") {
        let _ = grant(purpose, &text);
        let _ = devops_repository(&text);
        let _ = devops_repository(&format!("https://dev.azure.com/{text}"));
    }

    /// What is taken is plain ASCII, round-trips (the scope reads back as itself, equal to the
    /// input but for case) and is the scope of the document, the command and the Terraform.
    #[test]
    fn taken_ids_round_trip_into_the_documents(
        (purpose, id) in arm_purpose().prop_flat_map(|p| (Just(p), shaped(p)))
    ) {
        if let Ok(Grant::Role(assignment)) = grant(purpose, &id) {
            prop_assert!(assignment.scope.eq_ignore_ascii_case(&id), "{} {}", assignment.scope, id);
            prop_assert!(assignment.scope.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert!(!assignment.scope.split('/').skip(1).any(|s| s.is_empty() || s == "." || s == ".."));
            let again = grant(purpose, &assignment.scope);
            prop_assert_eq!(again.ok(), Some(Grant::Role(assignment.clone())));
            let policy = write(&request(purpose, &id)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&policy.permissions[0]["scope"], &json!(assignment.scope));
            let argv = shlex::split(&policy.commands[1]).unwrap_or_default();
            prop_assert_eq!(argv.last(), Some(&assignment.scope));
            let tf = &policy.terraform["resource"]["azurerm_role_assignment"]["kubecred_flux-system_source-controller"]["scope"];
            prop_assert_eq!(tf, &json!(assignment.scope));
        }
    }

    #[test]
    fn taken_repositories_round_trip(
        org in prop_oneof!["[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", "\\PC{0,8}"],
        project in prop_oneof!["[A-Za-z0-9-]([A-Za-z0-9._-]{0,6}[A-Za-z0-9_-])?", "\\PC{0,8}"],
        repo in prop_oneof!["[A-Za-z0-9-]([A-Za-z0-9._-]{0,6}[A-Za-z0-9_-])?", "\\PC{0,8}"],
    ) {
        let url = format!("https://dev.azure.com/{org}/{project}/_git/{repo}");
        if let Ok(taken) = devops_repository(&url) {
            prop_assert_eq!(&taken.organization, &org);
            prop_assert_eq!(&taken.project, &project);
            prop_assert_eq!(&taken.repository, &repo);
            let policy = write(&request(Purpose::Git, &url)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&policy.resource, &url);
            prop_assert_eq!(policy.permissions.len(), 2);
            prop_assert_eq!(&policy.permissions[0]["organization"], &json!(org));
            prop_assert_eq!(&policy.permissions[1]["project"], &json!(project));
            let organization = format!("organization {org} ");
            prop_assert!(policy.notes.iter().any(|n| n.contains(&organization)));
        }
    }

    #[test]
    fn the_devops_host_takes_no_extra_label(index in 0usize..1, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&DEVOPS, index, &label).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn devops_commands_carry_the_entitlement_as_a_rest_call_and_look_up_readers() -> Result<()> {
    let policy = write(&request(Purpose::Git, REPO))?;
    // The federated credential, the entitlement's REST call (a comment: no az devops command
    // adds a service principal), the Readers look-up, the membership (a comment: it needs the
    // descriptors the two before answer).
    assert_eq!(policy.commands.len(), 4, "{:?}", policy.commands);
    assert!(policy.commands[0].starts_with("az identity federated-credential create"));
    let entitlement = &policy.commands[1];
    assert!(entitlement.starts_with("# no az devops command adds a service principal"));
    assert!(entitlement.contains(
        "POST https://vsaex.dev.azure.com/contoso/_apis/serviceprincipalentitlements?api-version=7.1 "
    ));
    let body: Value = serde_json::from_str(entitlement.split("7.1 ").nth(1).unwrap_or_default())
        .map_err(|e| Error::invalid(e.to_string()))?;
    assert_eq!(
        body,
        json!({
            "accessLevel": {"accountLicenseType": "express"},
            "servicePrincipal": {"origin": "aad", "originId": PRINCIPAL, "subjectKind": "servicePrincipal"},
        })
    );
    assert_eq!(
        shlex::split(&policy.commands[2]).unwrap_or_default(),
        [
            "az",
            "devops",
            "security",
            "group",
            "list",
            "--organization",
            "https://dev.azure.com/contoso",
            "--project",
            "platform",
            "--query",
            "graphGroups[?displayName=='Readers'].descriptor",
            "-o",
            "tsv",
        ]
    );
    assert!(policy.commands[3].starts_with(
        "# then: az devops security group membership add --organization https://dev.azure.com/contoso --group-id"
    ));
    assert!(
        policy
            .notes
            .iter()
            .any(|n| n.contains("no az devops command")),
        "{:?}",
        policy.notes
    );
    Ok(())
}

#[test]
fn devops_terraform_entitles_the_principal_and_adds_it_to_readers() -> Result<()> {
    let policy = write(&request(Purpose::Git, REPO))?;
    let label = "kubecred_flux-system_source-controller";
    let tf = &policy.terraform;
    assert_eq!(
        tf["terraform"]["required_providers"]["azuredevops"],
        json!({"source": "microsoft/azuredevops", "version": "~> 1.0"})
    );
    assert_eq!(
        tf["provider"]["azuredevops"],
        json!({"org_service_url": "https://dev.azure.com/contoso"})
    );
    // The managed identity's credential still needs azurerm.
    assert_eq!(tf["provider"]["azurerm"]["features"], json!({}));
    assert_eq!(
        tf["resource"]["azuredevops_service_principal_entitlement"][label],
        json!({"origin": "aad", "origin_id": PRINCIPAL, "account_license_type": "basic"})
    );
    assert_eq!(
        tf["data"]["azuredevops_project"][label],
        json!({"name": "platform"})
    );
    assert_eq!(
        tf["data"]["azuredevops_group"][label],
        json!({
            "project_id": format!("${{data.azuredevops_project.{label}.id}}"),
            "name": "Readers",
        })
    );
    assert_eq!(
        tf["resource"]["azuredevops_group_membership"][label],
        json!({
            "group": format!("${{data.azuredevops_group.{label}.descriptor}}"),
            "members": [format!("${{azuredevops_service_principal_entitlement.{label}.descriptor}}")],
            "mode": "add",
        })
    );
    // Other purposes write no Azure DevOps provider.
    let other = write(&request(Purpose::Kms, &key()))?;
    assert!(other.terraform["provider"].get("azuredevops").is_none());
    assert!(
        other.terraform["terraform"]["required_providers"]
            .get("azuredevops")
            .is_none()
    );
    Ok(())
}

#[test]
fn terraform_strings_are_literals() -> Result<()> {
    let mut req = request(Purpose::Cluster, &cluster());
    req.issuer = Some("https://issuer.example/${path}/%{x}".into());
    let policy = write(&req)?;
    let credential = &policy.terraform["resource"]["azurerm_federated_identity_credential"]["kubecred_flux-system_source-controller"];
    assert_eq!(
        credential["issuer"],
        "https://issuer.example/$${path}/%%{x}"
    );
    // The documents and commands carry the issuer as it is.
    assert_eq!(
        policy.trust[0]["issuer"],
        "https://issuer.example/${path}/%{x}"
    );
    let argv = shlex::split(&policy.commands[0]).unwrap_or_default();
    assert!(
        argv.iter()
            .any(|a| a == "https://issuer.example/${path}/%{x}"),
        "{argv:?}"
    );
    Ok(())
}
