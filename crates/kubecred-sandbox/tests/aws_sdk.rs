//! Conformance with the AWS SDK for Rust: aws-sdk-sts against the STS
//! stand-in, aws-sdk-ecrpublic against ECR Public, and aws-config's IMDS
//! and container (Pod Identity) credential providers. The providers read
//! the process environment, so they run in a child process of this test
//! binary with a clean environment.

mod aws_support;

use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_support::*;
use base64::Engine as _;

fn sts_client(sts_url: &str, credentials: Option<Credentials>) -> aws_sdk_sts::Client {
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(sts_url);
    if let Some(credentials) = credentials {
        config = config.credentials_provider(credentials);
    }
    aws_sdk_sts::Client::from_conf(config.build())
}

fn user_credentials() -> Credentials {
    Credentials::new(USER_KEY, USER_SECRET, None, None, "test")
}

#[tokio::test]
async fn sdk_assumes_a_role_with_web_identity() {
    let env = start().await;
    let client = sts_client(&env.aws.sts_url(), None);
    let answer = client
        .assume_role_with_web_identity()
        .role_arn(APP_ROLE)
        .role_session_name("sdk-session")
        .web_identity_token(env.app_token())
        .send()
        .await
        .expect("AssumeRoleWithWebIdentity succeeds");
    let credentials = answer.credentials().expect("credentials");
    assert!(credentials.access_key_id().starts_with("ASIA"));
    let left = credentials.expiration().secs() - jiff::Timestamp::now().as_second();
    assert!((3590..=3605).contains(&left), "{left}");
    let user = answer.assumed_role_user().expect("assumed role user");
    assert_eq!(
        user.arn(),
        "arn:aws:sts::123456789012:assumed-role/app/sdk-session"
    );
    assert_eq!(
        answer.subject_from_web_identity_token(),
        Some("system:serviceaccount:team:app")
    );

    let wrong = env.token("app", &["other"], std::time::Duration::from_secs(600));
    let err = client
        .assume_role_with_web_identity()
        .role_arn(APP_ROLE)
        .role_session_name("sdk-session")
        .web_identity_token(wrong)
        .send()
        .await
        .expect_err("wrong audience");
    let service = err.into_service_error();
    assert!(service.is_invalid_identity_token_exception(), "{service:?}");
    assert_eq!(service.message(), Some("Incorrect token audience"));
    env.shutdown().await;
}

#[tokio::test]
async fn sdk_assumes_a_role_with_signed_requests() {
    let env = start().await;
    let client = sts_client(&env.aws.sts_url(), Some(user_credentials()));
    let answer = client
        .assume_role()
        .role_arn(TARGET_ROLE)
        .role_session_name("sdk-ci")
        .external_id(EXTERNAL_ID)
        .duration_seconds(7200)
        .send()
        .await
        .expect("AssumeRole succeeds");
    let issued = answer.credentials().expect("credentials");
    let session = Credentials::new(
        issued.access_key_id(),
        issued.secret_access_key(),
        Some(issued.session_token().to_string()),
        None,
        "test",
    );
    let who = sts_client(&env.aws.sts_url(), Some(session))
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity succeeds");
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::123456789012:assumed-role/target/sdk-ci")
    );
    assert_eq!(who.account(), Some(ACCOUNT));

    let missing_external_id = client
        .assume_role()
        .role_arn(TARGET_ROLE)
        .role_session_name("sdk-ci")
        .send()
        .await
        .expect_err("external ID required");
    assert_eq!(
        missing_external_id.into_service_error().code(),
        Some("AccessDenied")
    );
    let wrong_secret = Credentials::new(USER_KEY, "wrong", None, None, "test");
    let err = sts_client(&env.aws.sts_url(), Some(wrong_secret))
        .get_caller_identity()
        .send()
        .await
        .expect_err("bad signature");
    assert_eq!(
        err.into_service_error().code(),
        Some("SignatureDoesNotMatch")
    );
    env.shutdown().await;
}

#[tokio::test]
async fn sdk_gets_an_ecr_public_password() {
    let env = start().await;
    let config = aws_sdk_ecrpublic::Config::builder()
        .behavior_version(aws_sdk_ecrpublic::config::BehaviorVersion::latest())
        .region(aws_sdk_ecrpublic::config::Region::new("us-east-1"))
        .endpoint_url(env.aws.ecr_public_url())
        .credentials_provider(user_credentials())
        .build();
    let answer = aws_sdk_ecrpublic::Client::from_conf(config)
        .get_authorization_token()
        .send()
        .await
        .expect("GetAuthorizationToken succeeds");
    let data = answer.authorization_data().expect("authorization data");
    let token = data.authorization_token().expect("token");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64");
    let text = String::from_utf8(decoded).expect("UTF-8");
    let password = text.strip_prefix("AWS:").expect("AWS user");
    assert!(env.aws.ecr_public_password_valid(password));
    let expires = data.expires_at().expect("expiry").secs();
    assert!(expires > jiff::Timestamp::now().as_second() + 11 * 3600);
    assert_eq!(env.aws.calls("GetAuthorizationToken"), 1);
    env.shutdown().await;
}

/// Runs child test `name` of this binary with a clean environment plus
/// `env`; returns its stdout.
async fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let exe = exe.to_str().expect("a UTF-8 path");
    let home = tempfile::tempdir().expect("temp HOME");
    let args = [
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    let output = run(exe, &args, env, home.path()).await;
    assert!(
        output.success,
        "child {name} failed:\n{}\n{}",
        output.stdout, output.stderr
    );
    assert!(output.stdout.contains("1 passed"), "{}", output.stdout);
    output.stdout
}

#[tokio::test]
async fn imds_credentials_provider_reads_the_node_role() {
    let env = start().await;
    let imds = env.aws.imds_url();
    let sts = env.aws.sts_url();
    let vars = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
        ("KUBECRED_CHILD_STS", &sts),
    ];
    let stdout = run_child("child_imds_provider", &vars).await;
    assert!(
        stdout.contains("CALLER=arn:aws:sts::123456789012:assumed-role/node/i-0123456789abcdef0"),
        "{stdout}"
    );
    assert_eq!(env.aws.calls("ImdsCredentials"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn container_provider_reads_the_pod_identity_agent() {
    let env = start().await;
    let agent = env.aws.pod_identity_url();
    let sts = env.aws.sts_url();
    let vars = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", POD_TOKEN),
        ("KUBECRED_CHILD_STS", &sts),
    ];
    let stdout = run_child("child_container_provider", &vars).await;
    assert!(
        stdout.contains("CALLER=arn:aws:sts::123456789012:assumed-role/pod/eks-sandbox-pod-"),
        "{stdout}"
    );
    assert_eq!(env.aws.calls("PodIdentityCredentials"), 1);
    env.shutdown().await;
}

/// Prints `CALLER=<arn>` for `credentials` via GetCallerIdentity.
async fn print_caller(credentials: Credentials) {
    let sts = std::env::var("KUBECRED_CHILD_STS").expect("the parent names STS");
    let who = sts_client(&sts, Some(credentials))
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity with the provider's keys");
    println!("CALLER={}", who.arn().unwrap_or_default());
}

#[tokio::test]
#[ignore = "child process of imds_credentials_provider_reads_the_node_role"]
async fn child_imds_provider() {
    let Ok(endpoint) = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT") else {
        return;
    };
    let client = aws_config::imds::Client::builder()
        .endpoint(&endpoint)
        .expect("a valid endpoint")
        .build();
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder()
        .imds_client(client)
        .build();
    let credentials = provider
        .provide_credentials()
        .await
        .expect("IMDS credentials");
    assert!(credentials.session_token().is_some());
    print_caller(credentials).await;
}

#[tokio::test]
#[ignore = "child process of container_provider_reads_the_pod_identity_agent"]
async fn child_container_provider() {
    if std::env::var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_err() {
        return;
    }
    let provider = aws_config::ecs::EcsCredentialsProvider::builder().build();
    let credentials = provider
        .provide_credentials()
        .await
        .expect("container credentials");
    assert!(credentials.expiry().is_some());
    print_caller(credentials).await;
}
