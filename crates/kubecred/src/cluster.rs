//! Remote cluster access: the API server address, its CA and a bearer token, from the cloud's
//! cluster resource (EKS cluster ARN) and the resolved identity's credential.

use std::time::SystemTime;

use crate::aws::parse;
use crate::error::{Error, Result};
use crate::{Credential, Engine, Provider, Request, Secret};

/// What a client needs to reach a remote cluster.
#[derive(Clone, Debug)]
pub struct ClusterCredentials {
    /// The API server URL.
    pub server: String,
    /// The API server's CA bundle (PEM), when known.
    pub ca_data: Option<Vec<u8>>,
    /// The bearer token.
    pub token: Secret,
    /// When the token expires.
    pub expires_at: SystemTime,
}

/// Which cluster, and what the caller already knows of it.
#[derive(Clone, Debug, Default)]
pub struct ClusterRef {
    /// The cloud's cluster resource (EKS: the cluster ARN).
    pub cluster: Option<String>,
    /// The API server address; the cloud is not asked when both this and `ca_data` are given.
    pub address: Option<String>,
    /// The API server's CA bundle (PEM).
    pub ca_data: Option<Vec<u8>>,
}

/// Credentials for a remote cluster with the identity `request` names.
pub async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    match request.provider {
        Provider::Aws => eks(engine, cluster, request)
            .await
            .map_err(|e| e.for_provider(Provider::Aws)),
        Provider::Generic => generic(engine, cluster, request).await,
        other => Err(Error::invalid(format!(
            "cluster credentials for provider '{other}' are not implemented yet"
        ))
        .for_provider(other)),
    }
}

async fn eks(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
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
    let Credential::CloudKeys(keys) = engine.token(&request).await? else {
        return Err(Error::upstream(
            "the AWS identity did not yield access keys",
        ));
    };
    let access = crate::aws::eks::cluster_access(
        &arn,
        cluster.address.as_deref(),
        cluster.ca_data.as_deref(),
        &keys,
        engine.aws_env(),
        sts_endpoint.as_deref(),
        engine.now(),
    )
    .await?;
    Ok(ClusterCredentials {
        server: access.server,
        ca_data: access.ca_data,
        token: access.token,
        expires_at: access.expires_at,
    })
}

async fn generic(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let address = cluster.address.clone().ok_or_else(|| {
        Error::invalid("cluster address is required for the generic provider")
            .for_provider(Provider::Generic)
    })?;
    let request = Request {
        cluster_address: Some(address.clone()),
        ..request.clone()
    };
    let credential = engine.token(&request).await?;
    let Credential::KubernetesToken(token) = credential else {
        return Err(Error::upstream(
            "the generic provider did not yield a Kubernetes token",
        ));
    };
    Ok(ClusterCredentials {
        server: address,
        ca_data: cluster.ca_data.clone(),
        token: token.token,
        expires_at: token.expires_at,
    })
}
