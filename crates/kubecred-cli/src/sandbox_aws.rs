//! The AWS side of `kubecred sandbox`: stand-ins for account [`AWS_ACCOUNT`] whose STS trusts
//! the sandbox's issuer (an IAM OIDC provider for it) for each ServiceAccount annotated with
//! `eks.amazonaws.com/role-arn`, as an IRSA trust policy written for it would; the node role
//! served by the instance metadata service.
//!
//! Only this crate's dependencies are used here (no `crate::` paths): the CLI's tests include
//! this file to build the very configuration `kubecred sandbox` serves.

use anyhow::Context;
use kubecred_sandbox::aws::{
    AwsConfig, AwsRole, AwsStandIns, roles_for_annotated_service_accounts,
};
use kubecred_sandbox::{Manifests, Sandbox};

/// The AWS account of the sandbox.
pub const AWS_ACCOUNT: &str = "123456789012";
/// The role the sandbox's instance metadata service serves (node level).
pub const AWS_NODE_ROLE: &str = "arn:aws:iam::123456789012:role/kubecred-sandbox-node";

/// AWS stand-ins whose STS trusts each ServiceAccount annotated with
/// `eks.amazonaws.com/role-arn`, as an IRSA trust policy written for it would.
pub async fn start_aws(sandbox: &Sandbox, manifests: &Manifests) -> anyhow::Result<AwsStandIns> {
    let roles = roles_for_annotated_service_accounts(manifests, &sandbox.issuer());
    let node = AwsRole {
        arn: AWS_NODE_ROLE.into(),
        trust: Vec::new(),
    };
    let config = AwsConfig {
        account_id: AWS_ACCOUNT.into(),
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
    AwsStandIns::start(config)
        .await
        .context("starting the AWS stand-ins")
}
