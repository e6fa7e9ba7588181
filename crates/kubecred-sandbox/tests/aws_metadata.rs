//! The IMDSv2 and Pod Identity agent stand-ins' refusals, and the node
//! credentials' shape, over plain HTTP.

mod aws_support;

use aws_support::*;

async fn imds_token(client: &reqwest::Client, imds: &str, ttl: &str) -> reqwest::Response {
    client
        .put(format!("{imds}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", ttl)
        .send()
        .await
        .expect("IMDS answers")
}

#[tokio::test]
async fn imds_v2_requires_a_session_token() {
    let env = start().await;
    let client = reqwest::Client::new();
    let imds = env.aws.imds_url();
    let credentials_path = format!("{imds}/latest/meta-data/iam/security-credentials/");
    let v1 = client.get(&credentials_path).send().await.expect("answers");
    assert_eq!(v1.status().as_u16(), 401);
    let forged = client
        .get(&credentials_path)
        .header("x-aws-ec2-metadata-token", "forged")
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status().as_u16(), 401);
    for bad_ttl in ["0", "21601", "x"] {
        assert_eq!(
            imds_token(&client, &imds, bad_ttl).await.status().as_u16(),
            400,
            "{bad_ttl}"
        );
    }
    let missing_ttl = client
        .put(format!("{imds}/latest/api/token"))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing_ttl.status().as_u16(), 400);

    let response = imds_token(&client, &imds, "300").await;
    assert_eq!(response.status().as_u16(), 200);
    let ttl = response
        .headers()
        .get("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok());
    assert_eq!(ttl, Some("300"));
    let token = response.text().await.expect("token");
    let get = |path: String| {
        client
            .get(path)
            .header("x-aws-ec2-metadata-token", token.clone())
            .send()
    };
    let role = get(credentials_path.clone())
        .await
        .expect("answers")
        .text()
        .await
        .expect("role");
    assert_eq!(role, "node");
    let unknown = get(format!("{credentials_path}other"))
        .await
        .expect("answers");
    assert_eq!(unknown.status().as_u16(), 404);
    let body: serde_json::Value = get(format!("{credentials_path}node"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(body["Code"], "Success");
    assert_eq!(body["Type"], "AWS-HMAC");
    assert!(
        body["AccessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA"))
    );
    for field in ["SecretAccessKey", "Token", "LastUpdated", "Expiration"] {
        assert!(
            body[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}"
        );
    }
    let again: serde_json::Value = get(format!("{credentials_path}node"))
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        again["AccessKeyId"], body["AccessKeyId"],
        "IMDS serves the same keys until rotation"
    );
    assert_eq!(env.aws.calls("ImdsCredentials"), 2);
    env.shutdown().await;
}

#[tokio::test]
async fn pod_identity_agent_checks_the_authorization_token() {
    let env = start().await;
    let client = reqwest::Client::new();
    let url = env.aws.pod_identity_url();
    let missing = client.get(&url).send().await.expect("answers");
    assert_eq!(missing.status().as_u16(), 401);
    let wrong = client
        .get(&url)
        .header("authorization", "wrong")
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status().as_u16(), 403);
    let error: serde_json::Value = wrong.json().await.expect("a JSON error");
    assert_eq!(error["code"], "AccessDeniedException");
    let good = client
        .get(&url)
        .header("authorization", POD_TOKEN)
        .send()
        .await
        .expect("answers");
    assert_eq!(good.status().as_u16(), 200);
    let body: serde_json::Value = good.json().await.expect("JSON");
    assert_eq!(body["AccountId"], ACCOUNT);
    assert!(
        body["AccessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA"))
    );
    let expiration: jiff::Timestamp = body["Expiration"]
        .as_str()
        .expect("expiration")
        .parse()
        .expect("RFC 3339");
    assert!(expiration.as_second() > jiff::Timestamp::now().as_second() + 3600);
    assert_eq!(env.aws.calls("PodIdentityCredentials"), 1);
    env.shutdown().await;
}
