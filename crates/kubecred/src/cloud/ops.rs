//! The operations of [`super::Cloud`] for a [`Provider`] value: each one [`dispatch!`]
//! (the one `match` on `Provider`) to the provider's module, or, for a provider not in this
//! build, its explained absence.

use std::collections::BTreeMap;
use std::time::SystemTime;

use url::Url;

// `absent` is only called by the arms of providers compiled out.
#[cfg_attr(
    all(feature = "aws", feature = "gcp", feature = "azure"),
    allow(unused_imports)
)]
use super::absent;
use super::{Capabilities, Cloud, Presented};
use crate::account::ServiceAccountInfo;
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{Credential, KubernetesToken, RegistryCredentials};
use crate::error::Result;
use crate::git::GitCredentials;
use crate::{Engine, Provider, Request, Secret};

/// The providers this build serves.
pub fn served() -> Vec<Provider> {
    Provider::ALL
        .into_iter()
        .filter(|&p| capabilities(p).is_some())
        .collect()
}

/// What `provider` supports in this build (`None`: compiled out or not implemented yet).
pub fn capabilities(provider: Provider) -> Option<Capabilities> {
    dispatch!(provider, C => Some(C::CAPABILITIES), _absent => None)
}

/// The ServiceAccount annotation keys `provider` reads (empty when absent from this build).
pub fn annotations(provider: Provider) -> &'static [&'static str] {
    dispatch!(provider, C => C::ANNOTATIONS, _absent => &[])
}

/// The ServiceAccount annotation keys without which `provider`'s object level cannot work.
pub fn required_annotations(provider: Provider) -> &'static [&'static str] {
    dispatch!(provider, C => C::REQUIRED_ANNOTATIONS, _absent => &[])
}

/// The first provider of this build that satisfies `owns`.
pub(crate) fn owner(owns: impl Fn(Provider) -> bool) -> Option<Provider> {
    Provider::ALL.into_iter().find(|&p| owns(p))
}

/// Whether `provider` serves registry `host`.
pub(crate) fn owns_registry(provider: Provider, host: &str) -> bool {
    dispatch!(provider, C => C::owns_registry(host), _absent => false)
}

/// Whether `provider` serves git host `host`.
pub(crate) fn owns_git_host(provider: Provider, host: &str) -> bool {
    dispatch!(provider, C => C::owns_git_host(host), _absent => false)
}

/// Whether `provider` runs the check `target`.
pub(crate) fn owns_check(provider: Provider, target: &str) -> bool {
    dispatch!(provider, C => C::owns_check(target), _absent => false)
}

/// Object level for `request.provider`.
pub(crate) async fn object_level(
    engine: &Engine,
    request: &Request,
    account: &ServiceAccountInfo,
    token: KubernetesToken,
) -> Result<Credential> {
    dispatch!(request.provider, C => C::object_level(engine, request, account, token).await, p => Err(absent(p)))
}

/// Controller level for `request.provider`.
pub(crate) async fn controller_level(engine: &Engine, request: &Request) -> Result<Credential> {
    dispatch!(request.provider, C => C::controller_level(engine, request).await, p => Err(absent(p)))
}

/// Node level for `request.provider`.
pub(crate) async fn node_level(engine: &Engine, request: &Request) -> Result<Credential> {
    dispatch!(request.provider, C => C::node_level(engine, request).await, p => Err(absent(p)))
}

/// Secret level for `request.provider`.
pub(crate) async fn secret_level(
    engine: &Engine,
    request: &Request,
    data: &BTreeMap<String, Secret>,
) -> Result<Credential> {
    dispatch!(request.provider, C => C::secret_level(engine, request, data).await, p => Err(absent(p)))
}

/// The default object-level audiences of `request.provider` for `account`.
pub(crate) async fn audiences(
    engine: &Engine,
    request: &Request,
    account: &ServiceAccountInfo,
) -> Result<Vec<String>> {
    dispatch!(request.provider, C => C::audiences(engine, request, account).await, p => Err(absent(p)))
}

/// The audiences controller level of `request.provider` mints a Kubernetes token for.
pub(crate) fn controller_audiences(request: &Request) -> Result<Vec<String>> {
    dispatch!(request.provider, C => Ok(C::controller_audiences(request)), p => Err(absent(p)))
}

/// The cloud identity a ServiceAccount maps to under `provider`.
pub(crate) fn identity(provider: Provider, account: &ServiceAccountInfo) -> Result<String> {
    dispatch!(provider, C => C::identity(account), p => Err(absent(p)))
}

/// Registry login at `host` by `request.provider`.
pub(crate) async fn registry_login(
    engine: &Engine,
    host: &str,
    request: &Request,
    presented: Option<Presented<'_>>,
) -> Result<RegistryCredentials> {
    dispatch!(request.provider, C => C::registry_login(engine, host, request, presented).await, p => Err(absent(p)))
}

/// Remote-cluster credentials by `request.provider`.
pub(crate) async fn cluster_credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    dispatch!(request.provider, C => C::cluster_credentials(engine, cluster, request).await, p => Err(absent(p)))
}

/// A remote cluster's token by `request.provider`.
pub(crate) async fn cluster_token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    dispatch!(request.provider, C => C::cluster_token(engine, cluster, request).await, p => Err(absent(p)))
}

/// Git credentials by `request.provider`.
pub(crate) async fn git_credentials(
    engine: &Engine,
    url: &Url,
    request: &Request,
) -> Result<GitCredentials> {
    dispatch!(request.provider, C => C::git_credentials(engine, url, request).await, p => Err(absent(p)))
}

/// Where git reads a repository's refs, by `provider`.
pub(crate) fn git_refs_url(engine: &Engine, url: &Url, provider: Provider) -> Result<Url> {
    dispatch!(provider, C => C::git_refs_url(engine, url), p => Err(absent(p)))
}

/// An access check by `request.provider`.
pub(crate) async fn check(engine: &Engine, target: &str, request: &Request) -> Result<String> {
    dispatch!(request.provider, C => C::check(engine, target, request).await, p => Err(absent(p)))
}
