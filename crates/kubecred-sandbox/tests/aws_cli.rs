//! Conformance with botocore: the AWS CLI drives the STS, IMDS, Pod
//! Identity and ECR Public stand-ins, parses their answers, and its SigV4
//! signatures verify (and a wrong secret's do not).

mod aws_support;

use aws_support::*;
use base64::Engine as _;

fn field<'a>(json: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(json, |value, key| &value[*key])
        .as_str()
        .unwrap_or_else(|| panic!("no string at {path:?} in {json}"))
}

#[tokio::test]
async fn botocore_assumes_a_role_with_web_identity_unsigned() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let token = env.app_token();
    let sts = env.aws.sts_url();
    let args = [
        "sts",
        "assume-role-with-web-identity",
        "--endpoint-url",
        &sts,
        "--role-arn",
        APP_ROLE,
        "--role-session-name",
        "s1",
        "--web-identity-token",
        &token,
        "--no-sign-request",
        "--duration-seconds",
        "1200",
    ];
    let json = aws_cli(&args, &[], home.path()).await.json();
    assert!(field(&json, &["Credentials", "AccessKeyId"]).starts_with("ASIA"));
    assert!(!field(&json, &["Credentials", "SessionToken"]).is_empty());
    assert!(!field(&json, &["Credentials", "Expiration"]).is_empty());
    assert_eq!(
        field(&json, &["AssumedRoleUser", "Arn"]),
        "arn:aws:sts::123456789012:assumed-role/app/s1"
    );
    assert_eq!(
        field(&json, &["SubjectFromWebIdentityToken"]),
        "system:serviceaccount:team:app"
    );
    assert_eq!(field(&json, &["Audience"]), AUDIENCE);

    let wrong = env.token("app", &["nope"], std::time::Duration::from_secs(600));
    let args = [
        "sts",
        "assume-role-with-web-identity",
        "--endpoint-url",
        &sts,
        "--role-arn",
        APP_ROLE,
        "--role-session-name",
        "s1",
        "--web-identity-token",
        &wrong,
        "--no-sign-request",
    ];
    let out = aws_cli(&args, &[], home.path()).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("(InvalidIdentityToken)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Incorrect token audience"),
        "{}",
        out.stderr
    );
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_signatures_verify_for_user_and_session_keys() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let user = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
    ];
    let me = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &user,
        home.path(),
    )
    .await
    .json();
    assert_eq!(field(&me, &["Arn"]), USER_ARN);
    assert_eq!(field(&me, &["Account"]), ACCOUNT);
    assert!(field(&me, &["UserId"]).starts_with("AIDA"));

    let json = assume_target_role(&env, home.path(), "ci-run").await;
    assert_eq!(
        field(&json, &["AssumedRoleUser", "Arn"]),
        "arn:aws:sts::123456789012:assumed-role/target/ci-run"
    );
    let session = session_env(&json);
    let session: Vec<(&str, &str)> = session
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let who = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &session,
        home.path(),
    )
    .await
    .json();
    assert_eq!(
        field(&who, &["Arn"]),
        "arn:aws:sts::123456789012:assumed-role/target/ci-run"
    );
    assert!(field(&who, &["UserId"]).ends_with(":ci-run"));
    assert_eq!(env.aws.calls("GetCallerIdentity"), 2);
    assert_eq!(env.aws.calls("AssumeRole"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_is_refused_with_a_wrong_secret_token_or_external_id() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let wrong_secret = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ];
    let out = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &wrong_secret,
        home.path(),
    )
    .await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("(SignatureDoesNotMatch)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("not-the-secret"));

    let unknown = [
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN000000000"),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
    ];
    let out = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &unknown,
        home.path(),
    )
    .await;
    assert!(
        out.stderr.contains("(InvalidClientTokenId)"),
        "{}",
        out.stderr
    );

    let user = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
    ];
    let assume = |external_id: &'static str| {
        vec![
            "sts",
            "assume-role",
            "--role-arn",
            TARGET_ROLE,
            "--role-session-name",
            "x1",
            "--external-id",
            external_id,
        ]
    };
    let mut args = assume("wrong-id");
    args.extend(["--endpoint-url", &sts]);
    let out = aws_cli(&args, &user, home.path()).await;
    assert!(out.stderr.contains("(AccessDenied)"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is not authorized to perform: sts:AssumeRole"),
        "{}",
        out.stderr
    );
    assert_eq!(env.aws.calls("AssumeRole"), 0);
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_chains_roles_within_the_hour_limit() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let (key, secret, token) = app_session(&env).await;
    let session = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", &secret),
        ("AWS_SESSION_TOKEN", &token),
    ];
    let base = [
        "sts",
        "assume-role",
        "--endpoint-url",
        &sts,
        "--role-arn",
        TARGET_ROLE,
        "--role-session-name",
        "chained",
    ];
    let mut too_long = base.to_vec();
    too_long.extend(["--duration-seconds", "7200"]);
    let out = aws_cli(&too_long, &session, home.path()).await;
    assert!(
        out.stderr.contains("(ValidationError)") && out.stderr.contains("role chaining"),
        "{}",
        out.stderr
    );
    let json = aws_cli(&base, &session, home.path()).await.json();
    assert_eq!(
        field(&json, &["AssumedRoleUser", "Arn"]),
        "arn:aws:sts::123456789012:assumed-role/target/chained"
    );

    let no_token = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", &secret),
    ];
    let out = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &no_token,
        home.path(),
    )
    .await;
    assert!(
        out.stderr.contains("(InvalidClientTokenId)"),
        "{}",
        out.stderr
    );
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_reads_node_and_pod_credentials() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let imds = env.aws.imds_url();
    let node = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str())];
    let who = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &node,
        home.path(),
    )
    .await
    .json();
    assert_eq!(
        field(&who, &["Arn"]),
        "arn:aws:sts::123456789012:assumed-role/node/i-0123456789abcdef0"
    );
    assert_eq!(env.aws.calls("ImdsCredentials"), 1);

    let pod_url = env.aws.pod_identity_url();
    let pod = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", pod_url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", POD_TOKEN),
    ];
    let who = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &pod,
        home.path(),
    )
    .await
    .json();
    assert!(
        field(&who, &["Arn"])
            .starts_with("arn:aws:sts::123456789012:assumed-role/pod/eks-sandbox-pod-"),
        "{who}"
    );
    assert_eq!(env.aws.calls("PodIdentityCredentials"), 1);

    let bad_pod = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", pod_url.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"),
    ];
    let out = aws_cli(
        &["sts", "get-caller-identity", "--endpoint-url", &sts],
        &bad_pod,
        home.path(),
    )
    .await;
    assert!(!out.success, "{}", out.stdout);
    assert!(
        out.stderr.contains("403") && out.stderr.contains("AccessDeniedException"),
        "{}",
        out.stderr
    );
    assert_eq!(env.aws.calls("PodIdentityCredentials"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_gets_an_ecr_public_password() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let ecr = env.aws.ecr_public_url();
    let user = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
    ];
    let json = aws_cli(
        &[
            "ecr-public",
            "get-authorization-token",
            "--endpoint-url",
            &ecr,
        ],
        &user,
        home.path(),
    )
    .await
    .json();
    let token = field(&json, &["authorizationData", "authorizationToken"]);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .expect("base64");
    let text = String::from_utf8(decoded).expect("UTF-8");
    let (username, password) = text.split_once(':').expect("user:password");
    assert_eq!(username, "AWS");
    assert!(env.aws.ecr_public_password_valid(password));
    assert!(!env.aws.ecr_public_password_valid("guess"));
    let expires = json["authorizationData"]["expiresAt"]
        .as_f64()
        .expect("expiresAt is epoch seconds");
    let left = expires - jiff::Timestamp::now().as_second() as f64;
    assert!(
        (12.0 * 3600.0 - 60.0..=12.0 * 3600.0 + 5.0).contains(&left),
        "{left}"
    );

    let wrong = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
    ];
    let out = aws_cli(
        &[
            "ecr-public",
            "get-authorization-token",
            "--endpoint-url",
            &ecr,
        ],
        &wrong,
        home.path(),
    )
    .await;
    assert!(
        out.stderr.contains("(InvalidSignatureException)"),
        "{}",
        out.stderr
    );
    env.shutdown().await;
}
