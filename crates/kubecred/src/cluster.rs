//! Remote cluster access: the API server address, its CA and a bearer token, from the cloud's
//! cluster resource (EKS cluster ARN) and the resolved identity's credential.

use std::time::SystemTime;

use crate::cloud::{self, Operation};
use crate::error::{Error, Result};
use crate::{Engine, Provider, Request, Secret};

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

/// Credentials for a remote cluster: server, CA and token, by the request's provider.
pub async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    serves(request)?;
    cloud::cluster_credentials(engine, cluster, request)
        .await
        .map_err(|e| e.for_provider(request.provider))
}

/// Only the bearer token for a remote cluster (kubectl's exec plugin): where the cloud can
/// mint it without looking the cluster up (EKS), nothing else is asked.
pub async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    serves(request)?;
    cloud::cluster_token(engine, cluster, request)
        .await
        .map_err(|e| e.for_provider(request.provider))
}

fn serves(request: &Request) -> Result<()> {
    match cloud::capabilities(request.provider) {
        None => Err(cloud::absent(request.provider)),
        Some(caps) if caps.supports(Operation::ClusterCredentials) => Ok(()),
        Some(_) => Err(cloud::unsupported(
            request.provider,
            Operation::ClusterCredentials,
        )),
    }
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
