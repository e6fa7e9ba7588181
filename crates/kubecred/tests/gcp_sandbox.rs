//! GCP end to end through the sandbox: ServiceAccount tokens from the Kubernetes stand-in are
//! exchanged at a Google STS stand-in that verifies them against the issuer's JWKS (as a
//! workload identity pool provider off GKE, and as a GKE cluster whose identity it learns from
//! the metadata stand-in), then impersonate service accounts at an IAM Credentials stand-in
//! that enforces `roles/iam.workloadIdentityUser` bindings.
#![cfg(feature = "gcp")]

#[path = "support/sandbox_engine.rs"]
mod sandbox_engine;
use sandbox_engine::sandbox_engine;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubecred::clock::{Clock, SystemClock};
use kubecred::{
    AccessToken, Credential, Engine, Env, Identity, Kubernetes, PolicyConfig, Provider, Request,
    Timeouts, registry,
};
use kubecred_sandbox::gcp::{
    GcpConfig, GcpServiceAccount, GcpStandIns, GkeCluster, OidcProvider, WorkloadIdentityPool,
    service_accounts_for_annotated_service_accounts,
};
use kubecred_sandbox::proxy::ForwardProxy;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const PROJECT: &str = "example-project";
const POOL: &str = "kubecred-sandbox";
const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
const NODE_SA: &str = "node@example-project.iam.gserviceaccount.com";
const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/userinfo.email",
];

/// `off-gke-*` name the pool provider; `gke-*` do not (the cluster is GKE); `intruder` names
/// the app's service account, which has no binding for it.
const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: off-gke-direct
  namespace: team-a
  annotations: {gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: off-gke-app
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: gke-direct, namespace: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: gke-app
  namespace: team-a
  annotations: {iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: intruder
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: unknown-provider
  namespace: team-a
  annotations: {gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/nobody'}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: bad
  namespace: team-a
  annotations: {iam.gke.io/gcp-service-account: foobar}
";

struct World {
    sandbox: Sandbox,
    gcp: GcpStandIns,
    engine: Engine,
    kubeconfig: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn world() -> Result<World, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(MANIFESTS)?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        ..SandboxConfig::default()
    })
    .await?;
    let verifier = sandbox.verifier().await?;
    let mut config = GcpConfig {
        project_id: PROJECT.into(),
        project_number: "123456789000".into(),
        pools: vec![WorkloadIdentityPool {
            id: POOL.into(),
            providers: vec![OidcProvider {
                id: "sandbox".into(),
                verifier: verifier.clone(),
                allowed_audiences: Vec::new(),
            }],
        }],
        gke: Some(GkeCluster {
            name: "kubecred-sandbox".into(),
            location: "europe-west1".into(),
            verifier,
        }),
        node_service_account: Some(NODE_SA.into()),
        ..GcpConfig::default()
    };
    let mut accounts = service_accounts_for_annotated_service_accounts(&manifests, &config, POOL);
    for account in &mut accounts {
        account.bindings.retain(|b| !b.member.contains("intruder"));
    }
    accounts.push(GcpServiceAccount {
        email: NODE_SA.into(),
        bindings: Vec::new(),
    });
    config.service_accounts = accounts;
    let gcp = GcpStandIns::start(config).await?;
    let env = Env::from_pairs(&[
        ("KUBECRED_GCP_STS_URL", &gcp.sts_token_url()),
        (
            "KUBECRED_GCP_IAM_CREDENTIALS_URL",
            &gcp.iam_credentials_url(),
        ),
        ("GCE_METADATA_HOST", &gcp.metadata_host()),
    ]);
    let (engine, dir) = sandbox_engine(&sandbox, env).await?;
    Ok(World {
        sandbox,
        gcp,
        engine,
        kubeconfig: dir.path().join("kubeconfig"),
        _dir: dir,
    })
}

fn object(name: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    }
}

fn access_token(credential: Credential) -> Result<AccessToken, Box<dyn std::error::Error>> {
    match credential {
        Credential::AccessToken(token) => Ok(token),
        other => Err(format!("expected an access token, got {}", other.kind()).into()),
    }
}

fn message<T: std::fmt::Debug>(result: kubecred::Result<T>) -> String {
    result
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "no error".into())
}

/// The token is one the stand-ins issued, for `principal`, with both scopes, and about an
/// hour left.
fn assert_issued(w: &World, token: &AccessToken, principal: &str) -> TestResult {
    let info = w
        .gcp
        .token_info(token.token.expose())
        .ok_or("the stand-ins did not issue this token")?;
    assert!(info.principal.ends_with(principal), "{info:?}");
    assert_eq!(token.scopes, SCOPES);
    let left = token.expires_at.duration_since(SystemClock.now())?;
    assert!(left.as_secs() > 3000 && left.as_secs() <= 3600, "{left:?}");
    Ok(())
}

#[tokio::test]
async fn off_gke_the_provider_annotation_federates_directly() -> TestResult {
    let w = world().await?;
    let token = access_token(w.engine.token(&object("off-gke-direct")).await?)?;
    assert_issued(
        &w,
        &token,
        "subject/system:serviceaccount:team-a:off-gke-direct",
    )?;
    let info = w
        .gcp
        .token_info(token.token.expose())
        .ok_or("unknown token")?;
    assert_eq!(info.service_account, None);
    assert_eq!(
        info.scopes, SCOPES,
        "direct access asks STS for both scopes"
    );
    assert_eq!(
        (
            w.gcp.calls("sts.token"),
            w.gcp.calls("iamcredentials.generateAccessToken")
        ),
        (1, 0)
    );
    Ok(())
}

#[tokio::test]
async fn off_gke_the_service_account_annotation_impersonates() -> TestResult {
    let w = world().await?;
    let token = access_token(w.engine.token(&object("off-gke-app")).await?)?;
    assert_issued(&w, &token, &format!("serviceAccount:{APP_SA}"))?;
    let info = w
        .gcp
        .token_info(token.token.expose())
        .ok_or("unknown token")?;
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    assert_eq!(info.scopes, SCOPES);
    assert_eq!(w.gcp.calls("iamcredentials.generateAccessToken"), 1);
    Ok(())
}

/// `Request::scopes` (`--scope`) replaces the reference's two, directly and impersonated; a
/// scope that would split in the STS form is refused before any call to Google.
#[tokio::test]
async fn requested_scopes_are_the_tokens_scopes() -> TestResult {
    let w = world().await?;
    let read_only = vec!["https://www.googleapis.com/auth/devstorage.read_only".to_owned()];
    for name in ["off-gke-direct", "off-gke-app"] {
        let request = Request {
            scopes: read_only.clone(),
            ..object(name)
        };
        let token = access_token(w.engine.token(&request).await?)?;
        assert_eq!(token.scopes, read_only);
        let info = w
            .gcp
            .token_info(token.token.expose())
            .ok_or("unknown token")?;
        assert_eq!(info.scopes, read_only, "{name}");
    }
    let split = Request {
        scopes: vec!["a b".into()],
        ..object("off-gke-direct")
    };
    assert!(message(w.engine.token(&split).await).contains("invalid OAuth scope 'a b'"));
    assert_eq!(
        w.gcp.calls("sts.token"),
        2,
        "the bad scope never reaches STS"
    );
    Ok(())
}

#[tokio::test]
async fn on_gke_the_audience_comes_from_the_metadata_server() -> TestResult {
    let w = world().await?;
    let direct = access_token(w.engine.token(&object("gke-direct")).await?)?;
    let info = w
        .gcp
        .token_info(direct.token.expose())
        .ok_or("unknown token")?;
    assert!(
        info.principal.contains(&format!("{PROJECT}.svc.id.goog")),
        "a GKE principal: {info:?}"
    );
    let impersonated = access_token(w.engine.token(&object("gke-app")).await?)?;
    assert_issued(&w, &impersonated, &format!("serviceAccount:{APP_SA}"))?;
    Ok(())
}

#[tokio::test]
async fn a_token_with_the_wrong_audience_is_refused_by_sts() -> TestResult {
    let w = world().await?;
    let request = Request {
        audiences: vec!["https://not-google.example".into()],
        ..object("off-gke-direct")
    };
    let error = w
        .engine
        .token(&request)
        .await
        .err()
        .ok_or("expected a refusal")?;
    assert!(error.is_denied(), "{error}");
    assert!(error.to_string().contains("invalid_grant"), "{error}");
    let unknown = w.engine.token(&object("unknown-provider")).await;
    let unknown = unknown.err().ok_or("expected a refusal")?;
    assert!(unknown.is_denied(), "{unknown}");
    assert!(unknown.to_string().contains("invalid_target"), "{unknown}");
    assert_eq!(w.gcp.calls("sts.token"), 0);
    Ok(())
}

#[tokio::test]
async fn impersonation_without_the_binding_is_refused() -> TestResult {
    let w = world().await?;
    let error = w
        .engine
        .token(&object("intruder"))
        .await
        .err()
        .ok_or("expected a refusal")?;
    assert!(error.is_denied(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("impersonate the GCP service account") && text.contains("PERMISSION_DENIED"),
        "{text}"
    );
    assert_eq!(w.gcp.calls("sts.token"), 1, "the exchange itself succeeded");
    Ok(())
}

#[tokio::test]
async fn invalid_annotations_are_refused_before_any_token_is_minted() -> TestResult {
    let w = world().await?;
    let bad = message(w.engine.token(&object("bad")).await);
    assert!(
        bad.contains("invalid iam.gke.io/gcp-service-account annotation: 'foobar'"),
        "{bad}"
    );
    assert_eq!(w.sandbox.token_requests(), 0);
    Ok(())
}

#[tokio::test]
async fn node_level_is_the_metadata_servers_token() -> TestResult {
    let w = world().await?;
    let request = Request {
        identity: Identity::Node,
        ..Request::new(Provider::Gcp)
    };
    let token = access_token(w.engine.token(&request).await?)?;
    let info = w
        .gcp
        .token_info(token.token.expose())
        .ok_or("unknown token")?;
    assert_eq!(info.service_account.as_deref(), Some(NODE_SA));
    assert_eq!(w.gcp.calls("metadata.token"), 1);
    assert_eq!(w.sandbox.token_requests(), 0);
    Ok(())
}

#[tokio::test]
async fn artifact_registry_login_is_oauth2accesstoken_and_the_token() -> TestResult {
    let w = world().await?;
    let login = registry::login(
        &w.engine,
        "europe-west1-docker.pkg.dev/example-project/images/app:1.0",
        &object("off-gke-app"),
    )
    .await?;
    assert_eq!(login.username, "oauth2accesstoken");
    let info = w
        .gcp
        .token_info(login.password.expose())
        .ok_or("unknown token")?;
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    let lookalike =
        message(registry::login(&w.engine, "gcr.io.example.net", &object("off-gke-app")).await);
    assert!(!lookalike.contains("no error"), "{lookalike}");
    assert_eq!(w.gcp.calls("iamcredentials.generateAccessToken"), 1);
    Ok(())
}

/// The request's proxy carries the STS and IAM Credentials calls; the metadata server is
/// never proxied (a proxy elsewhere would answer for its own host).
#[tokio::test]
async fn a_request_proxy_carries_sts_and_iam_but_not_the_metadata_calls() -> TestResult {
    let w = world().await?;
    let proxy = ForwardProxy::start_with_basic_auth("team-a", "p@ss").await?;
    let mut url = url::Url::parse(&proxy.url())?;
    url.set_username("team-a").map_err(|()| "no user")?;
    url.set_password(Some("p%40ss"))
        .map_err(|()| "no password")?;
    let request = Request {
        proxy: Some(url),
        ..object("gke-app")
    };
    let token = access_token(w.engine.token(&request).await?)?;
    assert_issued(&w, &token, &format!("serviceAccount:{APP_SA}"))?;
    let relayed = proxy.relayed();
    let through = |origin: &str| {
        relayed
            .iter()
            .filter(|r| r.method == "POST" && r.target.starts_with(origin) && r.refused.is_none())
            .count()
    };
    let sts_origin = w.gcp.sts_token_url().replace("/v1/token", "");
    assert_eq!(through(&sts_origin), 1, "{relayed:?}");
    assert_eq!(through(&w.gcp.iam_credentials_url()), 1, "{relayed:?}");
    assert_eq!(relayed.len(), 2, "no metadata call is relayed: {relayed:?}");
    Ok(())
}

/// Accepts connections and holds them, silent, for the life of the test.
async fn silent_server() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Ok(address)
}

/// GCP's own clients end a silent peer's call at the read timeout, though the overall
/// deadline is far away: STS at object level, the metadata server at node level.
#[tokio::test]
async fn a_silent_sts_or_metadata_server_times_out() -> TestResult {
    let w = world().await?;
    let silent = silent_server().await?;
    let short = Duration::from_millis(300);
    let timeouts = Timeouts {
        connect: short,
        read: short,
        overall: Duration::from_secs(600),
    };
    let sts = format!("http://{silent}/v1/token");
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    };
    let engine = Engine::new(policy.build()?)
        .with_kubernetes(Kubernetes::from_kubeconfig(&w.kubeconfig, None).await?)
        .with_env(Env::from_pairs(&[
            ("KUBECRED_GCP_STS_URL", &sts),
            ("GCE_METADATA_HOST", &silent),
        ]))
        .with_timeouts(timeouts);
    let node = Request {
        identity: Identity::Node,
        ..Request::new(Provider::Gcp)
    };
    for (request, expected) in [
        (
            object("off-gke-direct"),
            "exchange the Kubernetes token at Google STS: timed out",
        ),
        (
            object("gke-direct"),
            "failed to get GKE cluster project ID from the metadata service: timed out",
        ),
        (
            node,
            "get the node's access token from the metadata service: timed out",
        ),
    ] {
        let started = tokio::time::Instant::now();
        let error = engine
            .token(&request)
            .await
            .err()
            .ok_or("expected a timeout")?;
        let elapsed = started.elapsed();
        assert!(error.is_transient(), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
        assert!(
            elapsed >= short && elapsed < short * 10,
            "{elapsed:?}: {error}"
        );
    }
    Ok(())
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// At trace level (the HTTP stacks' own events included), neither the Kubernetes token, the
/// federated token nor the impersonated one reaches the logs, errors or `Debug` output.
#[tokio::test(flavor = "current_thread")]
async fn no_token_reaches_the_logs_on_the_gcp_path() -> TestResult {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = world().await?;
    let direct = access_token(w.engine.token(&object("off-gke-direct")).await?)?;
    let impersonated = access_token(w.engine.token(&object("off-gke-app")).await?)?;
    let node = Request {
        identity: Identity::Node,
        ..Request::new(Provider::Gcp)
    };
    let node = access_token(w.engine.token(&node).await?)?;
    let failure = w
        .engine
        .token(&object("intruder"))
        .await
        .err()
        .ok_or("expected a refusal")?;

    let logs = String::from_utf8(captured.0.lock().map_err(|_| "poisoned")?.clone())?;
    assert!(
        logs.contains("GCP STS token exchange"),
        "the capture saw nothing: {logs}"
    );
    assert!(logs.contains("GCP service account impersonation"), "{logs}");
    let debug = format!("{direct:?} {impersonated:?} {node:?} {failure} {failure:?}");
    for secret in [&direct, &impersonated, &node].map(|t| t.token.expose().to_owned()) {
        assert!(secret.len() > 16);
        assert!(!logs.contains(&secret), "the logs leak a token");
        assert!(!debug.contains(&secret), "Debug or an error leaks a token");
    }
    // The Kubernetes tokens: every JWT signature the logs could carry.
    assert!(!logs.contains("eyJ"), "the logs carry a JWT");
    Ok(())
}
