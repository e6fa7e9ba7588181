//! [`Request`]: everything that decides which credential comes back.

use url::Url;

use crate::error::{Error, Result};
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
#[derive(Clone, PartialEq, Eq)]
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
    /// Proxy for every cloud call this request makes (AWS: STS, ECR, EKS, S3/KMS checks; the
    /// instance metadata service excepted). Without one, `HTTPS_PROXY`, `HTTP_PROXY` and
    /// `NO_PROXY` apply. Calls to the Kubernetes API follow the kubeconfig (`proxy-url`, else
    /// `HTTPS_PROXY` and `NO_PROXY`), and the generic provider makes no cloud call. A password in
    /// the URL is redacted in `Debug`.
    pub proxy: Option<Url>,
    /// CA bundle (PEM) of a remote cluster.
    pub ca_data: Option<String>,
    /// Roles to assume, in order, after the base identity (AWS role chaining).
    pub assume_roles: Vec<AssumeRole>,
    /// Address of a remote cluster's API server. The `generic` provider uses it, as given, as
    /// the default audience of the Kubernetes token.
    pub cluster_address: Option<String>,
    /// Controller level may run the cloud's own CLI as a last resort (Azure: `az account
    /// get-access-token`, after the managed identity found nothing), as Flux's
    /// `--allow-shell-out` does. For people at a terminal (`kubecred --allow-shell-out`);
    /// controllers leave it off.
    pub allow_shell_out: bool,
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
            allow_shell_out: false,
        }
    }

    /// The OAuth scopes of the cloud token: the request's (`--scope`), else `defaults`. Each
    /// is one token of visible ASCII without `,` (token forms join them with spaces, metadata
    /// servers' queries with commas); `example` is shown in the error.
    #[cfg_attr(not(any(feature = "gcp", feature = "azure")), allow(dead_code))]
    pub(crate) fn checked_scopes(&self, defaults: &[&str], example: &str) -> Result<Vec<String>> {
        if self.scopes.is_empty() {
            return Ok(defaults.iter().map(|s| (*s).to_owned()).collect());
        }
        for scope in &self.scopes {
            if scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
                return Err(Error::invalid(format!(
                    "invalid OAuth scope '{}': expected visible ASCII without spaces or commas, \
                     such as {example}",
                    scope.escape_default()
                )));
            }
        }
        Ok(self.scopes.clone())
    }
}

/// Every field, the proxy's password redacted (proxy URLs may carry credentials).
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be left out.
        let Request {
            provider,
            identity,
            namespace,
            purpose,
            audiences,
            scopes,
            region,
            sts_endpoint,
            proxy,
            ca_data,
            assume_roles,
            cluster_address,
            allow_shell_out,
        } = self;
        f.debug_struct("Request")
            .field("provider", provider)
            .field("identity", identity)
            .field("namespace", namespace)
            .field("purpose", purpose)
            .field("audiences", audiences)
            .field("scopes", scopes)
            .field("region", region)
            .field("sts_endpoint", sts_endpoint)
            .field("proxy", &proxy.as_ref().map(redacted_url))
            .field("ca_data", ca_data)
            .field("assume_roles", assume_roles)
            .field("cluster_address", cluster_address)
            .field("allow_shell_out", allow_shell_out)
            .finish()
    }
}

/// `url` with its password (if any) replaced, for messages, logs and `Debug`.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Fails only for URLs that cannot carry a password, which have none to hide.
        let _ = shown.set_password(Some("redacted"));
    }
    shown.to_string()
}

/// One hop of a role chain: `sts:AssumeRole` into this role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AssumeRole {
    /// The role's ARN.
    pub role_arn: String,
    /// The external ID the role's trust policy requires, if any.
    pub external_id: Option<String>,
}
