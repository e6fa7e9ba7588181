//! The Kubernetes layer against the sandbox: Secrets and ConfigMaps of the object's namespace,
//! and the generic provider's remote-cluster audience.

use kubecred::{Credential, Engine, Identity, Kubernetes, PolicyConfig, Provider, Request};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MANIFESTS: &str = include_str!("../../../examples/sandbox.yaml");

async fn start() -> Result<(Sandbox, Kubernetes, tempfile::TempDir), Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(MANIFESTS)?,
        ..SandboxConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&path, sandbox.kubeconfig_file().as_bytes())?;
    let kubernetes = Kubernetes::from_kubeconfig(&path, None).await?;
    Ok((sandbox, kubernetes, dir))
}

#[tokio::test]
async fn secrets_are_read_in_their_namespace_as_secrets() -> TestResult {
    let (_sandbox, kubernetes, _dir) = start().await?;
    let data = kubernetes.secret_data("team-a", "aws-keys").await?;
    assert_eq!(
        data.get("accesskey").map(|s| s.expose()),
        Some("AKIAIOSFODNN7EXAMPLE")
    );
    assert!(
        !format!("{data:?}").contains("wJalrXUtnFEMI"),
        "Debug shows a secret value"
    );
    let missing = kubernetes
        .secret_data("team-b", "aws-keys")
        .await
        .err()
        .ok_or("expected not found")?;
    assert!(missing.is_not_found());
    assert!(
        missing.to_string().contains("get secrets team-b/aws-keys"),
        "{missing}"
    );
    Ok(())
}

#[tokio::test]
async fn config_maps_are_read_in_their_namespace() -> TestResult {
    let (_sandbox, kubernetes, _dir) = start().await?;
    let data = kubernetes
        .config_map_data("team-a", "remote-cluster")
        .await?;
    assert_eq!(data.get("provider").map(String::as_str), Some("generic"));
    assert_eq!(
        data.get("audiences").map(|a| a.trim()),
        Some("https://remote.example.test")
    );
    assert!(
        kubernetes
            .config_map_data("team-b", "remote-cluster")
            .await
            .is_err_and(|e| e.is_not_found())
    );
    Ok(())
}

#[tokio::test]
async fn service_accounts_carry_their_annotations() -> TestResult {
    let (_sandbox, kubernetes, _dir) = start().await?;
    let account = kubernetes.service_account("team-a", "app").await?;
    assert_eq!(
        account
            .annotations
            .get("eks.amazonaws.com/role-arn")
            .map(String::as_str),
        Some("arn:aws:iam::123456789012:role/team-a-app")
    );
    Ok(())
}

#[tokio::test]
async fn generic_tokens_default_to_the_remote_cluster_address_audience() -> TestResult {
    let (sandbox, kubernetes, _dir) = start().await?;
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()?;
    let engine = Engine::new(policy).with_kubernetes(kubernetes);
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        cluster_address: Some("https://remote.example.test".into()),
        ..Request::new(Provider::Generic)
    };
    let credential = engine.token(&request).await?;
    let token = credential.bearer_token().ok_or("no token")?;
    let claims = sandbox
        .verifier()
        .await?
        .verify(token.expose(), "https://remote.example.test")?;
    assert_eq!(claims.aud, vec!["https://remote.example.test".to_string()]);
    Ok(())
}

#[tokio::test]
async fn the_generic_provider_has_no_secret_level() -> TestResult {
    let (_sandbox, kubernetes, _dir) = start().await?;
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()?;
    let engine = Engine::new(policy).with_kubernetes(kubernetes);
    let request = Request {
        identity: Identity::secret("aws-keys"),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Generic)
    };
    let message = engine
        .token(&request)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("secret team-a/aws-keys")
            && message.contains("generic provider has no secret level"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_request_proxy_carries_cloud_calls_only() -> TestResult {
    let (_sandbox, kubernetes, _dir) = start().await?;
    let proxy = kubecred_sandbox::proxy::ForwardProxy::start().await?;
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()?;
    let engine = Engine::new(policy).with_kubernetes(kubernetes);
    let request = Request {
        identity: Identity::service_account("app"),
        namespace: Some("team-a".into()),
        proxy: Some(url::Url::parse(&proxy.url())?),
        ..Request::new(Provider::Generic)
    };
    // The generic provider's token comes from the Kubernetes API, which follows the kubeconfig.
    let credential = engine.token(&request).await?;
    assert!(matches!(credential, Credential::KubernetesToken(_)));
    assert_eq!(proxy.relayed(), Vec::new());
    Ok(())
}

/// Names that are not Kubernetes names never reach the API server's URL paths: each read and
/// the TokenRequest refuse them with the field and the value named, before any call.
#[tokio::test]
async fn names_that_are_not_kubernetes_names_never_reach_a_url_path() -> TestResult {
    let (sandbox, kubernetes, _dir) = start().await?;
    let tokens_before = sandbox.token_requests();
    for name in [
        "../team-b/secrets/aws-keys",
        "aws-keys/..",
        "Aws-Keys",
        "",
        "a\nb",
    ] {
        let shown = format!("\"{}\"", name.escape_debug());
        let errors = [
            (
                "secret name",
                kubernetes.secret_data("team-a", name).await.err(),
            ),
            (
                "config map name",
                kubernetes.config_map_data("team-a", name).await.err(),
            ),
            (
                "service account name",
                kubernetes.service_account("team-a", name).await.err(),
            ),
            (
                "service account name",
                kubernetes
                    .create_token("team-a", name, &[], None)
                    .await
                    .err(),
            ),
        ];
        for (field, error) in errors {
            let error = error.ok_or(format!("{field} {shown} was accepted"))?;
            assert!(
                !error.is_not_found(),
                "{field} {shown} reached the API server: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(field) && message.contains(&shown),
                "{message}"
            );
        }
    }
    for namespace in ["team-a/secrets", "..", "Team-A", ""] {
        let error = kubernetes.secret_data(namespace, "aws-keys").await.err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("namespace"), "{namespace:?}: {message}");
    }
    assert_eq!(sandbox.token_requests(), tokens_before);
    Ok(())
}
