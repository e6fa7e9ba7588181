//! `kubecred demo`'s Azure step: team-a/app's token exchanged at the Entra stand-in for an
//! access token of the app its annotation names (object level), then an ACR login with it.
//!
//! Entra is reached over TLS only, and kubecred trusts the platform's roots (plus
//! `SSL_CERT_FILE`), so this step runs `kubecred` as a shell pointed at `kubecred sandbox`
//! would: a child of this binary with the stand-ins' variables and their CA in `SSL_CERT_FILE`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use base64::Engine as _;
use kubecred_sandbox::Sandbox;
use kubecred_sandbox::azure::AzureStandIns;

use crate::sandbox_azure::ACR_REGISTRIES;

/// Runs the step; the files it needs live in a private temporary directory.
pub async fn step(sandbox: &Sandbox, azure: &AzureStandIns) -> anyhow::Result<()> {
    let directory =
        std::env::temp_dir().join(format!("kubecred-demo-azure-{}", std::process::id()));
    let result = step_in(&directory, sandbox, azure).await;
    let _ = std::fs::remove_dir_all(&directory);
    result
}

async fn step_in(directory: &Path, sandbox: &Sandbox, azure: &AzureStandIns) -> anyhow::Result<()> {
    std::fs::create_dir_all(directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    let kubeconfig = directory.join("kubeconfig");
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    let ca = directory.join("azure-ca.pem");
    kubecred::fs::write_private(&ca, azure.ca_pem().as_bytes())?;
    let mut env = azure.env_vars();
    env.push(("KUBECONFIG", kubeconfig.display().to_string()));
    env.push(("SSL_CERT_FILE", ca.display().to_string()));

    let token = run(
        &env,
        &[
            "token",
            "--provider",
            "azure",
            "--namespace",
            "team-a",
            "--service-account",
            "app",
            "--output",
            "json",
        ],
    )
    .await?;
    let token = token["token"]
        .as_str()
        .context("no token in kubecred's answer")?;
    let claims = claims(token)?;
    println!(
        "9. azure: team-a/app's token exchanged at Entra ID (stand-in, verifying it against the issuer's JWKS and the app's federated credential) for an access token of app {} (aud {})",
        claims["appid"].as_str().unwrap_or_default(),
        claims["aud"].as_str().unwrap_or_default()
    );

    let registry = ACR_REGISTRIES[0];
    let login = run(
        &env,
        &[
            "registry",
            "login",
            registry,
            "--namespace",
            "team-a",
            "--service-account",
            "app",
        ],
    )
    .await?;
    let username = login["username"].as_str().unwrap_or_default();
    if azure.calls("acr.exchange") != 1 || login["password"].as_str().is_none() {
        bail!("expected one ACR exchange and a password, got {login}");
    }
    println!(
        "10. azure: ACR login to {registry}: an Entra token for the registry exchanged for a refresh token (username {username})"
    );
    Ok(())
}

/// `kubecred ARGS` with `env` (and PATH) only: its standard output as JSON.
async fn run(env: &[(&str, String)], args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let program = std::env::current_exe().context("finding this kubecred binary")?;
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .context("running kubecred")??;
    if !output.status.success() {
        bail!(
            "kubecred {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout).context("kubecred's answer is not JSON")
}

/// The (unverified) claims of a JWT: what the demo shows of a token the stand-in issued.
fn claims(token: &str) -> anyhow::Result<serde_json::Value> {
    let payload = token.split('.').nth(1).context("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .context("a JWT's payload is base64url")?;
    serde_json::from_slice(&bytes).context("a JWT's payload is JSON")
}
