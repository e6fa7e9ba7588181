//! EKS bearer tokens: presigned STS `GetCallerIdentity` URLs made with
//! aws-sigv4 (as kubecred and the Go SDK make them) and by botocore
//! (`aws eks get-token`), verified the way an EKS authenticator does.

mod aws_support;

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_support::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const CLUSTER: &str = "sandbox-cluster";

struct Presign<'a> {
    sts_url: String,
    credentials: Credentials,
    cluster: &'a str,
    time: SystemTime,
    expires: Duration,
    headers_signed: bool,
}

/// `k8s-aws-v1.` + base64url of a presigned GetCallerIdentity URL.
fn token(p: &Presign<'_>) -> String {
    let mut url = url::Url::parse(&format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        p.sts_url
    ))
    .expect("the STS URL parses");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(p.expires);
    let identity = p.credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(p.time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let cluster_header = [("x-k8s-aws-id", p.cluster)];
    let headers: &[(&str, &str)] = if p.headers_signed {
        &cluster_header
    } else {
        &[]
    };
    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(&[]),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
    url.query_pairs_mut()
        .extend_pairs(instructions.params().iter().map(|(k, v)| (*k, v.as_ref())));
    format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(url.as_str()))
}

async fn presign(env: &Env) -> Presign<'static> {
    let (key, secret, session_token) = app_session(env).await;
    Presign {
        sts_url: env.aws.sts_url(),
        credentials: Credentials::new(key, secret, Some(session_token), None, "test"),
        cluster: CLUSTER,
        time: SystemTime::now(),
        expires: Duration::from_secs(900),
        headers_signed: true,
    }
}

#[tokio::test]
async fn presigned_token_verifies_for_its_cluster() {
    let env = start().await;
    let good = presign(&env).await;
    let arn = env
        .aws
        .verify_eks_token(&token(&good), CLUSTER)
        .expect("a valid token");
    assert_eq!(
        arn,
        "arn:aws:sts::123456789012:assumed-role/app/app-session"
    );

    let user = Presign {
        credentials: Credentials::new(USER_KEY, USER_SECRET, None, None, "t"),
        ..presign(&env).await
    };
    assert_eq!(
        env.aws.verify_eks_token(&token(&user), CLUSTER).as_deref(),
        Ok(USER_ARN)
    );
    env.shutdown().await;
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let env = start().await;
    let good = token(&presign(&env).await);

    let wrong_cluster = env
        .aws
        .verify_eks_token(&good, "other-cluster")
        .expect_err("other cluster");
    assert_eq!(wrong_cluster.code(), "SignatureDoesNotMatch");

    let url = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(&good["k8s-aws-v1.".len()..])
            .expect("b64"),
    )
    .expect("utf8");
    let at = url.find("X-Amz-Signature=").expect("signed") + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let tampered_url = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    let tampered = format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(&tampered_url));
    let err = env
        .aws
        .verify_eks_token(&tampered, CLUSTER)
        .expect_err("tampered");
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert!(!err.to_string().contains(&url[at..at + 64]));

    let old = Presign {
        time: SystemTime::now() - Duration::from_secs(1200),
        ..presign(&env).await
    };
    let err = env
        .aws
        .verify_eks_token(&token(&old), CLUSTER)
        .expect_err("expired");
    assert_eq!(err.code(), "RequestExpired");
    assert!(err.message().contains("expired"), "{err}");
    env.shutdown().await;
}

#[tokio::test]
async fn malformed_tokens_are_refused_clearly() {
    let env = start().await;
    let long = Presign {
        expires: Duration::from_secs(3600),
        ..presign(&env).await
    };
    let err = env
        .aws
        .verify_eks_token(&token(&long), CLUSTER)
        .expect_err("too long");
    assert!(err.message().contains("at most 900"), "{err}");
    let unsigned_cluster = Presign {
        headers_signed: false,
        ..presign(&env).await
    };
    let err = env
        .aws
        .verify_eks_token(&token(&unsigned_cluster), CLUSTER)
        .expect_err("x-k8s-aws-id");
    assert!(err.message().contains("x-k8s-aws-id"), "{err}");
    let elsewhere = Presign {
        sts_url: "https://sts.us-east-1.amazonaws.com".into(),
        ..presign(&env).await
    };
    let err = env
        .aws
        .verify_eks_token(&token(&elsewhere), CLUSTER)
        .expect_err("other host");
    assert!(err.message().contains("unexpected hostname"), "{err}");
    for garbage in [
        "",
        "k8s-aws-v1.",
        "k8s-aws-v1.!!!",
        "Bearer x",
        "k8s-aws-v1.aHR0cDovLw",
    ] {
        let err = env
            .aws
            .verify_eks_token(garbage, CLUSTER)
            .expect_err(garbage);
        assert_eq!(
            (err.code(), err.status()),
            ("InvalidToken", 401),
            "{garbage}: {err}"
        );
    }
    assert_eq!(env.aws.calls("GetCallerIdentity"), 0);
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_eks_tokens_verify() {
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let sts = env.aws.sts_url();
    let vars = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    let out = aws_cli(
        &["eks", "get-token", "--cluster-name", CLUSTER],
        &vars,
        home.path(),
    )
    .await;
    let json = out.json();
    let token = json["status"]["token"].as_str().expect("a token");
    assert_eq!(
        env.aws.verify_eks_token(token, CLUSTER).as_deref(),
        Ok(USER_ARN)
    );
    assert!(env.aws.verify_eks_token(token, "another").is_err());
    env.shutdown().await;
}

#[tokio::test]
async fn sts_itself_accepts_presigned_and_header_signed_gets() {
    let env = start().await;
    let client = reqwest::Client::new();
    let presigned = token(&presign(&env).await);
    let url = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(&presigned["k8s-aws-v1.".len()..])
            .expect("b64"),
    )
    .expect("utf8");
    let with_header = client
        .get(&url)
        .header("x-k8s-aws-id", CLUSTER)
        .send()
        .await
        .expect("answers");
    assert_eq!(with_header.status().as_u16(), 200);
    let body = with_header.text().await.expect("body");
    assert_eq!(
        xml_field(&body, "Arn"),
        Some("arn:aws:sts::123456789012:assumed-role/app/app-session")
    );
    let without = client.get(&url).send().await.expect("answers");
    assert_eq!(
        without.status().as_u16(),
        403,
        "a signed header must be present"
    );

    let get_url = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        env.aws.sts_url()
    );
    let identity = Credentials::new(USER_KEY, USER_SECRET, None, None, "t").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        "GET",
        &get_url,
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
    let mut request = client.get(&get_url);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        xml_field(&response.text().await.expect("body"), "Arn"),
        Some(USER_ARN)
    );
    env.shutdown().await;
}
