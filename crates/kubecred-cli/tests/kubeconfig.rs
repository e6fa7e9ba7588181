//! `kubecred cluster kubeconfig` end to end: kubectl reaches the sandbox's API server through the
//! generated kubeconfig's exec plugin (generic provider, from flags and from a remote-cluster
//! ConfigMap), and an EKS kubeconfig carries the described server and CA and an exec entry whose
//! token the STS stand-in's authenticator accepts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

mod support;
use support::moto::Moto;
use support::{
    BoxError, SandboxProcess, TestResult, assert_exit, assert_success, aws_world, isolated, json,
    kubecred, stderr, stdout,
};

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The example manifests plus `extra`, served on `port`.
fn start(dir: &Path, port: u16, extra_manifests: &str) -> Result<SandboxProcess, BoxError> {
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    SandboxProcess::start(dir, &format!("{manifests}\n---\n{extra_manifests}"), port)
}

/// `kubecred cluster kubeconfig ARGS`, reading the sandbox's own kubeconfig.
fn cluster_kubeconfig(
    home: &Path,
    sandbox: &SandboxProcess,
    args: &[&str],
) -> std::io::Result<Output> {
    let source = sandbox.kubeconfig.display().to_string();
    let base = ["cluster", "kubeconfig", "--kubeconfig", &source];
    kubecred(home, &[], &[&base[..], args].concat())
}

/// [`cluster_kubeconfig`] trusting the sandbox's CA, written to `home/NAME`: its path.
#[track_caller]
fn generate(
    home: &Path,
    sandbox: &SandboxProcess,
    name: &str,
    args: &[&str],
) -> Result<PathBuf, BoxError> {
    let (ca, generated) = (sandbox.ca.display().to_string(), home.join(name));
    let out = generated.display().to_string();
    let output = cluster_kubeconfig(
        home,
        sandbox,
        &[args, &["--ca-file", &ca, "-o", &out]].concat(),
    )?;
    assert_success(&output);
    Ok(generated)
}

/// Asserts `kubectl get --raw /version` with `kubeconfig` reaches the sandbox's API server.
#[track_caller]
fn assert_kubectl_reaches_the_sandbox(home: &Path, kubeconfig: &Path) -> TestResult {
    let version = isolated("kubectl", home)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["get", "--raw", "/version"])
        .output()?;
    assert!(
        version.status.success(),
        "kubectl failed: {}",
        stderr(&version)
    );
    assert!(
        stdout(&version).contains("kubecred-sandbox"),
        "{}",
        stdout(&version)
    );
    Ok(())
}

fn have_kubectl() -> bool {
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

#[test]
fn kubectl_reaches_the_sandbox_through_the_exec_plugin() -> TestResult {
    if !have_kubectl() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let sandbox = start(home.path(), free_port()?, "")?;
    let generated = generate(
        home.path(),
        &sandbox,
        "remote-kubeconfig",
        &[
            "--provider",
            "generic",
            "--address",
            &sandbox.url,
            "--namespace",
            "team-a",
            "--service-account",
            "app",
        ],
    )?;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&generated)?.permissions().mode() & 0o777,
        0o600
    );
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&generated)?)?;
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        sandbox.url.as_str()
    );
    assert!(
        config["users"][0]["user"]["exec"]["args"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "team-a"))
    );
    assert_kubectl_reaches_the_sandbox(home.path(), &generated)?;

    // kubectl runs the plugin per connection: the second call is served from the disk cache
    // (the same token; a fresh mint would differ), `--no-cache` mints anew.
    let source = sandbox.kubeconfig.display().to_string();
    let credentials = |extra: &[&str]| -> Result<String, BoxError> {
        let base = [
            "cluster",
            "credentials",
            "--provider",
            "generic",
            "--address",
            &sandbox.url,
            "-n",
            "team-a",
            "--service-account",
            "app",
            "--kubeconfig",
            &source,
        ];
        let output = kubecred(home.path(), &[], &[&base[..], extra].concat())?;
        Ok(json(&output)?["status"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    };
    let first = credentials(&[])?;
    assert!(!first.is_empty());
    assert_eq!(credentials(&[])?, first);
    assert_ne!(credentials(&["--no-cache"])?, first);
    assert!(
        std::fs::read_dir(home.path().join(".cache/kubecred"))?
            .next()
            .is_some()
    );
    Ok(())
}

#[test]
fn a_remote_cluster_config_map_becomes_a_working_kubeconfig() -> TestResult {
    if !have_kubectl() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let port = free_port()?;
    let config_map = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: loopback, namespace: team-a}}\ndata:\n  provider: generic\n  address: https://127.0.0.1:{port}\n  serviceAccountName: app\n  audiences: |\n    https://127.0.0.1:{port}\n"
    );
    let sandbox = start(home.path(), port, &config_map)?;
    let from_configmap = ["--from-configmap", "team-a/loopback"];
    let generated = generate(home.path(), &sandbox, "from-configmap", &from_configmap)?;
    assert_kubectl_reaches_the_sandbox(home.path(), &generated)?;

    let other_namespace = cluster_kubeconfig(
        home.path(),
        &sandbox,
        &[&from_configmap[..], &["-n", "team-b"]].concat(),
    )?;
    assert_exit(&other_namespace, 2, &[]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eks_kubeconfig_has_the_described_endpoint_and_a_verifiable_exec_token() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let aws = aws_world()
        .user(
            "arn:aws:iam::123456789012:user/ops",
            "AKIAOPSEXAMPLE0001",
            "ops-secret",
        )
        .start_aws()
        .await?;
    let home = tempfile::tempdir()?;
    let (sts, eks) = (aws.sts_url(), moto.endpoint.clone());
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAOPSEXAMPLE0001"),
        ("AWS_SECRET_ACCESS_KEY", "ops-secret"),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("AWS_ENDPOINT_URL_EKS", eks.as_str()),
    ];
    let create = isolated("aws", home.path())
        .envs(env)
        .args([
            "--endpoint-url",
            &eks,
            "--region",
            "us-east-1",
            "eks",
            "create-cluster",
            "--name",
            "prod",
            "--role-arn",
            "arn:aws:iam::123456789012:role/eks",
            "--resources-vpc-config",
            "subnetIds=subnet-1",
            "--output",
            "json",
        ])
        .output()?;
    assert_success(&create);
    let described = json(&create)?;
    let arn = described["cluster"]["arn"]
        .as_str()
        .ok_or("no ARN")?
        .to_owned();

    let output = kubecred(
        home.path(),
        &env,
        &[
            "cluster",
            "kubeconfig",
            "--provider",
            "aws",
            "--cluster",
            &arn,
        ],
    )?;
    assert_success(&output);
    let config = json(&output)?;
    let cluster = &config["clusters"][0]["cluster"];
    assert_eq!(cluster["server"], described["cluster"]["endpoint"]);
    let ca = STANDARD.decode(
        cluster["certificate-authority-data"]
            .as_str()
            .unwrap_or_default(),
    )?;
    assert_eq!(
        STANDARD.decode(
            described["cluster"]["certificateAuthority"]["data"]
                .as_str()
                .unwrap_or_default()
        )?,
        ca
    );

    // Run the exec entry as kubectl would.
    let exec = &config["users"][0]["user"]["exec"];
    let args: Vec<&str> = exec["args"]
        .as_array()
        .ok_or("no args")?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let credential = isolated(exec["command"].as_str().unwrap_or_default(), home.path())
        .envs(env)
        .args(&args)
        .output()?;
    assert_success(&credential);
    let token = json(&credential)?["status"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        aws.verify_eks_token(&token, "prod")?,
        "arn:aws:iam::123456789012:user/ops"
    );
    Ok(())
}
