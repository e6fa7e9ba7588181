//! Remote cluster access: the API server address, its CA and a bearer token, from the cloud's
//! cluster resource (EKS cluster ARN) and the resolved identity's credential.

use std::time::SystemTime;

use url::Url;

use crate::aws::parse;
use crate::error::{Error, Result};
use crate::identity::Resolved;
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
    /// The API server address; the cloud is not asked when both this and `ca_data` are given
    /// (and the address is the caller's, see [`AddressOrigin`]).
    pub address: Option<String>,
    /// The API server's CA bundle (PEM).
    pub ca_data: Option<Vec<u8>>,
    /// Who chose `address`.
    pub address_origin: AddressOrigin,
}

/// Who chose a cluster's address, and so whether a token minted with the caller's own identity
/// (controller or node level) may be sent there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddressOrigin {
    /// The caller (its flags or configuration): used as given.
    #[default]
    Caller,
    /// A tenant's object (a kubeconfig ConfigMap read from a namespace). With the caller's own
    /// identity, a cloud provider's cluster is accepted only when the address is the one the
    /// cloud reports for it (EKS: `DescribeCluster`), the generic provider's never; a
    /// ServiceAccount or Secret of the tenant's namespace is the tenant's own identity and
    /// needs no check. [`ConfigMapCluster::trust_address`] vouches for the address instead.
    Tenant,
}

/// Credentials for a remote cluster with the identity `request` names.
pub async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let unvetted = unvetted_address(engine, cluster, request);
    match request.provider {
        Provider::Aws => eks(engine, cluster, request, unvetted)
            .await
            .map_err(|e| e.for_provider(Provider::Aws)),
        Provider::Generic => match unvetted {
            Some(address) => Err(untrusted_generic(address).for_provider(Provider::Generic)),
            None => generic(engine, cluster, request).await,
        },
        other => Err(Error::invalid(format!(
            "cluster credentials for provider '{other}' are not implemented yet"
        ))
        .for_provider(other)),
    }
}

/// Only the bearer token for a remote cluster (what an exec credential plugin prints): for EKS
/// the presigned token needs the cluster's name and region, never its endpoint or CA.
pub async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    match request.provider {
        Provider::Aws => eks_token(engine, cluster, request)
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

/// A tenant-chosen address that a token of the caller's own identity would be sent to.
fn unvetted_address<'a>(
    engine: &Engine,
    cluster: &'a ClusterRef,
    request: &Request,
) -> Option<&'a str> {
    let resolved = engine.policy().resolve(
        &request.identity,
        request.namespace.as_deref(),
        request.purpose,
    );
    let own = matches!(resolved, Ok(Resolved::Controller | Resolved::Node));
    let address = cluster.address.as_deref().filter(|a| !a.is_empty());
    address.filter(|_| own && cluster.address_origin == AddressOrigin::Tenant)
}

/// The same endpoint: equal as URLs (case of the host, default port, trailing `/`), else as text.
fn same_endpoint(given: &str, reported: &str) -> bool {
    match (Url::parse(given), Url::parse(reported)) {
        (Ok(given), Ok(reported)) => given == reported,
        _ => given == reported,
    }
}

const TRUST_HINT: &str = "name a serviceAccountName in the ConfigMap (the tenant's own identity), \
     or trust the address explicitly (kubecred cluster kubeconfig --trust-configmap-address; \
     library: ConfigMapCluster::trust_address)";

/// The refusal of a tenant's address that is not the cloud's record of the cluster.
fn untrusted_eks(address: &str, cluster: &str, reported: &str) -> Error {
    Error::refused(format!(
        "the ConfigMap's address {address:?} is not the endpoint AWS reports for EKS cluster \
         '{cluster}' ({reported:?}), and the token would carry the caller's own identity: use \
         the reported address (or leave 'address' out), {TRUST_HINT}"
    ))
}

/// The refusal of a tenant's address for the generic provider (no cloud record to check).
fn untrusted_generic(address: &str) -> Error {
    Error::refused(format!(
        "the ConfigMap's address {address:?} would receive a token of the caller's own \
         ServiceAccount, and the generic provider has no cloud record to check it against: \
         {TRUST_HINT}"
    ))
}

async fn eks(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
    unvetted: Option<&str>,
) -> Result<ClusterCredentials> {
    let (arn, sts_endpoint, keys) = eks_identity(engine, cluster, request).await?;
    // An address to vet is left out, so that DescribeCluster reports the real one.
    let access = crate::aws::eks::cluster_access(
        &arn,
        crate::aws::eks::Known {
            address: cluster.address.as_deref().filter(|_| unvetted.is_none()),
            ca_data: cluster.ca_data.as_deref(),
        },
        &keys,
        engine.aws_env(),
        sts_endpoint.as_deref(),
        request.proxy.as_ref(),
        engine.now(),
    )
    .await?;
    if let Some(address) = unvetted.filter(|a| !same_endpoint(a, &access.server)) {
        return Err(untrusted_eks(address, &arn.name, &access.server));
    }
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

impl ConfigMapCluster {
    /// Vouches for the ConfigMap's address: a token of the caller's own identity may be sent to
    /// it even when the cloud does not report it for the cluster (see [`AddressOrigin::Tenant`]).
    pub fn trust_address(mut self) -> Self {
        self.cluster.address_origin = AddressOrigin::Caller;
        self
    }
}

/// Reads a kubeconfig ConfigMap's data. Its address is the tenant's ([`AddressOrigin::Tenant`]).
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
            address_origin: AddressOrigin::Tenant,
        },
        audiences,
        service_account_name: data.get("serviceAccountName").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Identity;

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

    fn engine(default_kubeconfig_sa: Option<&str>) -> Result<Engine> {
        let policy = crate::PolicyConfig {
            object_level_workload_identity: true,
            default_kubeconfig_service_account: default_kubeconfig_sa.map(str::to_owned),
            ..Default::default()
        };
        Ok(Engine::new(policy.build()?))
    }

    fn tenant_cluster(address: &str) -> ClusterRef {
        ClusterRef {
            address: Some(address.into()),
            address_origin: AddressOrigin::Tenant,
            ..ClusterRef::default()
        }
    }

    #[test]
    fn only_a_tenant_address_for_the_callers_own_identity_is_vetted() -> Result<()> {
        let (open, locked) = (engine(None)?, engine(Some("tenant-default"))?);
        let request = |identity: Identity| Request {
            identity,
            namespace: Some("team-a".into()),
            ..Request::new(Provider::Aws)
        };
        let tenant = tenant_cluster("https://evil.example");
        let caller = ClusterRef {
            address_origin: AddressOrigin::Caller,
            ..tenant.clone()
        };
        let cases = [
            (&open, &tenant, Identity::Controller, true),
            (&open, &tenant, Identity::Node, true),
            (&open, &tenant, Identity::service_account("app"), false),
            (&open, &tenant, Identity::secret("keys"), false),
            (&open, &caller, Identity::Controller, false),
            // Lockdown: the object naming no ServiceAccount is forced onto the default one.
            (&locked, &tenant, Identity::Controller, false),
            (&locked, &tenant, Identity::Node, false),
        ];
        for (engine, cluster, identity, vetted) in cases {
            let got = unvetted_address(engine, cluster, &request(identity.clone()));
            assert_eq!(got.is_some(), vetted, "{identity:?} {cluster:?}");
        }
        let trusted = from_config_map(
            &[("provider", "aws"), ("address", "https://evil.example")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )?;
        assert_eq!(trusted.cluster.address_origin, AddressOrigin::Tenant);
        assert_eq!(
            trusted.trust_address().cluster.address_origin,
            AddressOrigin::Caller
        );
        Ok(())
    }

    #[test]
    fn endpoints_compare_as_urls_and_exactly() {
        let reported = "https://ABC123.gr7.us-east-1.eks.amazonaws.com";
        for (given, same) in [
            ("https://ABC123.gr7.us-east-1.eks.amazonaws.com", true),
            ("https://abc123.gr7.us-east-1.eks.amazonaws.com/", true),
            ("https://abc123.gr7.us-east-1.eks.amazonaws.com:443", true),
            ("https://abc123.gr7.us-east-1.eks.amazonaws.com:8443", false),
            ("http://abc123.gr7.us-east-1.eks.amazonaws.com", false),
            (
                "https://abc123.gr7.us-east-1.eks.amazonaws.com.evil.example",
                false,
            ),
            (
                "https://abc123.gr7.us-east-1.eks.amazonaws.com@evil.example",
                false,
            ),
            (
                "https://evil.example/abc123.gr7.us-east-1.eks.amazonaws.com",
                false,
            ),
            ("https://abc123.gr7.us-east-1.eks.amazonaws.com/x", false),
            ("https://abc123.gr7.us-east-1.eks.amazonaws.com?x", false),
            ("abc123.gr7.us-east-1.eks.amazonaws.com", false),
            ("", false),
        ] {
            assert_eq!(same_endpoint(given, reported), same, "{given}");
        }
    }

    #[tokio::test]
    async fn a_generic_tenant_address_is_refused_for_the_callers_own_identity() -> Result<()> {
        let request = Request {
            namespace: Some("team-a".into()),
            ..Request::new(Provider::Generic)
        };
        let error = credentials(&engine(None)?, &tenant_cluster("https://evil"), &request)
            .await
            .err();
        assert!(error.as_ref().is_some_and(Error::is_refused), "{error:?}");
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        for part in [
            "\"https://evil\"",
            "serviceAccountName",
            "--trust-configmap-address",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
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
