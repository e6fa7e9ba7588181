//! Helpers shared by the GCP stand-ins' integration tests: a sandbox (the OIDC issuer) with GCP
//! stand-ins trusting it, and a clean-environment runner for Google's `google-auth` library.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use kubecred_sandbox::gcp::{
    Binding, ControlPlane, GcpConfig, GcpServiceAccount, GcpStandIns, GkeCluster, OidcProvider,
    TOKEN_CREATOR, WorkloadIdentityPool,
};
use kubecred_sandbox::{Sandbox, SandboxConfig};

pub const PROJECT_ID: &str = "sandbox-project";
pub const PROJECT_NUMBER: &str = "123456789000";
pub const POOL: &str = "kubecred-pool";
pub const PROVIDER: &str = "sandbox-issuer";
/// A provider whose allowed audience is [`CUSTOM_AUDIENCE`].
pub const CUSTOM_PROVIDER: &str = "custom-audience";
pub const CUSTOM_AUDIENCE: &str = "https://kubecred.example.test";
pub const CLUSTER: &str = "sandbox-cluster";
pub const LOCATION: &str = "europe-west1";
/// Impersonable by `team/app` (pool principal and GKE member).
pub const APP_SA: &str = "app@sandbox-project.iam.gserviceaccount.com";
/// Bound to `team/other` only.
pub const OTHER_SA: &str = "other@sandbox-project.iam.gserviceaccount.com";
/// Token creator: [`APP_SA`] may mint its tokens.
pub const CHAINED_SA: &str = "chained@sandbox-project.iam.gserviceaccount.com";
pub const NODE_SA: &str = "node@sandbox-project.iam.gserviceaccount.com";
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/R`.
pub fn provider_audience(provider: &str) -> String {
    format!(
        "//iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{POOL}/providers/{provider}"
    )
}

/// The principal of Kubernetes ServiceAccount `team/<name>` in the pool.
pub fn principal(name: &str) -> String {
    format!(
        "principal://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{POOL}/subject/system:serviceaccount:team:{name}"
    )
}

/// The GKE STS audience.
pub fn gke_audience() -> String {
    format!(
        "identitynamespace:{PROJECT_ID}.svc.id.goog:https://container.googleapis.com/v1/projects/{PROJECT_ID}/locations/{LOCATION}/clusters/{CLUSTER}"
    )
}

/// A sandbox issuer and the GCP stand-ins trusting it.
pub struct Env {
    pub sandbox: Sandbox,
    pub gcp: GcpStandIns,
}

impl Env {
    /// A `team/<name>` ServiceAccount token for `audiences`, valid `ttl`.
    pub fn token(&self, name: &str, audiences: &[&str], ttl: Duration) -> String {
        let audiences: Vec<String> = audiences.iter().map(|a| a.to_string()).collect();
        self.sandbox.issue_token("team", name, &audiences, ttl)
    }

    /// A `team/app` token for the pool provider's default audience.
    pub fn app_token(&self) -> String {
        let audience = format!("https:{}", provider_audience(PROVIDER));
        self.token("app", &[&audience], Duration::from_secs(3600))
    }

    pub async fn shutdown(self) {
        self.gcp.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

/// Starts the sandbox and the GCP stand-ins.
pub async fn start() -> Env {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let verifier = sandbox
        .verifier()
        .await
        .expect("the sandbox's issuer is discoverable");
    let provider = |id: &str, allowed_audiences: Vec<String>| OidcProvider {
        id: id.into(),
        verifier: verifier.clone(),
        allowed_audiences,
    };
    let config = GcpConfig {
        project_id: PROJECT_ID.into(),
        project_number: PROJECT_NUMBER.into(),
        pools: vec![WorkloadIdentityPool {
            id: POOL.into(),
            providers: vec![
                provider(PROVIDER, vec![]),
                provider(CUSTOM_PROVIDER, vec![CUSTOM_AUDIENCE.into()]),
            ],
        }],
        gke: Some(GkeCluster {
            name: CLUSTER.into(),
            location: LOCATION.into(),
            verifier: verifier.clone(),
        }),
        service_accounts: service_accounts(),
        node_service_account: Some(NODE_SA.into()),
        control_plane: Some(ControlPlane {
            endpoint: sandbox.url().trim_start_matches("https://").to_owned(),
            ca_pem: sandbox.ca_pem().to_owned(),
        }),
        ..GcpConfig::default()
    };
    let gcp = GcpStandIns::start(config)
        .await
        .expect("GCP stand-ins start");
    sandbox.accept_bearer_tokens(gcp.gke_authenticator());
    Env { sandbox, gcp }
}

fn service_accounts() -> Vec<GcpServiceAccount> {
    vec![
        GcpServiceAccount {
            email: APP_SA.into(),
            bindings: vec![
                Binding::workload_identity_user(principal("app")),
                Binding::workload_identity_user(format!(
                    "serviceAccount:{PROJECT_ID}.svc.id.goog[team/app]"
                )),
            ],
        },
        GcpServiceAccount {
            email: OTHER_SA.into(),
            bindings: vec![Binding::workload_identity_user(principal("other"))],
        },
        GcpServiceAccount {
            email: CHAINED_SA.into(),
            bindings: vec![Binding {
                role: TOKEN_CREATOR.into(),
                member: format!("serviceAccount:{APP_SA}"),
            }],
        },
    ]
}

/// What a child process printed and how it ended.
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The last stdout line as JSON, or a panic showing stderr.
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "command failed: {}", self.stderr);
        let line = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `program args` with a clean environment: PATH, HOME = `home`, plus `env`.
pub async fn run(program: &str, args: &[&str], env: &[(&str, &str)], home: &Path) -> Output {
    let mut command = std::process::Command::new(program);
    command.args(args).env_clear().env("HOME", home);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the blocking task runs")
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Whether python3 with google-auth and requests is usable; reports it missing otherwise
/// (a failure under CI).
pub async fn google_auth_available(home: &Path) -> bool {
    let probe = run(
        "python3",
        &["-c", "import google.auth, requests"],
        &[],
        home,
    )
    .await;
    if !probe.success {
        kubecred_sandbox::peers::missing(
            "google-auth (Python)",
            "python3 -m pip install google-auth requests",
            &probe.stderr.trim(),
        );
    }
    probe.success
}

/// Drives google-auth: `mode` `file` loads credentials from a file (external account or key),
/// `mode` `metadata` builds Compute Engine credentials; then refreshes, calls the OAuth
/// stand-in's `tokeninfo` with the token and prints one JSON line: `{"ok": true, "token",
/// "expiry", "tokeninfo", ...}` or `{"ok": false, "type", "args"}` with the exception.
const SCRIPT: &str = r#"
import json, sys
import google.auth
import google.auth.transport.requests as transport
from google.auth import compute_engine
from google.auth.compute_engine import _metadata

mode, arg, tokeninfo = sys.argv[1], sys.argv[2], sys.argv[3]
request = transport.Request()
extra = {}
try:
    if mode == "file":
        creds, project = google.auth.load_credentials_from_file(arg)
        creds = creds.with_scopes([sys.argv[4]])
        extra["class"] = type(creds).__module__ + "." + type(creds).__name__
    else:
        creds = compute_engine.Credentials()
        extra["project"] = _metadata.get_project_id(request)
        extra["cluster"] = _metadata.get(request, "instance/attributes/cluster-name")
        extra["location"] = _metadata.get(request, "instance/attributes/cluster-location")
    creds.refresh(request)
except Exception as e:
    print(json.dumps({"ok": False, "type": type(e).__name__, "args": [str(a) for a in e.args]}))
    sys.exit(0)
if mode == "metadata":
    extra["email"] = creds.service_account_email
info = request(url=tokeninfo + "?access_token=" + creds.token, method="GET")
print(json.dumps(dict(ok=True, token=creds.token, expiry=creds.expiry.isoformat(),
                      tokeninfo=json.loads(info.data), **extra)))
"#;

/// Runs [`SCRIPT`] with `args` and `env`.
pub async fn google_auth(
    env: &Env,
    args: &[&str],
    vars: &[(&str, &str)],
    home: &Path,
) -> serde_json::Value {
    let tokeninfo = env.gcp.oauth_token_url().replace("/token", "/tokeninfo");
    let mut all = vec!["-c", SCRIPT];
    all.extend_from_slice(&args[..2]);
    all.push(&tokeninfo);
    all.extend_from_slice(&args[2..]);
    run("python3", &all, vars, home).await.json()
}

/// Writes an `external_account` file whose subject token is `token` (in a file beside it),
/// for `audience`, impersonating `impersonate` if given; returns its path.
pub fn external_account_file(
    env: &Env,
    dir: &Path,
    token: &str,
    audience: &str,
    impersonate: Option<&str>,
) -> std::path::PathBuf {
    let token_file = dir.join("token");
    std::fs::write(&token_file, token).expect("token file written");
    let mut config = serde_json::json!({
        "type": "external_account",
        "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": env.gcp.sts_token_url(),
        "credential_source": {"file": token_file, "format": {"type": "text"}},
    });
    if let Some(email) = impersonate {
        config["service_account_impersonation_url"] = env.gcp.impersonation_url(email).into();
    }
    let path = dir.join("external-account.json");
    std::fs::write(&path, config.to_string()).expect("credentials file written");
    path
}

/// The JSON of google-auth's exception argument `index` (the response body it quotes).
pub fn quoted_body(result: &serde_json::Value, index: usize) -> serde_json::Value {
    let text = result["args"][index].as_str().unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {result}"))
}
