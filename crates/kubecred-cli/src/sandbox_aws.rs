//! The AWS side of `kubecred sandbox`: stand-ins for account [`AWS_ACCOUNT`] whose STS trusts
//! the sandbox's issuer (an IAM OIDC provider for it) for each ServiceAccount annotated with
//! `eks.amazonaws.com/role-arn`, as an IRSA trust policy written for it would; the node role
//! served by the instance metadata service; the service APIs (S3, KMS, ECR, EKS, SQS), where a
//! role may use what its ServiceAccount's `sandbox.kubecred.io/aws-grants` lists, and the
//! sandbox itself is EKS cluster [`AWS_EKS_CLUSTER`].
//!
//! Only this crate's dependencies are used here (no `crate::` paths): the CLI's tests include
//! this file to build the very configuration `kubecred sandbox` serves.

use anyhow::Context;
use kubecred_sandbox::aws::{
    AwsConfig, AwsRole, AwsStandIns, EksCluster, grants_for_annotated_service_accounts,
    roles_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox};

/// The AWS account of the sandbox.
pub const AWS_ACCOUNT: &str = "123456789012";
/// The role the sandbox's instance metadata service serves (node level).
pub const AWS_NODE_ROLE: &str = "arn:aws:iam::123456789012:role/kubecred-sandbox-node";
/// The EKS cluster the sandbox plays: `DescribeCluster` reports the sandbox's API server, which
/// takes the cluster's `k8s-aws-v1.` tokens.
pub const AWS_EKS_CLUSTER: &str = "arn:aws:eks:us-east-1:123456789012:cluster/kubecred-sandbox";

/// AWS stand-ins whose STS trusts each ServiceAccount annotated with
/// `eks.amazonaws.com/role-arn`, as an IRSA trust policy written for it would.
pub async fn start_aws(sandbox: &Sandbox, manifests: &Manifests) -> anyhow::Result<AwsStandIns> {
    let roles = roles_for_annotated_service_accounts(manifests, &sandbox.issuer());
    let node = AwsRole {
        arn: AWS_NODE_ROLE.into(),
        trust: Vec::new(),
    };
    let (permissions, mut resources) = grants_for_annotated_service_accounts(manifests);
    resources.eks_clusters.push(EksCluster {
        arn: AWS_EKS_CLUSTER.into(),
        endpoint: sandbox.url(),
        ca_pem: sandbox.ca_pem().to_owned(),
    });
    let config = AwsConfig {
        account_id: AWS_ACCOUNT.into(),
        permissions: Some(permissions),
        resources,
        oidc_providers: vec![
            sandbox
                .verifier()
                .await
                .context("discovering the sandbox issuer")?,
        ],
        roles: roles.into_iter().chain([node]).collect(),
        node_role: Some(AWS_NODE_ROLE.into()),
        ..AwsConfig::default()
    };
    let aws = AwsStandIns::start(config)
        .await
        .context("starting the AWS stand-ins")?;
    let cluster_name = AWS_EKS_CLUSTER.rsplit('/').next().unwrap_or_default();
    sandbox.accept_bearer_tokens(aws.eks_authenticator(cluster_name));
    Ok(aws)
}
