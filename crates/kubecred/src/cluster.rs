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
    let work = async {
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
    };
    engine.within(STEP, work).await
}

/// The overall deadline's name for cluster credentials.
const STEP: &str = "get cluster credentials";

/// Only the bearer token for a remote cluster (what an exec credential plugin prints): for EKS
/// the presigned token needs the cluster's name and region, never its endpoint or CA.
pub async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    match request.provider {
        Provider::Aws => engine
            .within(STEP, eks_token(engine, cluster, request))
            .await
            .map_err(|e| e.for_provider(Provider::Aws)),
        _ => credentials(engine, cluster, request)
            .await
            .map(|c| (c.token, c.expires_at)),
    }
}

async fn eks_token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    let (arn, sts_endpoint, keys) = eks_identity(engine, cluster, request).await?;
    let now = engine.now();
    let sts_url = crate::aws::eks::sts_url(&arn.region, sts_endpoint.as_deref(), engine.aws_env())?;
    let token = crate::aws::eks::presigned_token(&arn.name, &arn.region, &keys, &sts_url, now)?;
    Ok((token, now + crate::aws::eks::TOKEN_LIFETIME))
}

/// The cluster's ARN, the validated STS endpoint, and the identity's keys in the cluster's region.
async fn eks_identity(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(parse::EksClusterArn, Option<String>, crate::CloudKeys)> {
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

async fn eks(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let (arn, sts_endpoint, keys) = eks_identity(engine, cluster, request).await?;
    let access = crate::aws::eks::cluster_access(
        &arn,
        crate::aws::eks::Known {
            address: cluster.address.as_deref(),
            ca_data: cluster.ca_data.as_deref(),
        },
        &keys,
        engine.aws_env(),
        sts_endpoint.as_deref(),
        engine.aws_transport(request),
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

/// A remote cluster described by a kubeconfig ConfigMap (`.spec.kubeConfig.configMapRef`):
/// keys `provider` (required), `cluster`, `address`, `ca.crt`, `audiences` (newline-separated)
/// and `serviceAccountName`. Presence, not emptiness, decides, as in the reference.
#[derive(Clone, Debug)]
pub struct ConfigMapCluster {
    /// The provider.
    pub provider: Provider,
    /// The cluster and what is known of it.
    pub cluster: ClusterRef,
    /// Token audiences, when the ConfigMap names them.
    pub audiences: Option<Vec<String>>,
    /// The ServiceAccount to impersonate, when the ConfigMap names one.
    pub service_account_name: Option<String>,
}

/// Reads a kubeconfig ConfigMap's data.
pub fn from_config_map(
    data: &std::collections::BTreeMap<String, String>,
) -> Result<ConfigMapCluster> {
    let provider = data
        .get("provider")
        .ok_or_else(|| {
            Error::invalid("the ConfigMap has no 'provider' key (aws, azure, gcp or generic)")
        })?
        .parse::<Provider>()?;
    let audiences = data.get("audiences").map(|list| {
        list.lines()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect()
    });
    Ok(ConfigMapCluster {
        provider,
        cluster: ClusterRef {
            cluster: data.get("cluster").cloned(),
            address: data.get("address").cloned(),
            ca_data: data.get("ca.crt").map(|ca| ca.clone().into_bytes()),
        },
        audiences,
        service_account_name: data.get("serviceAccountName").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn config_maps_name_provider_cluster_and_identity() -> Result<()> {
        let data: BTreeMap<String, String> = [
            ("provider", "generic"),
            ("address", "https://remote.example"),
            ("ca.crt", "PEM"),
            ("audiences", "a\n  b \n\n"),
            ("serviceAccountName", "app"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let parsed = from_config_map(&data)?;
        assert_eq!(parsed.provider, Provider::Generic);
        assert_eq!(
            parsed.cluster.address.as_deref(),
            Some("https://remote.example")
        );
        assert_eq!(parsed.cluster.ca_data.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(parsed.audiences, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(parsed.service_account_name.as_deref(), Some("app"));
        Ok(())
    }

    #[test]
    fn a_missing_or_unknown_provider_is_named() {
        let empty = BTreeMap::new();
        assert!(
            from_config_map(&empty)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("no 'provider' key")
        );
        let unknown: BTreeMap<String, String> =
            [("provider".to_owned(), "oracle".to_owned())].into();
        assert!(
            from_config_map(&unknown)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("unknown provider 'oracle'")
        );
    }
}
