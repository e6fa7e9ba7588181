//! GKE remote clusters with the `gcp` provider against `kubecred sandbox`, whose GKE
//! `clusters.get` stand-in reports the sandbox's own API server (and CA) for cluster
//! `kubecred-sandbox`, and whose API server takes the stand-ins' access tokens as GKE's takes
//! Google's: `cluster credentials` prints an ExecCredential holding the identity's access token,
//! `cluster kubeconfig` (from flags and from a remote-cluster ConfigMap with `provider: gcp`)
//! writes a kubeconfig kubectl uses, and a ConfigMap's address other than the reported
//! endpoint gets no token of the caller's own identity.

mod support;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use support::{
    BoxError, SandboxProcess, TestResult, assert_exit, assert_success, have_kubectl, isolated,
    json, kubecred, stderr, stdout, success_json,
};

const CLUSTER: &str = "projects/example-project/locations/europe-west1/clusters/kubecred-sandbox";
const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
const ATTACKER: &str = "https://attacker.example:6443";

/// `app` impersonates the app's service account (GKE workload identity, learnt from the
/// metadata server); the ConfigMaps describe the sandbox's GKE cluster.
fn manifests(port: u16) -> String {
    let config_map = |name: &str, address: Option<String>, account: Option<&str>| {
        let address = address
            .map(|a| format!("  address: \"{a}\"\n"))
            .unwrap_or_default();
        let account = account
            .map(|a| format!("  serviceAccountName: {a}\n"))
            .unwrap_or_default();
        format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: team-a}}\n\
             data:\n  provider: gcp\n  cluster: \"{CLUSTER}\"\n{address}{account}"
        )
    };
    [
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n".to_owned(),
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  \
         annotations: {iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com}\n"
            .to_owned(),
        config_map("gke", None, Some("app")),
        config_map("tenant-address", Some(ATTACKER.into()), None),
        config_map("reported-address", Some(format!("https://127.0.0.1:{port}")), None),
    ]
    .concat()
}

struct World {
    home: tempfile::TempDir,
    sandbox: SandboxProcess,
    env: Vec<(&'static str, String)>,
}

fn world() -> Result<World, BoxError> {
    let home = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let sandbox = SandboxProcess::start(home.path(), &manifests(port), port)?;
    let mut env = vec![(
        "KUBECONFIG",
        sandbox.kubeconfig.to_string_lossy().into_owned(),
    )];
    for name in [
        "GCE_METADATA_HOST",
        "KUBECRED_GCP_STS_URL",
        "KUBECRED_GCP_IAM_CREDENTIALS_URL",
        "KUBECRED_GCP_CONTAINER_URL",
    ] {
        let value = sandbox.exported(name).ok_or(format!(
            "the banner exports no {name}: {:?}",
            sandbox.banner
        ))?;
        env.push((name, value));
    }
    Ok(World { home, sandbox, env })
}

impl World {
    fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn kubecred(&self, args: &[&str]) -> std::io::Result<Output> {
        kubecred(self.home.path(), &self.env(), args)
    }

    /// `kubectl get --raw /version` with `kubeconfig` (and the stand-ins' variables, which the
    /// exec entry's kubecred reads): what the sandbox answered.
    fn kubectl_version(&self, kubeconfig: &Path) -> Result<String, BoxError> {
        let output = isolated("kubectl", self.home.path())
            .envs(self.env())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["get", "--raw", "/version"])
            .output()?;
        match output.status.success() {
            true => Ok(stdout(&output)),
            false => Err(format!("kubectl failed: {}", stderr(&output)).into()),
        }
    }

    /// The service account the stand-ins' `tokeninfo` names for `token`.
    async fn token_email(&self, token: &str) -> Result<String, BoxError> {
        let prefix = "  OAuth token URL: ";
        let oauth = self
            .sandbox
            .banner
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .ok_or("the banner has no OAuth token URL")?;
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let url = format!("{oauth}info?access_token={token}");
        let info: serde_json::Value = reqwest::get(url).await?.json().await?;
        Ok(info["email"].as_str().unwrap_or_default().to_owned())
    }

    /// `cluster kubeconfig ARGS -o FILE`: the file's path and its JSON.
    fn kubeconfig(
        &self,
        name: &str,
        args: &[&str],
    ) -> Result<(std::path::PathBuf, serde_json::Value), BoxError> {
        let path = self.home.path().join(name);
        let out = path.display().to_string();
        let output = self.kubecred(&[&["cluster", "kubeconfig"], args, &["-o", &out]].concat())?;
        assert_success(&output);
        let config = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        Ok((path, config))
    }
}

const APP: [&str; 4] = ["-n", "team-a", "--service-account", "app"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_credentials_hold_the_service_accounts_access_token() -> TestResult {
    let w = world()?;
    let args = [
        "cluster",
        "credentials",
        "--provider",
        "gcp",
        "--cluster",
        CLUSTER,
    ];
    let output = w.kubecred(&[&args[..], &APP, &["--no-cache"]].concat())?;
    let credential = success_json(&output)?;
    assert_eq!(credential["kind"], "ExecCredential", "{credential}");
    assert!(credential["status"]["expirationTimestamp"].is_string());
    let token = credential["status"]["token"].as_str().ok_or("no token")?;
    assert_eq!(w.token_email(token).await?, APP_SA);

    let bad = [
        &args[..4],
        &["--cluster", "projects/x/locations/y/clusters/z"],
        &APP,
    ]
    .concat();
    assert_exit(
        &w.kubecred(&bad)?,
        1,
        &["invalid GKE cluster ID", "bad project 'x'"],
    );
    Ok(())
}

/// The disk cache is keyed by the GCP endpoints too: another STS is another credential.
#[test]
fn the_disk_cache_is_keyed_by_the_gcp_endpoints() -> TestResult {
    let w = world()?;
    let args = [
        "cluster",
        "credentials",
        "--provider",
        "gcp",
        "--cluster",
        CLUSTER,
    ];
    let args = [&args[..], &APP].concat();
    let first = success_json(&w.kubecred(&args)?)?;
    let cached = success_json(&w.kubecred(&args)?)?;
    assert_eq!(first["status"]["token"], cached["status"]["token"]);
    let mut env = w.env();
    env.retain(|(name, _)| *name != "KUBECRED_GCP_STS_URL");
    env.push(("KUBECRED_GCP_STS_URL", "http://127.0.0.1:1/v1/token"));
    let elsewhere = kubecred(w.home.path(), &env, &args)?;
    assert_exit(
        &elsewhere,
        1,
        &["exchange the Kubernetes token at Google STS"],
    );
    Ok(())
}

#[test]
fn a_gke_kubeconfig_has_the_reported_endpoint_and_works_with_kubectl() -> TestResult {
    let w = world()?;
    let args = ["--provider", "gcp", "--cluster", CLUSTER];
    let (path, config) = w.kubeconfig("gke-kubeconfig", &[&args[..], &APP].concat())?;
    let cluster = &config["clusters"][0]["cluster"];
    assert_eq!(cluster["server"], w.sandbox.url.as_str(), "{config}");
    let ca = STANDARD.decode(
        cluster["certificate-authority-data"]
            .as_str()
            .unwrap_or_default(),
    )?;
    assert_eq!(String::from_utf8(ca)?, w.sandbox.ca_pem()?);
    assert_eq!(
        config["contexts"][0]["name"], "kubecred-sandbox",
        "{config}"
    );
    if have_kubectl() {
        assert!(w.kubectl_version(&path)?.contains("kubecred-sandbox"));
    }
    Ok(())
}

/// With both the address and the CA given, GKE is not asked (its API here listens nowhere).
#[test]
fn a_given_address_and_ca_skip_clusters_get() -> TestResult {
    let w = world()?;
    let mut env = w.env();
    env.retain(|(name, _)| *name != "KUBECRED_GCP_CONTAINER_URL");
    env.push(("KUBECRED_GCP_CONTAINER_URL", "http://127.0.0.1:1"));
    let ca = w.sandbox.ca.display().to_string();
    let base = [
        "cluster",
        "kubeconfig",
        "--provider",
        "gcp",
        "--cluster",
        CLUSTER,
    ];
    let given = [
        &base[..],
        &APP,
        &["--address", "https://gke.example:443", "--ca-file", &ca],
    ];
    let output = kubecred(w.home.path(), &env, &given.concat())?;
    assert_success(&output);
    assert_eq!(
        json(&output)?["clusters"][0]["cluster"]["server"],
        "https://gke.example:443"
    );
    let address_only = [&base[..], &APP, &["--address", "https://gke.example:443"]];
    let output = kubecred(w.home.path(), &env, &address_only.concat())?;
    assert_exit(&output, 1, &["get the GKE cluster (clusters.get)"]);
    Ok(())
}

#[test]
fn a_gcp_config_map_becomes_a_working_kubeconfig() -> TestResult {
    let w = world()?;
    let (path, config) = w.kubeconfig(
        "from-configmap",
        &["--from-configmap", "team-a/gke", "-n", "team-a"],
    )?;
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        w.sandbox.url.as_str()
    );
    if have_kubectl() {
        assert!(w.kubectl_version(&path)?.contains("kubecred-sandbox"));
    }
    Ok(())
}

/// With the node's identity, a ConfigMap's address gets the token only if GKE reports it.
#[test]
fn a_config_maps_address_gets_the_nodes_token_only_if_gke_reports_it() -> TestResult {
    let w = world()?;
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
        w.kubecred(&args)
    };
    let refused = generate("team-a/tenant-address")?;
    assert_exit(
        &refused,
        1,
        &[
            ATTACKER,
            &w.sandbox.url,
            "serviceAccountName",
            "--trust-configmap-address",
        ],
    );
    assert_eq!(stdout(&refused), "", "no kubeconfig is written");
    let reported = generate("team-a/reported-address")?;
    assert_success(&reported);
    assert_eq!(
        json(&reported)?["clusters"][0]["cluster"]["server"],
        w.sandbox.url.as_str()
    );
    Ok(())
}

#[test]
fn the_banner_names_the_container_api_and_the_cluster() -> TestResult {
    let w = world()?;
    assert!(
        w.sandbox.banner.iter().any(|line| line.ends_with(CLUSTER)),
        "{:?}",
        w.sandbox.banner
    );
    Ok(())
}
