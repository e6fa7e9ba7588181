//! [`Engine`]: the flow from a [`Request`] to a [`Credential`].
//!
//! 1. The [`Policy`] resolves the identity (feature gate, default ServiceAccount lockdown).
//! 2. Object level: read the ServiceAccount (every call, so annotation changes apply at once),
//!    work out the audiences and the cloud identity, then, on a cache miss only, create a
//!    Kubernetes token and exchange it.
//! 3. Controller level: the process's own environment.
//!
//! The cache sits around steps 2 and 3, keyed by every input (see [`crate::cache_key`]).
//! Each whole operation runs within the overall deadline of its [`Timeouts`].

use std::path::PathBuf;
use std::sync::Arc;

use crate::aws::sdk::AwsEnv;
use crate::cache_key::{KeyedIdentity, KeyedServiceAccount, access_token_key};
use crate::cache_metrics::InvolvedObject;
use crate::clock::{SharedClock, SystemClock};
use crate::credential::{Credential, KubernetesToken};
use crate::error::{Error, Result};
use crate::identity::{Resolved, lockdown_not_found};
use crate::kubernetes::ServiceAccountInfo;
use crate::timeouts::{self, Deadline, Timeouts};
use crate::{CacheKey, Identity, Kubernetes, Policy, Provider, Request, TokenCache, aws, generic};

/// Turns requests into credentials.
///
/// ```no_run
/// use kubecred::{Engine, Identity, Kubernetes, PolicyConfig, Provider, Request, TokenCache};
///
/// # async fn example() -> kubecred::Result<()> {
/// let policy = PolicyConfig { object_level_workload_identity: true, ..PolicyConfig::default() }.build()?;
/// let engine = Engine::new(policy)
///     .with_kubernetes(Kubernetes::infer().await?)
///     .with_cache(TokenCache::new(Default::default()));
/// let request = Request {
///     identity: Identity::service_account("app"),
///     namespace: Some("team-a".into()),
///     audiences: vec!["https://remote.example".into()],
///     ..Request::new(Provider::Generic)
/// };
/// let credential = engine.token(&request).await?;
/// println!("expires at {:?}", credential.expires_at());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Engine {
    policy: Policy,
    kubernetes: Option<Kubernetes>,
    cache: Option<TokenCache>,
    token_file: PathBuf,
    aws_env: AwsEnv,
    clock: SharedClock,
    timeouts: Timeouts,
}

impl Engine {
    /// An engine with this policy, no Kubernetes access and no cache.
    pub fn new(policy: Policy) -> Self {
        Engine {
            policy,
            kubernetes: None,
            cache: None,
            token_file: PathBuf::from(generic::SERVICE_ACCOUNT_TOKEN_FILE),
            aws_env: AwsEnv::default(),
            clock: Arc::new(SystemClock),
            timeouts: Timeouts::default(),
        }
    }

    /// Uses this Kubernetes API server for ServiceAccounts, tokens and Secrets.
    pub fn with_kubernetes(mut self, kubernetes: Kubernetes) -> Self {
        self.kubernetes = Some(kubernetes);
        self
    }

    /// Caches credentials here.
    pub fn with_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Reads the pod's own ServiceAccount token from `path` instead of the standard mount.
    pub fn with_service_account_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = path.into();
        self
    }

    /// Reads AWS settings (region, endpoint overrides) from this environment instead of the
    /// process's.
    pub fn with_aws_env(mut self, env: AwsEnv) -> Self {
        self.aws_env = env;
        self
    }

    /// Reads the time from `clock` (signing times, expiries it computes).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Bounds every call this engine makes (AWS SDK clients, S3/KMS checks) and each whole
    /// operation ([`Engine::token`], registry login, cluster credentials) with these timeouts.
    /// Build the [`Kubernetes`] access with the same ones
    /// ([`Kubernetes::from_kubeconfig_with_timeouts`]); its calls are within the overall
    /// deadline anyway.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Runs the whole operation `step` within the overall deadline.
    pub(crate) fn within<'a, T: 'a>(
        &self,
        step: &'a str,
        work: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        timeouts::within(&self.timeouts, step, work)
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub(crate) fn aws_env(&self) -> &AwsEnv {
        &self.aws_env
    }

    /// How `request`'s AWS calls reach the network: its proxy, this engine's timeouts.
    pub(crate) fn aws_transport<'a>(&self, request: &'a Request) -> aws::Transport<'a> {
        aws::Transport {
            proxy: request.proxy.as_ref(),
            timeouts: self.timeouts,
        }
    }

    pub(crate) fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }

    /// The credential for `request`.
    pub async fn token(&self, request: &Request) -> Result<Credential> {
        self.token_observed(request, None).await
    }

    /// The credential for `request`, fetched for `object`: a cache with registered metrics
    /// counts the call's hit or miss under the object's labels (`cache_events_total`).
    pub async fn token_for(
        &self,
        request: &Request,
        object: &InvolvedObject,
    ) -> Result<Credential> {
        self.token_observed(request, Some(object)).await
    }

    async fn token_observed(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        tracing::debug!(provider = %request.provider, identity = ?request.identity, namespace = ?request.namespace, "credential requested");
        self.within("get credentials", self.resolve_and_fetch(request, object))
            .await
            .map_err(|e| e.for_provider(request.provider))
    }

    async fn resolve_and_fetch(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        let resolved = self
            .policy
            .resolve(
                &request.identity,
                request.namespace.as_deref(),
                request.purpose,
            )
            .map_err(|e| e.for_identity(describe(request)))?;
        match resolved {
            Resolved::ServiceAccount {
                namespace,
                name,
                defaulted,
            } => self
                .service_account_token(request, object, &namespace, &name, defaulted)
                .await
                .map_err(|e| e.for_identity(format!("service account {namespace}/{name}"))),
            Resolved::Controller => self
                .controller_token(request, object)
                .await
                .map_err(|e| e.for_identity("controller")),
            Resolved::Node => self
                .node_token(request, object)
                .await
                .map_err(|e| e.for_identity("node")),
            Resolved::Secret { namespace, name } => self
                .secret_token(request, object, &namespace, &name)
                .await
                .map_err(|e| e.for_identity(format!("secret {namespace}/{name}"))),
        }
    }

    async fn service_account_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
        namespace: &str,
        name: &str,
        defaulted: bool,
    ) -> Result<Credential> {
        let kubernetes = self.kubernetes()?;
        let account = kubernetes
            .service_account(namespace, name)
            .await
            .map_err(|e| {
                if defaulted && e.is_not_found() {
                    lockdown_not_found(namespace, name)
                } else {
                    e.at("read service account")
                }
            })?;
        let audiences = match request.audiences.is_empty() {
            true => provider_audiences(request)?,
            false => request.audiences.clone(),
        };
        let provider_identity = provider_identity(request.provider, &account)?;
        let keyed = KeyedServiceAccount {
            provider_identity: &provider_identity,
            namespace,
            name,
        };
        let key = access_token_key(request, &audiences, KeyedIdentity::ServiceAccount(keyed));
        self.cached(&key, object, || async {
            let token = kubernetes
                .create_token(namespace, name, &audiences, None)
                .await
                .map_err(|e| e.at("create Kubernetes token"))?;
            self.exchange(request, &account, token).await
        })
        .await
    }

    /// The AWS keys for `request` (an `aws` request; any other credential is an error).
    pub async fn aws_keys(&self, request: &Request) -> Result<crate::CloudKeys> {
        match self.token(request).await? {
            Credential::CloudKeys(keys) => Ok(keys),
            other => Err(Error::upstream(format!(
                "expected AWS keys, the identity yielded a {}",
                other.kind()
            ))
            .for_provider(request.provider)),
        }
    }

    /// Exchanges a Kubernetes token someone presented (the kubelet's pod ServiceAccount token,
    /// KEP-4412) for the provider's credential, using the ServiceAccount's annotations as given.
    /// No TokenRequest is made and nothing is cached: the presenter caches by the expiry. The
    /// feature gate does not apply: the token already proves the pod's identity.
    pub async fn exchange_presented_token(
        &self,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        provider_identity(request.provider, account)?;
        let exchange = self.exchange(request, account, token);
        self.within("exchange the presented token", exchange)
            .await
            .map_err(|e| {
                e.for_identity(format!(
                    "service account {}/{}",
                    account.namespace, account.name
                ))
                .for_provider(request.provider)
            })
    }

    /// Exchanges a ServiceAccount's Kubernetes token for the provider's credential.
    async fn exchange(
        &self,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        match request.provider {
            Provider::Generic => Ok(generic::service_account_credential(token)),
            Provider::Aws => {
                aws::credentials::object_level(
                    &self.aws_env,
                    &self.timeouts,
                    request,
                    account,
                    &token,
                )
                .await
            }
            other => Err(not_in_this_build(other, "object-level workload identity")),
        }
    }

    async fn controller_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        match request.provider {
            Provider::Generic => {
                let kubernetes = self.kubernetes()?;
                let audiences = generic::audiences(request);
                let key = access_token_key(request, &audiences, KeyedIdentity::Controller);
                self.cached(&key, object, || {
                    generic::controller_token(kubernetes, &self.token_file, &audiences)
                })
                .await
            }
            Provider::Aws => {
                let key = access_token_key(request, &[], KeyedIdentity::Controller);
                self.cached(&key, object, || {
                    aws::credentials::controller_level(&self.aws_env, &self.timeouts, request)
                })
                .await
            }
            other => Err(not_in_this_build(other, "controller-level credentials")),
        }
    }

    async fn node_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        match request.provider {
            Provider::Aws => {
                let key = access_token_key(request, &[], KeyedIdentity::Node);
                self.cached(&key, object, || {
                    aws::credentials::node_level(&self.aws_env, &self.timeouts, request)
                })
                .await
            }
            other => Err(not_in_this_build(other, "node-level credentials")),
        }
    }

    async fn secret_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
        namespace: &str,
        name: &str,
    ) -> Result<Credential> {
        if request.provider != Provider::Aws {
            return Err(not_in_this_build(
                request.provider,
                "secret-based credentials",
            ));
        }
        let data = self
            .kubernetes()?
            .secret_data(namespace, name)
            .await
            .map_err(|e| e.at("read secret"))?;
        let digest = secret_digest(&data);
        let key = access_token_key(
            request,
            &[],
            KeyedIdentity::Secret {
                namespace,
                name,
                data_digest: &digest,
            },
        );
        self.cached(&key, object, || async {
            let keys = aws::credentials::secret_keys(&data)?;
            aws::credentials::secret_level(&self.aws_env, &self.timeouts, request, keys).await
        })
        .await
    }

    async fn cached<F, Fut>(
        &self,
        key: &CacheKey,
        object: Option<&InvolvedObject>,
        exchange: F,
    ) -> Result<Credential>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Credential>> + Send,
    {
        match &self.cache {
            // Bounded here too, at the operation's deadline: a refresh that times out is a
            // transient failure, for which the cache serves the credential it still holds.
            Some(cache) => {
                let bounded = || Deadline::after(self.timeouts.overall).run("exchange", exchange());
                cache.get_or_fetch_for(key, object, bounded).await
            }
            None => exchange().await,
        }
    }

    fn kubernetes(&self) -> Result<&Kubernetes> {
        self.kubernetes.as_ref().ok_or_else(|| {
            Error::not_configured(
                "no Kubernetes access configured (set KUBECONFIG or run in a pod)",
            )
        })
    }
}

/// A digest of a Secret's data for the cache key (the data itself never enters a key preimage).
fn secret_digest(data: &std::collections::BTreeMap<String, crate::Secret>) -> String {
    let parts: Vec<String> = data
        .iter()
        .map(|(k, v)| format!("{}={}", k.len(), k) + ":" + v.expose())
        .collect();
    CacheKey::from_parts(&parts).hex()
}

/// The identity a request names, as error messages show it.
fn describe(request: &Request) -> String {
    let namespace = request.namespace.as_deref().unwrap_or("");
    match &request.identity {
        Identity::ServiceAccount(name) => format!("service account {namespace}/{name}"),
        Identity::Secret(name) => format!("secret {namespace}/{name}"),
        Identity::Controller if namespace.is_empty() => "controller".into(),
        Identity::Controller => format!("object in namespace {namespace}"),
        Identity::Node => "node".into(),
    }
}

/// The audiences of the Kubernetes token a provider's exchange expects, when the request names none.
fn provider_audiences(request: &Request) -> Result<Vec<String>> {
    match request.provider {
        Provider::Generic => Ok(generic::audiences(request)),
        Provider::Aws => Ok(vec![aws::AUDIENCE.to_owned()]),
        other => Err(not_in_this_build(other, "object-level workload identity")),
    }
}

/// The cloud identity a ServiceAccount maps to (validates its annotations).
fn provider_identity(provider: Provider, account: &ServiceAccountInfo) -> Result<String> {
    match provider {
        Provider::Generic => Ok(generic::identity(&account.namespace, &account.name)),
        Provider::Aws => aws::credentials::identity(account),
        other => Err(not_in_this_build(other, "object-level workload identity")),
    }
}

/// An honest refusal: the generic provider has no such level; the other clouds come next.
fn not_in_this_build(provider: Provider, what: &str) -> Error {
    match provider {
        Provider::Generic => Error::invalid(format!(
            "the generic provider has no {what}: it issues Kubernetes tokens for the controller's or a named ServiceAccount"
        )),
        cloud => Error::invalid(format!(
            "{what} for provider '{cloud}' are not implemented yet; this build supports the 'generic' and 'aws' providers"
        )),
    }
}
