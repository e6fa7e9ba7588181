//! [`Request`]: everything that decides which credential comes back.

use url::Url;

use crate::{Identity, Provider, Purpose};

/// A request for credentials.
///
/// Plain data: name the fields you set and take the rest from [`Request::new`]. Every field is
/// part of the cache key, so two requests that differ anywhere never share a cached credential.
///
/// ```
/// use kubecred::{Identity, Provider, Request};
///
/// let request = Request {
///     identity: Identity::service_account("app"),
///     namespace: Some("team-a".into()),
///     audiences: vec!["https://example.test".into()],
///     ..Request::new(Provider::Generic)
/// };
/// assert_eq!(request.provider, Provider::Generic);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who issues the credential.
    pub provider: Provider,
    /// Whose identity is used (controller, a ServiceAccount or Secret in `namespace`, the node).
    pub identity: Identity,
    /// The namespace of the object asking. ServiceAccounts and Secrets are only ever read here.
    pub namespace: Option<String>,
    /// Which default ServiceAccount the lockdown policy applies (see [`crate::Policy`]).
    pub purpose: Purpose,
    /// Audiences of the Kubernetes token (defaults to the provider's audience).
    pub audiences: Vec<String>,
    /// OAuth scopes of the cloud token (Azure, GCP).
    pub scopes: Vec<String>,
    /// Cloud region (AWS STS).
    pub region: Option<String>,
    /// STS endpoint override (AWS).
    pub sts_endpoint: Option<String>,
    /// Proxy for every call this request makes.
    pub proxy: Option<Url>,
    /// CA bundle (PEM) of a remote cluster.
    pub ca_data: Option<String>,
    /// Roles to assume, in order, after the base identity (AWS role chaining).
    pub assume_roles: Vec<AssumeRole>,
    /// Address of a remote cluster's API server. The `generic` provider uses it, as given, as
    /// the default audience of the Kubernetes token.
    pub cluster_address: Option<String>,
}

impl Request {
    /// A controller-level request to `provider` with nothing else set.
    pub fn new(provider: Provider) -> Self {
        Request {
            provider,
            identity: Identity::Controller,
            namespace: None,
            purpose: Purpose::default(),
            audiences: Vec::new(),
            scopes: Vec::new(),
            region: None,
            sts_endpoint: None,
            proxy: None,
            ca_data: None,
            assume_roles: Vec::new(),
            cluster_address: None,
        }
    }
}

/// One hop of a role chain: `sts:AssumeRole` into this role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    /// The role's ARN.
    pub role_arn: String,
    /// The external ID the role's trust policy requires, if any.
    pub external_id: Option<String>,
}
