//! Real Kubernetes clients accept the sandbox: kube-rs reads a
//! ServiceAccount and creates a TokenRequest over HTTPS with the sandbox's
//! kubeconfig (which carries the sandbox's CA).

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

const MANIFESTS: &str =
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team\n";

async fn client_for(sandbox: &Sandbox) -> kube::Client {
    let kubeconfig: Kubeconfig =
        serde_json::from_value(sandbox.kubeconfig("team")).expect("kube-rs reads the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube-rs accepts the kubeconfig");
    kube::Client::try_from(config).expect("kube-rs builds a client")
}

#[tokio::test]
async fn kube_rs_gets_a_service_account_and_creates_a_token() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(MANIFESTS).expect("manifests");
    let sandbox = Sandbox::start(SandboxConfig {
        manifests,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let accounts: Api<ServiceAccount> = Api::namespaced(client_for(&sandbox).await, "team");

    let account = accounts.get("app").await.expect("GET serviceaccount");
    assert_eq!(account.metadata.name.as_deref(), Some("app"));
    let uid = account.metadata.uid.clone().expect("uid");

    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec!["sts.amazonaws.com".into()],
            expiration_seconds: Some(1200),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let created: TokenRequest = accounts
        .create_subresource("token", "app", &PostParams::default(), &request)
        .await
        .expect("POST token");
    let status = created.status.expect("status");
    assert_eq!(created.spec.expiration_seconds, Some(1200));

    let verifier = sandbox.verifier().await.expect("discovery");
    let claims = verifier
        .verify(&status.token, "sts.amazonaws.com")
        .expect("verifies");
    assert_eq!(claims.kubernetes.serviceaccount.uid, uid);
    assert_eq!(status.expiration_timestamp.0.as_second(), claims.exp);
    assert_eq!(sandbox.token_requests(), 1);

    let missing = accounts.get("ghost").await.expect_err("404");
    match missing {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.message, "serviceaccounts \"ghost\" not found");
        }
        other => panic!("expected an API error, got {other}"),
    }
    sandbox.shutdown().await;
}
