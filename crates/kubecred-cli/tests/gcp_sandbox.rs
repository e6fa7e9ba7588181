//! `kubecred sandbox`'s GCP stand-ins, reached as its banner says: a ServiceAccount token from
//! `kubecred token` is exchanged at the printed STS and impersonates the Google service account
//! its annotation names, and the metadata server at the exported `GCE_METADATA_HOST` describes
//! the project.

mod support;

use std::path::Path;

use support::{BIN, SandboxProcess, TestResult, isolated, success_json};

const POOL_PROVIDER: &str = "//iam.googleapis.com/projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";

/// The value after `  <label>: ` in the banner.
fn banner(sandbox: &SandboxProcess, label: &str) -> Result<String, String> {
    let prefix = format!("  {label}: ");
    sandbox
        .banner
        .iter()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
        .ok_or(format!(
            "the banner has no '{label}' line: {:?}",
            sandbox.banner
        ))
}

/// The value of the banner's `export NAME=value` line.
fn exported(sandbox: &SandboxProcess, name: &str) -> Result<String, String> {
    sandbox.exported(name).ok_or(format!(
        "the banner exports no {name}: {:?}",
        sandbox.banner
    ))
}

/// A federated token for `namespace/app` from the banner's STS.
async fn federated(
    home: &Path,
    sandbox: &SandboxProcess,
    namespace: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let audience = format!("https:{POOL_PROVIDER}");
    let output = isolated(BIN, home)
        .env("KUBECONFIG", &sandbox.kubeconfig)
        .args(["token", "--provider", "generic", "--namespace", namespace])
        .args([
            "--service-account",
            "app",
            "--audience",
            &audience,
            "--output",
            "json",
        ])
        .output()?;
    let token = success_json(&output)?["token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("audience", POOL_PROVIDER),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ("subject_token", &token),
        ("scope", "https://www.googleapis.com/auth/cloud-platform"),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = reqwest::Client::new()
        .post(exported(sandbox, "KUBECRED_GCP_STS_URL")?)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    let json: serde_json::Value = response.json().await?;
    Ok(json["access_token"]
        .as_str()
        .ok_or(format!("no access token: {json}"))?
        .to_owned())
}

async fn impersonate(
    sandbox: &SandboxProcess,
    token: &str,
) -> Result<u16, Box<dyn std::error::Error + Send + Sync>> {
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/team-a-app@example-project.iam.gserviceaccount.com:generateAccessToken",
        exported(sandbox, "KUBECRED_GCP_IAM_CREDENTIALS_URL")?
    );
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({"scope": ["https://www.googleapis.com/auth/cloud-platform"]}))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

#[tokio::test]
async fn the_banner_points_at_gcp_stand_ins_trusting_annotated_service_accounts() -> TestResult {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    assert_eq!(banner(&sandbox, "provider audience")?, POOL_PROVIDER);

    // team-a/app is annotated with team-a-app@example-project; team-b/app is not.
    let annotated = federated(home.path(), &sandbox, "team-a").await?;
    assert_eq!(impersonate(&sandbox, &annotated).await?, 200);
    let other = federated(home.path(), &sandbox, "team-b").await?;
    assert_eq!(impersonate(&sandbox, &other).await?, 403);

    let host = sandbox
        .exported("GCE_METADATA_HOST")
        .ok_or("no GCE_METADATA_HOST")?;
    let project = reqwest::Client::new()
        .get(format!(
            "http://{host}/computeMetadata/v1/project/project-id"
        ))
        .header("Metadata-Flavor", "Google")
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(project, "example-project");
    Ok(())
}
