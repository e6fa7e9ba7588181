//! Remote cluster access: the API server address, its CA and a bearer token, from the cloud's
//! cluster resource (EKS cluster ARN, GKE cluster id) and the resolved identity's credential.

use std::time::SystemTime;

use url::Url;

use crate::cloud::{self, Capabilities, Operation};
use crate::error::{Error, Result};
use crate::identity::Resolved;
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
    /// The cloud's cluster resource (EKS: the cluster ARN; GKE:
    /// `projects/P/locations/L/clusters/C`).
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
    /// cloud reports for it (EKS: `DescribeCluster`, GKE: `clusters.get`), the generic provider's never; a
    /// ServiceAccount or Secret of the tenant's namespace is the tenant's own identity and
    /// needs no check. [`ConfigMapCluster::trust_address`] vouches for the address instead.
    Tenant,
}

/// Credentials for a remote cluster: server, CA and token, by the request's provider.
pub async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let supported = serves(request)?;
    let work = async {
        match unvetted_address(engine, cluster, request) {
            None => cloud::cluster_credentials(engine, cluster, request).await,
            Some(address) => vetted(engine, cluster, request, address, supported).await,
        }
    };
    engine
        .within(STEP, work)
        .await
        .map_err(|e| e.for_provider(request.provider))
}

/// The overall deadline's name for cluster credentials.
const STEP: &str = "get cluster credentials";

/// Only the bearer token for a remote cluster (kubectl's exec plugin): where the cloud can
/// mint it without looking the cluster up (EKS), nothing else is asked.
pub async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    serves(request)?;
    engine
        .within(STEP, cloud::cluster_token(engine, cluster, request))
        .await
        .map_err(|e| e.for_provider(request.provider))
}

fn serves(request: &Request) -> Result<Capabilities> {
    cloud::require(request.provider, Operation::ClusterCredentials)
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

/// A tenant's address for the caller's own identity: the cloud looks the cluster up without it
/// (so it reports the real endpoint), and the address must be that endpoint.
async fn vetted(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
    address: &str,
    supported: Capabilities,
) -> Result<ClusterCredentials> {
    if !supported.reports_cluster_address {
        return Err(no_record(address, request.provider));
    }
    let lookup = ClusterRef {
        address: None,
        ..cluster.clone()
    };
    let credentials = cloud::cluster_credentials(engine, &lookup, request).await?;
    match same_endpoint(address, &credentials.server) {
        true => Ok(credentials),
        false => Err(not_reported(address, cluster, request, &credentials.server)),
    }
}

/// The refusal of a tenant's address that is not the cloud's record of the cluster.
fn not_reported(address: &str, cluster: &ClusterRef, request: &Request, reported: &str) -> Error {
    let name = cluster.cluster.as_deref().unwrap_or_default();
    let provider = request.provider;
    Error::refused(format!(
        "the ConfigMap's address {address:?} is not the endpoint provider '{provider}' reports \
         for cluster '{name}' ({reported:?}), and the token would carry the caller's own \
         identity: use the reported address (or leave 'address' out), {TRUST_HINT}"
    ))
}

/// The refusal of a tenant's address where the provider has no record of clusters (generic).
fn no_record(address: &str, provider: Provider) -> Error {
    Error::refused(format!(
        "the ConfigMap's address {address:?} would receive a token of the caller's own \
         identity, and the {provider} provider has no cloud record to check it against: \
         {TRUST_HINT}"
    ))
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
