//! The real `kubectl` works against the sandbox with the kubeconfig it
//! writes: HTTPS verified against the sandbox's CA, the admin bearer token,
//! discovery, reads and `kubectl create token`. Skipped, with a notice, only
//! where `kubectl` is not installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubecred_sandbox::Sandbox;
use serde_json::Value;

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:role/app"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team-a}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team-a}
data: {region: eu-west-1}
"#;

/// Whether `kubectl` can be run; prints why the test is skipped otherwise.
fn kubectl_installed() -> bool {
    match Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    {
        Ok(_) => true,
        Err(e) => {
            kubecred_sandbox::peers::missing("kubectl", "install kubectl", &e);
            false
        }
    }
}

/// A sandbox, its kubeconfig on disk and a private kubectl cache.
struct Fixture {
    sandbox: Sandbox,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig_file()).expect("kubeconfig written");
    Fixture {
        sandbox,
        kubeconfig,
        dir,
    }
}

impl Fixture {
    /// Runs `kubectl ARGS` off the runtime (the sandbox serves on it) and
    /// returns stdout; panics with stderr if kubectl fails.
    async fn kubectl(&self, args: &[&str]) -> String {
        let command = kubectl_command(&self.kubeconfig, self.dir.path(), args);
        let output = tokio::task::spawn_blocking(command)
            .await
            .expect("kubectl task");
        let Output {
            status,
            stdout,
            stderr,
        } = output;
        let stderr = String::from_utf8_lossy(&stderr);
        assert!(
            status.success(),
            "kubectl {args:?} failed ({status}): {stderr}"
        );
        String::from_utf8(stdout).expect("UTF-8 output")
    }
}

fn kubectl_command(
    kubeconfig: &Path,
    home: &Path,
    args: &[&str],
) -> impl FnOnce() -> Output + use<> {
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(home.join("cache"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", home);
    move || command.output().expect("kubectl runs")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn kubectl_reads_version_and_objects() {
    if !kubectl_installed() {
        return;
    }
    let f = fixture().await;
    let version = json(&f.kubectl(&["get", "--raw", "/version"]).await);
    assert_eq!(version["gitVersion"], "v1.33.0-kubecred-sandbox");

    let account = f
        .kubectl(&["get", "serviceaccount", "app", "-n", "team-a", "-o", "json"])
        .await;
    let account = json(&account);
    assert_eq!(account["metadata"]["name"], "app");
    assert_eq!(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/app"
    );
    let table = f
        .kubectl(&["get", "serviceaccount", "app", "-n", "team-a"])
        .await;
    assert!(
        table.starts_with("NAME") && table.contains("\napp "),
        "{table}"
    );

    let secret = json(
        &f.kubectl(&["get", "secret", "creds", "-n", "team-a", "-o", "json"])
            .await,
    );
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
    let config_maps = f
        .kubectl(&["get", "configmap", "-n", "team-a", "-o", "name"])
        .await;
    assert_eq!(config_maps.trim(), "configmap/settings");
    let namespace = f
        .kubectl(&["get", "namespace", "team-a", "-o", "name"])
        .await;
    assert_eq!(namespace.trim(), "namespace/team-a");
    f.sandbox.shutdown().await;
}

#[tokio::test]
async fn kubectl_creates_a_verifiable_token() {
    if !kubectl_installed() {
        return;
    }
    let f = fixture().await;
    let args = [
        "create",
        "token",
        "app",
        "-n",
        "team-a",
        "--audience",
        "https://x",
    ];
    let token = f.kubectl(&args).await;
    let verifier = f.sandbox.verifier().await.expect("verifier");
    let claims = verifier
        .verify(token.trim(), "https://x")
        .expect("kubectl's token verifies");
    assert_eq!(claims.sub, "system:serviceaccount:team-a:app");
    assert_eq!(claims.exp - claims.iat, 3600);
    let account = f
        .kubectl(&["get", "sa", "app", "-n", "team-a", "-o", "json"])
        .await;
    assert_eq!(
        json(&account)["metadata"]["uid"],
        claims.kubernetes.serviceaccount.uid
    );
    let longer = [&args[..], &["--duration", "20m"]].concat();
    let token = f.kubectl(&longer).await;
    let claims = verifier
        .verify(token.trim(), "https://x")
        .expect("verifies");
    assert_eq!(claims.exp - claims.iat, 1200);
    assert_eq!(f.sandbox.token_requests(), 2);
    f.sandbox.shutdown().await;
}
