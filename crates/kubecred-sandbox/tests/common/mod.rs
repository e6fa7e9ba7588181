//! Helpers shared by the sandbox's integration tests.

#![allow(dead_code)]

use kubecred_sandbox::{Grant, Manifests, Sandbox, SandboxConfig, User};

/// Starts a sandbox serving `manifests` after installing the aws-lc-rs
/// rustls provider (as every process using kube or reqwest must).
pub async fn start(manifests: &str, users: Vec<User>, grants: Vec<Grant>) -> Sandbox {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(manifests).expect("test manifests parse");
    let config = SandboxConfig {
        manifests,
        users,
        grants,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

/// An HTTPS client that trusts only the sandbox's CA.
pub fn client(sandbox: &Sandbox) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(sandbox.ca_pem().as_bytes())
        .expect("the sandbox's CA is PEM");
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .build()
        .expect("HTTPS client")
}
