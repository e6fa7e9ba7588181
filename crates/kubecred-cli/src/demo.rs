//! `kubecred demo`: kubecred's main job on its embedded sandbox, no cloud needed.
//!
//! Starts the sandbox with `examples/sandbox.yaml`, then, as a controller would:
//! 1. impersonates ServiceAccount team-a/app for the `generic` provider and verifies the token
//!    against the sandbox's JWKS;
//! 2. asks again and is served from the cache;
//! 3. shows the feature gate refusing object level, and the default-ServiceAccount lockdown;
//! 4. exchanges the ServiceAccount's token at the AWS, GCP and Azure stand-ins (Azure through
//!    `kubecred token` and `kubecred registry login` run as a shell would, trusting the
//!    stand-ins' CA through `SSL_CERT_FILE`).

use std::time::SystemTime;

use anyhow::{Context, bail};
use kubecred::Credential;
use kubecred::Env;
use kubecred::cluster::{self, ClusterRef};
use kubecred::{Engine, Identity, Kubernetes, PolicyConfig, Provider, Request, TokenCache};
use kubecred_sandbox::aws::AwsStandIns;
use kubecred_sandbox::gcp::GcpStandIns;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

const MANIFESTS: &str = include_str!("../../../examples/sandbox.yaml");
const AUDIENCE: &str = "https://example.test";

pub async fn run() -> anyhow::Result<()> {
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(MANIFESTS)?,
        ..SandboxConfig::default()
    })
    .await
    .context("starting the sandbox")?;
    let aws = crate::sandbox_aws::start_aws(&sandbox, &Manifests::parse(MANIFESTS)?).await?;
    let gcp = crate::sandbox_gcp::start_gcp(&sandbox, &Manifests::parse(MANIFESTS)?).await?;
    let azure = crate::sandbox_azure::start_azure(&sandbox, &Manifests::parse(MANIFESTS)?).await?;
    let result = steps(&sandbox, &aws, &gcp).await;
    let result = match result {
        Ok(()) => crate::demo_azure::step(&sandbox, &azure).await,
        Err(e) => Err(e),
    };
    if result.is_ok() {
        println!("demo passed");
    }
    aws.shutdown().await;
    gcp.shutdown().await;
    azure.shutdown().await;
    sandbox.shutdown().await;
    result
}

async fn steps(sandbox: &Sandbox, aws: &AwsStandIns, gcp: &GcpStandIns) -> anyhow::Result<()> {
    println!(
        "sandbox: Kubernetes API and OIDC issuer at {}",
        sandbox.url()
    );
    let kubeconfig =
        std::env::temp_dir().join(format!("kubecred-demo-{}.kubeconfig", std::process::id()));
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    let kubernetes = Kubernetes::from_kubeconfig(&kubeconfig, None).await;
    let _ = std::fs::remove_file(&kubeconfig);
    let kubernetes = kubernetes?;

    let cache = TokenCache::new(Default::default());
    let gate_on = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    };
    let engine = Engine::new(gate_on.clone().build()?)
        .with_kubernetes(kubernetes.clone())
        .with_cache(cache.clone());
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        audiences: vec![AUDIENCE.into()],
        ..Request::new(Provider::Generic)
    };

    let credential = engine.token(&request).await?;
    let token = credential
        .bearer_token()
        .context("the generic provider returns a token")?;
    let verifier = sandbox.verifier().await?;
    let claims = verifier.verify(token.expose(), AUDIENCE)?;
    let minutes = credential
        .expires_at()
        .and_then(|t| t.duration_since(SystemTime::now()).ok())
        .map_or(0, |d| d.as_secs() / 60);
    println!(
        "1. generic token for service account team-a/app: sub={} aud={:?}, verified against the issuer's JWKS, expires in {minutes} min",
        claims.sub, claims.aud
    );

    engine.token(&request).await?;
    let metrics = cache.metrics();
    println!(
        "2. asked again: served from the cache ({} exchange, {} hit)",
        metrics.exchanges, metrics.hits
    );
    if metrics.exchanges != 1 || metrics.hits != 1 {
        bail!("expected one exchange and one cache hit, got {metrics:?}");
    }

    let gate_off =
        Engine::new(PolicyConfig::default().build()?).with_kubernetes(kubernetes.clone());
    match gate_off.token(&request).await {
        Err(error) if error.is_refused() => {
            println!("3. with the feature gate off: refused ({error})")
        }
        other => bail!("expected the feature gate to refuse, got {other:?}"),
    }

    let lockdown = PolicyConfig {
        default_service_account: Some("tenant-default".into()),
        ..gate_on
    }
    .build()?;
    let locked = Engine::new(lockdown).with_kubernetes(kubernetes.clone());
    let unnamed = |namespace: &str| Request {
        identity: Identity::Controller,
        namespace: Some(namespace.into()),
        ..request.clone()
    };
    let forced = locked.token(&unnamed("team-a")).await?;
    let forced = forced
        .bearer_token()
        .context("the generic provider returns a token")?;
    let sub = verifier.verify(forced.expose(), AUDIENCE)?.sub;
    println!(
        "4. lockdown (--default-service-account tenant-default): an object in team-a naming no service account gets {sub}"
    );
    match locked.token(&unnamed("team-b")).await {
        Err(error) if error.is_refused() => {
            println!("5. lockdown in team-b, which has no tenant-default: refused ({error})")
        }
        other => bail!("expected the lockdown to refuse, got {other:?}"),
    }
    aws_steps(aws, kubernetes.clone(), gate_on_policy()?).await?;
    gcp_step(gcp, kubernetes, gate_on_policy()?).await?;
    Ok(())
}

fn gate_on_policy() -> kubecred::Result<kubecred::Policy> {
    PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()
}

/// AWS: the ServiceAccount's token for its IAM role at the STS stand-in, then an EKS token the
/// stand-in's authenticator accepts.
async fn aws_steps(
    aws: &AwsStandIns,
    kubernetes: Kubernetes,
    policy: kubecred::Policy,
) -> anyhow::Result<()> {
    let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_STS", &aws.sts_url())]);
    let engine = Engine::new(policy)
        .with_kubernetes(kubernetes)
        .with_env(env);
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        region: Some("us-east-1".into()),
        ..Request::new(Provider::Aws)
    };
    let Credential::AwsKeys(keys) = engine.token(&request).await? else {
        bail!("the aws provider returns keys");
    };
    println!(
        "6. aws: team-a/app's token exchanged at STS (stand-in, verifying it against the issuer's JWKS and the role's trust) for temporary keys {}…",
        keys.access_key_id.get(..8).unwrap_or_default()
    );
    let cluster = ClusterRef {
        cluster: Some("arn:aws:eks:us-east-1:123456789012:cluster/demo".into()),
        address: Some("https://demo.eks.example".into()),
        ca_data: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
        ..ClusterRef::default()
    };
    let access = cluster::credentials(&engine, &cluster, &request).await?;
    let caller = aws.verify_eks_token(access.token.expose(), "demo")?;
    println!(
        "7. aws: EKS token for cluster demo accepted by the authenticator stand-in as {caller}"
    );
    Ok(())
}

/// GCP, as on GKE: the audience from the metadata server, the ServiceAccount's token exchanged at
/// the STS stand-in (verifying it against the issuer's JWKS), then impersonation of the Google
/// service account its annotation names (the stand-in checks the `workloadIdentityUser` binding).
async fn gcp_step(
    gcp: &GcpStandIns,
    kubernetes: Kubernetes,
    policy: kubecred::Policy,
) -> anyhow::Result<()> {
    let env = Env::from_pairs(&[
        ("GCE_METADATA_HOST", &gcp.metadata_host()),
        ("KUBECRED_GCP_STS_URL", &gcp.sts_token_url()),
        (
            "KUBECRED_GCP_IAM_CREDENTIALS_URL",
            &gcp.iam_credentials_url(),
        ),
    ]);
    let engine = Engine::new(policy)
        .with_kubernetes(kubernetes)
        .with_env(env);
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    };
    let token = engine.access_token(&request).await?;
    let Some(info) = gcp.token_info(token.token.expose()) else {
        bail!("the GCP stand-ins do not know the access token kubecred got");
    };
    println!(
        "8. gcp: team-a/app's token exchanged at STS and impersonating {} (stand-ins, GKE audience from the metadata server)",
        info.service_account.as_deref().unwrap_or(&info.principal)
    );
    Ok(())
}
