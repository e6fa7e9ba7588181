//! EKS clusters through the cloud seam: the cluster ARN names the region and the cluster, the
//! resolved identity's keys presign the `k8s-aws-v1.` token, and `DescribeCluster` gives the
//! endpoint and CA when the caller does not already know them.

use std::time::SystemTime;

use super::http::Transport;
use super::{eks, parse};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::AwsKeys;
use crate::error::Result;
use crate::{Engine, Request, Secret};

/// The EKS token alone (kubectl's exec plugin): needs the cluster's name and region, never its
/// endpoint or CA.
pub(crate) async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    let (arn, sts_endpoint, keys) = identity(engine, cluster, request).await?;
    let now = engine.env().now();
    let sts_url = eks::sts_url(&arn.region, sts_endpoint.as_deref(), engine.env())?;
    let token = eks::presigned_token(&arn.name, &arn.region, &keys, &sts_url, now)?;
    Ok((token, now + eks::TOKEN_LIFETIME))
}

/// The cluster's endpoint, CA and token.
pub(crate) async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let (arn, sts_endpoint, keys) = identity(engine, cluster, request).await?;
    let known = eks::Known {
        address: cluster.address.as_deref(),
        ca_data: cluster.ca_data.as_deref(),
    };
    let access = eks::cluster_access(
        &arn,
        known,
        &keys,
        engine.env(),
        sts_endpoint.as_deref(),
        Transport::of(engine, request),
        engine.env().now(),
    )
    .await?;
    Ok(ClusterCredentials {
        server: access.server,
        ca_data: access.ca_data,
        token: access.token,
        expires_at: access.expires_at,
    })
}

/// The cluster ARN, the checked STS endpoint override and the keys (in the cluster's region).
async fn identity(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(parse::EksClusterArn, Option<String>, AwsKeys)> {
    let arn = parse::eks_cluster_arn(cluster.cluster.as_deref().unwrap_or_default())?;
    let sts_endpoint = request
        .sts_endpoint
        .as_deref()
        .map(parse::sts_endpoint)
        .transpose()?;
    let request = Request {
        region: Some(arn.region.clone()),
        ..request.clone()
    };
    let keys = engine.aws_keys(&request).await?;
    Ok((arn, sts_endpoint, keys))
}
