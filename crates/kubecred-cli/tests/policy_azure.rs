//! `kubecred policy`'s Azure documents, enforced by the stand-ins: for each purpose they can
//! check, the policy [`kubecred::policy::policy`] writes for team-a/app (the sandbox's issuer,
//! app [`APP`] as a managed identity) is loaded into them with `load_policy`, in place of the
//! apps and grants the sandbox's annotations give, and the matching call succeeds: `kubecred
//! check` of the Blob container (Azurite behind the Blob stand-in), the Key Vault key and the
//! event hub, `registry login` to ACR and `cluster kubeconfig` of the AKS cluster (ARM's read
//! and credential listing). With the permission document removed, with the trust document
//! removed, or with one trust condition (subject, issuer, audience) changed, the call fails; a
//! trust document missing a condition is not loaded at all.
//!
//! Azure DevOps git (`--for git`): real `git ls-remote` with kubecred as its credential helper
//! reads the DevOps stand-in's repository with the whole policy; without the federated
//! credential, the service principal entitlement or the Readers membership it is refused, and
//! `kubecred explain --git URL` names the piece left out (distinct causes).

mod support;

use std::process::Output;

use kubecred::issuer::AzureIdentity;
use kubecred::policy::{CloudOptions, PolicyRequest, Purpose};
use kubecred_sandbox::azure::{
    AZURITE_ACCOUNT, AzureConfig, RoleGrant, STORAGE_BLOB_DATA_READER, load_policy,
};
use serde_json::{Value, json};

use support::azure::{APP, AzureWorld, TENANT, azure_world, manifests};
use support::sandbox_azure::{
    ACR_REGISTRIES, AKS_CLUSTER, AZURE_RESOURCE_GROUP, AZURE_SUBSCRIPTION_ID, DEVOPS_REPOSITORY,
    aks_cluster_id,
};
use support::{BoxError, TestResult, stderr, stdout};

/// The object id of [`APP`]'s service principal, as the policy names it.
const PRINCIPAL: &str = "00000000-0000-4000-8000-0000000000e1";
const ACCOUNT: [&str; 4] = ["-n", "team-a", "--service-account", "app"];
const CONTAINER: &str = "flux-artifacts";
const VAULT: &str = "kubecred-sandbox";
const NAMESPACE: &str = "kubecred-sandbox";

/// `…/providers/{rest}` in the sandbox's subscription and group.
fn arm(rest: &str) -> String {
    format!(
        "/subscriptions/{AZURE_SUBSCRIPTION_ID}/resourceGroups/{AZURE_RESOURCE_GROUP}/providers/{rest}"
    )
}

/// The resource id of `purpose`'s resource, as a person gives it to `kubecred policy`.
fn resource(purpose: Purpose) -> String {
    match purpose {
        Purpose::Registry => {
            let name = ACR_REGISTRIES[0].split('.').next().unwrap_or_default();
            arm(&format!("Microsoft.ContainerRegistry/registries/{name}"))
        }
        Purpose::Bucket => arm(&format!(
            "Microsoft.Storage/storageAccounts/{AZURITE_ACCOUNT}/blobServices/default/containers/{CONTAINER}"
        )),
        Purpose::Kms => arm(&format!("Microsoft.KeyVault/vaults/{VAULT}/keys/sops")),
        Purpose::Cluster => aks_cluster_id(AKS_CLUSTER),
        Purpose::Git => {
            let [org, project, repo] = DEVOPS_REPOSITORY;
            format!("https://dev.azure.com/{org}/{project}/_git/{repo}")
        }
        _ => arm(&format!(
            "Microsoft.EventHub/namespaces/{NAMESPACE}/eventhubs/flux-events"
        )),
    }
}

/// The policy for team-a/app and `purpose`, trusting `issuer`, as JSON.
fn written(purpose: Purpose, issuer: &str) -> Result<Value, BoxError> {
    let policy = kubecred::policy::policy(&PolicyRequest {
        purpose,
        resource: resource(purpose),
        service_account: "team-a/app".into(),
        issuer: Some(issuer.into()),
        cloud: CloudOptions::Azure {
            identity: AzureIdentity::Managed {
                identity_name: "team-a-app".into(),
                resource_group: AZURE_RESOURCE_GROUP.into(),
            },
            principal_id: PRINCIPAL.into(),
            client_id: APP.into(),
            tenant_id: TENANT.into(),
        },
    })?;
    Ok(policy.json())
}

/// A world whose stand-ins enforce `purpose`'s policy after `edit`: no other app or grant
/// (but a grant of the container to another principal, so that Azurite holds it and a refusal
/// is the Blob stand-in's).
async fn world(purpose: Purpose, edit: impl FnOnce(&mut Value)) -> Result<AzureWorld, BoxError> {
    let mut loaded: Result<(), String> = Err("the configuration was not adjusted".into());
    let w = azure_world(&manifests(""), 0, |config: &mut AzureConfig| {
        loaded = (|| {
            let issuer = config
                .issuers
                .first()
                .map(|v| v.issuer().to_owned())
                .ok_or("no issuer")?;
            let mut policy = written(purpose, &issuer).map_err(|e| e.to_string())?;
            edit(&mut policy);
            config.apps.clear();
            config.grants = vec![RoleGrant::new(
                format!("azblob://{AZURITE_ACCOUNT}/{CONTAINER}"),
                STORAGE_BLOB_DATA_READER,
                "someone-else",
            )];
            load_policy(config, &policy).map_err(|e| e.to_string())
        })();
    })
    .await?;
    loaded?;
    Ok(w)
}

/// The call that needs `purpose`'s permission.
fn call(w: &AzureWorld, purpose: Purpose) -> std::io::Result<Output> {
    let check = |target: String| w.kubecred(&[], &[&["check", &target][..], &ACCOUNT].concat());
    match purpose {
        Purpose::Registry => w.kubecred(
            &[],
            &[&["registry", "login", ACR_REGISTRIES[0]][..], &ACCOUNT].concat(),
        ),
        Purpose::Bucket => check(format!("azblob://{AZURITE_ACCOUNT}/{CONTAINER}")),
        Purpose::Kms => check(format!("azkv://{VAULT}/keys/sops")),
        Purpose::Cluster => {
            let cluster = aks_cluster_id(AKS_CLUSTER);
            let args = [
                "cluster",
                "kubeconfig",
                "--provider",
                "azure",
                "--cluster",
                &cluster,
            ];
            w.kubecred(&[], &[&args[..], &ACCOUNT].concat())
        }
        _ => check(format!("eventhub://{NAMESPACE}/flux-events")),
    }
}

/// What the stand-in counts a successful call as.
fn counted(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Registry => "acr.exchange",
        Purpose::Bucket => "blob.request",
        Purpose::Kms => "keyvault.keys.get",
        Purpose::Cluster => "arm.listClusterUserCredential",
        _ => "eventhubs.send",
    }
}

fn azurite_missing(w: &AzureWorld, purpose: Purpose) -> bool {
    let missing = purpose == Purpose::Bucket && w.azure.azurite().is_none();
    if missing {
        let hint = "npm ci --prefix conformance/azure";
        kubecred_sandbox::peers::missing("azurite", hint, &"it did not start");
    }
    missing
}

#[track_caller]
fn refused(what: &str, output: &Output, parts: &[&str]) {
    let message = stderr(output);
    assert!(
        !output.status.success(),
        "{what}: succeeded: {}",
        stdout(output)
    );
    assert!(
        parts.iter().any(|part| message.contains(part)),
        "{what}: none of {parts:?} in: {message}"
    );
}

/// A change to a policy, named.
type Edit = Box<dyn Fn(&mut Value)>;

/// Removes `array[index]` of `policy`.
fn without(policy: &mut Value, array: &str, index: usize) {
    if let Some(items) = policy[array].as_array_mut() {
        items.remove(index);
    }
}

/// The policy allows the call, and each part of it is needed.
async fn enforced(purpose: Purpose) -> TestResult {
    let w = world(purpose, |_| {}).await?;
    if azurite_missing(&w, purpose) {
        return Ok(());
    }
    let output = call(&w, purpose)?;
    assert!(output.status.success(), "{purpose:?}: {}", stderr(&output));
    assert_eq!(w.azure.calls(counted(purpose)), 1, "{purpose:?}");

    // What the policy holds, and that its annotations are the ones kubecred read.
    let policy = written(purpose, "https://issuer.example")?;
    let permissions = policy["permissions"].as_array().map_or(0, Vec::len);
    let trust = policy["trust"].as_array().map_or(0, Vec::len);
    assert_eq!((permissions, trust), (1, 1), "{policy}");
    assert_eq!(
        policy["annotations"],
        json!({
            "azure.workload.identity/client-id": APP,
            "azure.workload.identity/tenant-id": TENANT,
        })
    );

    // The role (denied by the resource's stand-in).
    for index in 0..permissions {
        let w = world(purpose, |p| without(p, "permissions", index)).await?;
        let output = call(&w, purpose)?;
        let what = format!("{purpose:?} without permission {index}");
        refused(
            &what,
            &output,
            &["denied", "UNAUTHORIZED", "AuthorizationFailed"],
        );
        assert_eq!(w.azure.calls(counted(purpose)), 0, "{what}");
        assert!(w.azure.calls("entra.token") >= 1, "{what}: Entra refused");
    }
    // The federated credential, and its subject (another ServiceAccount's): Entra refuses.
    let edits: [(&str, Edit); 2] = [
        ("without the trust", Box::new(|p| without(p, "trust", 0))),
        (
            "with another subject",
            Box::new(|p| p["trust"][0]["subject"] = json!("system:serviceaccount:team-a:plain")),
        ),
    ];
    for (name, edit) in edits {
        let w = world(purpose, edit).await?;
        let output = call(&w, purpose)?;
        let what = format!("{purpose:?} {name}");
        refused(&what, &output, &["AADSTS"]);
        assert_eq!(w.azure.calls("entra.token"), 0, "{what}");
        assert_eq!(w.azure.calls(counted(purpose)), 0, "{what}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_policy_is_what_reading_the_container_needs() -> TestResult {
    enforced(Purpose::Bucket).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_policy_is_what_reading_the_key_needs() -> TestResult {
    enforced(Purpose::Kms).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eventhub_policy_is_what_sending_needs() -> TestResult {
    enforced(Purpose::Eventhub).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_policy_is_what_logging_in_to_acr_needs() -> TestResult {
    enforced(Purpose::Registry).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_policy_is_what_reading_the_aks_cluster_needs() -> TestResult {
    enforced(Purpose::Cluster).await
}

/// The credential's other conditions: the issuer exactly (a trailing slash added) and the
/// audience kubecred's tokens carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_and_the_audience_of_the_credential_are_conditions() -> TestResult {
    let edits: [(&str, Edit); 2] = [
        (
            "another issuer",
            Box::new(|p| {
                let issuer = p["trust"][0]["issuer"].as_str().unwrap_or_default();
                p["trust"][0]["issuer"] = json!(format!("{issuer}/"));
            }),
        ),
        (
            "another audience",
            Box::new(|p| p["trust"][0]["audiences"] = json!(["api://other"])),
        ),
    ];
    for (name, edit) in edits {
        let w = world(Purpose::Kms, edit).await?;
        let output = call(&w, Purpose::Kms)?;
        refused(name, &output, &["AADSTS"]);
        assert_eq!(w.azure.calls("entra.token"), 0, "{name}");
    }
    Ok(())
}

/// A credential without one of its conditions would match nothing in Entra: the sandbox refuses
/// to load it, naming the condition.
#[test]
fn a_credential_missing_a_condition_is_not_loaded() -> TestResult {
    for purpose in [
        Purpose::Registry,
        Purpose::Bucket,
        Purpose::Kms,
        Purpose::Cluster,
        Purpose::Eventhub,
    ] {
        for condition in ["issuer", "subject", "audiences"] {
            let mut policy = written(purpose, "https://issuer.example")?;
            if let Some(trust) = policy["trust"][0].as_object_mut() {
                trust.remove(condition);
            }
            let mut config = AzureConfig {
                tenant_id: TENANT.into(),
                ..AzureConfig::default()
            };
            let error = load_policy(&mut config, &policy)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains(&format!("trust[0] has no {condition}")),
                "{purpose:?} without {condition}: {error:?}"
            );
        }
    }
    Ok(())
}

/// `kubecred explain` names what is missing, for each piece removed from a written policy: the
/// role assignment at the access step (with the `kubecred policy` command that writes it), the
/// federated credential's subject at the exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_each_missing_piece() -> TestResult {
    for purpose in [
        Purpose::Registry,
        Purpose::Kms,
        Purpose::Eventhub,
        Purpose::Bucket,
        Purpose::Cluster,
    ] {
        let access: Vec<String> = match purpose {
            Purpose::Registry => vec!["--registry".into(), ACR_REGISTRIES[0].into()],
            Purpose::Cluster => vec!["--cluster".into(), aks_cluster_id(AKS_CLUSTER)],
            Purpose::Bucket => vec![
                "--check".into(),
                format!("azblob://{AZURITE_ACCOUNT}/{CONTAINER}"),
            ],
            Purpose::Kms => vec!["--check".into(), format!("azkv://{VAULT}/keys/sops")],
            _ => vec![
                "--check".into(),
                format!("eventhub://{NAMESPACE}/flux-events"),
            ],
        };
        let explain = |w: &AzureWorld| -> Result<Value, BoxError> {
            let mut args = vec!["explain", "--provider", "azure", "-o", "json"];
            args.extend(ACCOUNT);
            args.extend(access.iter().map(String::as_str));
            let output = w.kubecred(&[], &args)?;
            Ok(serde_json::from_str(&stdout(&output))?)
        };
        let step = |value: &Value, name: &str| -> Value {
            value["steps"]
                .as_array()
                .and_then(|steps| steps.iter().find(|s| s["step"] == name).cloned())
                .unwrap_or(Value::Null)
        };

        let w = world(purpose, |_| {}).await?;
        if azurite_missing(&w, purpose) {
            continue;
        }
        let value = explain(&w)?;
        assert_eq!(value["verdict"], "ok", "{purpose:?}: {value}");

        let w = world(purpose, |p| without(p, "permissions", 0)).await?;
        let value = explain(&w)?;
        let failed = step(&value, "access");
        assert_eq!(failed["status"], "failed", "{purpose:?}: {value}");
        let expected = format!("kubecred policy --provider azure --for {}", purpose.name());
        let cause = failed["cause"].as_str().unwrap_or_default();
        assert!(cause.contains(&expected), "{purpose:?}: {cause}");

        let w = world(purpose, |p| {
            p["trust"][0]["subject"] = json!("system:serviceaccount:team-a:plain");
        })
        .await?;
        let value = explain(&w)?;
        let failed = step(&value, "exchange");
        assert_eq!(failed["status"], "failed", "{purpose:?}: {value}");
        let cause = failed["cause"].as_str().unwrap_or_default();
        assert!(
            cause.contains("does not match subject system:serviceaccount:team-a:app"),
            "{purpose:?}: {cause}"
        );
    }
    Ok(())
}

/// `git` against the world's DevOps stand-in, with `kubecred` as its credential helper.
#[cfg(unix)]
struct Git {
    /// PATH for git: a directory with `git-credential-kubecred`, then the test's PATH.
    path: std::ffi::OsString,
}

#[cfg(unix)]
impl Git {
    /// Configures git in the world's home: the stand-ins' CA, dev.azure.com on loopback, the
    /// helper for team-a/app.
    fn configure(w: &AzureWorld) -> Result<Git, BoxError> {
        let (_, path) = support::helper_on_path(w.home(), "git-credential-kubecred")?;
        let git = Git { path };
        let resolve = format!("dev.azure.com:{}:127.0.0.1", w.azure.devops_port());
        let ca = w.ca.display().to_string();
        for (key, value) in [
            ("http.sslCAInfo", ca.as_str()),
            ("http.curloptResolve", resolve.as_str()),
            (
                "credential.helper",
                "kubecred -n team-a --service-account app",
            ),
        ] {
            let output = git.run(w, &["config", "--global", key, value])?;
            assert!(output.status.success(), "git config: {}", stderr(&output));
        }
        Ok(git)
    }

    fn run(&self, w: &AzureWorld, args: &[&str]) -> std::io::Result<Output> {
        support::isolated("git", w.home())
            .envs(w.env())
            .env("PATH", &self.path)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args)
            .output()
    }

    /// `git ls-remote` of the sandbox's repository.
    fn ls_remote(&self, w: &AzureWorld) -> std::io::Result<Output> {
        let [org, project, repo] = DEVOPS_REPOSITORY;
        let url = w.azure.devops_repository_url(org, project, repo);
        self.run(w, &["ls-remote", &url])
    }
}

#[cfg(unix)]
fn have_git() -> bool {
    match std::process::Command::new("git").arg("--version").output() {
        Ok(_) => true,
        Err(e) => {
            kubecred_sandbox::peers::missing("git", "install git", &e);
            false
        }
    }
}

/// `kubecred explain --git` of the sandbox's repository for team-a/app, as JSON.
#[cfg(unix)]
fn explain_git(w: &AzureWorld) -> Result<Value, BoxError> {
    let url = resource(Purpose::Git);
    let mut args = vec!["explain", "--provider", "azure", "-o", "json"];
    args.extend(ACCOUNT);
    args.extend(["--git", url.as_str()]);
    let output = w.kubecred(&[], &args)?;
    Ok(serde_json::from_str(&stdout(&output))
        .map_err(|e| format!("{e}: {} {}", stdout(&output), stderr(&output)))?)
}

/// The step named `name` of an explanation.
#[cfg(unix)]
fn step(value: &Value, name: &str) -> Value {
    value["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == name).cloned())
        .unwrap_or(Value::Null)
}

/// Removes the permission document of `kind`.
#[cfg(unix)]
fn without_kind(policy: &mut Value, kind: &str) {
    if let Some(items) = policy["permissions"].as_array_mut() {
        items.retain(|d| d["kind"] != kind);
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_policy_is_what_reading_the_azure_devops_repository_needs() -> TestResult {
    if !have_git() {
        return Ok(());
    }
    // What the policy holds: the federated credential, the entitlement, the membership.
    let policy = written(Purpose::Git, "https://issuer.example")?;
    let kinds: Vec<&str> = policy["trust"]
        .as_array()
        .into_iter()
        .chain(policy["permissions"].as_array())
        .flatten()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "azure_federated_identity_credential",
            "azuredevops_service_principal_entitlement",
            "azuredevops_group_membership",
        ]
    );

    // The whole policy: git reads the refs, and explain's access step does too.
    let w = world(Purpose::Git, |_| {}).await?;
    let git = Git::configure(&w)?;
    let output = git.ls_remote(&w)?;
    assert!(
        output.status.success(),
        "git ls-remote: {}",
        stderr(&output)
    );
    assert_eq!(w.azure.calls("devops.info_refs"), 1);
    let value = explain_git(&w)?;
    assert_eq!(value["verdict"], "ok", "{value}");
    assert_eq!(step(&value, "access")["status"], "ok", "{value}");
    assert_eq!(w.azure.calls("devops.info_refs"), 2);

    // Each piece removed: git is refused, and explain names the piece at the step that fails.
    let cases: [(&str, Edit, &str, &str, &str); 3] = [
        (
            "without the federated credential",
            Box::new(|p| without(p, "trust", 0)),
            "exchange",
            "AADSTS",
            "federated credential",
        ),
        (
            "without the entitlement",
            Box::new(|p| without_kind(p, "azuredevops_service_principal_entitlement")),
            "access",
            "TF400813: The user '00000000-0000-4000-8000-0000000000e1' is not authorized to \
             access this resource.",
            "not a user of the Azure DevOps organization: kubecred policy --provider azure \
             --for git writes its entitlement",
        ),
        (
            "without the Readers membership",
            Box::new(|p| without_kind(p, "azuredevops_group_membership")),
            "access",
            "TF401019: The Git repository with name or identifier app does not exist or you do \
             not have permissions for the operation you are attempting.",
            "in no group that reads the repository (Readers)",
        ),
    ];
    let mut causes = Vec::new();
    for (name, edit, failing, refusal, named) in cases {
        let w = world(Purpose::Git, edit).await?;
        let git = Git::configure(&w)?;
        let output = git.ls_remote(&w)?;
        assert!(!output.status.success(), "{name}: git got in");
        assert_eq!(w.azure.calls("devops.info_refs"), 0, "{name}");

        let value = explain_git(&w)?;
        assert_eq!(value["verdict"], "failed", "{name}: {value}");
        let failed = step(&value, failing);
        assert_eq!(failed["status"], "failed", "{name}: {value}");
        let detail = failed["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(refusal), "{name}: {detail}");
        let cause = failed["cause"].as_str().unwrap_or_default().to_owned();
        assert!(cause.contains(named), "{name}: {cause}");
        causes.push(cause);
    }
    let distinct: std::collections::BTreeSet<&String> = causes.iter().collect();
    assert_eq!(distinct.len(), causes.len(), "{causes:#?}");
    Ok(())
}
