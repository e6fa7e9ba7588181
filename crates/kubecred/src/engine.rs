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

use crate::account::ServiceAccountInfo;
use crate::cache_key::{KeyedIdentity, KeyedServiceAccount, access_token_key};
use crate::cache_metrics::InvolvedObject;
use crate::clock::SharedClock;
use crate::cloud::{self, Operation};
use crate::credential::{AccessToken, AwsKeys, Credential, KubernetesToken};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::identity::{Resolved, lockdown_not_found};
use crate::timeouts::{self, Deadline, Timeouts};
use crate::{CacheKey, Identity, Kubernetes, Policy, Request, TokenCache};

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
    env: Env,
    timeouts: Timeouts,
}

impl Engine {
    /// An engine with this policy, no Kubernetes access and no cache.
    pub fn new(policy: Policy) -> Self {
        Engine {
            policy,
            kubernetes: None,
            cache: None,
            env: Env::default(),
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

    /// Reads variables, files and the time from `env` instead of the process's (every cloud
    /// reads the same one).
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Reads the pod's own ServiceAccount token from `path` instead of the standard mount.
    pub fn with_service_account_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.env = self.env.with_service_account_token_file(path);
        self
    }

    /// Reads the time from `clock` (signing times, expiries it computes).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.env = self.env.with_clock(clock);
        self
    }

    /// Bounds every call this engine makes (cloud SDK clients, access checks) and each whole
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

    pub(crate) fn env(&self) -> &Env {
        &self.env
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
        require(request, Operation::ObjectLevel)?;
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
            true => cloud::audiences(self, request, &account).await?,
            false => request.audiences.clone(),
        };
        let provider_identity = cloud::identity(request.provider, &account)?;
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
            cloud::object_level(self, request, &account, token).await
        })
        .await
    }

    /// The AWS keys for `request` (an `aws` request; any other credential is an error).
    pub async fn aws_keys(&self, request: &Request) -> Result<AwsKeys> {
        self.token(request)
            .await?
            .into_aws_keys()
            .map_err(|e| e.for_provider(request.provider))
    }

    /// The bearer access token for `request` (Azure, GCP).
    pub async fn access_token(&self, request: &Request) -> Result<AccessToken> {
        self.token(request)
            .await?
            .into_access_token()
            .map_err(|e| e.for_provider(request.provider))
    }

    /// The Kubernetes token for `request` (the generic provider).
    pub async fn kubernetes_token(&self, request: &Request) -> Result<KubernetesToken> {
        self.token(request)
            .await?
            .into_kubernetes_token()
            .map_err(|e| e.for_provider(request.provider))
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
        require(request, Operation::ObjectLevel)?;
        cloud::identity(request.provider, account)?;
        let exchange = cloud::object_level(self, request, account, token);
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

    async fn controller_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        require(request, Operation::ControllerLevel)?;
        let audiences = cloud::controller_audiences(request)?;
        let key = access_token_key(request, &audiences, KeyedIdentity::Controller);
        self.cached(&key, object, || cloud::controller_level(self, request))
            .await
    }

    async fn node_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
    ) -> Result<Credential> {
        require(request, Operation::NodeLevel)?;
        let key = access_token_key(request, &[], KeyedIdentity::Node);
        self.cached(&key, object, || cloud::node_level(self, request))
            .await
    }

    async fn secret_token(
        &self,
        request: &Request,
        object: Option<&InvolvedObject>,
        namespace: &str,
        name: &str,
    ) -> Result<Credential> {
        require(request, Operation::SecretLevel)?;
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
        self.cached(&key, object, || cloud::secret_level(self, request, &data))
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

    pub(crate) fn kubernetes(&self) -> Result<&Kubernetes> {
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

/// Refuses `operation` when the request's provider lacks it (one explained message).
fn require(request: &Request, operation: Operation) -> Result<()> {
    cloud::require(request.provider, operation).map(|_| ())
}

#[cfg(test)]
mod tests {
    //! Policy × provider × level: which step answers, before any network call (no Kubernetes
    //! access, no cloud is configured here, so every outcome is decided by the engine itself).

    use super::*;
    use crate::{PolicyConfig, Provider};

    fn engine(gate: bool, default_sa: Option<&str>) -> Result<Engine> {
        let policy = PolicyConfig {
            object_level_workload_identity: gate,
            default_service_account: default_sa.map(str::to_owned),
            ..PolicyConfig::default()
        }
        .build()?;
        let env = Env::from_pairs(&[]).with_service_account_token_file("/nonexistent/token");
        Ok(Engine::new(policy).with_env(env))
    }

    fn request(provider: Provider, identity: Identity) -> Request {
        Request {
            identity,
            namespace: Some("team-a".into()),
            region: Some("us-east-1".into()),
            ..Request::new(provider)
        }
    }

    async fn outcome(engine: &Engine, request: &Request) -> String {
        match engine.token(request).await {
            Ok(credential) => format!("ok {}", credential.kind()),
            Err(error) => error.to_string(),
        }
    }

    #[tokio::test]
    async fn each_level_reaches_its_provider_or_one_explained_refusal() -> Result<()> {
        let sa = || Identity::service_account("app");
        let secret = || Identity::Secret("keys".into());
        let no_kubernetes = "no Kubernetes access configured";
        // With GCP built in, its secret level reads the Secret first; its controller level
        // (Application Default Credentials, ending at the metadata server) is in tests/gcp_adc.rs.
        let gcp_secret_level = match cfg!(feature = "gcp") {
            true => no_kubernetes,
            false => "provider 'gcp' is not",
        };
        let azure_object_level = match cfg!(feature = "azure") {
            true => no_kubernetes,
            false => "provider 'azure' is not",
        };
        let mut cases: Vec<(bool, Option<&str>, Provider, Identity, &str)> = vec![
            // The gate is checked first, for every provider.
            (
                false,
                None,
                Provider::Generic,
                sa(),
                "ObjectLevelWorkloadIdentity",
            ),
            (
                false,
                None,
                Provider::Aws,
                sa(),
                "ObjectLevelWorkloadIdentity",
            ),
            // Levels a provider lacks: one message, before any Kubernetes read.
            (
                true,
                None,
                Provider::Generic,
                Identity::Node,
                "the generic provider has no node level",
            ),
            (
                true,
                None,
                Provider::Generic,
                secret(),
                "the generic provider has no secret level",
            ),
            // Providers with or without their feature: dispatched, or explained.
            (true, None, Provider::Azure, sa(), azure_object_level),
            (true, None, Provider::Gcp, secret(), gcp_secret_level),
            // Levels a provider has: dispatched to it (here they stop at missing access).
            (true, None, Provider::Generic, sa(), no_kubernetes),
            (
                true,
                None,
                Provider::Generic,
                Identity::Controller,
                no_kubernetes,
            ),
            // Lockdown: an object naming no identity is forced onto the default SA.
            (
                true,
                Some("tenant-default"),
                Provider::Generic,
                Identity::Controller,
                no_kubernetes,
            ),
        ];
        if !cfg!(feature = "gcp") {
            let controller = (
                true,
                None,
                Provider::Gcp,
                Identity::Controller,
                "provider 'gcp' is not",
            );
            cases.push(controller);
        }
        for (gate, default_sa, provider, identity, expected) in cases {
            let engine = engine(gate, default_sa)?;
            let request = request(provider, identity.clone());
            let got = outcome(&engine, &request).await;
            assert!(
                got.contains(expected),
                "gate {gate}, default {default_sa:?}, {provider} {identity:?}: {got}"
            );
        }
        Ok(())
    }

    #[cfg(feature = "aws")]
    #[tokio::test]
    async fn aws_levels_are_dispatched_to_aws() -> Result<()> {
        let engine = engine(true, None)?;
        let object = outcome(
            &engine,
            &request(Provider::Aws, Identity::service_account("a")),
        )
        .await;
        assert!(
            object.contains("no Kubernetes access configured"),
            "{object}"
        );
        let secret = outcome(
            &engine,
            &request(Provider::Aws, Identity::Secret("k".into())),
        )
        .await;
        assert!(
            secret.contains("no Kubernetes access configured"),
            "{secret}"
        );
        Ok(())
    }

    #[cfg(not(feature = "aws"))]
    #[tokio::test]
    async fn a_build_without_aws_answers_aws_requests_naming_the_feature() -> Result<()> {
        let engine = engine(true, None)?;
        for identity in [
            Identity::Controller,
            Identity::Node,
            Identity::service_account("a"),
        ] {
            let got = outcome(&engine, &request(Provider::Aws, identity)).await;
            assert!(got.contains("cargo feature 'aws'"), "{got}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn typed_accessors_name_the_kind_they_got() -> Result<()> {
        let engine = engine(true, None)?;
        let generic = request(Provider::Generic, Identity::service_account("app"));
        let keys = engine.aws_keys(&generic).await.err().map(|e| e.to_string());
        assert!(
            keys.as_deref()
                .is_some_and(|m| m.contains("no Kubernetes access")),
            "{keys:?}"
        );
        Ok(())
    }
}
