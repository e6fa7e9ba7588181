//! kubecred: short-lived cloud credentials for Kubernetes workloads, without long-lived secrets.
//!
//! A [`Request`] names a [`Provider`] (`aws`, `azure`, `gcp`, `generic`) and an [`Identity`]
//! (the controller's own, a ServiceAccount or Secret of the object's namespace, the node). The
//! [`Engine`] applies the multi-tenancy [`Policy`], turns a ServiceAccount into a Kubernetes
//! token (TokenRequest with the provider's audience) through the [`Kubernetes`] layer, exchanges
//! it for a [`Credential`], and caches the result in a [`TokenCache`] keyed by every input.
//!
//! ```no_run
//! use kubecred::{Engine, Identity, Kubernetes, PolicyConfig, Provider, Request, TokenCache};
//!
//! # async fn example() -> kubecred::Result<()> {
//! let policy = PolicyConfig { object_level_workload_identity: true, ..Default::default() }.build()?;
//! let engine = Engine::new(policy)
//!     .with_kubernetes(Kubernetes::infer().await?)
//!     .with_cache(TokenCache::new(Default::default()));
//! let credential = engine
//!     .token(&Request {
//!         identity: Identity::service_account("app"),
//!         namespace: Some("team-a".into()),
//!         audiences: vec!["https://example.test".into()],
//!         ..Request::new(Provider::Generic)
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

mod account;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "azure")]
pub mod azure;
mod azure_names;
pub mod cache;
pub mod cache_key;
pub mod cache_metrics;
pub mod check;
pub mod clock;
pub mod cloud;
pub mod cluster;
mod credential;
mod engine;
mod env;
mod error;
pub mod explain;
pub mod fs;
// Always compiled: its parsers (hosts, resource names, annotations) serve `policy` in every
// build; its exchanges are behind the `gcp` feature (see the module).
pub mod gcp;
pub mod generic;
pub mod git;
pub mod hosts;
mod http;
mod identity;
pub mod issuer;
mod jwt;
mod kubernetes;
#[cfg(test)]
mod lookalike;
mod names;
pub mod policy;
mod provider;
pub mod registry;
mod request;
mod retry;
mod secret;
#[cfg(test)]
mod test_pem;
mod timeouts;

pub use account::ServiceAccountInfo;
pub use cache::{CacheConfig, CacheMetrics, TokenCache};
pub use cache_key::CacheKey;
pub use cache_metrics::{InvolvedObject, MetricsOptions};
pub use credential::{AccessToken, AwsKeys, Credential, KubernetesToken, RegistryCredentials};
pub use engine::Engine;
pub use env::Env;
pub use error::{Error, Result};
pub use identity::{
    FEATURE_GATE_OBJECT_LEVEL_WORKLOAD_IDENTITY, FLAG_DEFAULT_DECRYPTION_SERVICE_ACCOUNT,
    FLAG_DEFAULT_KUBECONFIG_SERVICE_ACCOUNT, FLAG_DEFAULT_SERVICE_ACCOUNT, Identity, Policy,
    PolicyConfig, Purpose,
};
pub use kubernetes::Kubernetes;
pub use provider::Provider;
pub use request::{AssumeRole, Request};
pub use secret::Secret;
pub use timeouts::Timeouts;
