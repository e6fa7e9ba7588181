//! `kubecred` with the `gcp` provider against `kubecred sandbox`'s GCP stand-ins, pointed at
//! them by the variables its banner exports: `token` on GKE (the metadata server's cluster)
//! and off GKE (the provider annotation), `--node`, `registry login` and the docker credential
//! helper for an Artifact Registry host. Each token is checked with the stand-ins' `tokeninfo`.

mod support;

use std::process::Output;

use support::{
    BoxError, SandboxProcess, TestResult, assert_exit, helper_on_path, isolated, kubecred,
    run_with_stdin, stdout, success_json,
};

const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
const PROVIDER: &str = "projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";
const GAR_IMAGE: &str = "europe-west1-docker.pkg.dev/example-project/images/app:1.0";

/// `app` is GKE's (no provider annotation); `federated` is not; both impersonate the app's
/// service account, and `kubecred sandbox` binds each annotated ServiceAccount to it.
const MANIFESTS: &str = "
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team-a
  annotations: {iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: federated
  namespace: team-a
  annotations:
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
    gcp.auth.fluxcd.io/workload-identity-provider: projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: direct, namespace: team-a}
";

struct World {
    home: tempfile::TempDir,
    sandbox: SandboxProcess,
    env: Vec<(&'static str, String)>,
}

fn world() -> Result<World, BoxError> {
    let home = tempfile::tempdir()?;
    let sandbox = SandboxProcess::start(home.path(), MANIFESTS, 0)?;
    let mut env = vec![(
        "KUBECONFIG",
        sandbox.kubeconfig.to_string_lossy().into_owned(),
    )];
    for name in [
        "GCE_METADATA_HOST",
        "KUBECRED_GCP_STS_URL",
        "KUBECRED_GCP_IAM_CREDENTIALS_URL",
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

    /// What the stand-ins' `tokeninfo` says of `token`.
    async fn token_info(&self, token: &str) -> Result<serde_json::Value, BoxError> {
        let prefix = "  OAuth token URL: ";
        let oauth = self
            .sandbox
            .banner
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .ok_or("the banner has no OAuth token URL")?;
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        let url = format!("{oauth}info?access_token={token}");
        let response = reqwest::Client::new().get(url).send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        match status.is_success() {
            true => Ok(body),
            false => Err(format!("tokeninfo refused the token: {body}").into()),
        }
    }
}

fn gcp_token(service_account: &str) -> Vec<&str> {
    let base = [
        "token",
        "--provider",
        "gcp",
        "-n",
        "team-a",
        "--output",
        "json",
    ];
    [&base[..], &["--service-account", service_account]].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_exchanges_on_and_off_gke_and_impersonates() -> TestResult {
    let w = world()?;
    for service_account in ["app", "federated"] {
        let value = success_json(&w.kubecred(&gcp_token(service_account))?)?;
        assert_eq!(value["kind"], "AccessToken", "{value}");
        assert!(value["expiresAt"].as_str().is_some(), "{value}");
        let token = value["token"].as_str().ok_or("no token")?;
        let info = w.token_info(token).await?;
        assert_eq!(info["email"], APP_SA, "{service_account}: {info}");
        assert_eq!(
            info["scope"],
            "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email"
        );
    }
    // Direct access on GKE: the federated token itself, for the cluster's workload pool.
    let value = success_json(&w.kubecred(&gcp_token("direct"))?)?;
    let info = w
        .token_info(value["token"].as_str().ok_or("no token")?)
        .await?;
    assert!(info.get("email").is_none(), "{info}");
    let subject = info["sub"].as_str().unwrap_or_default();
    assert!(subject.contains("example-project.svc.id.goog"), "{info}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_level_is_the_metadata_servers_token() -> TestResult {
    let w = world()?;
    let output = w.kubecred(&["token", "--provider", "gcp", "--node", "--output", "json"])?;
    let value = success_json(&output)?;
    let info = w
        .token_info(value["token"].as_str().ok_or("no token")?)
        .await?;
    assert!(
        info["email"]
            .as_str()
            .is_some_and(|e| e.starts_with("kubecred-sandbox-node@")),
        "{info}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_login_finds_gcp_by_the_artifact_registry_host() -> TestResult {
    let w = world()?;
    let login = [
        "registry",
        "login",
        GAR_IMAGE,
        "-n",
        "team-a",
        "--service-account",
        "app",
    ];
    let value = success_json(&w.kubecred(&login)?)?;
    assert_eq!(value["username"], "oauth2accesstoken", "{value}");
    let password = value["password"].as_str().ok_or("no password")?;
    assert_eq!(w.token_info(password).await?["email"], APP_SA);
    // A look-alike of a GCR host belongs to no provider.
    let lookalike = ["registry", "login", "gcr.io.example.net/x", "-n", "team-a"];
    let output = w.kubecred(&[&lookalike[..], &["--service-account", "app"]].concat())?;
    assert_exit(
        &output,
        2,
        &["is not a registry kubecred knows", "gcp: GAR, GCR, S3NS"],
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_helper_logs_in_to_artifact_registry() -> TestResult {
    let w = world()?;
    let (bin, path) = helper_on_path(w.home.path(), "docker-credential-kubecred")?;
    let config = w.home.path().join(".config").join("kubecred");
    std::fs::create_dir_all(&config)?;
    let yaml = format!(
        "registries:\n  europe-west1-docker.pkg.dev:\n    serviceAccount: team-a/federated\n    kubeconfig: {}\n",
        w.sandbox.kubeconfig.display()
    );
    std::fs::write(config.join("config.yaml"), yaml)?;
    let mut command = isolated(
        &bin.join("docker-credential-kubecred").to_string_lossy(),
        w.home.path(),
    );
    command.env("PATH", &path).envs(w.env()).arg("get");
    let output = run_with_stdin(command, "https://europe-west1-docker.pkg.dev")?;
    let answer: serde_json::Value =
        serde_json::from_str(&stdout(&output)).map_err(|e| format!("{e}: {output:?}"))?;
    assert_eq!(answer["Username"], "oauth2accesstoken", "{answer}");
    let secret = answer["Secret"].as_str().ok_or("no Secret")?;
    assert_eq!(w.token_info(secret).await?["email"], APP_SA);
    Ok(())
}

/// Controller level, Application Default Credentials: an `external_account` file in
/// `GOOGLE_APPLICATION_CREDENTIALS` whose file source holds a ServiceAccount token (minted here
/// with the generic provider), exchanged at the STS stand-in and impersonating the app's
/// account; without any file, the metadata server's token; a named file that is missing is an
/// error naming it (never skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_is_application_default_credentials() -> TestResult {
    let w = world()?;
    let mint = [
        "token",
        "--provider",
        "generic",
        "-n",
        "team-a",
        "--service-account",
        "federated",
        "--audience",
    ];
    let audience = format!("//iam.googleapis.com/{PROVIDER}");
    let output = w.kubecred(&[&mint[..], &[audience.as_str(), "--output", "json"]].concat())?;
    let subject = success_json(&output)?["token"]
        .as_str()
        .ok_or("no Kubernetes token")?
        .to_owned();
    let subject_file = w.home.path().join("subject.jwt");
    std::fs::write(&subject_file, &subject)?;
    let value = |name: &str| {
        w.env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let iam = value("KUBECRED_GCP_IAM_CREDENTIALS_URL").ok_or("no IAM URL")?;
    let config = serde_json::json!({
        "type": "external_account",
        "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": value("KUBECRED_GCP_STS_URL").ok_or("no STS URL")?,
        "service_account_impersonation_url": format!(
            "{iam}/v1/projects/-/serviceAccounts/{APP_SA}:generateAccessToken"
        ),
        "credential_source": {"file": subject_file},
    });
    let config_file = w.home.path().join("adc.json");
    std::fs::write(&config_file, config.to_string())?;
    let controller = ["token", "--provider", "gcp", "--output", "json"];
    let mut env = w.env();
    let config_path = config_file.to_string_lossy().into_owned();
    env.push(("GOOGLE_APPLICATION_CREDENTIALS", &config_path));
    let output = kubecred(w.home.path(), &env, &controller)?;
    let token = success_json(&output)?["token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    assert_eq!(w.token_info(&token).await?["email"], APP_SA);
    // Nothing named, no gcloud file under the test's HOME: the metadata server's token.
    let value = success_json(&w.kubecred(&controller)?)?;
    let info = w
        .token_info(value["token"].as_str().ok_or("no token")?)
        .await?;
    let email = info["email"].as_str().unwrap_or_default();
    assert!(email.starts_with("kubecred-sandbox-node@"), "{info}");
    let missing = w
        .home
        .path()
        .join("missing.json")
        .to_string_lossy()
        .into_owned();
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", missing.as_str())];
    let output = kubecred(w.home.path(), &env, &controller)?;
    assert_exit(
        &output,
        1,
        &[
            "GOOGLE_APPLICATION_CREDENTIALS file",
            "missing.json: no such file",
        ],
    );
    assert!(!stdout(&output).contains(&subject));
    Ok(())
}

/// A `CredentialProviderRequest` for a GAR image, as the kubelet writes it.
fn kubelet_request(token: Option<&str>) -> String {
    let mut request = serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": GAR_IMAGE,
    });
    if let Some(token) = token {
        request["serviceAccountToken"] = token.into();
        request["serviceAccountAnnotations"] = serde_json::json!({
            "iam.gke.io/gcp-service-account": APP_SA,
            "gcp.auth.fluxcd.io/workload-identity-provider": PROVIDER,
        });
    }
    request.to_string()
}

/// The `auth` entry of the GAR host in the provider's answer.
fn kubelet_password(output: &Output) -> Result<String, BoxError> {
    let response = success_json(output)?;
    let entry = &response["auth"]["europe-west1-docker.pkg.dev"];
    assert_eq!(entry["username"], "oauth2accesstoken", "{response}");
    Ok(entry["password"].as_str().ok_or("no password")?.to_owned())
}

/// KEP-4412: the kubelet's pod token (audience: the pool provider's) with the pod's
/// ServiceAccount annotations; then without a token, the node's identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubelet_provider_logs_in_to_artifact_registry() -> TestResult {
    let w = world()?;
    let audience = format!("//iam.googleapis.com/{PROVIDER}");
    let minted = w.kubecred(&[
        "token",
        "--provider",
        "generic",
        "-n",
        "team-a",
        "--service-account",
        "federated",
        "--audience",
        &audience,
        "--output",
        "json",
    ])?;
    let pod_token = success_json(&minted)?["token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    let mut command = isolated(support::BIN, w.home.path());
    command.envs(w.env()).arg("kubelet-credential-provider");
    let output = run_with_stdin(command, &kubelet_request(Some(&pod_token)))?;
    let password = kubelet_password(&output)?;
    assert_eq!(w.token_info(&password).await?["email"], APP_SA);

    let mut command = isolated(support::BIN, w.home.path());
    command
        .envs(w.env())
        .args(["kubelet-credential-provider", "--identity", "node"]);
    let output = run_with_stdin(command, &kubelet_request(None))?;
    let password = kubelet_password(&output)?;
    let info = w.token_info(&password).await?;
    assert!(
        info["email"]
            .as_str()
            .is_some_and(|e| e.starts_with("kubecred-sandbox-node@")),
        "{info}"
    );
    Ok(())
}

/// `-vvv` (trace, the HTTP stacks' events included) on the GCP path: the logs show the
/// exchange and the impersonation, never the Kubernetes token or an access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_reaches_the_logs_at_trace_level() -> TestResult {
    let w = world()?;
    let output = w.kubecred(&[&gcp_token("federated")[..], &["-vvv"]].concat())?;
    let value = success_json(&output)?;
    let token = value["token"].as_str().ok_or("no token")?;
    let logs = support::stderr(&output);
    assert!(logs.contains("GCP STS token exchange"), "{logs}");
    assert!(logs.contains("GCP service account impersonation"), "{logs}");
    assert!(!logs.contains(token), "the logs leak the access token");
    assert!(!logs.contains("eyJ"), "the logs carry a JWT");
    // The stand-ins' tokens all start `ya29.`: this covers the federated token too.
    assert!(!logs.contains("ya29."), "the logs carry an access token");
    Ok(())
}
