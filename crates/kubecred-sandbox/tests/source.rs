//! The sandbox as each source cluster type: the issuer's shape, its documents served under the
//! managed service's host (reached by resolving that host to the sandbox, trusting its CA), and
//! a signing-key rotation as a target that fetches the published JWKS sees it.

use std::time::Duration;

use kubecred_sandbox::{Sandbox, SandboxConfig, SourceCluster, VerifyErrorKind};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const AUDIENCE: &str = "sts.amazonaws.com";

async fn start(source: SourceCluster) -> Result<Sandbox, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = kubecred_sandbox::Manifests::parse(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team-a}\n",
    )?;
    Ok(Sandbox::start(SandboxConfig {
        manifests,
        source,
        ..SandboxConfig::default()
    })
    .await?)
}

fn token(sandbox: &Sandbox) -> String {
    sandbox.issue_token(
        "team-a",
        "app",
        &[AUDIENCE.to_owned()],
        Duration::from_secs(600),
    )
}

#[tokio::test]
async fn each_managed_issuer_is_discovered_at_its_own_url() -> TestResult {
    for (source, prefix) in [
        (
            SourceCluster::eks(7),
            "https://oidc.eks.us-west-2.amazonaws.com/id/",
        ),
        (
            SourceCluster::gke(0),
            "https://container.googleapis.com/v1/projects/example-project/",
        ),
        (
            SourceCluster::aks(3),
            "https://westeurope.oic.prod-aks.azure.com/00000000-0000-0000-0000-000000000001/",
        ),
    ] {
        let sandbox = start(source).await?;
        assert!(sandbox.issuer().starts_with(prefix), "{}", sandbox.issuer());
        let verifier = sandbox.verifier().await?;
        let claims = verifier.verify(&token(&sandbox), AUDIENCE)?;
        assert_eq!(claims.iss, sandbox.issuer());
        assert_eq!(claims.sub, "system:serviceaccount:team-a:app");
        // Without the resolution (no DNS for the managed host here) nothing is reachable.
        let mut options = sandbox.discovery_options();
        options.resolve.clear();
        let error =
            kubecred_sandbox::JwtVerifier::discover_with_options(&sandbox.issuer(), &options)
                .await
                .expect_err("no resolution");
        assert_eq!(error.kind(), VerifyErrorKind::Discovery);
        sandbox.shutdown().await;
    }
    Ok(())
}

#[tokio::test]
async fn a_rotated_key_is_accepted_once_published_and_old_tokens_while_their_key_is() -> TestResult
{
    let sandbox = start(SourceCluster::eks(1)).await?;
    let verifier = sandbox.verifier().await?;
    let old_kid = sandbox.signing_kid();
    let old = token(&sandbox);
    let new_kid = sandbox.rotate_signing_key();
    assert_ne!(old_kid, new_kid);
    assert_eq!(sandbox.verification_key_pems().len(), 2);
    let new = token(&sandbox);

    verifier.refresh().await;
    let refused = verifier
        .verify(&new, AUDIENCE)
        .expect_err("not published yet");
    assert_eq!(refused.kind(), VerifyErrorKind::UnknownKey, "{refused}");
    verifier.verify(&old, AUDIENCE)?;

    sandbox.publish_keys();
    verifier.refresh().await;
    verifier.verify(&new, AUDIENCE)?;
    verifier.verify(&old, AUDIENCE)?;

    assert!(!sandbox.retire_key(&new_kid), "the signing key stays");
    assert!(sandbox.retire_key(&old_kid));
    verifier.refresh().await;
    let retired = verifier
        .verify(&old, AUDIENCE)
        .expect_err("old key retired");
    assert_eq!(retired.kind(), VerifyErrorKind::UnknownKey);
    verifier.verify(&new, AUDIENCE)?;
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_other_issuer_is_fetched_only_where_it_is_published() -> TestResult {
    let site = kubecred_sandbox::site::StaticSite::start().await?;
    let issuer = format!("{}/cluster-a", site.url());
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        source: SourceCluster::Other {
            issuer: issuer.clone(),
        },
        issuer_ca_pems: vec![site.ca_pem().to_owned()],
        ..SandboxConfig::default()
    })
    .await?;
    assert_eq!(sandbox.issuer(), issuer);
    let verifier = sandbox.verifier().await?;
    let token = sandbox.issue_token(
        "team-a",
        "app",
        &[AUDIENCE.into()],
        Duration::from_secs(600),
    );
    verifier.refresh().await;
    let unpublished = verifier
        .verify(&token, AUDIENCE)
        .expect_err("nothing published");
    assert_eq!(
        unpublished.kind(),
        VerifyErrorKind::Discovery,
        "{unpublished}"
    );
    sandbox.shutdown().await;
    site.shutdown().await;
    Ok(())
}
