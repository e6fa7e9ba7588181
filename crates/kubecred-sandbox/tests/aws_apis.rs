//! Conformance with botocore: the AWS CLI drives the service APIs stand-in (S3, KMS, ECR, EKS,
//! SQS) with a role session's keys, parses its answers, and is refused where the role's
//! permission policy does not reach, reading the refusal as AWS's error code and message; a
//! wrong secret's signature is refused with the service's own code.

mod aws_support;

use aws_support::*;
use kubecred_sandbox::aws::{AwsResources, Bucket, EksCluster};
use serde_json::json;

const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/00000000-12ab-34cd-56ef-1234567890ab";

/// What the `target` role may do (one statement per service), and what the stand-in holds.
fn permitted(config: &mut kubecred_sandbox::aws::AwsConfig) {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::flux"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::flux/*"},
        {"Effect": "Allow", "Action": ["kms:DescribeKey", "kms:Decrypt"], "Resource": KEY},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:DescribeImages"],
         "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/team-a/app"},
        {"Effect": "Allow", "Action": "eks:DescribeCluster",
         "Resource": "arn:aws:eks:us-east-1:123456789012:cluster/prod"},
        {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:ReceiveMessage"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:events"},
    ]});
    config.permissions = Some(vec![("target".into(), policy)]);
    config.resources = AwsResources {
        buckets: ["flux", "other"]
            .map(|name| Bucket {
                name: name.into(),
                objects: vec![("app.tgz".into(), b"artifact".to_vec())],
            })
            .to_vec(),
        kms_keys: vec![KEY.into(), OTHER_KEY.into()],
        ecr_repositories: ["team-a/app", "team-b/app"]
            .map(|r| format!("arn:aws:ecr:us-east-1:123456789012:repository/{r}"))
            .to_vec(),
        eks_clusters: ["prod", "other"]
            .map(|name| EksCluster {
                arn: format!("arn:aws:eks:us-east-1:123456789012:cluster/{name}"),
                endpoint: format!("https://{name}.eks.example.test"),
                ca_pem: "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n".into(),
            })
            .to_vec(),
        sqs_queues: ["events", "other"]
            .map(|q| format!("arn:aws:sqs:us-east-1:123456789012:{q}"))
            .to_vec(),
    };
}

#[tokio::test]
async fn botocore_reads_what_the_role_may_and_is_refused_the_rest() {
    let env = start_with(permitted).await;
    let home = tempfile::tempdir().expect("temp HOME");
    let keys = session_env(&assume_target_role(&env, home.path(), "conformance").await);
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let api = env.aws.api_url();
    let cli = |args: Vec<&str>| {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--endpoint-url".to_owned(), api.clone()]);
        let keys: Vec<(String, String)> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let home = home.path().to_owned();
        async move {
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            let keys: Vec<(&str, &str)> =
                keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            aws_cli(&all, &keys, &home).await
        }
    };

    let listed = cli(vec![
        "s3api",
        "list-objects-v2",
        "--bucket",
        "flux",
        "--no-paginate",
    ])
    .await
    .json();
    assert_eq!(listed["Contents"][0]["Key"], "app.tgz", "{listed}");
    assert_eq!(listed["KeyCount"], 1, "{listed}");
    let out = home.path().join("app.tgz");
    let out_path = out.to_string_lossy().into_owned();
    let got = cli(vec![
        "s3api",
        "get-object",
        "--bucket",
        "flux",
        "--key",
        "app.tgz",
        &out_path,
    ])
    .await
    .json();
    assert_eq!(got["ContentLength"], 8, "{got}");
    assert_eq!(std::fs::read(&out).expect("the object"), b"artifact");

    let key = cli(vec!["kms", "describe-key", "--key-id", KEY])
        .await
        .json();
    assert_eq!(key["KeyMetadata"]["Arn"], KEY, "{key}");
    assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled", "{key}");

    let token = cli(vec!["ecr", "get-authorization-token"]).await.json();
    let token = token["authorizationData"][0]["authorizationToken"]
        .as_str()
        .unwrap_or_default();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .unwrap_or_default();
    assert!(decoded.starts_with(b"AWS:"), "{token}");
    let images = cli(vec![
        "ecr",
        "batch-get-image",
        "--repository-name",
        "team-a/app",
        "--image-ids",
        "imageTag=v1",
    ])
    .await;
    assert!(images.success, "{}", images.stderr);

    let cluster = cli(vec!["eks", "describe-cluster", "--name", "prod"])
        .await
        .json();
    assert_eq!(
        cluster["cluster"]["endpoint"], "https://prod.eks.example.test",
        "{cluster}"
    );
    assert_eq!(cluster["cluster"]["status"], "ACTIVE", "{cluster}");

    let queue = cli(vec!["sqs", "get-queue-url", "--queue-name", "events"])
        .await
        .json();
    assert_eq!(
        queue["QueueUrl"], "https://sqs.us-east-1.amazonaws.com/123456789012/events",
        "{queue}"
    );
    let queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/events";
    let received = cli(vec!["sqs", "receive-message", "--queue-url", queue_url]).await;
    assert!(received.success, "{}", received.stderr);

    // Outside the policy: botocore reads the code and the message naming the action.
    for (args, code, action) in [
        (
            vec!["s3api", "list-objects-v2", "--bucket", "other"],
            "(AccessDenied)",
            "s3:ListBucket",
        ),
        (
            vec![
                "s3api",
                "get-object",
                "--bucket",
                "other",
                "--key",
                "app.tgz",
                &out_path,
            ],
            "(AccessDenied)",
            "s3:GetObject",
        ),
        (
            vec!["kms", "describe-key", "--key-id", OTHER_KEY],
            "(AccessDeniedException)",
            "kms:DescribeKey",
        ),
        (
            vec!["ecr", "describe-images", "--repository-name", "team-b/app"],
            "(AccessDeniedException)",
            "ecr:DescribeImages",
        ),
        (
            vec!["ecr", "list-images", "--repository-name", "team-a/app"],
            "(AccessDeniedException)",
            "ecr:ListImages",
        ),
        (
            vec!["eks", "describe-cluster", "--name", "other"],
            "(AccessDeniedException)",
            "eks:DescribeCluster",
        ),
        (
            vec!["sqs", "get-queue-url", "--queue-name", "other"],
            "(AccessDenied)",
            "sqs:GetQueueUrl",
        ),
        (
            vec![
                "sqs",
                "delete-message",
                "--queue-url",
                queue_url,
                "--receipt-handle",
                "r",
            ],
            "(AccessDenied)",
            "sqs:DeleteMessage",
        ),
    ] {
        let shown = args.join(" ");
        let refused = cli(args).await;
        assert!(!refused.success, "{shown}: allowed");
        assert!(refused.stderr.contains(code), "{shown}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(&format!(
                "is not authorized to perform: {action} on resource"
            )),
            "{shown}: {}",
            refused.stderr
        );
    }
    env.shutdown().await;
}

#[tokio::test]
async fn botocore_is_refused_with_a_wrong_secret() {
    let env = start_with(permitted).await;
    let home = tempfile::tempdir().expect("temp HOME");
    let mut keys = session_env(&assume_target_role(&env, home.path(), "conformance").await);
    keys[1].1 = "not-the-secret".into();
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let api = env.aws.api_url();
    for (args, code) in [
        (
            vec!["s3api", "list-objects-v2", "--bucket", "flux"],
            "(SignatureDoesNotMatch)",
        ),
        (
            vec!["kms", "describe-key", "--key-id", KEY],
            "(InvalidSignatureException)",
        ),
        (
            vec!["sqs", "get-queue-url", "--queue-name", "events"],
            "(InvalidSignatureException)",
        ),
    ] {
        let mut all = args;
        all.extend(["--endpoint-url", api.as_str()]);
        let refused = aws_cli(&all, &keys, home.path()).await;
        assert!(!refused.success);
        assert!(refused.stderr.contains(code), "{all:?}: {}", refused.stderr);
    }
    env.shutdown().await;
}
