//! AWS's side of `kubecred policy`: an IAM role the ServiceAccount becomes (trusted through the
//! cluster's IAM OIDC provider, or EKS Pod Identity), and one inline policy allowing exactly the
//! calls of the integration on exactly the resource:
//!
//! | `--for` | resource | actions |
//! |---|---|---|
//! | registry | `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO` or the repository ARN | `ecr:GetAuthorizationToken` (on `*`: it has no resource-level permission), then pull and list on the repository |
//! | registry | `public.ecr.aws` | `ecr-public:GetAuthorizationToken`, `sts:GetServiceBearerToken` (both only on `*`) |
//! | bucket | `s3://BUCKET[/PREFIX]` | `s3:ListBucket` on the bucket (under the prefix), `s3:GetObject` on its objects |
//! | kms | a key ARN | `kms:Decrypt`, `kms:DescribeKey` |
//! | cluster | an EKS cluster ARN | `eks:DescribeCluster` (and an access entry inside the cluster) |
//! | git | a CodeCommit repository ARN, or its HTTPS URL | `codecommit:GitPull` |
//! | sqs | a queue ARN, or its URL | `sqs:GetQueueUrl`, `sqs:ReceiveMessage`, `sqs:DeleteMessage` (TriggerMesh's SQS source) |
//!
//! The `aws` partition only, as `issuer setup` (the trust half) assumes: an `aws-cn` or
//! `aws-us-gov` resource is refused with that reason.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use super::{
    AwsTrust, CloudOptions, Policy, PolicyRequest, Purpose, command, document, service_account_ref,
    shown, unsupported,
};
use crate::error::{Error, Result};
use crate::issuer::setup::check_aws_role;
use crate::issuer::{AWS_ROLE_ARN_ANNOTATION, SetupTarget, setup};

fn regex(pattern: &str) -> Regex {
    // The patterns are constants covered by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

/// A commercial region: `us-east-1`, `ap-southeast-3`, `eu-central-2`, `il-central-1`.
const REGION: &str = r"[a-z]{2}-(?:[a-z]+-){1,2}[0-9]{1,2}";
/// An ECR repository name (lowercase path components joined by `.`, `_`, `-`, separated by `/`).
const ECR_REPOSITORY: &str = r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*";

static ECR_IMAGE: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^(?P<account>[0-9]{{12}})\.dkr\.ecr(?:-fips)?\.(?P<region>{REGION})\.amazonaws\.com/(?P<repo>{ECR_REPOSITORY})$"
    ))
});
static ECR_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^arn:aws:ecr:(?P<region>{REGION}):(?P<account>[0-9]{{12}}):repository/(?P<repo>{ECR_REPOSITORY})$"
    ))
});
/// S3 bucket names (3 to 63; lowercase, digits, `.` and `-`; starting and ending alphanumeric).
static S3_BUCKET: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"));
/// An object key prefix: S3's safe key characters, without `*` (an IAM wildcard).
static S3_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9!_.'()-]+(?:/[A-Za-z0-9!_.'()-]+)*$"));
static KMS_KEY_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^arn:aws:kms:{REGION}:[0-9]{{12}}:key/(?:[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}|mrk-[0-9a-f]{{32}})$"
    ))
});
static EKS_CLUSTER_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^arn:aws:eks:{REGION}:[0-9]{{12}}:cluster/[A-Za-z0-9][A-Za-z0-9_-]{{0,99}}$"
    ))
});
static CODECOMMIT_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^arn:aws:codecommit:{REGION}:[0-9]{{12}}:[A-Za-z0-9._-]{{1,100}}$"
    ))
});
static CODECOMMIT_URL: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^https://git-codecommit(?:-fips)?\.(?P<region>{REGION})\.amazonaws\.com/v1/repos/(?P<repo>[A-Za-z0-9._-]{{1,100}})$"
    ))
});
static SQS_ARN: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^arn:aws:sqs:{REGION}:[0-9]{{12}}:[A-Za-z0-9_-]{{1,75}}(?:\.fifo)?$"
    ))
});
static SQS_URL: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"^https://sqs\.(?P<region>{REGION})\.amazonaws\.com/(?P<account>[0-9]{{12}})/(?P<queue>[A-Za-z0-9_-]{{1,75}}(?:\.fifo)?)$"
    ))
});

/// One IAM statement: actions on resources.
struct Statement {
    sid: &'static str,
    actions: &'static [&'static str],
    resources: Vec<String>,
    condition: Option<Value>,
}

impl Statement {
    fn json(&self) -> Value {
        let mut statement = json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions,
            "Resource": self.resources,
        });
        if let Some(condition) = &self.condition {
            statement["Condition"] = condition.clone();
        }
        statement
    }
}

/// What the resource names, once checked, and the statements it needs.
struct Grant {
    statements: Vec<Statement>,
    notes: Vec<String>,
}

/// An `aws` partition ARN in `text` other than `arn:aws:`: the reason it is refused.
fn other_partition(text: &str) -> Option<Error> {
    let other = text.starts_with("arn:aws-cn:")
        || text.starts_with("arn:aws-us-gov:")
        || text.contains(".amazonaws.com.cn");
    other.then(|| {
        Error::invalid(format!(
            "resource {} is in another AWS partition: kubecred policy writes for the aws \
             partition only",
            shown(text)
        ))
    })
}

fn invalid(purpose: Purpose, text: &str, expected: &str) -> Error {
    Error::invalid(format!(
        "invalid AWS {} resource {}: expected {expected}",
        purpose.name(),
        shown(text)
    ))
}

/// The statements `purpose` needs on `resource` (checked).
fn grant(purpose: Purpose, resource: &str, account_id: &str) -> Result<Grant> {
    if let Some(error) = other_partition(resource) {
        return Err(error);
    }
    let none = Vec::new;
    match purpose {
        Purpose::Registry if resource == "public.ecr.aws" => Ok(Grant {
            statements: vec![Statement {
                sid: "EcrPublicLogin",
                actions: &[
                    "ecr-public:GetAuthorizationToken",
                    "sts:GetServiceBearerToken",
                ],
                resources: vec!["*".into()],
                condition: None,
            }],
            notes: vec![
                "ECR Public's login has no resource-level permission: Resource is *; pulls of \
                 public images need no further grant"
                    .into(),
            ],
        }),
        Purpose::Registry => {
            let captures = ECR_IMAGE
                .captures(resource)
                .or_else(|| ECR_ARN.captures(resource))
                .ok_or_else(|| {
                    invalid(
                        purpose,
                        resource,
                        "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY (no tag, digest, \
                         scheme or port), arn:aws:ecr:REGION:ACCOUNT:repository/REPOSITORY or \
                         public.ecr.aws",
                    )
                })?;
            let repository = format!(
                "arn:aws:ecr:{}:{}:repository/{}",
                &captures["region"], &captures["account"], &captures["repo"]
            );
            let mut notes = vec![
                "ecr:GetAuthorizationToken has no resource-level permission: its Resource is *; \
                 the pull actions are scoped to the repository"
                    .into(),
            ];
            if &captures["account"] != account_id {
                notes.push(format!(
                    "the repository is in account {}: its repository policy must also allow \
                     the role (cross-account pull)",
                    &captures["account"]
                ));
            }
            Ok(Grant {
                statements: vec![
                    Statement {
                        sid: "EcrLogin",
                        actions: &["ecr:GetAuthorizationToken"],
                        resources: vec!["*".into()],
                        condition: None,
                    },
                    Statement {
                        sid: "EcrPull",
                        actions: &[
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:GetDownloadUrlForLayer",
                            "ecr:BatchGetImage",
                            "ecr:DescribeImages",
                            "ecr:ListImages",
                        ],
                        resources: vec![repository],
                        condition: None,
                    },
                ],
                notes,
            })
        }
        Purpose::Bucket => {
            let (bucket, prefix) = s3_target(resource)?;
            let bucket_arn = format!("arn:aws:s3:::{bucket}");
            let (objects, condition) = match prefix {
                Some(prefix) => (
                    format!("{bucket_arn}/{prefix}/*"),
                    Some(json!({"StringLike": {"s3:prefix": [format!("{prefix}/*"), prefix]}})),
                ),
                None => (format!("{bucket_arn}/*"), None),
            };
            Ok(Grant {
                statements: vec![
                    Statement {
                        sid: "S3List",
                        actions: &["s3:ListBucket"],
                        resources: vec![bucket_arn],
                        condition,
                    },
                    Statement {
                        sid: "S3Read",
                        actions: &["s3:GetObject"],
                        resources: vec![objects],
                        condition: None,
                    },
                ],
                notes: none(),
            })
        }
        Purpose::Kms => {
            if !KMS_KEY_ARN.is_match(resource) {
                let alias = resource.contains(":alias/") || resource.starts_with("alias/");
                let expected = match alias {
                    true => "the key's ARN, not an alias (an alias cannot scope an IAM policy)",
                    false => "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
                };
                return Err(invalid(purpose, resource, expected));
            }
            Ok(Grant {
                statements: vec![Statement {
                    sid: "KmsDecrypt",
                    actions: &["kms:Decrypt", "kms:DescribeKey"],
                    resources: vec![resource.to_owned()],
                    condition: None,
                }],
                notes: vec![
                    "the key policy must let IAM policies of the account grant access (its \
                     default does)"
                        .into(),
                ],
            })
        }
        Purpose::Cluster => {
            if !EKS_CLUSTER_ARN.is_match(resource) {
                return Err(invalid(
                    purpose,
                    resource,
                    "arn:aws:eks:REGION:ACCOUNT:cluster/NAME",
                ));
            }
            Ok(Grant {
                statements: vec![Statement {
                    sid: "EksDescribe",
                    actions: &["eks:DescribeCluster"],
                    resources: vec![resource.to_owned()],
                    condition: None,
                }],
                notes: vec![
                    "inside the cluster the role needs an access entry (aws eks \
                     create-access-entry) or an aws-auth mapping, and RBAC for what it does"
                        .into(),
                ],
            })
        }
        Purpose::Git => {
            let arn = match CODECOMMIT_URL.captures(resource) {
                Some(c) => format!(
                    "arn:aws:codecommit:{}:{account_id}:{}",
                    &c["region"], &c["repo"]
                ),
                None if CODECOMMIT_ARN.is_match(resource) => resource.to_owned(),
                None => {
                    return Err(invalid(
                        purpose,
                        resource,
                        "https://git-codecommit.REGION.amazonaws.com/v1/repos/REPOSITORY or \
                         arn:aws:codecommit:REGION:ACCOUNT:REPOSITORY",
                    ));
                }
            };
            Ok(Grant {
                statements: vec![Statement {
                    sid: "CodeCommitPull",
                    actions: &["codecommit:GitPull"],
                    resources: vec![arn],
                    condition: None,
                }],
                notes: none(),
            })
        }
        Purpose::Sqs => {
            let arn = match SQS_URL.captures(resource) {
                Some(c) => format!(
                    "arn:aws:sqs:{}:{}:{}",
                    &c["region"], &c["account"], &c["queue"]
                ),
                None if SQS_ARN.is_match(resource) => resource.to_owned(),
                None => {
                    return Err(invalid(
                        purpose,
                        resource,
                        "arn:aws:sqs:REGION:ACCOUNT:QUEUE or https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE",
                    ));
                }
            };
            Ok(Grant {
                statements: vec![Statement {
                    sid: "SqsReceive",
                    actions: &["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
                    resources: vec![arn],
                    condition: None,
                }],
                notes: none(),
            })
        }
        Purpose::Pubsub => Err(unsupported(
            "aws",
            purpose,
            "Pub/Sub is GCP's: --provider gcp; on AWS, --for sqs",
        )),
        Purpose::Eventhub => Err(unsupported(
            "aws",
            purpose,
            "Event Hubs is Azure's: --provider azure; on AWS, --for sqs",
        )),
    }
}

/// `s3://BUCKET[/PREFIX]` (the form `kubecred check` takes): the bucket and the prefix, checked.
fn s3_target(resource: &str) -> Result<(&str, Option<&str>)> {
    let expected = "s3://BUCKET or s3://BUCKET/PREFIX (a bucket name of 3 to 63 lowercase \
                    letters, digits, '.' and '-')";
    let rest = resource
        .strip_prefix("s3://")
        .ok_or_else(|| invalid(Purpose::Bucket, resource, expected))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (bucket, prefix) = match rest.split_once('/') {
        Some((bucket, prefix)) => (bucket, Some(prefix)),
        None => (rest, None),
    };
    let bucket_ok = S3_BUCKET.is_match(bucket)
        && !bucket.contains("..")
        && !bucket.contains(".-")
        && !bucket.contains("-.")
        && !bucket.starts_with("xn--")
        && !bucket.ends_with("-s3alias")
        && bucket.parse::<std::net::Ipv4Addr>().is_err();
    let prefix_ok = prefix.is_none_or(|p| {
        S3_PREFIX.is_match(p) && !p.split('/').any(|part| part == "." || part == "..")
    });
    match bucket_ok && prefix_ok {
        true => Ok((bucket, prefix)),
        false => Err(invalid(Purpose::Bucket, resource, expected)),
    }
}

/// The Pod Identity trust policy (what `aws eks create-pod-identity-association` needs).
fn pod_identity_trust() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }]
    })
}

pub(super) fn policy(request: &PolicyRequest) -> Result<Policy> {
    let CloudOptions::Aws {
        account_id,
        role_name,
        trust,
    } = &request.cloud
    else {
        return Err(Error::invalid("not an AWS policy request"));
    };
    check_aws_role(account_id, role_name)?;
    let (namespace, name) = service_account_ref(&request.service_account)?;
    let grant = grant(request.purpose, &request.resource, account_id)?;
    let role_arn = format!("arn:aws:iam::{account_id}:role/{role_name}");
    let policy_name = format!("kubecred-{}", request.purpose.name());
    let permission_policy = json!({
        "Version": "2012-10-17",
        "Statement": grant.statements.iter().map(Statement::json).collect::<Vec<_>>(),
    });

    let mut notes = grant.notes;
    let mut commands = Vec::new();
    let mut trust_documents = Vec::new();
    let mut terraform = serde_json::Map::new();
    let mut annotations = std::collections::BTreeMap::new();
    let trust_policy = match trust {
        AwsTrust::Oidc => {
            let issuer = request.issuer.as_deref().ok_or_else(|| {
                Error::invalid(
                    "OIDC trust needs the cluster's issuer (--issuer URL; `kubecred issuer show` \
                     prints it), or use --trust pod-identity on EKS",
                )
            })?;
            let target = SetupTarget::Aws {
                account_id: account_id.clone(),
                role_name: role_name.clone(),
            };
            let setup = setup(issuer, &request.service_account, &target)?;
            let provider = setup.documents.get("oidc_provider").cloned();
            let trust_policy = setup
                .documents
                .get("trust_policy")
                .cloned()
                .ok_or_else(|| Error::invalid("issuer setup wrote no trust policy"))?;
            if let Some(provider) = provider {
                trust_documents.push(document(
                    "aws_iam_openid_connect_provider",
                    json!({
                        "url": provider["Url"],
                        "clientIdList": provider["ClientIDList"],
                        "arn": provider["Arn"],
                    }),
                ));
                terraform.insert(
                    "aws_iam_openid_connect_provider".into(),
                    json!({"cluster": {
                        "url": provider["Url"],
                        "client_id_list": provider["ClientIDList"],
                    }}),
                );
            }
            // issuer setup's commands: the OIDC provider, then the role with its trust policy.
            commands.extend(setup.commands);
            notes.extend(setup.notes);
            annotations.extend(
                setup
                    .service_account_annotations
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v)),
            );
            trust_policy
        }
        AwsTrust::PodIdentity => {
            let trust_policy = pod_identity_trust();
            let text = trust_policy.to_string();
            commands.push(command(&[
                "aws",
                "iam",
                "create-role",
                "--role-name",
                role_name,
                "--assume-role-policy-document",
                &text,
            ])?);
            commands.push(command(&[
                "aws",
                "eks",
                "create-pod-identity-association",
                "--cluster-name",
                "CLUSTER",
                "--namespace",
                namespace,
                "--service-account",
                name,
                "--role-arn",
                &role_arn,
            ])?);
            notes.push(
                "EKS Pod Identity: replace CLUSTER with the cluster's name; the EKS Pod Identity \
                 Agent add-on must run on the cluster; no ServiceAccount annotation is needed"
                    .into(),
            );
            trust_documents.push(document(
                "aws_eks_pod_identity_association",
                json!({"namespace": namespace, "serviceAccount": name, "roleArn": role_arn}),
            ));
            trust_policy
        }
    };
    // In creation order: the OIDC provider the role's trust names, then the role; or the role,
    // then the Pod Identity association that names it.
    let at = match trust {
        AwsTrust::Oidc => trust_documents.len(),
        AwsTrust::PodIdentity => 0,
    };
    trust_documents.insert(
        at,
        document(
            "aws_iam_role",
            json!({
                "roleName": role_name,
                "roleArn": role_arn,
                "assumeRolePolicyDocument": trust_policy,
            }),
        ),
    );
    let policy_text = permission_policy.to_string();
    commands.push(command(&[
        "aws",
        "iam",
        "put-role-policy",
        "--role-name",
        role_name,
        "--policy-name",
        &policy_name,
        "--policy-document",
        &policy_text,
    ])?);
    terraform.insert(
        "aws_iam_role".into(),
        json!({"kubecred": {
            "name": role_name,
            "assume_role_policy": trust_policy.to_string(),
        }}),
    );
    terraform.insert(
        "aws_iam_role_policy".into(),
        json!({"kubecred": {
            "name": policy_name,
            "role": "${aws_iam_role.kubecred.id}",
            "policy": policy_text,
        }}),
    );
    if *trust == AwsTrust::Oidc && !annotations.contains_key(AWS_ROLE_ARN_ANNOTATION) {
        annotations.insert(AWS_ROLE_ARN_ANNOTATION.to_owned(), role_arn.clone());
    }
    Ok(Policy {
        provider: "aws",
        purpose: request.purpose,
        resource: request.resource.clone(),
        service_account: request.service_account.clone(),
        identity: json!({"roleArn": role_arn}),
        trust: trust_documents,
        permissions: vec![document(
            "aws_iam_role_policy",
            json!({
                "roleName": role_name,
                "policyName": policy_name,
                "policyDocument": permission_policy,
            }),
        )],
        annotations,
        commands,
        terraform: json!({"resource": terraform}),
        notes,
    })
}

#[cfg(test)]
#[path = "aws_tests.rs"]
mod tests;
