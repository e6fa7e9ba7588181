//! `kubecred cluster kubeconfig` end to end: kubectl reaches the sandbox's API server through the
//! generated kubeconfig's exec plugin (generic provider, from flags and from a remote-cluster
//! ConfigMap), and an EKS kubeconfig carries the described server and CA and an exec entry whose
//! token the STS stand-in's authenticator accepts.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

mod support;
use support::moto::Moto;
use support::{
    BoxError, SandboxProcess, TestResult, assert_exit, assert_success, aws_world, have_kubectl,
    isolated, json, kubecred, stderr, stdout,
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

/// Creates EKS cluster `prod` in moto at `eks` with the AWS CLI: its ARN and the answer.
fn create_eks_cluster(
    home: &Path,
    env: &[(&str, &str)],
    eks: &str,
) -> Result<(String, serde_json::Value), BoxError> {
    let create = isolated("aws", home)
        .envs(env.iter().copied())
        .args([
            "--endpoint-url",
            eks,
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
    Ok((arn, described))
}

/// A kubeconfig ConfigMap `team-a/NAME` for EKS cluster `arn` at `address`, naming
/// `service_account` if any.
fn eks_config_map(name: &str, arn: &str, address: &str, service_account: Option<&str>) -> String {
    let account = service_account
        .map(|sa| format!("  serviceAccountName: {sa}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: team-a}}\ndata:\n  \
         provider: aws\n  cluster: \"{arn}\"\n  address: \"{address}\"\n  ca.crt: PEM\n{account}---\n"
    )
}

/// The access key ID an EKS token (`k8s-aws-v1.` + base64url presigned URL) was signed with.
fn signing_key_id(token: &str) -> Result<String, BoxError> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let encoded = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("not an EKS token")?;
    let url = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded)?)?;
    let credential = url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("X-Amz-Credential="))
        .ok_or("no X-Amz-Credential")?;
    Ok(credential
        .split(['/', '%'])
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Runs a kubeconfig's exec entry as kubectl would: the ExecCredential's token.
fn exec_token(
    home: &Path,
    env: &[(&str, &str)],
    config: &serde_json::Value,
) -> Result<String, BoxError> {
    let exec = &config["users"][0]["user"]["exec"];
    let args: Vec<&str> = exec["args"]
        .as_array()
        .ok_or("no args")?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let credential = isolated(exec["command"].as_str().unwrap_or_default(), home)
        .envs(env.iter().copied())
        .args(&args)
        .output()?;
    assert_success(&credential);
    Ok(json(&credential)?["status"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// A ConfigMap is the tenant's: with no serviceAccountName, a token of the caller's own
/// identity goes to its address only when EKS reports that address for the cluster, or when the
/// caller says `--trust-configmap-address`. A serviceAccountName, or the lockdown's default
/// ServiceAccount, is the tenant's own identity: its address is used as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_maps_address_gets_the_callers_identity_only_if_eks_reports_it() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let home = tempfile::tempdir()?;
    let ops_keys = [
        ("AWS_ACCESS_KEY_ID", "AKIAOPSEXAMPLE0001"),
        ("AWS_SECRET_ACCESS_KEY", "ops-secret"),
    ];
    let (arn, described) = create_eks_cluster(home.path(), &ops_keys, &moto.endpoint)?;
    let reported = described["cluster"]["endpoint"]
        .as_str()
        .ok_or("no endpoint")?;
    let attacker = "https://attacker.example:6443";
    let manifests = [
        eks_config_map("tenant-address", &arn, attacker, None),
        eks_config_map("reported-address", &arn, reported, None),
        eks_config_map("tenant-address-sa", &arn, attacker, Some("app")),
    ]
    .concat();
    let sandbox = start(home.path(), 0, &manifests)?;
    let sts = sandbox.exported("AWS_ENDPOINT_URL_STS").ok_or("no STS")?;
    let source = sandbox.kubeconfig.display().to_string();
    let env = [
        &ops_keys[..],
        &[
            ("AWS_ENDPOINT_URL_EKS", moto.endpoint.as_str()),
            ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ],
    ]
    .concat();
    let generate = |map: &str, extra: &[&str]| {
        let base = [
            "cluster",
            "kubeconfig",
            "--kubeconfig",
            &source,
            "--from-configmap",
            map,
        ];
        kubecred(home.path(), &env, &[&base[..], extra].concat())
    };
    let server = |output: &Output| -> Result<String, BoxError> {
        let config = json(output)?;
        Ok(config["clusters"][0]["cluster"]["server"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    };

    let refused = generate("team-a/tenant-address", &[])?;
    assert_exit(
        &refused,
        1,
        &[
            attacker,
            reported,
            "serviceAccountName",
            "--trust-configmap-address",
        ],
    );
    assert_eq!(stdout(&refused), "", "no kubeconfig is written");

    let trusted = generate("team-a/tenant-address", &["--trust-configmap-address"])?;
    assert_success(&trusted);
    assert_eq!(server(&trusted)?, attacker);

    let matching = generate("team-a/reported-address", &[])?;
    assert_success(&matching);
    assert_eq!(server(&matching)?, reported);

    let tenants_own = generate("team-a/tenant-address-sa", &[])?;
    assert_success(&tenants_own);
    assert_eq!(server(&tenants_own)?, attacker);

    // Lockdown: the object naming no ServiceAccount is forced onto the default one, at
    // generation and in the exec entry kubectl runs later; never the caller's own keys.
    let lockdown = ["--default-kubeconfig-service-account", "app"];
    let locked = generate("team-a/tenant-address", &lockdown)?;
    assert_success(&locked);
    let token = exec_token(home.path(), &env, &json(&locked)?)?;
    let key_id = signing_key_id(&token)?;
    assert!(key_id.starts_with("ASIA"), "signed with {key_id}");
    let unannotated = ["--default-kubeconfig-service-account", "tenant-default"];
    let default_without_role = generate("team-a/tenant-address", &unannotated)?;
    assert_exit(
        &default_without_role,
        1,
        &["team-a/tenant-default", "eks.amazonaws.com/role-arn"],
    );

    let without_configmap = kubecred(
        home.path(),
        &env,
        &[
            "cluster",
            "kubeconfig",
            "--provider",
            "aws",
            "--trust-configmap-address",
        ],
    )?;
    assert_exit(&without_configmap, 2, &["--from-configmap"]);
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
    let (arn, described) = create_eks_cluster(home.path(), &env, &eks)?;

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

/// The sandbox is also an EKS cluster (`kubecred sandbox` prints its ARN): the kubeconfig
/// `cluster kubeconfig --provider aws` writes for it (DescribeCluster on the service APIs
/// stand-in, allowed by the ServiceAccount's grant) makes kubectl authenticate as the role, as
/// EKS's authenticator does with the exec plugin's `k8s-aws-v1.` token; without the grant,
/// DescribeCluster is refused naming the action.
#[test]
fn the_sandbox_as_eks_authenticates_kubectl_as_the_role() -> TestResult {
    if !have_kubectl() {
        return Ok(());
    }
    let cluster = "arn:aws:eks:us-east-1:123456789012:cluster/kubecred-sandbox";
    let extra = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: eks-user\n  namespace: team-a\n  annotations:\n    \
         eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/team-a-eks\n    \
         sandbox.kubecred.io/aws-grants: {cluster}\n"
    );
    let home = tempfile::tempdir()?;
    let sandbox = start(home.path(), free_port()?, &extra)?;
    let exports: Vec<(String, String)> = sandbox
        .banner
        .iter()
        .filter_map(|line| line.strip_prefix("  export AWS_ENDPOINT_URL_"))
        .filter_map(|rest| rest.split_once('='))
        .map(|(k, v)| (format!("AWS_ENDPOINT_URL_{k}"), v.to_owned()))
        .collect();
    assert_eq!(exports.len(), 7, "{:?}", sandbox.banner);
    let env: Vec<(&str, &str)> = exports
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let source = sandbox.kubeconfig.display().to_string();
    let out = home.path().join("eks-kubeconfig");
    let out_arg = out.display().to_string();
    let write = |account: &str| {
        let args = [
            "cluster",
            "kubeconfig",
            "--kubeconfig",
            &source,
            "--provider",
            "aws",
            "--cluster",
            cluster,
            "--region",
            "us-east-1",
            "-n",
            "team-a",
            "--service-account",
            account,
            "-o",
            &out_arg,
        ];
        kubecred(home.path(), &env, &args)
    };
    assert_success(&write("eks-user")?);
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        sandbox.url.as_str()
    );
    let listed = isolated("kubectl", home.path())
        .envs(env.iter().copied())
        .arg("--kubeconfig")
        .arg(&out)
        .args(["get", "serviceaccounts", "-n", "team-a"])
        .output()?;
    // Authenticated as the role's session (the sandbox grants it no RBAC).
    assert!(
        stderr(&listed).contains(
            "User \"arn:aws:sts::123456789012:assumed-role/team-a-eks/eks-user.team-a.us-east-1.kubecred\" cannot list"
        ),
        "{}",
        stderr(&listed)
    );
    let refused = write("app")?;
    assert_exit(
        &refused,
        1,
        &["is not authorized to perform: eks:DescribeCluster"],
    );
    Ok(())
}
