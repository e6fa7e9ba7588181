//! `kubecred` with the `aws` provider against the sandbox's AWS stand-ins (and moto), run as a
//! child process whose environment names each source the way EKS, IRSA and EC2 set it up:
//! web identity token file, EKS Pod Identity, IMDSv2; then registry login, EKS cluster
//! credentials and the S3/KMS checks.

use std::path::Path;

use kubecred_sandbox::aws::{AwsConfig, AwsRole, AwsStandIns, AwsUser, PodIdentity, Trust};
use kubecred_sandbox::{Sandbox, SandboxConfig};

mod support;
use support::{json, kubecred, stderr};

#[path = "../../kubecred/tests/support/moto.rs"]
#[allow(dead_code)] // shared with the library's tests; this file uses part of it
mod moto;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const IRSA_ROLE: &str = "arn:aws:iam::123456789012:role/flux-controller";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks-node";
const POD_ROLE: &str = "arn:aws:iam::123456789012:role/pod-identity";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci";
const USER_KEY: &str = "AKIACIUSEREXAMPLE01";
const USER_SECRET: &str = "ci-user-secret-key-example";
const POD_TOKEN: &str = "pod-identity-token-example";

struct World {
    sandbox: Sandbox,
    aws: AwsStandIns,
    home: tempfile::TempDir,
}

async fn world() -> Result<World, Box<dyn std::error::Error + Send + Sync>> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let irsa = AwsRole {
        arn: IRSA_ROLE.into(),
        trust: vec![Trust::WebIdentity {
            issuer: sandbox.issuer(),
            audience: "sts.amazonaws.com".into(),
            subject: Some("system:serviceaccount:flux-system:source-controller".into()),
        }],
    };
    let aws = AwsStandIns::start(AwsConfig {
        account_id: "123456789012".into(),
        oidc_providers: vec![sandbox.verifier().await?],
        roles: vec![
            irsa,
            AwsRole {
                arn: NODE_ROLE.into(),
                trust: vec![],
            },
            AwsRole {
                arn: POD_ROLE.into(),
                trust: vec![],
            },
        ],
        users: vec![AwsUser {
            arn: USER_ARN.into(),
            access_key_id: USER_KEY.into(),
            secret_access_key: USER_SECRET.into(),
        }],
        node_role: Some(NODE_ROLE.into()),
        pod_identity: Some(PodIdentity {
            token: POD_TOKEN.into(),
            role_arn: POD_ROLE.into(),
        }),
    })
    .await?;
    Ok(World {
        sandbox,
        aws,
        home: tempfile::tempdir()?,
    })
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_web_identity_token_file() -> TestResult {
    let w = world().await?;
    let token_file = w.home.path().join("token");
    let token = w.sandbox.issue_token(
        "flux-system",
        "source-controller",
        &["sts.amazonaws.com".into()],
        std::time::Duration::from_secs(3600),
    );
    std::fs::write(&token_file, token)?;
    let env = [
        ("AWS_ROLE_ARN", IRSA_ROLE.to_owned()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", path_str(&token_file)),
        ("AWS_ROLE_SESSION_NAME", "source-controller".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL_STS", w.aws.sts_url()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = kubecred(
        w.home.path(),
        &env,
        &["token", "--provider", "aws", "--output", "json"],
    )?;
    assert!(output.status.success(), "{}", stderr(&output));
    let value = json(&output)?;
    assert!(
        value["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{value}"
    );
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_eks_pod_identity() -> TestResult {
    let w = world().await?;
    let token_file = w.home.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, POD_TOKEN)?;
    let (url, file) = (w.aws.pod_identity_url(), path_str(&token_file));
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let output = kubecred(
        w.home.path(),
        &env,
        &["token", "--provider", "aws", "--output", "json"],
    )?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(json(&output)?["sessionToken"].is_string());
    assert_eq!(w.aws.calls("PodIdentityCredentials"), 1);

    std::fs::write(&token_file, "not-the-pod-token")?;
    let refused = kubecred(w.home.path(), &env, &["token", "--provider", "aws"])?;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_level_imds_v2_without_a_region() -> TestResult {
    let w = world().await?;
    let imds = w.aws.imds_url();
    let output = support::isolated(support::BIN, w.home.path())
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
        .args(["token", "--provider", "aws", "--node", "--output", "json"])
        .output()?;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        json(&output)?["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA"))
    );
    assert_eq!(w.aws.calls("ImdsCredentials"), 1);
    Ok(())
}

const USER_ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", USER_KEY),
    ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_public_login_and_eks_credentials() -> TestResult {
    let w = world().await?;
    let (ecr, sts) = (w.aws.ecr_public_url(), w.aws.sts_url());
    let env = [
        USER_ENV[0],
        USER_ENV[1],
        ("AWS_ENDPOINT_URL_ECR_PUBLIC", ecr.as_str()),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    let login = kubecred(
        w.home.path(),
        &env,
        &["registry", "login", "public.ecr.aws/team/app:1.0"],
    )?;
    assert!(login.status.success(), "{}", stderr(&login));
    let value = json(&login)?;
    assert_eq!(value["username"], "AWS");
    assert!(
        w.aws
            .ecr_public_password_valid(value["password"].as_str().unwrap_or_default())
    );
    assert!(value["expiresAt"].is_string());

    let ca = w.home.path().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n")?;
    let cluster = kubecred(
        w.home.path(),
        &env,
        &[
            "cluster",
            "credentials",
            "--provider",
            "aws",
            "--cluster",
            "arn:aws:eks:us-east-1:123456789012:cluster/prod",
            "--address",
            "https://prod.example.eks.amazonaws.com",
            "--ca-file",
            &path_str(&ca),
        ],
    )?;
    assert!(cluster.status.success(), "{}", stderr(&cluster));
    let exec = json(&cluster)?;
    assert_eq!(exec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(exec["kind"], "ExecCredential");
    let token = exec["status"]["token"].as_str().unwrap_or_default();
    assert_eq!(w.aws.verify_eks_token(token, "prod")?, USER_ARN);
    assert!(exec["status"]["expirationTimestamp"].is_string());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_private_login_and_resource_checks_against_moto() -> TestResult {
    let Some(moto) = moto::Moto::start().await? else {
        return Ok(());
    };
    moto.bucket("kubecred-check").await?;
    let key_arn = moto.kms_key().await?;
    let reader = moto.user("reader", "s3:ListBucket", "*").await?;
    let keys_env = |keys: &kubecred::CloudKeys| {
        vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), keys.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".to_owned(),
                keys.secret_access_key.expose().to_owned(),
            ),
            ("AWS_ENDPOINT_URL".to_owned(), moto.endpoint.clone()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ]
    };
    let home = tempfile::tempdir()?;
    let run = |env: &[(String, String)], args: &[&str]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        kubecred(home.path(), &env, args)
    };
    let env = keys_env(&reader);

    let login = run(
        &env,
        &[
            "registry",
            "login",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        ],
    )?;
    assert!(login.status.success(), "{}", stderr(&login));
    assert_eq!(json(&login)?["username"], "AWS");

    moto.verify_signatures().await?;
    let bucket = run(&env, &["check", "s3://kubecred-check"])?;
    assert!(bucket.status.success(), "{}", stderr(&bucket));
    let kms = run(&env, &["check", &format!("kms://{key_arn}")])?;
    assert_eq!(kms.status.code(), Some(1), "the reader may not use KMS");
    assert!(stderr(&kms).contains("AccessDenied"), "{}", stderr(&kms));
    Ok(())
}
