//! The STS stand-in over plain HTTP form posts: AssumeRoleWithWebIdentity's
//! success and refusals, and what unsigned calls get.

mod aws_support;

use std::time::Duration;

use aws_support::*;

fn web_identity<'a>(role: &'a str, session: &'a str, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session),
        ("WebIdentityToken", token),
    ]
}

/// Asserts an STS error answer: status, `<Type>Sender`, code, and returns
/// the message.
fn expect_error(status: u16, body: &str, want_status: u16, want_code: &str) -> String {
    assert_eq!(status, want_status, "{body}");
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"),
        "{body}"
    );
    assert_eq!(xml_field(body, "Type"), Some("Sender"), "{body}");
    assert_eq!(xml_field(body, "Code"), Some(want_code), "{body}");
    assert!(
        xml_field(body, "RequestId").is_some_and(|id| id.len() == 36),
        "{body}"
    );
    xml_field(body, "Message").unwrap_or_default().to_string()
}

#[tokio::test]
async fn web_identity_success_issues_remembered_keys() {
    let env = start().await;
    let token = env.app_token();
    let mut form = web_identity(APP_ROLE, "app-session", &token);
    form.push(("DurationSeconds", "900"));
    let (status, body) = sts_post(&env, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with(
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(
        xml_field(&body, "Arn"),
        Some("arn:aws:sts::123456789012:assumed-role/app/app-session")
    );
    assert!(
        xml_field(&body, "AssumedRoleId")
            .is_some_and(|id| id.starts_with("AROA") && id.ends_with(":app-session"))
    );
    assert_eq!(
        xml_field(&body, "SubjectFromWebIdentityToken"),
        Some("system:serviceaccount:team:app")
    );
    assert_eq!(xml_field(&body, "Audience"), Some(AUDIENCE));
    let provider = format!(
        "arn:aws:iam::{ACCOUNT}:oidc-provider/{}",
        env.sandbox.issuer().trim_start_matches("https://")
    );
    assert_eq!(xml_field(&body, "Provider"), Some(provider.as_str()));
    let key = xml_field(&body, "AccessKeyId").expect("key id");
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    let expiration = xml_field(&body, "Expiration").expect("expiration");
    let expires: jiff::Timestamp = expiration.parse().expect("RFC 3339");
    let left = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((880..=905).contains(&left), "{left}");
    assert!(xml_field(&body, "RequestId").is_some());
    assert_eq!(env.aws.calls("AssumeRoleWithWebIdentity"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn wrong_audience_is_an_invalid_identity_token() {
    let env = start().await;
    let token = env.token("app", &["other-audience"], Duration::from_secs(600));
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "s1", &token)).await;
    let message = expect_error(status, &body, 400, "InvalidIdentityToken");
    assert_eq!(message, "Incorrect token audience");
    assert_eq!(env.aws.calls("AssumeRoleWithWebIdentity"), 0);
    env.shutdown().await;
}

#[tokio::test]
async fn expired_token_is_refused_as_expired() {
    let env = start().await;
    // Issued ten minutes ago for one minute: expired beyond the verifier's 30 s leeway.
    let issued = std::time::SystemTime::now() - Duration::from_secs(600);
    let token = env.sandbox.issue_token_at(
        "team",
        "app",
        &[AUDIENCE.to_string()],
        issued,
        Duration::from_secs(60),
    );
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "s1", &token)).await;
    expect_error(status, &body, 400, "ExpiredTokenException");
    assert!(!body.contains(&token));
    env.shutdown().await;
}

#[tokio::test]
async fn untrusted_subject_is_access_denied() {
    let env = start().await;
    let token = env.token("intruder", &[AUDIENCE], Duration::from_secs(600));
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "s1", &token)).await;
    let message = expect_error(status, &body, 403, "AccessDenied");
    assert_eq!(
        message,
        "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn unknown_role_is_access_denied() {
    let env = start().await;
    let token = env.app_token();
    let missing = "arn:aws:iam::123456789012:role/missing";
    let (status, body) = sts_post(&env, &web_identity(missing, "s1", &token)).await;
    expect_error(status, &body, 403, "AccessDenied");
    env.shutdown().await;
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_invalid() {
    let env = start().await;
    let token = env.app_token();
    let (rest, signature) = token.rsplit_once('.').expect("a JWT");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{rest}.{flipped}{}", &signature[1..]);
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "s1", &tampered)).await;
    expect_error(status, &body, 400, "InvalidIdentityToken");
    assert!(!body.contains(signature));
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "s1", "not-a-jwt")).await;
    expect_error(status, &body, 400, "InvalidIdentityToken");
    env.shutdown().await;
}

#[tokio::test]
async fn parameters_are_validated_first() {
    let env = start().await;
    let token = env.app_token();
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, "x", &token)).await;
    let message = expect_error(status, &body, 400, "ValidationError");
    assert!(message.contains("'roleSessionName'"), "{message}");
    let long = "test-sa.test-ns.us-east-1.fluxcd.io".repeat(2);
    let (status, body) = sts_post(&env, &web_identity(APP_ROLE, &long, &token)).await;
    expect_error(status, &body, 400, "ValidationError");
    let mut form = web_identity(APP_ROLE, "ok", &token);
    form.push(("DurationSeconds", "60"));
    let (status, body) = sts_post(&env, &form).await;
    expect_error(status, &body, 400, "ValidationError");
    let (status, body) = sts_post(
        &env,
        &[
            ("Action", "AssumeRoleWithWebIdentity"),
            ("RoleSessionName", "ok"),
        ],
    )
    .await;
    let message = expect_error(status, &body, 400, "ValidationError");
    assert!(message.contains("Value null at 'roleArn'"), "{message}");
    let (status, body) = sts_post(&env, &[("Action", "Nope"), ("Version", "2011-06-15")]).await;
    expect_error(status, &body, 400, "InvalidAction");
    env.shutdown().await;
}

#[tokio::test]
async fn signed_actions_need_a_signature() {
    let env = start().await;
    let (status, body) = sts_post(
        &env,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
    .await;
    expect_error(status, &body, 403, "MissingAuthenticationToken");
    let response = reqwest::Client::new()
        .post(env.aws.sts_url())
        .header("authorization", "AWS4-HMAC-SHA256 garbage")
        .header("x-amz-date", "20240101T000000Z")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("Action", "GetCallerIdentity")]))
        .send()
        .await
        .expect("STS answers");
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    expect_error(status, &body, 400, "IncompleteSignature");
    env.shutdown().await;
}
