//! The sandbox really serves TLS: clients that do not trust its CA are
//! refused, and verifiers trust exactly the CA they are given.

mod common;

use kubecred_sandbox::{JwtVerifier, VerifyErrorKind};

const MANIFESTS: &str =
    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team\n";

/// The error and all its causes, for matching on the TLS reason.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn serves_https_with_a_ca_signed_certificate() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    assert!(
        sandbox.url().starts_with("https://127.0.0.1:"),
        "{sandbox:?}"
    );
    assert_eq!(sandbox.issuer(), sandbox.url());
    assert!(
        sandbox.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        sandbox.ca_pem()
    );
    let response = common::client(&sandbox)
        .get(format!("{}/openid/v1/jwks", sandbox.url()))
        .send()
        .await
        .expect("a client trusting the CA connects");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let localhost = sandbox.url().replace("127.0.0.1", "localhost");
    let response = common::client(&sandbox)
        .get(format!("{localhost}/openid/v1/jwks"))
        .send()
        .await
        .expect("the certificate also names localhost");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn clients_without_the_ca_are_refused() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let other = common::start(MANIFESTS, vec![], vec![]).await;
    let jwks = format!("{}/openid/v1/jwks", sandbox.url());
    let system_roots = reqwest::Client::new().get(&jwks).send().await;
    let error = system_roots.expect_err("the system roots do not include the sandbox's CA");
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));
    let wrong_ca = common::client(&other).get(&jwks).send().await;
    let error = wrong_ca.expect_err("another sandbox's CA does not vouch for this one");
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));
    let plain = reqwest::get(jwks.replace("https://", "http://")).await;
    assert!(plain.is_err(), "plain HTTP is not served: {plain:?}");
    other.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn discovery_trusts_exactly_the_given_ca() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let other = common::start(MANIFESTS, vec![], vec![]).await;
    let verifier = JwtVerifier::discover_with_ca(&sandbox.issuer(), sandbox.ca_pem())
        .await
        .expect("discovery with the sandbox's CA");
    assert_eq!(verifier.issuer(), sandbox.issuer());
    let error = JwtVerifier::discover_with_ca(&sandbox.issuer(), other.ca_pem())
        .await
        .expect_err("wrong CA");
    assert_eq!(error.kind(), VerifyErrorKind::Discovery);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "GET {}/.well-known/openid-configuration failed: ",
            sandbox.issuer()
        )) && message.contains("UnknownIssuer"),
        "{message}"
    );
    let error = JwtVerifier::discover(&sandbox.issuer())
        .await
        .expect_err("the system roots do not include the sandbox's CA");
    assert_eq!(error.kind(), VerifyErrorKind::Discovery);
    let error = JwtVerifier::discover_with_ca(&sandbox.issuer(), "not a certificate")
        .await
        .expect_err("no certificate");
    assert_eq!(error.to_string(), "the CA PEM holds no certificate");
    other.shutdown().await;
    sandbox.shutdown().await;
}
