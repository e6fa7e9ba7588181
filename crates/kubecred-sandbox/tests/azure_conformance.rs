//! The judge that the Entra stand-in behaves like Entra: Microsoft's `@azure/identity` (npm,
//! under `conformance/azure`) obtains tokens from it with `ClientAssertionCredential`,
//! `ClientCertificateCredential` (with and without `sendCertificateChain`) and
//! `WorkloadIdentityCredential`, and gets its refusals as errors carrying the AADSTS codes; and
//! Azurite (npm) accepts the stand-in's Storage tokens and refuses expired ones.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kubecred_sandbox::azure::{
    AZURITE_ACCOUNT, AppCertificate, AzureConfig, AzureStandIns, EntraApp, RoleGrant,
    STORAGE_AUDIENCE, STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER,
    TOKEN_EXCHANGE_AUDIENCE, apps_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// Federated with `team/app`.
const FEDERATED_APP: &str = "11111111-1111-4111-8111-111111111111";
/// With a registered certificate.
const CERTIFICATE_APP: &str = "22222222-2222-4222-8222-222222222222";
/// With a registered certificate and subject-name/issuer authentication (x5c required).
const SNI_APP: &str = "33333333-3333-4333-8333-333333333333";
/// A storage reader (client secret).
const READER_APP: &str = "44444444-4444-4444-8444-444444444444";

const MANIFESTS: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team, annotations: {azure.workload.identity/client-id: 11111111-1111-4111-8111-111111111111, azure.workload.identity/tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47}}\n---\n\
     apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: other, namespace: team}\n";

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/azure")
}

/// Whether node and the npm packages are installed; reports the missing peer otherwise.
fn peers_present() -> bool {
    let node = std::process::Command::new("node").arg("--version").output();
    if let Err(e) = node {
        kubecred_sandbox::peers::missing("node", "install Node.js 20 or later", &e);
        return false;
    }
    let modules = conformance_dir().join("node_modules");
    for package in ["@azure/identity", "azurite"] {
        if !modules.join(package).join("package.json").is_file() {
            kubecred_sandbox::peers::missing(
                package,
                "npm ci --prefix conformance/azure",
                &"not installed under conformance/azure",
            );
            return false;
        }
    }
    true
}

struct Env {
    sandbox: Sandbox,
    azure: AzureStandIns,
    certificate: AppCertificate,
    dir: tempfile::TempDir,
}

async fn start() -> Env {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(MANIFESTS).expect("manifests");
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts");
    let certificate = AppCertificate::generate("kubecred-conformance").expect("certificate");
    let mut apps = apps_for_annotated_service_accounts(&manifests, &sandbox.issuer());
    apps.push(EntraApp {
        certificates: vec![certificate.certificate_pem.clone()],
        ..EntraApp::new(CERTIFICATE_APP)
    });
    apps.push(EntraApp {
        certificates: vec![certificate.certificate_pem.clone()],
        require_x5c: true,
        ..EntraApp::new(SNI_APP)
    });
    apps.push(EntraApp {
        secrets: vec!["reader-secret".into()],
        ..EntraApp::new(READER_APP)
    });
    let config = AzureConfig {
        tenant_id: TENANT.into(),
        apps,
        issuers: vec![sandbox.verifier().await.expect("sandbox discovery")],
        grants: vec![
            RoleGrant::new(
                format!("azblob://{AZURITE_ACCOUNT}"),
                STORAGE_BLOB_DATA_CONTRIBUTOR,
                FEDERATED_APP,
            ),
            RoleGrant::new(
                format!("azblob://{AZURITE_ACCOUNT}/shared"),
                STORAGE_BLOB_DATA_READER,
                READER_APP,
            ),
        ],
        ..AzureConfig::default()
    };
    let azure = AzureStandIns::start(config).await.expect("stand-ins start");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("ca.pem"), azure.ca_pem()).expect("CA file");
    std::fs::write(dir.path().join("cert.pem"), certificate.bundle_pem()).expect("cert file");
    Env {
        sandbox,
        azure,
        certificate,
        dir,
    }
}

impl Env {
    /// A file holding a `team/<name>` token for the token exchange audience.
    fn token_file(&self, name: &str) -> PathBuf {
        let token = self.sandbox.issue_token(
            "team",
            name,
            &[TOKEN_EXCHANGE_AUDIENCE.into()],
            Duration::from_secs(3600),
        );
        let path = self.dir.path().join(format!("{name}.token"));
        std::fs::write(&path, token).expect("token file");
        path
    }

    /// Runs `token.mjs` in a clean environment trusting the stand-ins' CA.
    async fn identity(&self, args: &[&str]) -> serde_json::Value {
        let mut command = std::process::Command::new("node");
        command
            .current_dir(conformance_dir())
            .arg("token.mjs")
            .arg(args[0])
            .arg(self.azure.authority_host())
            .arg(TENANT)
            .args(&args[1..])
            .env_clear()
            .env("HOME", self.dir.path())
            .env("NODE_EXTRA_CA_CERTS", self.dir.path().join("ca.pem"))
            .env("NO_PROXY", "127.0.0.1,localhost");
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("blocking task")
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "token.mjs printed no JSON ({e}): {stdout} {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    async fn shutdown(self) {
        self.azure.shutdown().await;
        self.sandbox.shutdown().await;
    }
}

fn assert_token(answer: &serde_json::Value, client_id: &str, audience: &str) {
    assert_eq!(answer["ok"], true, "{answer}");
    let claims = &answer["claims"];
    assert_eq!(claims["aud"], audience, "{claims}");
    assert_eq!(
        claims["iss"],
        format!("https://sts.windows.net/{TENANT}/"),
        "{claims}"
    );
    assert_eq!(claims["appid"], client_id, "{claims}");
    assert_eq!(claims["tid"], TENANT, "{claims}");
}

fn assert_refused(answer: &serde_json::Value, code: &str) {
    assert_eq!(answer["ok"], false, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(code), "expected {code}: {answer}");
}

#[tokio::test]
async fn azure_identity_obtains_tokens_from_the_entra_stand_in() {
    if !peers_present() {
        return;
    }
    let env = start().await;
    let app_token = env.token_file("app");
    let app_token = app_token.to_string_lossy();
    let storage = "https://storage.azure.com/.default";

    let assertion = env
        .identity(&["assertion", FEDERATED_APP, storage, &app_token])
        .await;
    assert_token(&assertion, FEDERATED_APP, STORAGE_AUDIENCE);

    let workload = env
        .identity(&[
            "workload",
            FEDERATED_APP,
            "https://management.core.windows.net//.default",
            &app_token,
        ])
        .await;
    assert_token(
        &workload,
        FEDERATED_APP,
        "https://management.core.windows.net/",
    );

    let bundle = env.dir.path().join("cert.pem");
    let bundle = bundle.to_string_lossy();
    for send_chain in ["false", "true"] {
        let answer = env
            .identity(&["certificate", CERTIFICATE_APP, storage, &bundle, send_chain])
            .await;
        assert_token(&answer, CERTIFICATE_APP, STORAGE_AUDIENCE);
    }
    let encrypted = env.dir.path().join("encrypted.pem");
    let key = env
        .certificate
        .encrypted_private_key_pem("pass phrase")
        .expect("encrypts");
    std::fs::write(
        &encrypted,
        format!("{}{key}", env.certificate.certificate_pem),
    )
    .expect("file");
    let answer = env
        .identity(&[
            "certificate",
            CERTIFICATE_APP,
            storage,
            &encrypted.to_string_lossy(),
            "false",
            "pass phrase",
        ])
        .await;
    assert_token(&answer, CERTIFICATE_APP, STORAGE_AUDIENCE);
    let with_chain = env
        .identity(&["certificate", SNI_APP, storage, &bundle, "true"])
        .await;
    assert_token(&with_chain, SNI_APP, STORAGE_AUDIENCE);
    assert!(env.azure.calls("entra.token") >= 5);
    env.shutdown().await;
}

#[tokio::test]
async fn azure_identity_reports_the_entra_stand_ins_refusals() {
    if !peers_present() {
        return;
    }
    let env = start().await;
    let storage = "https://storage.azure.com/.default";
    let other_token = env.token_file("other");
    let wrong_subject = env
        .identity(&[
            "assertion",
            FEDERATED_APP,
            storage,
            &other_token.to_string_lossy(),
        ])
        .await;
    assert_refused(&wrong_subject, "AADSTS700213");

    let stranger = AppCertificate::generate("stranger").expect("certificate");
    let stranger_file = env.dir.path().join("stranger.pem");
    std::fs::write(&stranger_file, stranger.bundle_pem()).expect("file");
    let wrong_certificate = env
        .identity(&[
            "certificate",
            CERTIFICATE_APP,
            storage,
            &stranger_file.to_string_lossy(),
            "false",
        ])
        .await;
    assert_refused(&wrong_certificate, "AADSTS700027");

    let bundle = env.dir.path().join("cert.pem");
    let without_chain = env
        .identity(&[
            "certificate",
            SNI_APP,
            storage,
            &bundle.to_string_lossy(),
            "false",
        ])
        .await;
    assert_refused(&without_chain, "AADSTS700027");

    let wrong_secret = env
        .identity(&["secret", READER_APP, storage, "not-the-secret"])
        .await;
    assert_refused(&wrong_secret, "AADSTS7000215");
    let unknown_app = env
        .identity(&[
            "secret",
            "55555555-5555-4555-8555-555555555555",
            storage,
            "x",
        ])
        .await;
    assert_refused(&unknown_app, "AADSTS700016");
    env.shutdown().await;
}

#[tokio::test]
async fn azurite_takes_the_stand_ins_storage_tokens_behind_the_blob_stand_in() {
    if !peers_present() {
        return;
    }
    let mut env = start().await;
    env.azure.start_azurite().await.expect("Azurite starts");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let live = env
        .azure
        .access_token(FEDERATED_APP, STORAGE_AUDIENCE, now, 600)
        .expect("token");
    let expired = env
        .azure
        .access_token(FEDERATED_APP, STORAGE_AUDIENCE, now - 7200, 3600)
        .expect("token");
    let azurite = env.azure.azurite().expect("running");
    assert_eq!(
        azurite.create_container(&live, "shared").await.ok(),
        Some(201)
    );
    assert_eq!(
        azurite
            .put_blob(&live, "shared", "hello.txt", b"hello")
            .await
            .ok(),
        Some(201)
    );
    let refused = azurite
        .request(
            reqwest::Method::PUT,
            "refused?restype=container",
            &expired,
            Vec::new(),
        )
        .await
        .expect("Azurite answers");
    assert_eq!(refused.0, 403, "{}", refused.1);
    assert!(refused.1.contains("expired"), "{}", refused.1);

    // Through the Blob stand-in: the reader lists, is refused a write; no token is 401.
    let roots = reqwest::Certificate::from_pem_bundle(env.azure.ca_pem().as_bytes()).expect("CA");
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(roots)
        .build()
        .expect("client");
    let reader = env
        .azure
        .access_token(READER_APP, STORAGE_AUDIENCE, now, 600)
        .expect("token");
    let list = format!(
        "{}/{AZURITE_ACCOUNT}/shared?restype=container&comp=list",
        env.azure.blob_url()
    );
    let listed = client
        .get(&list)
        .bearer_auth(&reader)
        .header("x-ms-version", "2023-11-03")
        .send()
        .await
        .expect("listing");
    assert_eq!(listed.status().as_u16(), 200);
    assert!(
        listed
            .text()
            .await
            .unwrap_or_default()
            .contains("hello.txt")
    );
    let write = client
        .put(format!(
            "{}/{AZURITE_ACCOUNT}/shared/new.txt",
            env.azure.blob_url()
        ))
        .bearer_auth(&reader)
        .header("x-ms-version", "2023-11-03")
        .header("x-ms-blob-type", "BlockBlob")
        .body("x")
        .send()
        .await
        .expect("write");
    assert_eq!(write.status().as_u16(), 403);
    assert_eq!(
        write
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok()),
        Some("AuthorizationPermissionMismatch")
    );
    let anonymous = client.get(&list).send().await.expect("anonymous");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(env.azure.calls("blob.request") >= 1);
    env.shutdown().await;
}
