//! The AWS service modules (`ecr`, `eks`, `checks`) against moto on loopback, one moto per test.
//!
//! Where moto can verify SigV4 (ECR, S3, KMS), the tests turn verification on and show that an
//! IAM user allowed the action succeeds, one without the permission gets our denial error, and a
//! wrong secret is refused: our signatures are checked, not just accepted. moto cannot verify
//! EKS requests (its REST-JSON signature check fails even for botocore) nor presigned query
//! URLs, so the EKS tests run with verification off; `eks.rs` unit tests compare the presigned
//! token's signature with botocore's instead.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
#[allow(dead_code)] // shared: other tests use more of it
mod moto;

use std::time::{Duration, SystemTime};

use kubecred::aws::parse::{EcrRegistry, EksClusterArn};
use kubecred::aws::{Transport, checks, ecr, eks};
use kubecred::clock::{Clock, SystemClock};
use kubecred::{AwsKeys, Error, Secret};
use moto::{BoxError, Moto, any_keys};

type TestResult = Result<(), BoxError>;

fn message<T>(result: Result<T, Error>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

/// The same user's keys with a different secret.
fn wrong_secret(keys: &AwsKeys) -> AwsKeys {
    AwsKeys {
        secret_access_key: Secret::new("wrong-secret-key-0000000000000000000000000"),
        ..keys.clone()
    }
}

/// A refusal of a verified request: our denial (not transient, not "not found"), naming the AWS
/// code and never the secret.
fn assert_denied<T>(result: Result<T, Error>, code: &str, keys: &AwsKeys) {
    let error = result.err();
    assert!(
        error
            .as_ref()
            .is_some_and(|e| !e.is_transient() && !e.is_not_found()),
        "{error:?}"
    );
    let shown = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.contains(code) && shown.contains("HTTP 4"), "{shown}");
    assert!(!shown.contains(keys.secret_access_key.expose()), "{shown}");
}

#[tokio::test]
async fn ecr_private_login_reports_the_api_expiry() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let registry = EcrRegistry::Private {
        region: "us-east-1".into(),
    };
    let credentials = ecr::login(&registry, &any_keys(), &moto.env(), Transport::default()).await?;
    assert_eq!(credentials.username, "AWS");
    assert!(!credentials.password.expose().is_empty());
    // moto's tokens "expire" on 2015-01-01: reported as given, not replaced by a guess.
    assert!(credentials.expires_at < SystemTime::UNIX_EPOCH + Duration::from_secs(1_451_606_400));
    Ok(())
}

#[tokio::test]
async fn ecr_login_signatures_and_permissions_are_verified() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let allowed = moto
        .user("puller", "ecr:GetAuthorizationToken", "*")
        .await?;
    let denied = moto.user("other", "s3:ListBucket", "*").await?;
    moto.verify_signatures().await?;
    let registry = EcrRegistry::Private {
        region: "us-east-1".into(),
    };
    let env = moto.env();
    assert_eq!(
        ecr::login(&registry, &allowed, &env, Transport::default())
            .await?
            .username,
        "AWS"
    );
    assert_denied(
        ecr::login(&registry, &denied, &env, Transport::default()).await,
        "AccessDenied",
        &denied,
    );
    assert_denied(
        ecr::login(
            &registry,
            &wrong_secret(&allowed),
            &env,
            Transport::default(),
        )
        .await,
        "SignatureDoesNotMatch",
        &allowed,
    );
    Ok(())
}

async fn create_cluster(moto: &Moto, name: &str) -> Result<String, BoxError> {
    use aws_sdk_eks::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&moto.endpoint)
        .build();
    let vpc = aws_sdk_eks::types::VpcConfigRequest::builder()
        .subnet_ids("subnet-12345678")
        .build();
    let created = aws_sdk_eks::Client::from_conf(config)
        .create_cluster()
        .name(name)
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(vpc)
        .send()
        .await?;
    let endpoint = created.cluster().and_then(|c| c.endpoint());
    endpoint
        .map(str::to_owned)
        .ok_or_else(|| "CreateCluster answer has no endpoint".into())
}

fn arn(name: &str) -> EksClusterArn {
    EksClusterArn {
        region: "us-east-1".into(),
        name: name.into(),
    }
}

#[tokio::test]
async fn eks_describes_the_cluster_when_address_or_ca_is_missing() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let endpoint = create_cluster(&moto, "prod").await?;
    let now = SystemClock.now();
    let access = eks::cluster_access(
        &arn("prod"),
        eks::Known::default(),
        &any_keys(),
        &moto.env(),
        None,
        Transport::default(),
        now,
    )
    .await?;
    assert_eq!(access.server, endpoint);
    assert!(
        access.ca_data.is_some_and(|ca| !ca.is_empty()),
        "moto's (random, non-PEM) CA is decoded"
    );
    assert_eq!(access.expires_at, now + Duration::from_secs(900));
    // A given address wins, the CA still comes from the cluster.
    let given = eks::cluster_access(
        &arn("prod"),
        eks::Known {
            address: Some("https://given:443"),
            ca_data: None,
        },
        &any_keys(),
        &moto.env(),
        None,
        Transport::default(),
        now,
    )
    .await?;
    assert_eq!(given.server, "https://given:443");
    assert!(given.ca_data.is_some());
    // A cluster that does not exist is "not found", named in the message.
    let missing = eks::cluster_access(
        &arn("absent"),
        eks::Known::default(),
        &any_keys(),
        &moto.env(),
        None,
        Transport::default(),
        now,
    )
    .await;
    assert!(
        missing.as_ref().err().is_some_and(Error::is_not_found),
        "{missing:?}"
    );
    assert!(message(missing).contains("describe EKS cluster 'absent' in us-east-1"));
    Ok(())
}

#[tokio::test]
async fn eks_uses_the_given_address_and_ca_without_describing() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    // No cluster exists: a DescribeCluster call would fail with ResourceNotFoundException.
    let ca = b"-----BEGIN CERTIFICATE-----".as_slice();
    let now = SystemClock.now();
    let access = eks::cluster_access(
        &arn("absent"),
        eks::Known {
            address: Some("https://api.example:6443"),
            ca_data: Some(ca),
        },
        &any_keys(),
        &moto.env(),
        None,
        Transport::default(),
        now,
    )
    .await?;
    assert_eq!(
        (access.server.as_str(), access.ca_data.as_deref()),
        ("https://api.example:6443", Some(ca))
    );
    Ok(())
}

#[tokio::test]
async fn eks_token_is_a_get_caller_identity_request_sts_answers() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let ca = b"ca".as_slice();
    let access = eks::cluster_access(
        &arn("prod"),
        eks::Known {
            address: Some("https://x"),
            ca_data: Some(ca),
        },
        &any_keys(),
        &moto.env(),
        None,
        Transport::default(),
        SystemClock.now(),
    )
    .await?;
    let url = eks::decode_token(access.token.expose())?;
    assert!(
        url.starts_with(&format!(
            "{}/?Action=GetCallerIdentity&Version=2011-06-15&",
            moto.endpoint
        )),
        "{url}"
    );
    // moto neither checks presigned signatures nor routes a GET by its query (only by the
    // `Authorization` scope, which it does not verify while authentication is off), so a
    // placeholder header names STS: this shows the URL is an STS GetCallerIdentity call, no more.
    let scope = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0";
    let answer = reqwest::Client::new()
        .get(&url)
        .header("authorization", scope)
        .header("x-k8s-aws-id", "prod")
        .send()
        .await?;
    assert!(answer.status().is_success(), "{}", answer.status());
    let body = answer.text().await?;
    assert!(body.contains("<GetCallerIdentityResult>"), "{body}");
    Ok(())
}

#[tokio::test]
async fn s3_check_lists_the_bucket_and_reports_missing_ones() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    moto.bucket("artifacts").await?;
    moto.object("artifacts", "a.txt").await?;
    let check = checks::s3_bucket(
        "artifacts",
        "us-east-1",
        &any_keys(),
        &moto.env(),
        Transport::default(),
    )
    .await?;
    assert_eq!((check.bucket.as_str(), check.key_count), ("artifacts", 1));
    let missing = checks::s3_bucket(
        "absent",
        "us-east-1",
        &any_keys(),
        &moto.env(),
        Transport::default(),
    )
    .await;
    assert!(
        missing.as_ref().err().is_some_and(Error::is_not_found),
        "{missing:?}"
    );
    assert!(message(missing).contains("NoSuchBucket"));
    Ok(())
}

#[tokio::test]
async fn s3_check_signatures_and_permissions_are_verified() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    moto.bucket("artifacts").await?;
    let allowed = moto
        .user("reader", "s3:ListBucket", "arn:aws:s3:::artifacts")
        .await?;
    let denied = moto.user("other", "s3:GetObject", "*").await?;
    moto.verify_signatures().await?;
    let env = moto.env();
    assert_eq!(
        checks::s3_bucket(
            "artifacts",
            "us-east-1",
            &allowed,
            &env,
            Transport::default()
        )
        .await?
        .key_count,
        0
    );
    let refused = checks::s3_bucket(
        "artifacts",
        "us-east-1",
        &denied,
        &env,
        Transport::default(),
    )
    .await;
    assert!(
        message(refused.as_ref().map(drop).map_err(Clone::clone))
            .contains("S3 bucket 'artifacts' (s3:ListBucket)")
    );
    assert_denied(refused, "AccessDenied", &denied);
    assert_denied(
        checks::s3_bucket(
            "artifacts",
            "us-east-1",
            &wrong_secret(&allowed),
            &env,
            Transport::default(),
        )
        .await,
        "SignatureDoesNotMatch",
        &allowed,
    );
    Ok(())
}

#[tokio::test]
async fn kms_check_describes_the_key_and_reports_missing_ones() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let key = moto.kms_key().await?;
    let check = checks::kms_key(&key, &any_keys(), &moto.env(), Transport::default()).await?;
    assert_eq!(
        (check.arn.as_str(), check.key_state.as_str(), check.enabled),
        (key.as_str(), "Enabled", true)
    );
    let absent = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000";
    let missing = checks::kms_key(absent, &any_keys(), &moto.env(), Transport::default()).await;
    assert!(
        missing.as_ref().err().is_some_and(Error::is_not_found),
        "{missing:?}"
    );
    assert!(message(missing).contains("NotFoundException"));
    Ok(())
}

/// The SQS check's `GetQueueUrl` (JSON protocol) as moto answers it: the queue's URL, and a
/// missing queue's refusal.
#[tokio::test]
async fn sqs_check_finds_the_queue_and_reports_missing_ones() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let url = moto.queue("events").await?;
    let arn = "arn:aws:sqs:us-east-1:123456789012:events";
    let check = checks::sqs_queue(arn, &any_keys(), &moto.env(), Transport::default()).await?;
    assert_eq!(check.url, url);
    let absent = "arn:aws:sqs:us-east-1:123456789012:absent";
    let missing = checks::sqs_queue(absent, &any_keys(), &moto.env(), Transport::default()).await;
    assert!(
        missing.as_ref().err().is_some_and(Error::is_not_found),
        "{missing:?}"
    );
    let shown = message(missing);
    assert!(shown.contains("QueueDoesNotExist"), "{shown}");
    Ok(())
}

#[tokio::test]
async fn kms_check_signatures_and_permissions_are_verified() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let key = moto.kms_key().await?;
    let allowed = moto.user("decrypter", "kms:DescribeKey", "*").await?;
    let denied = moto.user("other", "kms:Encrypt", "*").await?;
    moto.verify_signatures().await?;
    let env = moto.env();
    assert!(
        checks::kms_key(&key, &allowed, &env, Transport::default())
            .await?
            .enabled
    );
    let refused = checks::kms_key(&key, &denied, &env, Transport::default()).await;
    assert!(
        message(refused.as_ref().map(drop).map_err(Clone::clone)).contains("(kms:DescribeKey)")
    );
    assert_denied(refused, "AccessDenied", &denied);
    assert_denied(
        checks::kms_key(&key, &wrong_secret(&allowed), &env, Transport::default()).await,
        "SignatureDoesNotMatch",
        &allowed,
    );
    Ok(())
}
