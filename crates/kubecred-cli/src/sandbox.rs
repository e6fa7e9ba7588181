//! `kubecred sandbox`: the local Kubernetes API subset and OIDC issuer, until interrupted.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use kubecred_sandbox::aws::AwsStandIns;
use kubecred_sandbox::azure::AzureStandIns;
use kubecred_sandbox::controller::{ControllerEndpoints, TargetCloud};
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
        source: args.source.clone(),
        ..SandboxConfig::default()
    })
    .await
    .context("starting the sandbox")?;
    let aws = crate::sandbox_aws::start_aws(&sandbox, &manifests).await?;
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
    let controller = match &args.controller {
        Some(account) => Some(write_controller_setup(
            &sandbox,
            &stand_ins,
            account,
            &kubeconfig,
        )?),
        None => None,
    };
    print_ready(&sandbox, &stand_ins, &kubeconfig, controller.as_ref())?;
    wait_for_shutdown().await;
    if let Some(controller) = &controller {
        let _ = std::fs::remove_dir_all(&controller.dir);
    }
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
    controller: Option<&Controller>,
) -> anyhow::Result<()> {
    let aws = stand_ins.aws;
    let mut out = std::io::stdout().lock();
    writeln!(out, "kubecred sandbox ready at {}", sandbox.url())?;
    writeln!(
        out,
        "OIDC issuer: {} (source cluster type {}; discovery and JWKS also at {}/openid/v1/jwks)",
        sandbox.issuer(),
        sandbox.source().kind_name(),
        sandbox.url()
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
    for service in ["S3", "KMS", "ECR", "EKS", "SQS"] {
        writeln!(out, "  export AWS_ENDPOINT_URL_{service}={}", aws.api_url())?;
    }
    writeln!(
        out,
        "  kubecred token --provider aws --namespace team-a --service-account app --region us-east-1 --output json"
    )?;
    writeln!(
        out,
        "  a role may use what its ServiceAccount's {} lists (s3://, kms://, sqs://, ecr://, an EKS cluster ARN)",
        kubecred_sandbox::aws::AWS_GRANTS_ANNOTATION
    )?;
    writeln!(
        out,
        "  EKS cluster (its API server is this sandbox): {}",
        crate::sandbox_aws::AWS_EKS_CLUSTER
    )?;
    writeln!(out)?;
    crate::sandbox_gcp::print_gcp(&mut out, sandbox, stand_ins.gcp)?;
    writeln!(out)?;
    crate::sandbox_azure::print_azure(&mut out, stand_ins.azure, stand_ins.azure_ca)?;
    writeln!(out)?;
    if let Some(controller) = controller {
        print_controller(&mut out, controller)?;
    }
    writeln!(out, "Press Ctrl-C to stop.")?;
    out.flush()?;
    Ok(())
}

/// The controller-level set-up written for `kubecred sandbox --controller`.
struct Controller {
    account: String,
    dir: PathBuf,
    env: Vec<(TargetCloud, Vec<(String, String)>)>,
}

/// Writes each cloud's controller-level files for ServiceAccount `account` (`NS/NAME`) into a
/// directory next to the kubeconfig.
fn write_controller_setup(
    sandbox: &Sandbox,
    stand_ins: &StandIns<'_>,
    account: &str,
    kubeconfig: &std::path::Path,
) -> anyhow::Result<Controller> {
    let (namespace, name) = account
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        .with_context(|| format!("--controller takes NS/NAME, not '{account}'"))?;
    let mut dir = kubeconfig.as_os_str().to_owned();
    dir.push(".controller");
    let dir = PathBuf::from(dir);
    kubecred::fs::private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let endpoints = ControllerEndpoints {
        azure_authority_host: stand_ins.azure.authority_host(),
        gcp_sts_url: stand_ins.gcp.sts_token_url(),
        gcp_impersonation_url: stand_ins.gcp.impersonation_url("{email}"),
    };
    let mut env = Vec::new();
    for cloud in [TargetCloud::Aws, TargetCloud::Azure, TargetCloud::Gcp] {
        match sandbox.controller_setup(cloud, namespace, name, &dir, &endpoints) {
            Ok(setup) => {
                for (file, contents) in &setup.files {
                    let path = dir.join(file);
                    kubecred::fs::write_private(&path, contents.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                env.push((cloud, setup.env));
            }
            Err(why) => eprintln!("kubecred sandbox: no controller level for {cloud:?}: {why}"),
        }
    }
    Ok(Controller {
        account: account.to_owned(),
        dir,
        env,
    })
}

fn print_controller(out: &mut impl Write, controller: &Controller) -> anyhow::Result<()> {
    writeln!(
        out,
        "Controller level as ServiceAccount {} (token files in {}, valid for an hour):",
        controller.account,
        controller.dir.display()
    )?;
    for (cloud, env) in &controller.env {
        writeln!(out, "  {cloud:?}:")?;
        for (name, value) in env {
            writeln!(out, "    export {name}={value}")?;
        }
    }
    writeln!(out)?;
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
