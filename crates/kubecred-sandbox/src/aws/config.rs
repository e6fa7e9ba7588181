//! What the AWS stand-ins trust and serve: the account, its IAM OIDC
//! providers, roles with their trust policies, users with long-lived keys,
//! and the node and pod identities.

use crate::verify::JwtVerifier;

/// The account the stand-ins play.
#[derive(Debug, Default)]
pub struct AwsConfig {
    /// The account id, e.g. `123456789012`.
    pub account_id: String,
    /// Trusted issuers (IAM OIDC identity providers), named by
    /// [`JwtVerifier::issuer`].
    pub oidc_providers: Vec<JwtVerifier>,
    /// The roles that may be assumed.
    pub roles: Vec<AwsRole>,
    /// IAM users with long-lived access keys.
    pub users: Vec<AwsUser>,
    /// Role ARN of the instance profile IMDS serves (node level).
    pub node_role: Option<String>,
    /// The EKS Pod Identity agent's association.
    pub pod_identity: Option<PodIdentity>,
    /// Permission policies by role name (the `aws_iam_role_policy` documents of `kubecred
    /// policy`, see [`crate::aws::load_policy`]), checked by the service APIs stand-in and
    /// CodeCommit; `None` checks no permissions (any verified caller is allowed).
    pub permissions: Option<Vec<(String, serde_json::Value)>>,
    /// What the service APIs stand-in holds.
    pub resources: AwsResources,
}

/// The resources the service APIs stand-in serves (by ARN, as IAM names them).
#[derive(Clone, Debug, Default)]
pub struct AwsResources {
    /// S3 buckets and their objects.
    pub buckets: Vec<Bucket>,
    /// KMS key ARNs.
    pub kms_keys: Vec<String>,
    /// ECR repository ARNs (`arn:aws:ecr:REGION:ACCOUNT:repository/NAME`).
    pub ecr_repositories: Vec<String>,
    /// EKS clusters.
    pub eks_clusters: Vec<EksCluster>,
    /// SQS queue ARNs.
    pub sqs_queues: Vec<String>,
}

impl AwsResources {
    /// The bucket named `name`.
    pub(crate) fn bucket(&self, name: &str) -> Option<&Bucket> {
        self.buckets.iter().find(|b| b.name == name)
    }
}

/// An S3 bucket.
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    /// The bucket name.
    pub name: String,
    /// `(key, body)` of each object.
    pub objects: Vec<(String, Vec<u8>)>,
}

/// An EKS cluster as `DescribeCluster` reports it.
#[derive(Clone, Debug)]
pub struct EksCluster {
    /// `arn:aws:eks:REGION:ACCOUNT:cluster/NAME`.
    pub arn: String,
    /// The API server URL.
    pub endpoint: String,
    /// The cluster CA (PEM).
    pub ca_pem: String,
}

/// An IAM role and its trust policy.
#[derive(Clone, Debug)]
pub struct AwsRole {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub arn: String,
    /// Who may assume it; any matching entry allows.
    pub trust: Vec<Trust>,
}

/// One statement of a role's trust policy.
#[derive(Clone, Debug)]
pub enum Trust {
    /// `sts:AssumeRoleWithWebIdentity` for tokens of this issuer (URL as in
    /// the JWT `iss`) whose `aud` contains `audience` and whose `sub` equals
    /// `subject` (`None` = any subject).
    WebIdentity {
        /// The token issuer URL.
        issuer: String,
        /// The required audience.
        audience: String,
        /// The required subject, if any.
        subject: Option<String>,
    },
    /// `sts:AssumeRole` by this principal ARN (an IAM user ARN, or a role ARN
    /// for sessions of that role), requiring this external ID if `Some`.
    Principal {
        /// The caller's user or role ARN.
        arn: String,
        /// The required `ExternalId`, if any.
        external_id: Option<String>,
    },
}

/// An IAM user with a long-lived access key.
#[derive(Clone)]
pub struct AwsUser {
    /// `arn:aws:iam::<account>:user/<name>`.
    pub arn: String,
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for AwsUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsUser")
            .field("arn", &self.arn)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// An EKS Pod Identity association as the agent sees it.
#[derive(Clone)]
pub struct PodIdentity {
    /// The token the pod presents in `Authorization`.
    pub token: String,
    /// The role whose credentials the agent hands out.
    pub role_arn: String,
}

impl std::fmt::Debug for PodIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodIdentity")
            .field("token", &"<redacted>")
            .field("role_arn", &self.role_arn)
            .finish()
    }
}

/// The parts of a role ARN the stand-ins need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RoleName {
    /// The account field of the ARN.
    pub(crate) account: String,
    /// The role name (last path segment).
    pub(crate) name: String,
}

/// Splits `arn:<partition>:iam::<account>:role/<path/>name`.
pub(crate) fn parse_role_arn(arn: &str) -> Option<RoleName> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some(RoleName {
        account: account.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_account_and_name() {
        let parsed = parse_role_arn("arn:aws:iam::123456789012:role/team/app");
        assert_eq!(
            parsed,
            Some(RoleName {
                account: "123456789012".into(),
                name: "app".into()
            })
        );
        for bad in [
            "",
            "arn:aws:iam::1:user/x",
            "arn:aws:sts::1:role/x",
            "arn:aws:iam::1:role/",
        ] {
            assert_eq!(parse_role_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let user = AwsUser {
            arn: "arn:aws:iam::1:user/u".into(),
            access_key_id: "AKIA1".into(),
            secret_access_key: "very-secret".into(),
        };
        let pod = PodIdentity {
            token: "pod-token".into(),
            role_arn: "r".into(),
        };
        let shown = format!("{user:?} {pod:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("pod-token"));
    }
}

/// The annotation naming the IAM role a ServiceAccount's tokens are exchanged for.
pub const ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Roles that trust the ServiceAccounts annotated with them, as an IAM OIDC trust policy
/// written for each (`<issuer>:aud = sts.amazonaws.com`, `<issuer>:sub =
/// system:serviceaccount:<ns>:<name>`) would: what `kubecred sandbox` serves by default.
pub fn roles_for_annotated_service_accounts(
    manifests: &crate::Manifests,
    issuer: &str,
) -> Vec<AwsRole> {
    let mut roles: Vec<AwsRole> = Vec::new();
    for (namespace, name, annotations) in manifests.service_accounts() {
        let Some(arn) = annotations.get(ROLE_ARN_ANNOTATION) else {
            continue;
        };
        let trust = Trust::WebIdentity {
            issuer: issuer.to_owned(),
            audience: "sts.amazonaws.com".into(),
            subject: Some(format!("system:serviceaccount:{namespace}:{name}")),
        };
        match roles.iter_mut().find(|role| &role.arn == arn) {
            Some(role) => role.trust.push(trust),
            None => roles.push(AwsRole {
                arn: arn.clone(),
                trust: vec![trust],
            }),
        }
    }
    roles
}

#[cfg(test)]
mod derived_roles_tests {
    use super::*;

    #[test]
    fn annotated_service_accounts_become_trusted_subjects() -> Result<(), crate::ManifestError> {
        let manifests = crate::Manifests::parse(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a, namespace: ns-x, annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::1:role/r'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: ns-y, annotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::1:role/r'}}\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: c, namespace: ns-y}\n",
        )?;
        let roles = roles_for_annotated_service_accounts(&manifests, "https://issuer");
        assert_eq!(roles.len(), 1);
        let subjects: Vec<_> = roles[0]
            .trust
            .iter()
            .filter_map(|t| match t {
                Trust::WebIdentity { subject, .. } => subject.clone(),
                Trust::Principal { .. } => None,
            })
            .collect();
        assert_eq!(
            subjects,
            vec![
                "system:serviceaccount:ns-x:a".to_string(),
                "system:serviceaccount:ns-y:b".to_string()
            ]
        );
        Ok(())
    }
}
