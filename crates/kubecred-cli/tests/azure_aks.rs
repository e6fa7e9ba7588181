//! AKS remote clusters with the `azure` provider: ARM's `managedClusters` stand-in describes
//! cluster `kubecred-sandbox` (Entra integration on) with the sandbox's own API server, which
//! takes the stand-ins' tokens for the AKS server application as AKS takes Entra's.
//! `cluster credentials` prints an ExecCredential holding such a token (ARM asked only when the
//! address or the CA is missing), a cluster without Entra integration is refused with the
//! reference's explanation, and `cluster kubeconfig` (from flags and from a remote-cluster
//! ConfigMap with `provider: azure`) writes a kubeconfig that real kubectl uses.

mod support;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use support::azure::{AzureWorld, azure_world, claims, manifests};
use support::sandbox_azure::{AKS_CLUSTER, AKS_CLUSTER_WITHOUT_ENTRA, aks_cluster_id};
use support::{
    BoxError, TestResult, assert_exit, assert_success, have_kubectl, isolated, json, stderr,
    stdout, success_json,
};

const ATTACKER: &str = "https://attacker.example:6443";
const APP: [&str; 4] = ["-n", "team-a", "--service-account", "app"];
/// The AKS server application: the audience of the tokens the cluster takes.
const AKS_AUDIENCE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";

/// The worlds' manifests with remote-cluster ConfigMaps of the AKS cluster: one for team-a/app,
/// one whose (tenant's) address is not the cluster's, one with the address ARM reports.
async fn world() -> Result<AzureWorld, BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let cluster = aks_cluster_id(AKS_CLUSTER);
    let config_map = |name: &str, extra: &str| {
        format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: team-a}}\n\
             data:\n  provider: azure\n  cluster: \"{cluster}\"\n{extra}"
        )
    };
    let yaml = [
        manifests(""),
        config_map("aks", "  serviceAccountName: app\n"),
        config_map("tenant-address", &format!("  address: \"{ATTACKER}\"\n")),
        config_map(
            "reported-address",
            &format!("  address: \"https://127.0.0.1:{port}\"\n"),
        ),
    ]
    .concat();
    azure_world(&yaml, port, |_| {}).await
}

fn credentials(w: &AzureWorld, extra: &[&str]) -> std::io::Result<std::process::Output> {
    let cluster = aks_cluster_id(AKS_CLUSTER);
    let args = [
        "cluster",
        "credentials",
        "--provider",
        "azure",
        "--cluster",
        &cluster,
    ];
    w.kubecred(&[], &[&args[..], &APP, &["--no-cache"], extra].concat())
}

/// The ExecCredential's token, checked to be one the cluster's API server takes.
fn cluster_token(w: &AzureWorld, credential: &Value) -> Result<String, BoxError> {
    assert_eq!(credential["kind"], "ExecCredential", "{credential}");
    assert!(credential["status"]["expirationTimestamp"].is_string());
    let token = credential["status"]["token"].as_str().ok_or("no token")?;
    assert_eq!(claims(token)?["aud"], AKS_AUDIENCE);
    let user = (w.azure.aks_authenticator())(token);
    assert!(user.is_some(), "the AKS API server refuses the token");
    Ok(token.to_owned())
}

/// The exec plugin needs only the token (kubectl has the cluster): ARM is not asked, whether
/// the address and CA are given or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_credentials_hold_an_aks_token_with_or_without_address_and_ca() -> TestResult {
    let w = world().await?;
    cluster_token(&w, &success_json(&credentials(&w, &[])?)?)?;
    let ca = w.file("cluster-ca.pem", w.sandbox.ca_pem())?;
    let given = ["--address", &w.sandbox.url(), "--ca-file", &ca];
    cluster_token(&w, &success_json(&credentials(&w, &given)?)?)?;
    assert_eq!(w.azure.calls("arm.managedClusters.get"), 0);
    assert_eq!(w.azure.calls("entra.token"), 2);

    let bad = [
        "cluster",
        "credentials",
        "--provider",
        "azure",
        "--cluster",
        "/subscriptions/x",
    ];
    let output = w.kubecred(&[], &[&bad[..], &APP].concat())?;
    assert_exit(&output, 1, &["/subscriptions/x"]);
    Ok(())
}

/// A kubeconfig needs the address and the CA: ARM is asked for them unless both are given, and
/// a cluster without Entra integration is refused with the reference's explanation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arm_is_asked_only_for_what_is_missing_and_needs_entra_integration() -> TestResult {
    let w = world().await?;
    let cluster = aks_cluster_id(AKS_CLUSTER);
    let args = [
        "cluster",
        "kubeconfig",
        "--provider",
        "azure",
        "--cluster",
        &cluster,
    ];
    let ca = w.file("cluster-ca.pem", w.sandbox.ca_pem())?;
    let given = ["--address", "https://aks.example:443", "--ca-file", &ca];
    let output = w.kubecred(&[], &[&args[..], &APP, &given].concat())?;
    assert_success(&output);
    assert_eq!(
        json(&output)?["clusters"][0]["cluster"]["server"],
        "https://aks.example:443"
    );
    assert_eq!(w.azure.calls("arm.managedClusters.get"), 0);
    let output = w.kubecred(&[], &[&args[..], &APP].concat())?;
    assert_success(&output);
    assert_eq!(w.azure.calls("arm.managedClusters.get"), 1);
    assert_eq!(w.azure.calls("arm.listClusterUserCredential"), 1);

    let cluster = aks_cluster_id(AKS_CLUSTER_WITHOUT_ENTRA);
    let args = [
        "cluster",
        "kubeconfig",
        "--provider",
        "azure",
        "--cluster",
        &cluster,
    ];
    let output = w.kubecred(&[], &[&args[..], &APP].concat())?;
    assert_exit(
        &output,
        1,
        &["Microsoft Entra ID", AKS_CLUSTER_WITHOUT_ENTRA],
    );
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
    assert_eq!(w.azure.calls("arm.listClusterUserCredential"), 1);
    Ok(())
}

/// `cluster kubeconfig ARGS -o FILE`: the file and its JSON.
fn kubeconfig(w: &AzureWorld, name: &str, args: &[&str]) -> Result<(PathBuf, Value), BoxError> {
    let path = w.home().join(name);
    let out = path.display().to_string();
    let output = w.kubecred(
        &[],
        &[&["cluster", "kubeconfig"], args, &["-o", &out]].concat(),
    )?;
    assert_success(&output);
    Ok((
        path.clone(),
        serde_json::from_str(&std::fs::read_to_string(&path)?)?,
    ))
}

/// `kubectl get --raw /version` with `kubeconfig` and the world's variables (which the exec
/// entry's kubecred reads).
fn kubectl_version(w: &AzureWorld, kubeconfig: &Path) -> Result<String, BoxError> {
    let output = isolated("kubectl", w.home())
        .envs(w.env())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "--raw", "/version"])
        .output()?;
    match output.status.success() {
        true => Ok(stdout(&output)),
        false => Err(format!("kubectl failed: {}", stderr(&output)).into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aks_kubeconfig_has_the_reported_server_and_works_with_kubectl() -> TestResult {
    let w = world().await?;
    let cluster = aks_cluster_id(AKS_CLUSTER);
    let args = ["--provider", "azure", "--cluster", &cluster];
    let (path, config) = kubeconfig(&w, "aks-kubeconfig", &[&args[..], &APP].concat())?;
    let entry = &config["clusters"][0]["cluster"];
    assert_eq!(entry["server"], w.sandbox.url(), "{config}");
    let ca = STANDARD.decode(
        entry["certificate-authority-data"]
            .as_str()
            .unwrap_or_default(),
    )?;
    assert_eq!(String::from_utf8(ca)?, w.sandbox.ca_pem());
    if have_kubectl() {
        let version = kubectl_version(&w, &path)?;
        assert!(version.contains("gitVersion"), "{version}");
        // kubectl's exec plugin got the AKS token from the Entra stand-in.
        assert!(w.azure.calls("entra.token") >= 2);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_azure_config_map_becomes_a_working_kubeconfig() -> TestResult {
    let w = world().await?;
    let (path, config) = kubeconfig(
        &w,
        "from-configmap",
        &["--from-configmap", "team-a/aks", "-n", "team-a"],
    )?;
    assert_eq!(config["clusters"][0]["cluster"]["server"], w.sandbox.url());
    if have_kubectl() {
        assert!(kubectl_version(&w, &path)?.contains("gitVersion"));
    }
    Ok(())
}

/// With the node's identity, a ConfigMap's address gets the token only if ARM reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_maps_address_gets_the_nodes_token_only_if_arm_reports_it() -> TestResult {
    let w = world().await?;
    let generate = |map: &str| {
        let args = [
            "cluster",
            "kubeconfig",
            "--node",
            "-n",
            "team-a",
            "--from-configmap",
            map,
        ];
        w.kubecred(&[], &args)
    };
    let refused = generate("team-a/tenant-address")?;
    assert_exit(&refused, 1, &[ATTACKER, "--trust-configmap-address"]);
    assert_eq!(stdout(&refused), "", "no kubeconfig is written");
    let reported = generate("team-a/reported-address")?;
    assert_success(&reported);
    assert_eq!(
        json(&reported)?["clusters"][0]["cluster"]["server"],
        w.sandbox.url()
    );
    assert!(w.azure.calls("imds.token") >= 1);
    Ok(())
}
