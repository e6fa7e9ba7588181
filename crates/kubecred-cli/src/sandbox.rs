//! `kubecred sandbox`: the local Kubernetes API subset and OIDC issuer, until interrupted.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

use crate::args::SandboxArgs;

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let manifests = match &args.manifests {
        Some(path) => Manifests::load(path)?,
        None => Manifests::default(),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        manifests,
        port: args.port,
        ..SandboxConfig::default()
    })
    .await
    .context("starting the sandbox")?;
    let (kubeconfig, temporary) = match args.kubeconfig {
        Some(path) => (path, false),
        None => (default_kubeconfig_path(&sandbox), true),
    };
    sandbox
        .write_kubeconfig(&kubeconfig)
        .with_context(|| format!("writing the kubeconfig {}", kubeconfig.display()))?;
    print_ready(&sandbox, &kubeconfig)?;
    wait_for_shutdown().await;
    sandbox.shutdown().await;
    if temporary {
        let _ = std::fs::remove_file(&kubeconfig);
    }
    Ok(())
}

fn default_kubeconfig_path(sandbox: &Sandbox) -> PathBuf {
    let port = sandbox.url().rsplit(':').next().unwrap_or("0").to_owned();
    std::env::temp_dir().join(format!("kubecred-sandbox-{port}.kubeconfig"))
}

fn print_ready(sandbox: &Sandbox, kubeconfig: &std::path::Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "kubecred sandbox ready at {}", sandbox.url())?;
    writeln!(
        out,
        "OIDC issuer: {} (JWKS at {}/openid/v1/jwks)",
        sandbox.issuer(),
        sandbox.issuer()
    )?;
    writeln!(out, "kubeconfig: {}", kubeconfig.display())?;
    writeln!(out)?;
    writeln!(out, "Point kubecred and kubectl at it:")?;
    writeln!(out, "  export KUBECONFIG={}", kubeconfig.display())?;
    writeln!(
        out,
        "  kubecred token --provider generic --namespace team-a --service-account app --audience https://example.test --output json"
    )?;
    writeln!(out, "  kubectl get serviceaccount app -n team-a")?;
    writeln!(out)?;
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    Ok(())
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
