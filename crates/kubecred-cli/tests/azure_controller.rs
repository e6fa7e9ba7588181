//! Controller level with the `azure` provider, Flux's order, through `kubecred token`: an app's
//! client secret or certificate (PEM bundle, encrypted key with its password, the chain sent
//! as `x5c` to an app that requires it) from `AZURE_*` variables, workload identity
//! (`AZURE_FEDERATED_TOKEN_FILE`), then the managed identity (system-assigned, or the
//! user-assigned one `AZURE_CLIENT_ID` names); each token's claims name the identity. And the
//! captured-log test: Azure paths at `-vvv` (trace) log no secret.

mod support;

use kubecred_sandbox::azure::{AppCertificate, EntraApp};
use support::azure::{APP, AzureWorld, TENANT, azure_world, claims, manifests, token_of};
use support::sandbox_azure::{ACR_REGISTRIES, NODE_IDENTITY, NODE_USER_ASSIGNED_IDENTITY};
use support::{BoxError, TestResult, assert_exit, stderr, stdout, success_json};

const SECRET_APP: &str = "00000000-0000-0000-0000-0000000000d1";
const CERTIFICATE_APP: &str = "00000000-0000-0000-0000-0000000000d2";
const CHAIN_APP: &str = "00000000-0000-0000-0000-0000000000d3";
const CLIENT_SECRET: &str = "kubecred-test-client-secret~0123456789";
const PASSWORD: &str = "kubecred-test-key-password";
const STORAGE: [&str; 2] = ["--scope", "https://storage.azure.com/.default"];

struct World {
    w: AzureWorld,
    certificate: AppCertificate,
}

/// An app with a client secret, one with a certificate, one with a certificate that must come
/// with its chain (`x5c`).
async fn world() -> Result<World, BoxError> {
    let certificate = AppCertificate::generate("kubecred-test-app")?;
    let registered = certificate.certificate_pem.clone();
    let w = azure_world(&manifests(""), 0, |config| {
        config.apps.push(EntraApp {
            secrets: vec![CLIENT_SECRET.into()],
            ..EntraApp::new(SECRET_APP)
        });
        config.apps.push(EntraApp {
            certificates: vec![registered.clone()],
            ..EntraApp::new(CERTIFICATE_APP)
        });
        config.apps.push(EntraApp {
            certificates: vec![registered],
            require_x5c: true,
            ..EntraApp::new(CHAIN_APP)
        });
    })
    .await?;
    Ok(World { w, certificate })
}

/// `kubecred token --provider azure` (controller level) with `env` and `more` arguments.
fn token(
    w: &AzureWorld,
    env: &[(&str, &str)],
    more: &[&str],
) -> std::io::Result<std::process::Output> {
    let args = ["token", "--provider", "azure", "--output", "json"];
    w.kubecred(env, &[&args[..], more].concat())
}

fn app_of(output: &std::process::Output) -> Result<serde_json::Value, BoxError> {
    claims(&token_of(output)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_client_secret_and_certificates() -> TestResult {
    let World { w, certificate } = world().await?;
    let secret = [
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", SECRET_APP),
        ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
    ];
    let value = app_of(&token(&w, &secret, &STORAGE)?)?;
    assert_eq!(value["appid"], SECRET_APP, "{value}");
    assert_eq!(value["aud"], "https://storage.azure.com", "{value}");
    let wrong = [
        secret[0],
        secret[1],
        ("AZURE_CLIENT_SECRET", "not-the-secret"),
    ];
    let refused = token(&w, &wrong, &STORAGE)?;
    // Entra's own text, classified by its status (not a parsing error of azure_identity's).
    assert_exit(&refused, 1, &["HTTP 401: AADSTS7000215", "Trace ID:"]);
    assert!(
        !stderr(&refused).contains("borrowed"),
        "{}",
        stderr(&refused)
    );

    // A PEM bundle (key and certificate), no password, no chain.
    let plain = w.file("app.pem", &certificate.bundle_pem())?;
    let env = [
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CERTIFICATE_APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", plain.as_str()),
    ];
    assert_eq!(
        app_of(&token(&w, &env, &STORAGE)?)?["appid"],
        CERTIFICATE_APP
    );

    // An encrypted key with its password, the chain sent to an app that requires it.
    let encrypted = certificate.encrypted_private_key_pem(PASSWORD)?;
    let bundle = w.file(
        "encrypted.pem",
        &format!("{encrypted}{}", certificate.certificate_pem),
    )?;
    let env = [
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", CHAIN_APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", bundle.as_str()),
        ("AZURE_CLIENT_CERTIFICATE_PASSWORD", PASSWORD),
        ("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true"),
    ];
    assert_eq!(app_of(&token(&w, &env, &STORAGE)?)?["appid"], CHAIN_APP);
    // Without the chain, that app refuses the assertion.
    let unchained = token(&w, &env[..4], &STORAGE)?;
    assert_eq!(unchained.status.code(), Some(1), "{}", stderr(&unchained));
    assert!(
        stderr(&unchained).contains("AADSTS"),
        "{}",
        stderr(&unchained)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_then_managed_identities() -> TestResult {
    let World { w, .. } = world().await?;
    let file = w.file("azure-identity-token", &w.pod_token("app"))?;
    let env = [
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_FEDERATED_TOKEN_FILE", file.as_str()),
    ];
    let value = app_of(&token(&w, &env, &[])?)?;
    assert_eq!(value["appid"], APP, "{value}");
    assert_eq!(
        value["aud"], "https://management.core.windows.net/",
        "{value}"
    );
    assert_eq!(w.azure.calls("imds.token"), 0);

    // Nothing configured: the system-assigned managed identity.
    let system = app_of(&token(&w, &[], &STORAGE)?)?;
    assert_eq!(system["appid"], NODE_IDENTITY, "{system}");
    // AZURE_CLIENT_ID alone picks a user-assigned identity.
    let env = [("AZURE_CLIENT_ID", NODE_USER_ASSIGNED_IDENTITY)];
    let user = app_of(&token(&w, &env, &STORAGE)?)?;
    assert_eq!(user["appid"], NODE_USER_ASSIGNED_IDENTITY, "{user}");
    // Node level: the same endpoint.
    let node = app_of(&token(&w, &[], &["--node"])?)?;
    assert_eq!(node["appid"], NODE_IDENTITY, "{node}");
    assert_eq!(w.azure.calls("imds.token"), 3);
    Ok(())
}

/// One run: its extra variables and its arguments.
type Run<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

/// Azure paths at `-vvv` (every crate's trace events, the HTTP stacks' included): the client
/// secret, the certificate's key, the Kubernetes tokens, the Entra tokens and the ACR refresh
/// token appear in no log line, and the Entra tokens only where a command prints them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_at_trace_level() -> TestResult {
    let World { w, certificate } = world().await?;
    let pod_token = w.pod_token("app");
    let token_file = w.file("azure-identity-token", &pod_token)?;
    let bundle = w.file("app.pem", &certificate.bundle_pem())?;
    let key_body: String = certificate
        .private_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let runs: Vec<Run> = vec![
        (
            vec![
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_CLIENT_ID", SECRET_APP),
                ("AZURE_CLIENT_SECRET", CLIENT_SECRET),
            ],
            vec!["token", "--provider", "azure", "--output", "json"],
        ),
        (
            vec![
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_CLIENT_ID", CERTIFICATE_APP),
                ("AZURE_CLIENT_CERTIFICATE_PATH", &bundle),
            ],
            vec!["token", "--provider", "azure", "--output", "json"],
        ),
        (
            vec![
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_CLIENT_ID", APP),
                ("AZURE_FEDERATED_TOKEN_FILE", &token_file),
            ],
            vec!["token", "--provider", "azure", "--output", "json"],
        ),
        (
            vec![],
            vec![
                "token",
                "--provider",
                "azure",
                "-n",
                "team-a",
                "--service-account",
                "app",
                "--output",
                "json",
            ],
        ),
        (
            vec![],
            vec![
                "registry",
                "login",
                ACR_REGISTRIES[0],
                "-n",
                "team-a",
                "--service-account",
                "app",
            ],
        ),
        (
            vec![
                ("AZURE_TENANT_ID", TENANT),
                ("AZURE_CLIENT_ID", SECRET_APP),
                ("AZURE_CLIENT_SECRET", "wrong-secret-value-0123"),
            ],
            vec!["token", "--provider", "azure", "--output", "json"],
        ),
    ];
    let mut printed = Vec::new();
    let mut logs = String::new();
    for (env, args) in &runs {
        let output = w.kubecred(env, &[&args[..], &["-vvv"]].concat())?;
        let log = stderr(&output);
        let out = stdout(&output);
        if output.status.success() {
            let value = success_json(&output)?;
            let secret = value["token"].as_str().or(value["password"].as_str());
            printed.push(secret.ok_or("no token or password")?.to_owned());
        } else {
            assert!(log.contains("AADSTS7000215"), "{log}");
        }
        for (what, secret) in [
            ("client secret", CLIENT_SECRET),
            ("wrong client secret", "wrong-secret-value-0123"),
            ("certificate key", key_body.as_str()),
            ("Kubernetes token", pod_token.as_str()),
        ] {
            assert!(
                !out.contains(secret),
                "stdout of {args:?} carries the {what}"
            );
        }
        logs += &log;
    }
    assert!(logs.lines().count() > 20, "trace logging is on: {logs}");
    for (what, secret) in [
        ("client secret", CLIENT_SECRET),
        ("wrong client secret", "wrong-secret-value-0123"),
        ("certificate key", key_body.as_str()),
        ("Kubernetes token", pod_token.as_str()),
    ] {
        assert!(!logs.contains(secret), "the logs carry the {what}");
    }
    for secret in &printed {
        assert!(
            !logs.contains(secret.as_str()),
            "the logs carry a printed token"
        );
    }
    // Every token in play is a JWT: none at all in the logs (the Kubernetes tokens kubecred
    // requested, Entra's, ACR's).
    assert!(!logs.contains("eyJ"), "the logs carry a JWT");
    Ok(())
}
