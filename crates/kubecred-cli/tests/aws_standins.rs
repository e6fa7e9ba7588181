//! `kubecred` with the `aws` provider against the sandbox's AWS stand-ins (and moto), run as a
//! child process whose environment names each source the way EKS, IRSA and EC2 set it up:
//! web identity token file, EKS Pod Identity, IMDSv2; then registry login, EKS cluster
//! credentials and the S3/KMS checks.

use std::path::Path;

mod support;
use support::moto::Moto;
use support::{
    AwsWorld, BoxError, STS_AUDIENCE, TestResult, assert_exit, assert_success, aws_world, env_refs,
    json, kubecred,
};

const IRSA_ROLE: &str = "arn:aws:iam::123456789012:role/flux-controller";
const NODE_ROLE: &str = "arn:aws:iam::123456789012:role/eks-node";
const POD_ROLE: &str = "arn:aws:iam::123456789012:role/pod-identity";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/ci";
const USER_KEY: &str = "AKIACIUSEREXAMPLE01";
const USER_SECRET: &str = "ci-user-secret-key-example";
const POD_TOKEN: &str = "pod-identity-token-example";
const TOKEN_JSON: [&str; 5] = ["token", "--provider", "aws", "--output", "json"];

/// IRSA for `flux-system/source-controller`, a node role, a Pod Identity role and a user.
async fn world() -> Result<AwsWorld, BoxError> {
    aws_world()
        .web_identity_role(IRSA_ROLE, "flux-system:source-controller")
        .role(NODE_ROLE)
        .role(POD_ROLE)
        .user(USER_ARN, USER_KEY, USER_SECRET)
        .node_role(NODE_ROLE)
        .pod_identity(POD_TOKEN, POD_ROLE)
        .start()
        .await
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_web_identity_token_file() -> TestResult {
    let w = world().await?;
    let token_file = w.home().join("token");
    let token = w.pod_token("flux-system", "source-controller", STS_AUDIENCE);
    std::fs::write(&token_file, token)?;
    let env = [
        ("AWS_ROLE_ARN", IRSA_ROLE.to_owned()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", path_str(&token_file)),
        ("AWS_ROLE_SESSION_NAME", "source-controller".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL_STS", w.aws.sts_url()),
    ];
    let output = w.kubecred(&env_refs(&env), &TOKEN_JSON)?;
    assert_success(&output);
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

/// A request's STS endpoint at controller level used to be handed to aws-config, which never
/// gives it to the chain's own STS client: the web identity exchange went elsewhere, silently.
/// It is refused now, before any call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_refuses_a_request_sts_endpoint() -> TestResult {
    let w = world().await?;
    let token_file = w.home().join("token");
    let token = w.pod_token("flux-system", "source-controller", STS_AUDIENCE);
    std::fs::write(&token_file, token)?;
    let env = [
        ("AWS_ROLE_ARN", IRSA_ROLE.to_owned()),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", path_str(&token_file)),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL_STS", w.aws.sts_url()),
    ];
    let args = [
        &TOKEN_JSON[..],
        &["--sts-endpoint", "https://sts.us-east-1.amazonaws.com"],
    ]
    .concat();
    let output = w.kubecred(&env_refs(&env), &args)?;
    assert_exit(
        &output,
        1,
        &[
            "the STS endpoint 'https://sts.us-east-1.amazonaws.com' cannot be used at controller level",
        ],
    );
    assert_eq!(w.aws.calls("AssumeRoleWithWebIdentity"), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_level_eks_pod_identity() -> TestResult {
    let w = world().await?;
    let token_file = w.home().join("eks-pod-identity-token");
    std::fs::write(&token_file, POD_TOKEN)?;
    let (url, file) = (w.aws.pod_identity_url(), path_str(&token_file));
    let env = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let output = w.kubecred(&env, &TOKEN_JSON)?;
    assert_success(&output);
    assert!(json(&output)?["sessionToken"].is_string());
    assert_eq!(w.aws.calls("PodIdentityCredentials"), 1);

    std::fs::write(&token_file, "not-the-pod-token")?;
    let refused = w.kubecred(&env, &["token", "--provider", "aws"])?;
    assert_exit(&refused, 1, &[]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_level_imds_v2_without_a_region() -> TestResult {
    let w = world().await?;
    let output = w
        .on_the_node()
        .args(["token", "--provider", "aws", "--node", "--output", "json"])
        .output()?;
    assert_success(&output);
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
    let login = w.kubecred(&env, &["registry", "login", "public.ecr.aws/team/app:1.0"])?;
    assert_success(&login);
    let value = json(&login)?;
    assert_eq!(value["username"], "AWS");
    assert!(
        w.aws
            .ecr_public_password_valid(value["password"].as_str().unwrap_or_default())
    );
    assert!(value["expiresAt"].is_string());

    let ca = w.home().join("ca.pem");
    std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n")?;
    let cluster = w.kubecred(
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
    assert_success(&cluster);
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
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    moto.bucket("kubecred-check").await?;
    let key_arn = moto.kms_key().await?;
    let reader = moto.user("reader", "s3:ListBucket", "*").await?;
    let env = [
        ("AWS_ACCESS_KEY_ID", reader.access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", reader.secret_access_key.expose()),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    let home = tempfile::tempdir()?;
    let run = |env: &[(&str, &str)], args: &[&str]| kubecred(home.path(), env, args);

    let login = run(
        &env,
        &[
            "registry",
            "login",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        ],
    )?;
    assert_success(&login);
    assert_eq!(json(&login)?["username"], "AWS");

    moto.verify_signatures().await?;
    let bucket = run(&env, &["check", "s3://kubecred-check"])?;
    assert_success(&bucket);
    let kms = run(&env, &["check", &format!("kms://{key_arn}")])?;
    // The reader may not use KMS.
    assert_exit(&kms, 1, &["AccessDenied"]);
    Ok(())
}
