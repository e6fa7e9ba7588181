//! `kubecred sandbox`: the local Kubernetes API subset and OIDC issuer, until interrupted.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kubecred_sandbox::aws::{
    AwsConfig, AwsRole, AwsStandIns, roles_for_annotated_service_accounts,
};
use kubecred_sandbox::azure::AzureStandIns;
use kubecred_sandbox::gcp::GcpStandIns;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

use crate::args::SandboxArgs;

pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let manifests = match &args.manifests {
        Some(path) => Manifests::load(path)?,
        None => Manifests::default(),
    };
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        port: args.port,
        ..SandboxConfig::default()
    })
    .await
    .context("starting the sandbox")?;
    let aws = start_aws(&sandbox, &manifests).await?;
    let gcp = crate::sandbox_gcp::start_gcp(&sandbox, &manifests).await?;
    let azure = crate::sandbox_azure::start_azure(&sandbox, &manifests).await?;
    let (kubeconfig, temporary) = match args.kubeconfig {
        Some(path) => (path, false),
        None => (default_kubeconfig_path(&sandbox), true),
    };
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())
        .with_context(|| format!("writing the kubeconfig {}", kubeconfig.display()))?;
    let azure_ca = crate::sandbox_azure::ca_file(&kubeconfig);
    kubecred::fs::write_private(&azure_ca, azure.ca_pem().as_bytes())
        .with_context(|| format!("writing the Azure stand-ins' CA {}", azure_ca.display()))?;
    let stand_ins = StandIns {
        aws: &aws,
        gcp: &gcp,
        azure: &azure,
        azure_ca: &azure_ca,
    };
    print_ready(&sandbox, &stand_ins, &kubeconfig)?;
    wait_for_shutdown().await;
    azure.shutdown().await;
    let _ = std::fs::remove_file(&azure_ca);
    gcp.shutdown().await;
    aws.shutdown().await;
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

/// The AWS account of the sandbox.
pub const AWS_ACCOUNT: &str = "123456789012";
/// The role the sandbox's instance metadata service serves (node level).
pub const AWS_NODE_ROLE: &str = "arn:aws:iam::123456789012:role/kubecred-sandbox-node";

/// AWS stand-ins whose STS trusts each ServiceAccount annotated with
/// `eks.amazonaws.com/role-arn`, as an IRSA trust policy written for it would.
pub async fn start_aws(sandbox: &Sandbox, manifests: &Manifests) -> anyhow::Result<AwsStandIns> {
    let roles = roles_for_annotated_service_accounts(manifests, &sandbox.issuer());
    let node = AwsRole {
        arn: AWS_NODE_ROLE.into(),
        trust: Vec::new(),
    };
    let config = AwsConfig {
        account_id: AWS_ACCOUNT.into(),
        oidc_providers: vec![
            sandbox
                .verifier()
                .await
                .context("discovering the sandbox issuer")?,
        ],
        roles: roles.into_iter().chain([node]).collect(),
        node_role: Some(AWS_NODE_ROLE.into()),
        ..AwsConfig::default()
    };
    AwsStandIns::start(config)
        .await
        .context("starting the AWS stand-ins")
}

/// The clouds' stand-ins the banner describes.
struct StandIns<'a> {
    aws: &'a AwsStandIns,
    gcp: &'a GcpStandIns,
    azure: &'a AzureStandIns,
    azure_ca: &'a std::path::Path,
}

fn print_ready(
    sandbox: &Sandbox,
    stand_ins: &StandIns<'_>,
    kubeconfig: &std::path::Path,
) -> anyhow::Result<()> {
    let aws = stand_ins.aws;
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
    writeln!(
        out,
        "AWS stand-ins (STS trusts each ServiceAccount annotated with eks.amazonaws.com/role-arn):"
    )?;
    writeln!(out, "  export AWS_ENDPOINT_URL_STS={}", aws.sts_url())?;
    writeln!(
        out,
        "  export AWS_ENDPOINT_URL_ECR_PUBLIC={}",
        aws.ecr_public_url()
    )?;
    writeln!(
        out,
        "  export AWS_EC2_METADATA_SERVICE_ENDPOINT={}",
        aws.imds_url()
    )?;
    writeln!(
        out,
        "  kubecred token --provider aws --namespace team-a --service-account app --region us-east-1 --output json"
    )?;
    writeln!(out)?;
    crate::sandbox_gcp::print_gcp(&mut out, stand_ins.gcp)?;
    writeln!(out)?;
    crate::sandbox_azure::print_azure(&mut out, stand_ins.azure, stand_ins.azure_ca)?;
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
