use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::policy::policy as write;

const ACCOUNT: &str = "123456789012";
const ISSUER: &str = "https://oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789";

fn request(purpose: Purpose, resource: &str, trust: AwsTrust) -> PolicyRequest {
    PolicyRequest {
        purpose,
        resource: resource.into(),
        service_account: "team-a/app".into(),
        issuer: Some(ISSUER.into()),
        cloud: CloudOptions::Aws {
            account_id: ACCOUNT.into(),
            role_name: "team-a-app".into(),
            trust,
        },
    }
}

fn statements(policy: &Policy) -> Vec<Value> {
    policy.permissions[0]["policyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Every action and resource of the permission policy, as `action on resource` lines.
fn grants(policy: &Policy) -> Vec<String> {
    let mut lines = Vec::new();
    for statement in statements(policy) {
        for action in statement["Action"].as_array().into_iter().flatten() {
            for resource in statement["Resource"].as_array().into_iter().flatten() {
                lines.push(format!(
                    "{} on {}",
                    action.as_str().unwrap_or("?"),
                    resource.as_str().unwrap_or("?")
                ));
            }
        }
    }
    lines
}

#[test]
fn each_purpose_is_scoped_to_its_resource() {
    let cases: [(Purpose, &str, &[&str]); 7] = [
        (
            Purpose::Registry,
            "123456789012.dkr.ecr.us-west-2.amazonaws.com/team-a/app",
            &[
                "ecr:GetAuthorizationToken on *",
                "ecr:BatchGetImage on arn:aws:ecr:us-west-2:123456789012:repository/team-a/app",
            ],
        ),
        (
            Purpose::Registry,
            "public.ecr.aws",
            &[
                "ecr-public:GetAuthorizationToken on *",
                "sts:GetServiceBearerToken on *",
            ],
        ),
        (
            Purpose::Bucket,
            "s3://flux-bucket/tenant-a",
            &[
                "s3:ListBucket on arn:aws:s3:::flux-bucket",
                "s3:GetObject on arn:aws:s3:::flux-bucket/tenant-a/*",
            ],
        ),
        (
            Purpose::Kms,
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            &[
                "kms:Decrypt on arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ],
        ),
        (
            Purpose::Cluster,
            "arn:aws:eks:us-east-1:123456789012:cluster/prod-1",
            &["eks:DescribeCluster on arn:aws:eks:us-east-1:123456789012:cluster/prod-1"],
        ),
        (
            Purpose::Git,
            "https://git-codecommit.eu-central-1.amazonaws.com/v1/repos/fleet",
            &["codecommit:GitPull on arn:aws:codecommit:eu-central-1:123456789012:fleet"],
        ),
        (
            Purpose::Sqs,
            "https://sqs.us-east-2.amazonaws.com/123456789012/events.fifo",
            &["sqs:ReceiveMessage on arn:aws:sqs:us-east-2:123456789012:events.fifo"],
        ),
    ];
    for (purpose, resource, expected) in cases {
        let policy = write(&request(purpose, resource, AwsTrust::Oidc))
            .unwrap_or_else(|e| panic!("{resource}: {e}"));
        let lines = grants(&policy);
        for line in expected {
            assert!(lines.contains(&line.to_string()), "{resource}: {lines:#?}");
        }
        // `*` only where the action has no resource-level permission.
        for line in &lines {
            if line.ends_with(" on *") {
                assert!(
                    line.contains("GetAuthorizationToken")
                        || line.contains("GetServiceBearerToken"),
                    "{resource}: {line}"
                );
            }
        }
    }
}

#[test]
fn oidc_trust_is_issuer_setups_role_and_provider() {
    let policy = write(&request(
        Purpose::Bucket,
        "s3://flux-bucket",
        AwsTrust::Oidc,
    ))
    .expect("policy");
    let kinds: Vec<&Value> = policy.trust.iter().map(|d| &d["kind"]).collect();
    assert_eq!(kinds, ["aws_iam_openid_connect_provider", "aws_iam_role"]);
    let trust = &policy.trust[1]["assumeRolePolicyDocument"]["Statement"][0];
    let provider = "oidc.eks.us-west-2.amazonaws.com/id/ABCDEF0123456789ABCDEF0123456789";
    assert_eq!(
        trust["Principal"]["Federated"],
        format!("arn:aws:iam::{ACCOUNT}:oidc-provider/{provider}")
    );
    assert_eq!(
        trust["Condition"]["StringEquals"][format!("{provider}:sub")],
        "system:serviceaccount:team-a:app"
    );
    assert_eq!(
        policy.annotations["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/team-a-app"
    );
    assert_eq!(
        policy.identity["roleArn"],
        "arn:aws:iam::123456789012:role/team-a-app"
    );
    // Commands: the provider, the role, then its policy; each a shell line.
    assert_eq!(policy.commands.len(), 3);
    for line in &policy.commands {
        assert!(shlex::split(line).is_some(), "{line}");
    }
    assert!(policy.commands[2].starts_with("aws iam put-role-policy --role-name team-a-app"));
    let tf = &policy.terraform["resource"];
    assert_eq!(
        tf["aws_iam_role_policy"]["kubecred"]["role"],
        "${aws_iam_role.kubecred.id}"
    );
    assert!(tf["aws_iam_openid_connect_provider"]["cluster"]["url"].is_string());
}

#[test]
fn pod_identity_trusts_the_eks_service_and_names_the_association() {
    let mut req = request(Purpose::Registry, "public.ecr.aws", AwsTrust::PodIdentity);
    req.issuer = None;
    let policy = write(&req).expect("policy");
    let kinds: Vec<&Value> = policy.trust.iter().map(|d| &d["kind"]).collect();
    assert_eq!(kinds, ["aws_iam_role", "aws_eks_pod_identity_association"]);
    let statement = &policy.trust[0]["assumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "pods.eks.amazonaws.com");
    assert_eq!(
        statement["Action"],
        serde_json::json!(["sts:AssumeRole", "sts:TagSession"])
    );
    assert!(policy.annotations.is_empty());
    assert!(policy.commands[1].contains("create-pod-identity-association"));
}

#[test]
fn refusals_name_what_is_wrong() {
    let mut no_issuer = request(Purpose::Bucket, "s3://b-1", AwsTrust::Oidc);
    no_issuer.issuer = None;
    let cases: Vec<(PolicyRequest, &str)> = vec![
        (no_issuer, "needs the cluster's issuer"),
        (
            request(Purpose::Pubsub, "x", AwsTrust::Oidc),
            "Pub/Sub is GCP's",
        ),
        (
            request(Purpose::Eventhub, "x", AwsTrust::Oidc),
            "Event Hubs is Azure's",
        ),
        (
            request(
                Purpose::Kms,
                "arn:aws:kms:us-east-1:123456789012:alias/flux",
                AwsTrust::Oidc,
            ),
            "not an alias",
        ),
        (
            request(
                Purpose::Registry,
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
                AwsTrust::Oidc,
            ),
            "another AWS partition",
        ),
        (
            request(Purpose::Bucket, "s3://flux-bucket/../other", AwsTrust::Oidc),
            "invalid AWS bucket resource",
        ),
    ];
    for (req, part) in cases {
        let message = write(&req).expect_err(part).to_string();
        assert!(message.contains(part), "{part}: {message}");
    }
    let mut bad_account = request(Purpose::Bucket, "s3://b-1", AwsTrust::Oidc);
    bad_account.cloud = CloudOptions::Aws {
        account_id: "12345678901".into(),
        role_name: "r".into(),
        trust: AwsTrust::Oidc,
    };
    assert!(
        write(&bad_account)
            .expect_err("account")
            .to_string()
            .contains("AWS account ID")
    );
}

#[test]
fn cross_account_repositories_get_a_note() {
    let policy = write(&request(
        Purpose::Registry,
        "210987654321.dkr.ecr.us-west-2.amazonaws.com/shared",
        AwsTrust::Oidc,
    ))
    .expect("policy");
    assert!(
        policy
            .notes
            .iter()
            .any(|n| n.contains("account 210987654321")),
        "{:?}",
        policy.notes
    );
}

/// Look-alikes of each resource form: none is accepted.
#[test]
fn look_alike_resources_are_refused() {
    let cases: [(Purpose, &[&str]); 6] = [
        (
            Purpose::Registry,
            &[
                "123456789012.dkr.ecr.us-west-2.amazonaws.com.evil.com/app",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/app:latest",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/app@sha256:00",
                "https://123456789012.dkr.ecr.us-west-2.amazonaws.com/app",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com:443/app",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/App",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/a//b",
                "evil123456789012.dkr.ecr.us-west-2.amazonaws.com/app",
                "123456789012.dkr.ecr.us-west-2.amazonaws.com/app\n",
                "123456789012.dkr.ecr.us-west-2.amаzonaws.com/app",
                "public.ecr.aws.evil.com",
                "arn:aws:ecr:us-west-2:123456789012:repository/*",
            ],
        ),
        (
            Purpose::Bucket,
            &[
                "s3://",
                "s3://ab",
                "s3://Flux",
                "s3://flux..b",
                "s3://192.168.1.1",
                "s3://flux/*",
                "s3://flux/a/../b",
                "s3://xn--flux",
                "s3://flux bucket",
                "S3://flux",
                "https://flux.s3.amazonaws.com",
                "s3://flux\u{0}",
            ],
        ),
        (
            Purpose::Kms,
            &[
                "arn:aws:kms:us-east-1:123456789012:key/*",
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab/x",
                "arn:aws:kms:us-east-1:1234567890:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "1234abcd-12ab-34cd-56ef-1234567890ab",
            ],
        ),
        (
            Purpose::Cluster,
            &[
                "arn:aws:eks:us-east-1:123456789012:cluster/*",
                "arn:aws:eks:us-east-1:123456789012:cluster/a/b",
                "arn:aws:eks:us-east-1:123456789012:cluster/-a",
                "arn:aws:eks:us-east-1:123456789012:nodegroup/a",
            ],
        ),
        (
            Purpose::Git,
            &[
                "https://git-codecommit.us-east-1.amazonaws.com.evil.com/v1/repos/a",
                "http://git-codecommit.us-east-1.amazonaws.com/v1/repos/a",
                "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/a/b",
                "https://user@git-codecommit.us-east-1.amazonaws.com/v1/repos/a",
                "arn:aws:codecommit:us-east-1:123456789012:*",
            ],
        ),
        (
            Purpose::Sqs,
            &[
                "arn:aws:sqs:us-east-1:123456789012:*",
                "https://sqs.us-east-1.amazonaws.com.evil.com/123456789012/q",
                "https://sqs.us-east-1.amazonaws.com/123456789012/q/x",
            ],
        ),
    ];
    for (purpose, resources) in cases {
        for resource in resources {
            let result = write(&request(purpose, resource, AwsTrust::Oidc));
            assert!(result.is_err(), "{} accepted {resource:?}", purpose.name());
        }
    }
}

proptest! {
    /// Any text as a resource, for every purpose: an answer, never a panic; an accepted one
    /// is the resource, and every resource in its policy is an `arn:aws:` or `*`.
    #[test]
    fn any_resource_is_answered_and_accepted_ones_are_arns(text in "\\PC{0,80}", p in 0usize..8) {
        let purpose = Purpose::ALL[p];
        if let Ok(policy) = write(&request(purpose, &text, AwsTrust::Oidc)) {
            prop_assert_eq!(&policy.resource, &text);
            for line in grants(&policy) {
                let resource = line.rsplit(" on ").next().unwrap_or_default();
                prop_assert!(resource == "*" || resource.starts_with("arn:aws:"), "{}", line);
                // No IAM wildcard or policy variable smuggled in from the input.
                let body = resource.strip_suffix("/*").unwrap_or(resource);
                prop_assert!(
                    resource == "*" || !(body.contains(['*', '?']) || body.contains("${")),
                    "{}", line
                );
            }
        }
    }

    /// Well-formed repositories and buckets are accepted, and end up in the policy verbatim.
    #[test]
    fn well_formed_resources_round_trip(
        repo in "[a-z0-9]{1,10}(/[a-z0-9]{1,10}){0,2}",
        bucket in "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]",
    ) {
        let registry = format!("{ACCOUNT}.dkr.ecr.us-west-2.amazonaws.com/{repo}");
        let policy = write(&request(Purpose::Registry, &registry, AwsTrust::Oidc));
        let policy = policy.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = format!(
            "ecr:BatchGetImage on arn:aws:ecr:us-west-2:{ACCOUNT}:repository/{repo}"
        );
        prop_assert!(grants(&policy).contains(&expected));
        let policy = write(&request(Purpose::Bucket, &format!("s3://{bucket}"), AwsTrust::Oidc));
        let policy = policy.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = format!("s3:ListBucket on arn:aws:s3:::{bucket}");
        prop_assert!(grants(&policy).contains(&expected));
    }
}
