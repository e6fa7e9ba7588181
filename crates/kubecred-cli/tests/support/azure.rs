//! An Azure world for the CLI's tests: the sandbox's Kubernetes API and the Azure stand-ins in
//! this process, configured as `kubecred sandbox` configures them for the same manifests
//! ([`super::sandbox_azure::config`]), plus what a test adds (apps with secrets or
//! certificates); the `kubecred` children get the stand-ins' variables, the kubeconfig and the
//! stand-ins' CA in `SSL_CERT_FILE`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use kubecred_sandbox::azure::{AzureConfig, AzureStandIns, TOKEN_EXCHANGE_AUDIENCE};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

use super::sandbox_azure;
use super::{BIN, BoxError, isolated};

/// The app `team-a/app` federates as in the worlds' manifests.
pub const APP: &str = "00000000-0000-0000-0000-00000000000a";
/// The sandbox tenant.
pub const TENANT: &str = sandbox_azure::AZURE_TENANT_ID;
/// The username of every ACR login.
pub const ACR_USERNAME: &str = "00000000-0000-0000-0000-000000000000";

/// team-a/app federates as [`APP`] (with the check grants when `grants`), team-a/plain has
/// no annotation.
pub fn manifests(grants: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-a}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations:\n    \
         azure.workload.identity/client-id: {APP}\n    azure.workload.identity/tenant-id: {TENANT}\n    \
         sandbox.kubecred.io/azure-grants: '{grants}'\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: plain, namespace: team-a}}\n"
    )
}

/// The sandbox, the Azure stand-ins and a home directory with the kubeconfig and the CA.
pub struct AzureWorld {
    pub sandbox: Sandbox,
    pub azure: AzureStandIns,
    pub home: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub ca: PathBuf,
}

/// A world serving `manifests` (sandbox on `port`, 0: any) with `adjust`'s changes to the
/// configuration `kubecred sandbox` would serve.
pub async fn azure_world(
    manifests: &str,
    port: u16,
    adjust: impl FnOnce(&mut AzureConfig),
) -> Result<AzureWorld, BoxError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(manifests)?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        port,
        ..SandboxConfig::default()
    })
    .await?;
    let mut config = sandbox_azure::config(&sandbox, sandbox.verifier().await?, &manifests);
    adjust(&mut config);
    let azure = sandbox_azure::start_azure_with(&sandbox, config)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let home = tempfile::tempdir()?;
    let kubeconfig = home.path().join("sandbox-kubeconfig");
    std::fs::write(&kubeconfig, sandbox.kubeconfig_file())?;
    let ca = home.path().join("azure-ca.pem");
    std::fs::write(&ca, azure.ca_pem())?;
    Ok(AzureWorld {
        sandbox,
        azure,
        home,
        kubeconfig,
        ca,
    })
}

impl AzureWorld {
    /// The children's home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// What a shell pointed at `kubecred sandbox` exports: the stand-ins' variables,
    /// `SSL_CERT_FILE` and `KUBECONFIG`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.azure.env_vars();
        env.retain(|(name, _)| *name != "AZURE_TENANT_ID");
        env.push(("SSL_CERT_FILE", self.ca.display().to_string()));
        env.push(("KUBECONFIG", self.kubeconfig.display().to_string()));
        env
    }

    /// `kubecred ARGS` with [`AzureWorld::env`] and `extra`.
    pub fn kubecred(&self, extra: &[(&str, &str)], args: &[&str]) -> std::io::Result<Output> {
        self.command(extra).args(args).output()
    }

    /// `kubecred` with [`AzureWorld::env`] and `extra`, not yet run.
    pub fn command(&self, extra: &[(&str, &str)]) -> Command {
        let mut command = isolated(BIN, self.home());
        command.envs(self.env()).envs(extra.iter().copied());
        command
    }

    /// A token of ServiceAccount `team-a/NAME` for Entra's federated credentials, valid for an
    /// hour (what a pod's projected token or the kubelet's is).
    pub fn pod_token(&self, name: &str) -> String {
        let audiences = [TOKEN_EXCHANGE_AUDIENCE.to_owned()];
        self.sandbox
            .issue_token("team-a", name, &audiences, Duration::from_secs(3600))
    }

    /// Writes `contents` to `name` in the home directory; returns its path as text.
    pub fn file(&self, name: &str, contents: &str) -> Result<String, BoxError> {
        let path = self.home().join(name);
        std::fs::write(&path, contents)?;
        Ok(path.display().to_string())
    }
}

/// The claims of a JWT (unverified: the tests read what the stand-ins issued).
pub fn claims(token: &str) -> Result<serde_json::Value, BoxError> {
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The token of `kubecred token --output json`'s answer.
pub fn token_of(output: &Output) -> Result<String, BoxError> {
    let value = super::success_json(output)?;
    assert_eq!(value["kind"], "AccessToken", "{value}");
    Ok(value["token"].as_str().ok_or("no token")?.to_owned())
}
