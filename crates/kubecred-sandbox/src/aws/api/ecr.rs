//! ECR (JSON 1.1): `GetAuthorizationToken` and the pull actions on a repository.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Call, permit, text};
use crate::aws::error::AwsError;
use crate::aws::ids;
use crate::aws::permissions::Need;
use crate::aws::state::{AwsState, lock};
use crate::clock::unix_now;

/// How long an ECR registry password lasts.
const PASSWORD_SECONDS: i64 = 12 * 3600;
/// The ECR API's target prefix.
pub(super) const ECR: &str = "AmazonEC2ContainerRegistry_V20150921.";

pub(super) fn ecr(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let action = format!("ecr:{operation}");
    if operation == "GetAuthorizationToken" {
        let need = Need {
            action: &action,
            resource: "*",
            context: &[],
        };
        permit(state, call, need, "AccessDeniedException")?;
        let password = ids::password();
        let expires_at = unix_now() + PASSWORD_SECONDS;
        lock(&state.ecr_passwords).insert(password.clone(), expires_at);
        let endpoint = format!(
            "https://{}.dkr.ecr.{}.amazonaws.com",
            call.account, call.region
        );
        return Ok((
            action,
            json!({"authorizationData": [{
                "authorizationToken": STANDARD.encode(format!("AWS:{password}")),
                "expiresAt": expires_at,
                "proxyEndpoint": endpoint,
            }]}),
        ));
    }
    const PULL: [&str; 5] = [
        "BatchCheckLayerAvailability",
        "GetDownloadUrlForLayer",
        "BatchGetImage",
        "DescribeImages",
        "ListImages",
    ];
    if !PULL.contains(&operation) {
        return Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("Unknown operation {ECR}{operation}"),
        ));
    }
    let name = text(input, "repositoryName")?;
    let account = input["registryId"].as_str().unwrap_or(&call.account);
    let arn = format!("arn:aws:ecr:{}:{account}:repository/{name}", call.region);
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    if !state.config.resources.ecr_repositories.contains(&arn) {
        return Err(AwsError::new(
            "RepositoryNotFoundException",
            400,
            format!(
                "The repository with name '{name}' does not exist in the registry with id '{account}'"
            ),
        ));
    }
    Ok((action, json!({})))
}
