//! End to end through the sandbox: the engine, the Kubernetes layer, the policy and the cache
//! against a real HTTP Kubernetes API subset whose tokens verify against its JWKS.

use std::io::Write;
use std::sync::{Arc, Mutex};

use kubecred::{
    Credential, Engine, Identity, InvolvedObject, Kubernetes, MetricsOptions, PolicyConfig,
    Provider, Request, TokenCache,
};
use kubecred_sandbox::{Grant, Manifests, Sandbox, SandboxConfig, User};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const AUDIENCE: &str = "https://example.test";
const MANIFESTS: &str = include_str!("../../../examples/sandbox.yaml");
const CONTROLLER: &str = "
apiVersion: v1
kind: ServiceAccount
metadata: {name: kustomize-controller, namespace: flux-system}
";

struct Fixture {
    sandbox: Sandbox,
    kubernetes: Kubernetes,
    _dir: tempfile::TempDir,
}

async fn fixture(config: SandboxConfig) -> Result<Fixture, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(config).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&path, sandbox.kubeconfig_file().as_bytes())?;
    let kubernetes = Kubernetes::from_kubeconfig(&path, None).await?;
    Ok(Fixture {
        sandbox,
        kubernetes,
        _dir: dir,
    })
}

async fn example() -> Result<Fixture, Box<dyn std::error::Error>> {
    fixture(SandboxConfig {
        manifests: Manifests::parse(&format!("{MANIFESTS}\n---\n{CONTROLLER}"))?,
        ..SandboxConfig::default()
    })
    .await
}

fn gate_on() -> PolicyConfig {
    PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
}

fn object_request(namespace: &str, name: &str, audience: &str) -> Request {
    Request {
        identity: Identity::service_account(name),
        namespace: Some(namespace.into()),
        audiences: vec![audience.into()],
        ..Request::new(Provider::Generic)
    }
}

fn token(credential: &Credential) -> String {
    credential
        .bearer_token()
        .map(|t| t.expose().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn object_level_token_verifies_against_the_issuer() -> TestResult {
    let f = example().await?;
    let engine = Engine::new(gate_on().build()?).with_kubernetes(f.kubernetes.clone());
    let credential = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await?;
    let claims = f
        .sandbox
        .verifier()
        .await?
        .verify(&token(&credential), AUDIENCE)?;
    assert_eq!(claims.sub, "system:serviceaccount:team-a:app");
    assert_eq!(claims.aud, vec![AUDIENCE.to_string()]);
    assert_eq!(credential.kind(), "KubernetesToken");
    let expires = credential
        .expires_at()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    assert_eq!(expires.map(|d| d.as_secs() as i64), Some(claims.exp));
    Ok(())
}

#[tokio::test]
async fn the_cache_saves_token_requests_and_keys_on_audience() -> TestResult {
    let f = example().await?;
    let cache = TokenCache::new(Default::default());
    let engine = Engine::new(gate_on().build()?)
        .with_kubernetes(f.kubernetes.clone())
        .with_cache(cache.clone());
    let first = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await?;
    let second = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await?;
    assert_eq!(token(&first), token(&second));
    assert_eq!(f.sandbox.token_requests(), 1);
    let other = engine
        .token(&object_request("team-a", "app", "https://other.test"))
        .await?;
    assert_ne!(token(&first), token(&other));
    let tenant_b = engine
        .token(&object_request("team-b", "app", AUDIENCE))
        .await?;
    assert_ne!(token(&first), token(&tenant_b));
    assert_eq!(f.sandbox.token_requests(), 3);
    assert_eq!((cache.metrics().hits, cache.metrics().exchanges), (1, 3));
    Ok(())
}

#[tokio::test]
async fn cache_events_are_counted_per_involved_object() -> TestResult {
    let f = example().await?;
    let cache = TokenCache::new(Default::default());
    let mut registry = kubecred::cache_metrics::Registry::default();
    cache.register_metrics(&mut registry, &MetricsOptions::default())?;
    let engine = Engine::new(gate_on().build()?)
        .with_kubernetes(f.kubernetes.clone())
        .with_cache(cache.clone());
    let object = InvolvedObject {
        kind: "Bucket".into(),
        name: "assets".into(),
        namespace: "team-a".into(),
        operation: "reconcile".into(),
    };
    let request = object_request("team-a", "app", AUDIENCE);
    engine.token_for(&request, &object).await?;
    engine.token_for(&request, &object).await?;
    engine.token(&request).await?;
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    let series = |event: &str| {
        format!(
            "cache_events_total{{event_type=\"{event}\",kind=\"Bucket\",name=\"assets\",namespace=\"team-a\",operation=\"reconcile\"}} 1"
        )
    };
    for line in [
        series("cache_miss"),
        series("cache_hit"),
        "cache_requests_total{status=\"success\"} 3".to_owned(),
        "cached_items 1".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert_eq!(f.sandbox.token_requests(), 1);
    Ok(())
}

#[tokio::test]
async fn the_gate_refuses_object_level_before_any_token_is_minted() -> TestResult {
    let f = example().await?;
    let engine =
        Engine::new(PolicyConfig::default().build()?).with_kubernetes(f.kubernetes.clone());
    let error = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_refused());
    assert!(
        error
            .to_string()
            .contains("ObjectLevelWorkloadIdentity feature gate is not enabled"),
        "{error}"
    );
    assert_eq!(f.sandbox.token_requests(), 0);
    Ok(())
}

#[tokio::test]
async fn lockdown_uses_the_default_service_account_of_the_object_namespace() -> TestResult {
    let f = example().await?;
    let policy = PolicyConfig {
        default_service_account: Some("tenant-default".into()),
        ..gate_on()
    }
    .build()?;
    let engine = Engine::new(policy).with_kubernetes(f.kubernetes.clone());
    let unnamed = |namespace: &str| Request {
        namespace: Some(namespace.into()),
        audiences: vec![AUDIENCE.into()],
        ..Request::new(Provider::Generic)
    };
    let credential = engine.token(&unnamed("team-a")).await?;
    let claims = f
        .sandbox
        .verifier()
        .await?
        .verify(&token(&credential), AUDIENCE)?;
    assert_eq!(claims.sub, "system:serviceaccount:team-a:tenant-default");

    let error = engine
        .token(&unnamed("team-b"))
        .await
        .err()
        .ok_or("expected the lockdown error")?;
    let message = error.to_string();
    assert!(error.is_refused());
    assert!(
        message.contains("team-b/tenant-default")
            && message.contains("multi-tenant workload identity lockdown"),
        "{message}"
    );

    // An explicitly named ServiceAccount wins over the default.
    let named = engine
        .token(&object_request("team-b", "app", AUDIENCE))
        .await?;
    assert!(!token(&named).is_empty());
    Ok(())
}

#[tokio::test]
async fn a_missing_named_service_account_is_not_found_and_names_it() -> TestResult {
    let f = example().await?;
    let engine = Engine::new(gate_on().build()?).with_kubernetes(f.kubernetes.clone());
    let error = engine
        .token(&object_request("team-a", "ghost", AUDIENCE))
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_not_found());
    let message = error.to_string();
    assert!(
        message.starts_with("generic: service account team-a/ghost: read service account:"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn controller_level_mints_for_the_pods_own_service_account() -> TestResult {
    let f = example().await?;
    let mut file = tempfile::NamedTempFile::new()?;
    let own = f.sandbox.issue_token(
        "flux-system",
        "kustomize-controller",
        &[],
        std::time::Duration::from_secs(3600),
    );
    file.write_all(own.as_bytes())?;
    let engine = Engine::new(PolicyConfig::default().build()?)
        .with_kubernetes(f.kubernetes.clone())
        .with_service_account_token_file(file.path());
    let request = Request {
        audiences: vec!["https://remote.test".into()],
        ..Request::new(Provider::Generic)
    };
    let credential = engine.token(&request).await?;
    let claims = f
        .sandbox
        .verifier()
        .await?
        .verify(&token(&credential), "https://remote.test")?;
    assert_eq!(
        claims.sub,
        "system:serviceaccount:flux-system:kustomize-controller"
    );

    let missing = Engine::new(PolicyConfig::default().build()?)
        .with_kubernetes(f.kubernetes.clone())
        .with_service_account_token_file("/nonexistent/token");
    let error = missing
        .token(&request)
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_not_configured(), "{error}");
    Ok(())
}

#[tokio::test]
async fn rbac_denial_is_reported_with_what_to_grant() -> TestResult {
    let user = User {
        name: "tenant-bot".into(),
        token: "tenant-bot-token-0123456789".into(),
    };
    let grant = Grant {
        subject: "tenant-bot".into(),
        verbs: vec!["get".into()],
        resources: vec!["serviceaccounts".into()],
        namespaces: vec!["team-a".into()],
    };
    let manifests = Manifests::parse(MANIFESTS)?;
    let f = fixture(SandboxConfig {
        manifests,
        users: vec![user.clone()],
        grants: vec![grant],
        ..SandboxConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    let mut config = f.sandbox.kubeconfig("team-a");
    config["users"][0]["user"]["token"] = user.token.clone().into();
    std::fs::write(&path, config.to_string())?;
    let kubernetes = Kubernetes::from_kubeconfig(&path, None).await?;
    let engine = Engine::new(gate_on().build()?).with_kubernetes(kubernetes);
    let error = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await
        .err()
        .ok_or("expected a denial")?;
    let message = error.to_string();
    assert!(
        message.contains("create serviceaccounts/token team-a/app")
            && message.contains("forbidden"),
        "{message}"
    );
    assert!(!error.is_transient());
    Ok(())
}

/// A `tracing` writer that keeps everything logged.
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

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_logs_errors_or_debug_output() -> TestResult {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = example().await?;
    let cache = TokenCache::new(Default::default());
    let engine = Engine::new(gate_on().build()?)
        .with_kubernetes(f.kubernetes.clone())
        .with_cache(cache);
    let credential = engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await?;
    engine
        .token(&object_request("team-a", "app", AUDIENCE))
        .await?;
    let failure = engine
        .token(&object_request("team-a", "ghost", AUDIENCE))
        .await
        .err()
        .ok_or("expected an error")?;
    let secret = token(&credential);
    assert!(secret.len() > 100);

    let logs = String::from_utf8(captured.0.lock().map_err(|_| "poisoned")?.clone())?;
    assert!(
        logs.contains("credential requested"),
        "the capture saw nothing: {logs}"
    );
    // The signature part is what makes a JWT a credential; check it and the whole token.
    let signature = secret.rsplit('.').next().unwrap_or_default();
    for (what, text) in [
        ("logs", logs),
        ("Debug", format!("{credential:?} {engine:?}")),
        ("error", format!("{failure} {failure:?}")),
    ] {
        assert!(
            !text.contains(&secret) && !text.contains(signature),
            "{what} leaks the token"
        );
        assert!(
            !text.contains(f.sandbox.admin_token()),
            "{what} leaks the kubeconfig token"
        );
    }
    Ok(())
}
