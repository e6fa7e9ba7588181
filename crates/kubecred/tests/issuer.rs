//! `kubecred::issuer` against the sandbox's API server (its own discovery and JWKS) and a static
//! HTTPS site standing in for a bucket, with each mistake a publisher makes seeded in turn.

use kubecred::Kubernetes;
use kubecred::issuer::{self, Issuer, Outcome, PublicKeyPem, Report, VerifyOptions};
use kubecred_sandbox::site::{Page, StaticSite};
use kubecred_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/openid/v1/jwks";

async fn sandbox() -> Result<Sandbox, Box<dyn std::error::Error>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    Ok(Sandbox::start(SandboxConfig::default()).await?)
}

/// GETs `path` of the sandbox, trusting its CA.
async fn served(sandbox: &Sandbox, path: &str) -> Result<Value, Box<dyn std::error::Error>> {
    let roots = reqwest::Certificate::from_pem_bundle(sandbox.ca_pem().as_bytes())?;
    let client = reqwest::Client::builder().tls_certs_only(roots).build()?;
    let url = format!("{}{path}", sandbox.url());
    Ok(client
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

#[tokio::test]
async fn generate_matches_what_the_api_server_serves_for_its_key() -> TestResult {
    let sandbox = sandbox().await?;
    let issuer = Issuer::parse(&sandbox.issuer())?;
    let key = PublicKeyPem::new("sandbox.pub", sandbox.signing_key_pem());
    let documents = issuer::generate(&issuer, None, &[key])?;
    let jwks = served(&sandbox, JWKS).await?;
    assert_eq!(documents.jwks, jwks);
    let key = &documents.jwks["keys"][0];
    for field in ["kid", "n", "e"] {
        assert_eq!(key[field], jwks["keys"][0][field], "{field}");
    }
    assert_eq!(documents.discovery, served(&sandbox, DISCOVERY).await?);
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn the_sandbox_issuer_verifies_with_its_signing_key() -> TestResult {
    let sandbox = sandbox().await?;
    let options = VerifyOptions {
        signing_keys: vec![PublicKeyPem::new("sandbox.pub", sandbox.signing_key_pem())],
        extra_roots_pem: Some(sandbox.ca_pem().to_owned()),
        ..VerifyOptions::default()
    };
    let report = issuer::verify(&sandbox.issuer(), &options).await?;
    assert!(report.passed, "{report:#?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "issuer-url",
            "discovery",
            "issuer",
            "jwks-uri",
            "jwks",
            "keys",
            "signing-keys"
        ]
    );
    // Without the sandbox's CA, as a cloud sees it: the certificate is not trusted.
    let untrusted = issuer::verify(&sandbox.issuer(), &VerifyOptions::default()).await?;
    let failure = untrusted.failures().next().map(|c| (c.name, c.problem));
    assert_eq!(failure, Some(("discovery", Some("unreachable"))));
    sandbox.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn show_reads_the_clusters_documents_and_says_a_loopback_issuer_is_private() -> TestResult {
    let sandbox = sandbox().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    kubecred::fs::write_private(&path, sandbox.kubeconfig_file().as_bytes())?;
    let kubernetes = Kubernetes::from_kubeconfig(&path, None).await?;
    let shown = issuer::show(&kubernetes).await?;
    assert_eq!(shown.issuer, sandbox.issuer());
    assert_eq!(shown.jwks, served(&sandbox, JWKS).await?);
    assert!(!shown.reachability.public);
    assert!(shown.reachability.reason.contains("loopback address"));
    sandbox.shutdown().await;
    Ok(())
}

/// A published issuer on a static site, with the sandbox's key, and the options trusting it.
struct Published {
    site: StaticSite,
    key: PublicKeyPem,
    _sandbox: Sandbox,
}

impl Published {
    async fn new() -> Result<Published, Box<dyn std::error::Error>> {
        let sandbox = sandbox().await?;
        let site = StaticSite::start().await?;
        let key = PublicKeyPem::new("sa.pub", sandbox.signing_key_pem());
        let documents = issuer::generate(
            &Issuer::parse(&site.url())?,
            None,
            std::slice::from_ref(&key),
        )?;
        site.put(DISCOVERY, Page::json(&documents.discovery));
        site.put(JWKS, Page::json(&documents.jwks));
        Ok(Published {
            site,
            key,
            _sandbox: sandbox,
        })
    }

    async fn verify(&self, issuer: &str) -> Result<Report, kubecred::Error> {
        let options = VerifyOptions {
            signing_keys: vec![self.key.clone()],
            extra_roots_pem: Some(self.site.ca_pem().to_owned()),
            ..VerifyOptions::default()
        };
        issuer::verify(issuer, &options).await
    }

    /// The one failed check's name, problem and message.
    async fn failure(&self, issuer: &str) -> Result<(String, String, String), kubecred::Error> {
        let report = self.verify(issuer).await?;
        let failures: Vec<_> = report.failures().collect();
        assert_eq!(failures.len(), 1, "{report:#?}");
        let check = failures[0];
        Ok((
            check.name.to_owned(),
            check.problem.unwrap_or_default().to_owned(),
            check.message.clone(),
        ))
    }
}

#[tokio::test]
async fn each_publishing_mistake_has_its_own_message() -> TestResult {
    let published = Published::new().await?;
    let site = &published.site;
    let url = site.url();
    let good = published.verify(&url).await?;
    assert!(good.passed, "{good:#?}");
    let discovery = issuer::generate(
        &Issuer::parse(&url)?,
        None,
        std::slice::from_ref(&published.key),
    )?
    .discovery;

    let mut seen = Vec::new();
    let mut expect = |(name, problem, message): (String, String, String),
                      want: (&str, &str, &str)| {
        assert_eq!(
            (name.as_str(), problem.as_str()),
            (want.0, want.1),
            "{message}"
        );
        assert!(message.contains(want.2), "{message}");
        assert!(!seen.contains(&message), "{message}");
        seen.push(message);
    };

    // The issuer registered with a trailing slash the document lacks.
    let slash = format!("{url}/");
    expect(
        published.failure(&slash).await?,
        (
            "issuer",
            "issuer-mismatch",
            "compare the two strings exactly",
        ),
    );

    expect(
        published
            .failure(&url.replace("https://", "http://"))
            .await?,
        ("issuer-url", "not-https", "only over https"),
    );

    let mut unreachable = discovery.clone();
    unreachable["jwks_uri"] = json!("https://127.0.0.1:1/openid/v1/jwks");
    site.put(DISCOVERY, Page::json(&unreachable));
    expect(
        published.failure(&url).await?,
        (
            "jwks",
            "unreachable",
            "cannot fetch the JWKS at jwks_uri https://127.0.0.1:1",
        ),
    );

    let mut plain = discovery.clone();
    plain["jwks_uri"] = json!(format!("{}{JWKS}", url.replace("https://", "http://")));
    site.put(DISCOVERY, Page::json(&plain));
    expect(
        published.failure(&url).await?,
        ("jwks-uri", "not-https", "clouds fetch keys only over https"),
    );

    site.put(DISCOVERY, Page::ok("text/plain", discovery.to_string()));
    expect(
        published.failure(&url).await?,
        ("discovery", "content-type", "served with 'text/plain'"),
    );

    site.put(DISCOVERY, Page::redirect(302, &format!("{url}/elsewhere")));
    expect(
        published.failure(&url).await?,
        ("discovery", "redirect", "clouds do not follow redirects"),
    );

    site.put(
        DISCOVERY,
        Page::ok("application/json", "<html>not json</html>"),
    );
    expect(
        published.failure(&url).await?,
        ("discovery", "not-json", "is not JSON"),
    );

    site.put(
        DISCOVERY,
        Page::ok("application/json", vec![b' '; 300 * 1024]),
    );
    expect(
        published.failure(&url).await?,
        ("discovery", "too-large", "larger than"),
    );

    site.remove(DISCOVERY);
    expect(
        published.failure(&url).await?,
        (
            "discovery",
            "http-status",
            "HTTP 404: upload it at exactly this path",
        ),
    );

    // A rotation published too late: the JWKS lacks the key the API server signs with.
    site.put(DISCOVERY, Page::json(&discovery));
    let other = kubecred_sandbox::Sandbox::start(SandboxConfig::default()).await?;
    let stale = issuer::generate(
        &Issuer::parse(&url)?,
        None,
        &[PublicKeyPem::new("old.pub", other.signing_key_pem())],
    )?;
    site.put(JWKS, Page::json(&stale.jwks));
    expect(
        published.failure(&url).await?,
        ("signing-keys", "missing-key", "(sa.pub)"),
    );

    site.put(
        JWKS,
        Page::ok("application/octet-stream", stale.jwks.to_string()),
    );
    expect(
        published.failure(&url).await?,
        ("jwks", "content-type", "'application/octet-stream'"),
    );
    Ok(())
}

#[tokio::test]
async fn a_report_passes_only_without_failures() -> TestResult {
    let published = Published::new().await?;
    let report = published.verify(&published.site.url()).await?;
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::Pass));
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["passed"], true);
    assert_eq!(json["checks"][0]["outcome"], "pass");
    Ok(())
}

/// An API server whose discovery document is larger than any real one (1 MiB): `issuer show`
/// stops reading at its bound and says so, instead of holding whatever the server sends.
#[tokio::test]
async fn show_reads_the_clusters_documents_bounded() -> TestResult {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let body = vec![b' '; 1024 * 1024];
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        }
    });
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://{address}'}}\n\
         users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\n\
         current-context: x\n"
    );
    kubecred::fs::write_private(&kubeconfig, config.as_bytes())?;
    let kubernetes = Kubernetes::from_kubeconfig(&kubeconfig, None).await?;
    let error = issuer::show(&kubernetes)
        .await
        .err()
        .ok_or("a 1 MiB discovery document was read")?;
    assert!(error.to_string().contains("within 262144 bytes"), "{error}");
    server.abort();
    Ok(())
}
