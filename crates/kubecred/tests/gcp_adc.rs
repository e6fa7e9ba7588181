//! GCP controller level (Application Default Credentials) and secret level, end to end against
//! the sandbox's stand-ins: a key file signs a JWT-bearer assertion the OAuth stand-in verifies
//! with the key's public half; external account files send a sandbox ServiceAccount token to the
//! STS stand-in (directly, and impersonating through IAM Credentials); gcloud's well-known file
//! and then the metadata server are the fallbacks; a Secret's `serviceaccount` key is a key file.
//! Every test injects its environment (`Env::from_pairs`): none reads the process's.
#![cfg(feature = "gcp")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kubecred::{
    AccessToken, Credential, Engine, Env, Identity, Kubernetes, PolicyConfig, Provider, Request,
};
use kubecred_sandbox::gcp::{
    GcpConfig, GcpServiceAccount, GcpStandIns, OidcProvider, WorkloadIdentityPool,
    service_accounts_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
const NODE_SA: &str = "node@example-project.iam.gserviceaccount.com";
const PROVIDER: &str = "//iam.googleapis.com/projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";

/// `federated` may impersonate the app's service account (its annotations make the binding).
const MANIFESTS: &str = "
apiVersion: v1
kind: ServiceAccount
metadata:
  name: federated
  namespace: team-a
  annotations:
    gcp.auth.fluxcd.io/workload-identity-provider: 'projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox'
    iam.gke.io/gcp-service-account: team-a-app@example-project.iam.gserviceaccount.com
";

struct World {
    sandbox: Sandbox,
    gcp: GcpStandIns,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

async fn world(extra_manifests: &str) -> Fallible<World> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let manifests = Manifests::parse(&format!("{MANIFESTS}{extra_manifests}"))?;
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: manifests.clone(),
        ..SandboxConfig::default()
    })
    .await?;
    let mut config = GcpConfig {
        project_id: "example-project".into(),
        project_number: "123456789000".into(),
        pools: vec![WorkloadIdentityPool {
            id: "kubecred-sandbox".into(),
            providers: vec![OidcProvider {
                id: "sandbox".into(),
                verifier: sandbox.verifier().await?,
                allowed_audiences: Vec::new(),
            }],
        }],
        node_service_account: Some(NODE_SA.into()),
        ..GcpConfig::default()
    };
    let mut accounts =
        service_accounts_for_annotated_service_accounts(&manifests, &config, "kubecred-sandbox");
    accounts.push(GcpServiceAccount {
        email: NODE_SA.into(),
        bindings: Vec::new(),
    });
    config.service_accounts = accounts;
    let gcp = GcpStandIns::start(config).await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    Ok(World {
        sandbox,
        gcp,
        dir,
        kubeconfig,
    })
}

impl World {
    /// An engine whose environment is `pairs` plus the metadata stand-in.
    async fn engine(&self, pairs: &[(&str, &str)]) -> Fallible<Engine> {
        let metadata = self.gcp.metadata_host();
        let mut vars = vec![("GCE_METADATA_HOST", metadata.as_str())];
        vars.extend_from_slice(pairs);
        let policy = PolicyConfig::default().build()?;
        Ok(Engine::new(policy)
            .with_kubernetes(Kubernetes::from_kubeconfig(&self.kubeconfig, None).await?)
            .with_env(Env::from_pairs(&vars)))
    }

    fn write(&self, name: &str, content: &str) -> Fallible<PathBuf> {
        let path = self.dir.path().join(name);
        kubecred::fs::write_private(&path, content.as_bytes())?;
        Ok(path)
    }

    /// A ServiceAccount token of `team-a/federated` for the pool provider.
    fn subject_token(&self) -> String {
        let audience = vec![PROVIDER.to_owned()];
        self.sandbox
            .issue_token("team-a", "federated", &audience, Duration::from_secs(600))
    }

    /// An external account file whose source is `source`, impersonating the app's account
    /// when `impersonate`.
    fn external_account(&self, source: serde_json::Value, impersonate: bool) -> String {
        let mut file = serde_json::json!({
            "type": "external_account",
            "audience": PROVIDER,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": self.gcp.sts_token_url(),
            "credential_source": source,
        });
        if impersonate {
            file["service_account_impersonation_url"] = self.gcp.impersonation_url(APP_SA).into();
        }
        file.to_string()
    }

    /// The service account the stand-ins issued `token` for (`None`: a federated token).
    fn account_of(&self, token: &AccessToken) -> Fallible<Option<String>> {
        let info = self.gcp.token_info(token.token.expose());
        Ok(info
            .ok_or("the stand-ins did not issue this token")?
            .service_account)
    }
}

fn controller() -> Request {
    Request::new(Provider::Gcp)
}

fn access_token(credential: Credential) -> Fallible<AccessToken> {
    match credential {
        Credential::AccessToken(token) => Ok(token),
        other => Err(format!("expected an access token, got {}", other.kind()).into()),
    }
}

fn path_str(path: &Path) -> Fallible<&str> {
    path.to_str().ok_or_else(|| "a non-UTF-8 temp path".into())
}

#[tokio::test]
async fn a_key_file_in_google_application_credentials_is_exchanged_at_its_token_uri() -> TestResult
{
    let w = world("").await?;
    let key = w.gcp.create_key(APP_SA)?;
    let file = w.write("key.json", key.json())?;
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&file)?)])
        .await?;
    let token = access_token(engine.token(&controller()).await?)?;
    assert_eq!(w.account_of(&token)?.as_deref(), Some(APP_SA));
    assert_eq!(
        (w.gcp.calls("oauth2.token"), w.gcp.calls("metadata.token")),
        (1, 0)
    );
    Ok(())
}

#[tokio::test]
async fn an_external_account_file_federates_directly_and_impersonated() -> TestResult {
    let w = world("").await?;
    let token_file = w.write("subject.jwt", &w.subject_token())?;
    let source = serde_json::json!({ "file": path_str(&token_file)? });
    for (impersonate, expected) in [(false, None), (true, Some(APP_SA))] {
        let config = w.write(
            "external.json",
            &w.external_account(source.clone(), impersonate),
        )?;
        let engine = w
            .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&config)?)])
            .await?;
        let token = access_token(engine.token(&controller()).await?)?;
        assert_eq!(w.account_of(&token)?.as_deref(), expected);
    }
    assert_eq!(
        (
            w.gcp.calls("sts.token"),
            w.gcp.calls("iamcredentials.generateAccessToken")
        ),
        (2, 1)
    );
    Ok(())
}

#[tokio::test]
async fn a_json_subject_token_file_is_read_from_its_field() -> TestResult {
    let w = world("").await?;
    let body = serde_json::json!({ "id_token": w.subject_token() }).to_string();
    let token_file = w.write("subject.json", &body)?;
    let source = serde_json::json!({
        "file": path_str(&token_file)?,
        "format": {"type": "json", "subject_token_field_name": "id_token"},
    });
    let config = w.write("external.json", &w.external_account(source, false))?;
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&config)?)])
        .await?;
    access_token(engine.token(&controller()).await?)?;
    assert_eq!(w.gcp.calls("sts.token"), 1);
    Ok(())
}

/// A script printing Google's executable response runs only with
/// `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`.
#[tokio::test]
async fn an_executable_source_runs_only_when_allowed() -> TestResult {
    let w = world("").await?;
    let response = serde_json::json!({
        "version": 1,
        "success": true,
        "token_type": "urn:ietf:params:oauth:token-type:jwt",
        "id_token": w.subject_token(),
    });
    let script = w.dir.path().join("supplier.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat <<'EOF'\n{response}\nEOF\n"),
    )?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    let source = serde_json::json!({ "executable": {"command": path_str(&script)?, "timeout_millis": 10000} });
    let config = w.write("external.json", &w.external_account(source, true))?;
    let config = path_str(&config)?;
    let refused = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", config)])
        .await?;
    let error = refused
        .token(&controller())
        .await
        .err()
        .ok_or("expected a refusal")?;
    assert!(
        error
            .to_string()
            .contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"),
        "{error}"
    );
    let allowed = w
        .engine(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", config),
            ("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1"),
        ])
        .await?;
    let token = access_token(allowed.token(&controller()).await?)?;
    assert_eq!(w.account_of(&token)?.as_deref(), Some(APP_SA));
    Ok(())
}

/// An unexpired response the executable left in its `output_file` is reused without running
/// it; one without `expiration_time` is not (the executable, here failing, runs).
#[tokio::test]
async fn an_executables_output_file_is_reused_only_with_an_expiration_time() -> TestResult {
    let w = world("").await?;
    let output_file = w.dir.path().join("cached.json");
    let source = serde_json::json!({
        "executable": {"command": "/bin/false", "output_file": path_str(&output_file)?}
    });
    let config = w.write("external.json", &w.external_account(source, false))?;
    let engine = w
        .engine(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", path_str(&config)?),
            ("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1"),
        ])
        .await?;
    let mut response = serde_json::json!({
        "version": 1,
        "success": true,
        "token_type": "urn:ietf:params:oauth:token-type:jwt",
        "id_token": w.subject_token(),
    });
    std::fs::write(&output_file, response.to_string())?;
    let error = engine
        .token(&controller())
        .await
        .err()
        .ok_or("expected the executable to run")?;
    assert!(
        error.to_string().contains("/bin/false: exited with"),
        "{error}"
    );
    let later =
        kubecred::clock::Clock::now(&kubecred::clock::SystemClock) + Duration::from_secs(600);
    response["expiration_time"] = later
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .into();
    std::fs::write(&output_file, response.to_string())?;
    access_token(engine.token(&controller()).await?)?;
    assert_eq!(w.gcp.calls("sts.token"), 1);
    Ok(())
}

#[tokio::test]
async fn gclouds_well_known_file_comes_before_the_metadata_server() -> TestResult {
    let w = world("").await?;
    let key = w.gcp.create_key(APP_SA)?;
    let gcloud = w.dir.path().join("gcloud");
    std::fs::create_dir(&gcloud)?;
    kubecred::fs::write_private(
        &gcloud.join("application_default_credentials.json"),
        key.json().as_bytes(),
    )?;
    let engine = w.engine(&[("CLOUDSDK_CONFIG", path_str(&gcloud)?)]).await?;
    let token = access_token(engine.token(&controller()).await?)?;
    assert_eq!(w.account_of(&token)?.as_deref(), Some(APP_SA));
    let home = w.dir.path().to_str().ok_or("path")?;
    std::fs::create_dir(w.dir.path().join(".config"))?;
    std::fs::rename(&gcloud, w.dir.path().join(".config/gcloud"))?;
    let engine = w.engine(&[("HOME", home)]).await?;
    access_token(engine.token(&controller()).await?)?;
    assert_eq!(
        (w.gcp.calls("oauth2.token"), w.gcp.calls("metadata.token")),
        (2, 0)
    );
    Ok(())
}

#[tokio::test]
async fn without_any_file_the_metadata_server_answers() -> TestResult {
    let w = world("").await?;
    let home = w.dir.path().to_str().ok_or("path")?;
    let engine = w.engine(&[("HOME", home)]).await?;
    let token = access_token(engine.token(&controller()).await?)?;
    assert_eq!(w.account_of(&token)?.as_deref(), Some(NODE_SA));
    assert_eq!(w.gcp.calls("metadata.token"), 1);
    Ok(())
}

/// The file named is used or refused: a missing one does not fall through to the metadata
/// server, and unsupported types say so.
#[tokio::test]
async fn a_named_file_is_never_skipped() -> TestResult {
    let w = world("").await?;
    let missing = w.dir.path().join("missing.json");
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&missing)?)])
        .await?;
    let error = engine
        .token(&controller())
        .await
        .err()
        .ok_or("expected an error")?;
    assert!(
        error.to_string().contains("missing.json: no such file"),
        "{error}"
    );
    let impersonated = w.write(
        "impersonated.json",
        r#"{"type":"impersonated_service_account","service_account_impersonation_url":"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.iam.gserviceaccount.com:generateAccessToken","source_credentials":{"type":"authorized_user","client_id":"c","client_secret":"s3cr3t","refresh_token":"r3fr3sh"}}"#,
    )?;
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&impersonated)?)])
        .await?;
    let error = engine
        .token(&controller())
        .await
        .err()
        .ok_or("expected an error")?;
    let text = error.to_string();
    assert!(
        text.contains("type 'impersonated_service_account' is not supported yet"),
        "{text}"
    );
    assert!(
        !text.contains("r3fr3sh") && !text.contains("s3cr3t"),
        "{text}"
    );
    assert_eq!(w.gcp.calls("metadata.token"), 0);
    Ok(())
}

fn secret_manifest(name: &str, key: &str, json: &str) -> String {
    let data = base64_encode(json.as_bytes());
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: team-a}}\ndata:\n  {key}: {data}\n"
    )
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn secret(name: &str) -> Request {
    Request {
        identity: Identity::secret(name),
        namespace: Some("team-a".into()),
        ..Request::new(Provider::Gcp)
    }
}

/// Stand-ins serving only service accounts (no pool: the keys are made before the sandbox).
async fn key_stand_ins() -> Fallible<GcpStandIns> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Ok(GcpStandIns::start(GcpConfig {
        project_id: "example-project".into(),
        project_number: "123456789000".into(),
        service_accounts: vec![GcpServiceAccount {
            email: APP_SA.into(),
            bindings: Vec::new(),
        }],
        ..GcpConfig::default()
    })
    .await?)
}

/// Secret level: the Secret's key is exchanged; a key the OAuth stand-in never issued (a
/// foreign one, pointed at it) is refused by it.
#[tokio::test]
async fn a_secrets_serviceaccount_key_is_exchanged_and_a_foreign_key_refused() -> TestResult {
    let gcp = key_stand_ins().await?;
    let own = gcp.create_key(APP_SA)?.json().to_owned();
    let elsewhere = key_stand_ins().await?;
    let mut foreign: serde_json::Value =
        serde_json::from_str(elsewhere.create_key(APP_SA)?.json())?;
    foreign["token_uri"] = gcp.oauth_token_url().into();
    let manifests = format!(
        "{}{}",
        secret_manifest("gcp-key", "serviceaccount", &own),
        secret_manifest("foreign-key", "serviceaccount", &foreign.to_string())
    );
    let sandbox = Sandbox::start(SandboxConfig {
        manifests: Manifests::parse(&manifests)?,
        ..SandboxConfig::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())?;
    let sts = gcp.sts_token_url();
    let engine = Engine::new(PolicyConfig::default().build()?)
        .with_kubernetes(Kubernetes::from_kubeconfig(&kubeconfig, None).await?)
        .with_env(Env::from_pairs(&[("KUBECRED_GCP_STS_URL", &sts)]));
    let token = access_token(engine.token(&secret("gcp-key")).await?)?;
    let info = gcp
        .token_info(token.token.expose())
        .ok_or("not issued here")?;
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    let error = engine
        .token(&secret("foreign-key"))
        .await
        .err()
        .ok_or("a foreign key must be refused")?;
    assert!(error.is_denied(), "{error}");
    assert!(
        error.to_string().contains("Invalid JWT Signature"),
        "{error}"
    );
    assert_eq!(gcp.calls("oauth2.token"), 1);
    // Without the operator's stand-in override, a tenant's loopback token_uri is refused.
    let strict = Engine::new(PolicyConfig::default().build()?)
        .with_kubernetes(Kubernetes::from_kubeconfig(&kubeconfig, None).await?)
        .with_env(Env::from_pairs(&[]));
    let error = strict
        .token(&secret("gcp-key"))
        .await
        .err()
        .ok_or("expected a refusal")?;
    assert!(
        error.to_string().contains("Secret key 'serviceaccount'"),
        "{error}"
    );
    assert!(error.to_string().contains("token_uri"), "{error}");
    Ok(())
}

/// At trace level, no access token, subject token or private key reaches the logs or errors
/// on the key, external-account and secret paths.
#[tokio::test(flavor = "current_thread")]
async fn no_token_or_key_reaches_the_logs() -> TestResult {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = world("").await?;
    let key = w.gcp.create_key(APP_SA)?;
    let key_file = w.write("key.json", key.json())?;
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&key_file)?)])
        .await?;
    let from_key = access_token(engine.token(&controller()).await?)?;
    let subject = w.subject_token();
    let token_file = w.write("subject.jwt", &subject)?;
    let source = serde_json::json!({ "file": path_str(&token_file)? });
    let config = w.write("external.json", &w.external_account(source, true))?;
    let engine = w
        .engine(&[("GOOGLE_APPLICATION_CREDENTIALS", path_str(&config)?)])
        .await?;
    let federated = access_token(engine.token(&controller()).await?)?;

    let logs = String::from_utf8(captured.0.lock().map_err(|_| "poisoned")?.clone())?;
    assert!(
        logs.contains("GCP JWT-bearer grant"),
        "the capture saw nothing: {logs}"
    );
    assert!(logs.contains("GCP STS token exchange"), "{logs}");
    let debug = format!("{from_key:?} {federated:?}");
    for secret in [
        from_key.token.expose(),
        federated.token.expose(),
        subject.as_str(),
    ] {
        assert!(secret.len() > 16);
        assert!(!logs.contains(secret), "the logs leak a token");
        assert!(!debug.contains(secret), "Debug leaks a token");
    }
    assert!(
        !logs.contains("PRIVATE KEY") && !logs.contains("eyJ"),
        "the logs carry key or JWT material"
    );
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
