//! Secret level with the `azure` provider (`kubecred token --secret NAME`): an app registration's
//! certificate or client secret in a Secret of the requesting namespace, in both of the forms
//! Flux reads: the keys form (`tenantId`, `clientId`, `clientCertificate`,
//! `clientCertificateSendChain: "true"`) and the `sops.azure-kv` YAML form (an encrypted key with
//! `clientCertificatePassword`, `clientCertificateSendChain: true`). The Entra stand-in checks
//! the certificate's assertion (and its chain, for the app that requires one) and the secret.

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kubecred_sandbox::azure::{AppCertificate, EntraApp};
use support::azure::{AzureWorld, TENANT, azure_world, claims, manifests, token_of};
use support::{BoxError, TestResult, assert_exit, stderr};

const CERTIFICATE_APP: &str = "00000000-0000-0000-0000-0000000000e1";
const CHAIN_APP: &str = "00000000-0000-0000-0000-0000000000e2";
const SECRET_APP: &str = "00000000-0000-0000-0000-0000000000e3";
const CLIENT_SECRET: &str = "kubecred-secret-level-client-secret~42";
const PASSWORD: &str = "kubecred-secret-level-key-password";

/// A Secret `team-a/NAME` whose data are `pairs` (base64, as the API stores them).
fn secret(name: &str, pairs: &[(&str, &str)]) -> String {
    let data: String = pairs
        .iter()
        .map(|(k, v)| format!("  {k}: {}\n", STANDARD.encode(v)))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: team-a}}\n\
         type: Opaque\ndata:\n{data}"
    )
}

async fn world(certificate: &AppCertificate) -> Result<AzureWorld, BoxError> {
    let encrypted = certificate.encrypted_private_key_pem(PASSWORD)?;
    let indented: String = format!("{}{}", certificate.certificate_pem, encrypted)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    let sops = format!(
        "tenantId: {TENANT}\nclientId: {CHAIN_APP}\nclientCertificatePassword: {PASSWORD}\n\
         clientCertificateSendChain: true\nclientCertificate: |\n{indented}"
    );
    let mut all = manifests("");
    all.push_str(&secret(
        "app-certificate",
        &[
            ("tenantId", TENANT),
            ("clientId", CERTIFICATE_APP),
            ("clientCertificate", &certificate.bundle_pem()),
        ],
    ));
    all.push_str(&secret("sops-keys", &[("sops.azure-kv", &sops)]));
    all.push_str(&secret(
        "app-secret",
        &[
            ("tenantId", TENANT),
            ("clientId", SECRET_APP),
            ("clientSecret", CLIENT_SECRET),
        ],
    ));
    all.push_str(&secret(
        "wrong-secret",
        &[
            ("tenantId", TENANT),
            ("clientId", SECRET_APP),
            ("clientSecret", "not-the-secret"),
        ],
    ));
    let registered = certificate.certificate_pem.clone();
    azure_world(&all, 0, |config| {
        config.apps.push(EntraApp {
            certificates: vec![registered.clone()],
            ..EntraApp::new(CERTIFICATE_APP)
        });
        config.apps.push(EntraApp {
            certificates: vec![registered],
            require_x5c: true,
            ..EntraApp::new(CHAIN_APP)
        });
        config.apps.push(EntraApp {
            secrets: vec![CLIENT_SECRET.into()],
            ..EntraApp::new(SECRET_APP)
        });
    })
    .await
}

fn token(w: &AzureWorld, secret: &str) -> std::io::Result<std::process::Output> {
    w.kubecred(
        &[],
        &[
            "token",
            "--provider",
            "azure",
            "--namespace",
            "team-a",
            "--secret",
            secret,
            "--scope",
            "https://storage.azure.com/.default",
            "--output",
            "json",
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_with_certificates_and_client_secrets() -> TestResult {
    let certificate = AppCertificate::generate("kubecred-secret-level")?;
    let w = world(&certificate).await?;
    for (secret, app) in [
        ("app-certificate", CERTIFICATE_APP),
        ("sops-keys", CHAIN_APP),
        ("app-secret", SECRET_APP),
    ] {
        let output = token(&w, secret)?;
        let claims = claims(&token_of(&output)?)?;
        assert_eq!(claims["appid"], app, "{secret}: {claims}");
        assert_eq!(claims["tid"], TENANT, "{secret}");
        assert_eq!(claims["aud"], "https://storage.azure.com", "{secret}");
    }
    let refused = token(&w, "wrong-secret")?;
    assert_exit(
        &refused,
        1,
        &["secret team-a/wrong-secret", "HTTP 401: AADSTS7000215"],
    );
    assert!(!stderr(&refused).contains("not-the-secret"));
    let missing = token(&w, "no-such-secret")?;
    assert_exit(&missing, 1, &["no-such-secret"]);
    Ok(())
}
