//! What `kubecred sandbox` lets each annotated ServiceAccount's role do with the service APIs
//! stand-in: for every `kubecred check` target listed in [`AWS_GRANTS_ANNOTATION`], the role's
//! permission policy allows the calls of that check and of the integration reading the
//! resource (the statements `kubecred policy` writes for it), and the stand-in holds the
//! resource. Roles without grants may do nothing there.

use serde_json::{Value, json};

use super::config::{AwsResources, Bucket, ROLE_ARN_ANNOTATION, parse_role_arn};

/// The sandbox annotation of a ServiceAccount (with `eks.amazonaws.com/role-arn`) listing what
/// its role may use, space-separated: `s3://BUCKET`, `kms://KEY-ARN`, `sqs://QUEUE-ARN`,
/// `ecr://ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY`, an EKS cluster ARN
/// (`eks:DescribeCluster`; the stand-in must hold the cluster).
pub const AWS_GRANTS_ANNOTATION: &str = "sandbox.kubecred.io/aws-grants";

/// The object every granted bucket holds, so that a check reads one.
pub const SANDBOX_OBJECT: &str = "kubecred-sandbox.txt";

/// The permission policies (by role name) and the resources of every ServiceAccount annotated
/// with a role and [`AWS_GRANTS_ANNOTATION`]. Targets of other forms are skipped.
pub fn grants_for_annotated_service_accounts(
    manifests: &crate::Manifests,
) -> (Vec<(String, Value)>, AwsResources) {
    let mut policies = Vec::new();
    let mut resources = AwsResources::default();
    for (_, _, annotations) in manifests.service_accounts() {
        let (Some(role), Some(targets)) = (
            annotations
                .get(ROLE_ARN_ANNOTATION)
                .and_then(|arn| parse_role_arn(arn)),
            annotations.get(AWS_GRANTS_ANNOTATION),
        ) else {
            continue;
        };
        let statements: Vec<Value> = targets
            .split_whitespace()
            .flat_map(|target| grant(target, &mut resources))
            .collect();
        policies.push((
            role.name,
            json!({"Version": "2012-10-17", "Statement": statements}),
        ));
    }
    (policies, resources)
}

/// The statements granting `target`, which `resources` then holds.
fn grant(target: &str, resources: &mut AwsResources) -> Vec<Value> {
    let allow = |actions: &[&str], resource: &str| json!({"Effect": "Allow", "Action": actions, "Resource": resource});
    if let Some(bucket) = target.strip_prefix("s3://") {
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Vec::new();
        }
        if resources.bucket(bucket).is_none() {
            resources.buckets.push(Bucket {
                name: bucket.to_owned(),
                objects: vec![(SANDBOX_OBJECT.into(), b"kubecred sandbox\n".to_vec())],
            });
        }
        return vec![
            allow(&["s3:ListBucket"], &format!("arn:aws:s3:::{bucket}")),
            allow(&["s3:GetObject"], &format!("arn:aws:s3:::{bucket}/*")),
        ];
    }
    if let Some(key) = target.strip_prefix("kms://") {
        push_new(&mut resources.kms_keys, key);
        return vec![allow(&["kms:DescribeKey", "kms:Decrypt"], key)];
    }
    if let Some(queue) = target.strip_prefix("sqs://") {
        push_new(&mut resources.sqs_queues, queue);
        return vec![allow(
            &["sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
            queue,
        )];
    }
    if target.starts_with("arn:aws:eks:") && target.contains(":cluster/") {
        return vec![allow(&["eks:DescribeCluster"], target)];
    }
    if let Some(image) = target.strip_prefix("ecr://") {
        let Some((host, repository)) = image.split_once('/') else {
            return Vec::new();
        };
        let labels: Vec<&str> = host.split('.').collect();
        let [account, "dkr", "ecr", region, "amazonaws", "com"] = labels.as_slice() else {
            return Vec::new();
        };
        let arn = format!("arn:aws:ecr:{region}:{account}:repository/{repository}");
        push_new(&mut resources.ecr_repositories, &arn);
        return vec![
            allow(&["ecr:GetAuthorizationToken"], "*"),
            allow(
                &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "ecr:DescribeImages",
                    "ecr:ListImages",
                ],
                &arn,
            ),
        ];
    }
    Vec::new()
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|i| i == item) {
        list.push(item.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::permissions::{Decision, Need, evaluate, validate};

    #[test]
    fn each_granted_target_is_allowed_to_its_role_only() -> Result<(), crate::ManifestError> {
        let manifests = crate::Manifests::parse(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ns, annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/a', sandbox.kubecred.io/aws-grants: 's3://flux kms://arn:aws:kms:us-east-1:123456789012:key/k sqs://arn:aws:sqs:us-east-1:123456789012:q ecr://123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app arn:aws:eks:us-east-1:123456789012:cluster/c ftp://x s3://a/b'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: ns, annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/b', sandbox.kubecred.io/aws-grants: 's3://other'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: c, namespace: ns, annotations: {sandbox.kubecred.io/aws-grants: 's3://no-role'}}\n",
        )?;
        let (policies, resources) = grants_for_annotated_service_accounts(&manifests);
        let names: Vec<&str> = policies.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let buckets: Vec<&str> = resources.buckets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(buckets, ["flux", "other"]);
        assert_eq!(resources.kms_keys.len(), 1);
        assert_eq!(resources.sqs_queues.len(), 1);
        assert_eq!(
            resources.ecr_repositories,
            ["arn:aws:ecr:us-east-1:123456789012:repository/team/app"]
        );
        let a = std::slice::from_ref(&policies[0].1);
        validate(&a[0]).expect("a loadable policy");
        for (action, resource, expected) in [
            ("s3:ListBucket", "arn:aws:s3:::flux", Decision::Allowed),
            (
                "s3:GetObject",
                "arn:aws:s3:::flux/kubecred-sandbox.txt",
                Decision::Allowed,
            ),
            (
                "s3:ListBucket",
                "arn:aws:s3:::other",
                Decision::ImplicitDeny,
            ),
            (
                "kms:Decrypt",
                "arn:aws:kms:us-east-1:123456789012:key/k",
                Decision::Allowed,
            ),
            ("ecr:GetAuthorizationToken", "*", Decision::Allowed),
            (
                "eks:DescribeCluster",
                "arn:aws:eks:us-east-1:123456789012:cluster/c",
                Decision::Allowed,
            ),
            (
                "sqs:ReceiveMessage",
                "arn:aws:sqs:us-east-1:123456789012:q",
                Decision::Allowed,
            ),
        ] {
            let need = Need {
                action,
                resource,
                context: &[],
            };
            assert_eq!(evaluate(a, need), expected, "{action} {resource}");
        }
        Ok(())
    }
}
