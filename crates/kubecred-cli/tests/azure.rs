//! `kubecred` with the `azure` provider against the sandbox and its Azure stand-ins (configured
//! as `kubecred sandbox` configures them): object level (a ServiceAccount's token as the client
//! assertion of the app its annotations name, Entra checking the federated credential against
//! the issuer's JWKS), and ACR logins in the public, China and a private cloud through
//! `registry login`, the docker credential helper and the kubelet credential provider (a pod's
//! token, KEP-4412, and the node's managed identity), the kubelet's from the example
//! `CredentialProviderConfig`s.

mod support;

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use support::azure::{
    ACR_USERNAME, APP, AzureWorld, TENANT, azure_world, claims, manifests, token_of,
};
use support::sandbox_azure::{
    ACR_REGISTRIES, NODE_USER_ASSIGNED_IDENTITY, PRIVATE_CLOUD_ARM, PRIVATE_REGISTRY,
    PRIVATE_REGISTRY_SUFFIX,
};
use support::{
    BoxError, TestResult, assert_exit, helper_on_path, isolated, run_with_stdin, stdout,
    success_json,
};

/// An app whose federated credential trusts no ServiceAccount of the sandbox.
const STRANGER_APP: &str = "00000000-0000-0000-0000-0000000000ee";

/// The worlds' manifests and team-a/stranger, annotated with [`STRANGER_APP`], which trusts it
/// not (its app's federated credentials are removed).
async fn world() -> Result<AzureWorld, BoxError> {
    let stranger = format!(
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: stranger\n  namespace: team-a\n  annotations:\n    \
         azure.workload.identity/client-id: {STRANGER_APP}\n    azure.workload.identity/tenant-id: {TENANT}\n"
    );
    azure_world(&(manifests("") + &stranger), 0, |config| {
        for app in &mut config.apps {
            if app.client_id == STRANGER_APP {
                app.federated_credentials.clear();
            }
        }
    })
    .await
}

fn object_token(account: &str, scope: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "token",
        "--provider",
        "azure",
        "-n",
        "team-a",
        "--output",
        "json",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(["--service-account".into(), account.into()]);
    if let Some(scope) = scope {
        args.extend(["--scope".into(), scope.into()]);
    }
    args
}

fn run(w: &AzureWorld, extra: &[(&str, &str)], args: &[String]) -> std::io::Result<Output> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.kubecred(extra, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_level_is_the_annotated_apps_token_for_the_scope() -> TestResult {
    let w = world().await?;
    // Default scope: Resource Manager (what `az account get-access-token` gives).
    let token = token_of(&run(&w, &[], &object_token("app", None))?)?;
    let arm = claims(&token)?;
    assert_eq!(arm["aud"], "https://management.core.windows.net/", "{arm}");
    assert_eq!(arm["appid"], APP, "{arm}");
    assert_eq!(arm["tid"], TENANT, "{arm}");
    assert_eq!(
        arm["iss"],
        format!("https://sts.windows.net/{TENANT}/"),
        "{arm}"
    );
    let scoped = object_token("app", Some("https://vault.azure.net/.default"));
    let vault = claims(&token_of(&run(&w, &[], &scoped)?)?)?;
    assert_eq!(vault["aud"], "https://vault.azure.net", "{vault}");
    assert_eq!(vault["oid"], arm["oid"], "{vault}");
    assert_eq!(w.azure.calls("entra.token"), 2);

    // The stand-in refuses a ServiceAccount its app's federated credentials do not name.
    let refused = run(&w, &[], &object_token("stranger", None))?;
    assert_exit(
        &refused,
        1,
        &["AADSTS700211", "No matching federated identity record"],
    );
    // Missing annotations: the reference's message, and no call to Entra.
    let missing = run(&w, &[], &object_token("plain", None))?;
    assert_exit(
        &missing,
        1,
        &[
            "azure tenant ID is not set in the service account annotation azure.workload.identity/tenant-id",
        ],
    );
    assert_eq!(w.azure.calls("entra.token"), 2);
    Ok(())
}

/// `registry login`'s answer for `host` (and `more` arguments): the username checked, the
/// refresh token's claims.
fn login(
    w: &AzureWorld,
    extra: &[(&str, &str)],
    host: &str,
    more: &[&str],
) -> Result<Value, BoxError> {
    let args = [
        "registry",
        "login",
        host,
        "-n",
        "team-a",
        "--service-account",
        "app",
    ];
    let value = success_json(&w.kubecred(extra, &[&args[..], more].concat())?)?;
    assert_eq!(value["username"], ACR_USERNAME, "{value}");
    assert!(value["expiresAt"].as_str().is_some(), "{value}");
    claims(value["password"].as_str().ok_or("no password")?)
}

/// An environment file of the private cloud the sandbox plays; the variable naming it.
fn private_cloud(w: &AzureWorld) -> Result<String, BoxError> {
    let environment = json!({
        "name": "AzureStackCloud",
        "resourceManagerEndpoint": PRIVATE_CLOUD_ARM,
        "tokenAudience": PRIVATE_CLOUD_ARM,
        "containerRegistryDNSSuffix": PRIVATE_REGISTRY_SUFFIX,
    });
    w.file("azure-environment.json", &environment.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_login_to_acr_in_the_public_china_and_a_private_cloud() -> TestResult {
    let w = world().await?;
    for host in ACR_REGISTRIES {
        let refresh = login(&w, &[], &format!("{host}/team-a/app:1.0"), &[])?;
        assert!(refresh["exp"].as_i64().is_some(), "{host}: {refresh}");
    }
    assert_eq!(w.azure.calls("acr.exchange"), 2);

    // A private cloud's registry: the suffix and the Resource Manager audience from its
    // environment file (the provider named: the host alone names no provider, see the report).
    let file = private_cloud(&w)?;
    let env = [("AZURE_ENVIRONMENT_FILEPATH", file.as_str())];
    let refresh = login(&w, &env, PRIVATE_REGISTRY, &["--provider", "azure"])?;
    assert!(refresh["exp"].as_i64().is_some(), "{refresh}");
    assert_eq!(w.azure.calls("acr.exchange"), 3);
    // Without its environment file, the private suffix is not an Azure registry.
    let args = [
        "registry",
        "login",
        PRIVATE_REGISTRY,
        "--provider",
        "azure",
        "-n",
        "team-a",
    ];
    let args = [&args[..], &["--service-account", "app"]].concat();
    let unknown = w.kubecred(&[], &args)?;
    assert_exit(&unknown, 1, &["invalid Azure registry"]);
    // A broken environment file is an error naming the file and the field.
    let broken = w.file(
        "broken.json",
        r#"{"resourceManagerEndpoint": "https://arm.example"}"#,
    )?;
    let env = [("AZURE_ENVIRONMENT_FILEPATH", broken.as_str())];
    let output = w.kubecred(&env, &args)?;
    assert_exit(&output, 1, &["broken.json", "containerRegistryDNSSuffix"]);
    assert_eq!(w.azure.calls("acr.exchange"), 3);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_helper_logs_in_to_acr() -> TestResult {
    let w = world().await?;
    let (bin, path) = helper_on_path(w.home(), "docker-credential-kubecred")?;
    let config = w.home().join(".config").join("kubecred");
    std::fs::create_dir_all(&config)?;
    let mut yaml = String::from("registries:\n");
    for host in [ACR_REGISTRIES[0], ACR_REGISTRIES[1], PRIVATE_REGISTRY] {
        yaml += &format!(
            "  {host}:\n    provider: azure\n    serviceAccount: team-a/app\n    kubeconfig: {}\n",
            w.kubeconfig.display()
        );
    }
    std::fs::write(config.join("config.yaml"), yaml)?;
    let file = private_cloud(&w)?;
    let get = |host: &str| -> Result<Value, BoxError> {
        let mut command = isolated(
            &bin.join("docker-credential-kubecred").to_string_lossy(),
            w.home(),
        );
        command
            .env("PATH", &path)
            .envs(w.env())
            .env("AZURE_ENVIRONMENT_FILEPATH", &file)
            .arg("get");
        let output = run_with_stdin(command, &format!("https://{host}"))?;
        let answer: Value =
            serde_json::from_str(&stdout(&output)).map_err(|e| format!("{e}: {output:?}"))?;
        assert_eq!(answer["Username"], ACR_USERNAME, "{answer}");
        claims(answer["Secret"].as_str().ok_or("no Secret")?)
    };
    for (n, host) in [ACR_REGISTRIES[0], ACR_REGISTRIES[1], PRIVATE_REGISTRY]
        .into_iter()
        .enumerate()
    {
        get(host)?;
        assert_eq!(w.azure.calls("acr.exchange"), n as u64 + 1, "{host}");
    }
    // Warm: answered from the on-disk cache, no exchange.
    get(ACR_REGISTRIES[0])?;
    assert_eq!(w.azure.calls("acr.exchange"), 3);
    Ok(())
}

// --- the kubelet credential provider, from the example configurations ---

/// The example `examples/kubelet/NAME`'s one provider entry.
fn example(name: &str) -> Result<Value, BoxError> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/kubelet")
        .join(name);
    let config: Value = serde_saphyr::from_str(&std::fs::read_to_string(path)?)?;
    Ok(config["providers"][0].clone())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the provider as the kubelet would with `provider`'s args and env, plus the world's
/// variables and `extra`, for `request`: the password of `host`'s auth entry.
fn provide(
    w: &AzureWorld,
    provider: &Value,
    extra: &[(&str, &str)],
    request: &Value,
    host: &str,
) -> Result<String, BoxError> {
    let mut command = w.command(extra);
    command.args(strings(&provider["args"]));
    for pair in provider["env"].as_array().cloned().unwrap_or_default() {
        let (name, value) = (pair["name"].as_str(), pair["value"].as_str());
        command.env(
            name.ok_or("an env entry without a name")?,
            value.unwrap_or_default(),
        );
    }
    let output = run_with_stdin(command, &request.to_string())?;
    let response = success_json(&output)?;
    assert_eq!(response["kind"], "CredentialProviderResponse", "{response}");
    let entry = &response["auth"][host];
    assert_eq!(entry["username"], ACR_USERNAME, "{response}");
    Ok(entry["password"].as_str().ok_or("no password")?.to_owned())
}

/// KEP-4412: the kubelet's pod token (audience and annotation keys from `azure.yaml`) for
/// images of each cloud's registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_provider_logs_in_to_acr_with_a_pods_token() -> TestResult {
    let w = world().await?;
    let provider = example("azure.yaml")?;
    let attributes = &provider["tokenAttributes"];
    assert_eq!(
        attributes["serviceAccountTokenAudience"],
        "api://AzureADTokenExchange"
    );
    let token = w.pod_token("app");
    let annotations: serde_json::Map<String, Value> =
        strings(&attributes["requiredServiceAccountAnnotationKeys"])
            .into_iter()
            .chain(strings(&attributes["optionalServiceAccountAnnotationKeys"]))
            .map(|key| {
                let value = match key.as_str() {
                    "azure.workload.identity/client-id" => APP,
                    "azure.workload.identity/tenant-id" => TENANT,
                    other => panic!("unexpected annotation key {other}"),
                };
                (key, Value::from(value))
            })
            .collect();
    let file = private_cloud(&w)?;
    let env = [("AZURE_ENVIRONMENT_FILEPATH", file.as_str())];
    for host in [ACR_REGISTRIES[0], ACR_REGISTRIES[1], PRIVATE_REGISTRY] {
        let request = json!({
            "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
            "kind": "CredentialProviderRequest",
            "image": format!("{host}/team-a/app:1.0"),
            "serviceAccountToken": token,
            "serviceAccountAnnotations": annotations,
        });
        let mut provider = provider.clone();
        if host == PRIVATE_REGISTRY {
            // A private cloud's registries are served by name: `--provider=azure` in args.
            provider["args"] = json!(["kubelet-credential-provider", "--provider=azure"]);
        }
        let password = provide(&w, &provider, &env, &request, host)?;
        assert!(claims(&password)?["exp"].as_i64().is_some());
    }
    assert_eq!(w.azure.calls("acr.exchange"), 3);
    assert_eq!(w.azure.calls("imds.token"), 0);
    Ok(())
}

/// Without a pod token, `azure-node.yaml`'s provider logs in as the node's managed identity:
/// the system-assigned one, or the user-assigned one its `AZURE_CLIENT_ID` names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_provider_logs_in_to_acr_as_the_node() -> TestResult {
    let w = world().await?;
    let provider = example("azure-node.yaml")?;
    let request = json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": format!("{}/team-a/app:1.0", ACR_REGISTRIES[0]),
    });
    let host = ACR_REGISTRIES[0];
    let system = provide(&w, &provider, &[], &request, host)?;
    let user = provide(
        &w,
        &provider,
        &[("AZURE_CLIENT_ID", NODE_USER_ASSIGNED_IDENTITY)],
        &request,
        host,
    )?;
    assert_eq!(w.azure.calls("imds.token"), 2);
    assert_eq!(w.azure.calls("acr.exchange"), 2);
    assert_eq!(w.azure.calls("entra.token"), 0);
    // The refresh tokens are the identities' (distinct principals).
    assert_ne!(claims(&system)?["sub"], claims(&user)?["sub"]);
    Ok(())
}
