//! EKS (REST-JSON): `DescribeCluster`.

use axum::http::{Method, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{Call, permit};
use crate::aws::error::AwsError;
use crate::aws::permissions::Need;
use crate::aws::state::AwsState;

pub(super) fn eks(
    state: &AwsState,
    call: &Call,
    method: &Method,
    uri: &Uri,
) -> Result<Value, AwsError> {
    let name = match (method.as_str(), uri.path().strip_prefix("/clusters/")) {
        ("GET", Some(name)) if !name.is_empty() && !name.contains('/') => name,
        _ => {
            return Err(AwsError::new(
                "InvalidRequestException",
                400,
                "the EKS stand-in serves DescribeCluster only",
            ));
        }
    };
    let arn = format!(
        "arn:aws:eks:{}:{}:cluster/{name}",
        call.region, call.account
    );
    let need = Need {
        action: "eks:DescribeCluster",
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    let cluster = state
        .config
        .resources
        .eks_clusters
        .iter()
        .find(|c| c.arn == arn)
        .ok_or_else(|| {
            AwsError::new(
                "ResourceNotFoundException",
                404,
                format!("No cluster found for name: {name}."),
            )
        })?;
    state.count("eks:DescribeCluster");
    Ok(json!({"cluster": {
        "name": name,
        "arn": arn,
        "endpoint": cluster.endpoint,
        "status": "ACTIVE",
        "certificateAuthority": {"data": STANDARD.encode(&cluster.ca_pem)},
    }}))
}
