//! The seam between the cloud-neutral front of the library ([`crate::Engine`], [`crate::registry`],
//! [`crate::cluster`], [`crate::git`], [`crate::check`]) and each cloud module.
//!
//! Every cloud (`aws/`, `gcp/`, `azure/`, `generic.rs`) implements `Cloud`: the
//! same operations, each a plain async function. `dispatch!` is the one `match` on
//! [`Provider`]; it has no wildcard arm, so adding a provider makes the compiler list every
//! place that must learn it, and a provider compiled out (its cargo feature off) answers one
//! explained error. Operations a cloud lacks answer `unsupported`, one shared message.
//!
//! Adding a cloud: its module implementing `Cloud`, its line in `dispatch!`, its cargo
//! feature, its CLI flags (if any beyond the shared ones), its sandbox stand-ins, the docs.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use url::Url;

use crate::account::ServiceAccountInfo;
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{Credential, KubernetesToken, RegistryCredentials};
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Provider, Request, Secret};

/// What a cloud's credentials can be asked for, beyond a plain token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Object level: a named ServiceAccount's Kubernetes token exchanged for the cloud's.
    ObjectLevel,
    /// Controller level: the process's own environment.
    ControllerLevel,
    /// Node level: the node's metadata service.
    NodeLevel,
    /// Secret level: keys or certificates in a Secret.
    SecretLevel,
    /// Registry login (`registry login`, docker and kubelet front doors).
    RegistryLogin,
    /// Remote-cluster credentials (`cluster credentials`, kubectl's exec plugin).
    ClusterCredentials,
    /// Git credentials (git's credential helper).
    GitCredentials,
    /// Access checks (`kubecred check`).
    AccessCheck,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::ObjectLevel => "object level (ServiceAccount impersonation)",
            Operation::ControllerLevel => "controller level",
            Operation::NodeLevel => "node level",
            Operation::SecretLevel => "secret level",
            Operation::RegistryLogin => "registry login",
            Operation::ClusterCredentials => "remote-cluster credentials",
            Operation::GitCredentials => "git credentials",
            Operation::AccessCheck => "access checks",
        })
    }
}

/// What a provider supports, in words for help texts and errors (`None`: not supported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The identity levels it serves.
    pub levels: &'static [Operation],
    /// The registries it logs in to (e.g. "ECR, ECR Public").
    pub registries: Option<&'static str>,
    /// The remote clusters it reaches (e.g. "EKS").
    pub clusters: Option<&'static str>,
    /// Whether it looks a cluster up in the cloud and reports its API server address (EKS
    /// `DescribeCluster`): a tenant-chosen address is then checked against the record.
    pub reports_cluster_address: bool,
    /// The git hosts it answers for (e.g. "AWS CodeCommit").
    pub git: Option<&'static str>,
    /// The access checks it runs (e.g. "s3://BUCKET, kms://KEY-ARN").
    pub checks: Option<&'static str>,
}

impl Capabilities {
    /// Whether `operation` is supported.
    pub fn supports(&self, operation: Operation) -> bool {
        match operation {
            Operation::RegistryLogin => self.registries.is_some(),
            Operation::ClusterCredentials => self.clusters.is_some(),
            Operation::GitCredentials => self.git.is_some(),
            Operation::AccessCheck => self.checks.is_some(),
            level => self.levels.contains(&level),
        }
    }
}

/// A Kubernetes token someone presented (the kubelet's pod ServiceAccount token, KEP-4412), with
/// the ServiceAccount it belongs to.
#[cfg_attr(not(any(feature = "aws", feature = "gcp")), allow(dead_code))] // read by the clouds with registry login
pub(crate) struct Presented<'a> {
    pub(crate) account: &'a ServiceAccountInfo,
    pub(crate) token: KubernetesToken,
}

/// The operations every cloud module implements (see the module docs).
pub(crate) trait Cloud {
    /// What the provider supports.
    const CAPABILITIES: Capabilities;
    /// The ServiceAccount annotation keys it reads.
    const ANNOTATIONS: &'static [&'static str];
    /// The annotation keys without which object level cannot work (a subset of the above).
    const REQUIRED_ANNOTATIONS: &'static [&'static str];

    /// The audiences of the Kubernetes token object level mints for `account`, when the request
    /// names none (GCP's depend on the annotations and, on GKE, on the metadata server).
    async fn audiences(
        engine: &Engine,
        request: &Request,
        account: &ServiceAccountInfo,
    ) -> Result<Vec<String>>;
    /// The audiences controller level mints a Kubernetes token for (none if it mints none).
    fn controller_audiences(request: &Request) -> Vec<String>;
    /// The cloud identity a ServiceAccount maps to (validates its annotations); part of the
    /// cache key.
    fn identity(account: &ServiceAccountInfo) -> Result<String>;

    /// Object level: exchanges the ServiceAccount's Kubernetes token.
    async fn object_level(
        engine: &Engine,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential>;
    /// Controller level.
    async fn controller_level(engine: &Engine, request: &Request) -> Result<Credential>;
    /// Node level.
    async fn node_level(engine: &Engine, request: &Request) -> Result<Credential>;
    /// Secret level, from the Secret's data.
    async fn secret_level(
        engine: &Engine,
        request: &Request,
        data: &BTreeMap<String, Secret>,
    ) -> Result<Credential>;

    /// Whether this cloud serves the registry `host` (exact, anchored match).
    fn owns_registry(host: &str) -> bool;
    /// Registry login at `host`, with the request's identity or a presented token.
    async fn registry_login(
        engine: &Engine,
        host: &str,
        request: &Request,
        presented: Option<Presented<'_>>,
    ) -> Result<RegistryCredentials>;

    /// Remote-cluster credentials: server, CA and token.
    async fn cluster_credentials(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<ClusterCredentials>;
    /// A remote cluster's token alone (no server or CA lookup where the cloud can skip it).
    async fn cluster_token(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<(Secret, SystemTime)>;

    /// Whether this cloud serves the git host `host` (a host name, lowercase, no port).
    fn owns_git_host(host: &str) -> bool;
    /// Git credentials for an HTTPS repository URL.
    async fn git_credentials(
        engine: &Engine,
        url: &Url,
        request: &Request,
    ) -> Result<GitCredentials>;
    /// Where git reads repository `url`'s ref advertisement (what `git fetch` asks first):
    /// `{url}/info/refs?service=git-upload-pack`, unless the cloud has an operator's override.
    fn git_refs_url(_engine: &Engine, url: &Url) -> Result<Url> {
        Ok(crate::git::refs_url(url))
    }

    /// Whether this cloud runs the access check `target` (e.g. `s3://bucket`).
    fn owns_check(target: &str) -> bool;
    /// Checks that the credentials reach `target`; a one-line summary of what was seen.
    async fn check(engine: &Engine, target: &str, request: &Request) -> Result<String>;
}

/// Runs `$call` with `$cloud` bound to the provider's [`Cloud`] type, or, for a provider not
/// in this build, `$fallback` with `$absent` bound to the provider (see [`absent`]).
macro_rules! dispatch {
    ($provider:expr, $cloud:ident => $call:expr, $absent:ident => $fallback:expr) => {{
        let provider: $crate::Provider = $provider;
        match provider {
            #[cfg(feature = "aws")]
            $crate::Provider::Aws => {
                type $cloud = $crate::aws::Aws;
                $call
            }
            #[cfg(not(feature = "aws"))]
            $crate::Provider::Aws => {
                let $absent = provider;
                $fallback
            }
            #[cfg(feature = "gcp")]
            $crate::Provider::Gcp => {
                type $cloud = $crate::gcp::Gcp;
                $call
            }
            #[cfg(not(feature = "gcp"))]
            $crate::Provider::Gcp => {
                let $absent = provider;
                $fallback
            }
            #[cfg(feature = "azure")]
            $crate::Provider::Azure => {
                type $cloud = $crate::azure::Azure;
                $call
            }
            #[cfg(not(feature = "azure"))]
            $crate::Provider::Azure => {
                let $absent = provider;
                $fallback
            }
            $crate::Provider::Generic => {
                type $cloud = $crate::generic::Generic;
                $call
            }
        }
    }};
}

mod ops;

pub use ops::{annotations, capabilities, required_annotations, served};
pub(crate) use ops::{
    audiences, check, cluster_credentials, cluster_token, controller_audiences, controller_level,
    git_credentials, git_refs_url, identity, node_level, object_level, owner, owns_check,
    owns_git_host, owns_registry, registry_login, secret_level,
};

/// Why `provider` cannot serve anything in this build: its cargo feature is off.
pub(crate) fn absent(provider: Provider) -> Error {
    let feature = provider.name();
    Error::invalid(format!(
        "provider '{provider}' is not in this build: kubecred was compiled without the \
         cargo feature '{feature}' (rebuild with --features {feature})"
    ))
    .for_provider(provider)
}

/// What `provider` supports, when it supports `operation`; else the provider's absence from this
/// build or the one explained refusal.
pub(crate) fn require(provider: Provider, operation: Operation) -> Result<Capabilities> {
    match capabilities(provider) {
        None => Err(absent(provider)),
        Some(caps) if caps.supports(operation) => Ok(caps),
        Some(_) => Err(unsupported(provider, operation)),
    }
}

/// The one explained refusal of an operation a provider lacks.
pub(crate) fn unsupported(provider: Provider, operation: Operation) -> Error {
    Error::invalid(format!("the {provider} provider has no {operation}")).for_provider(provider)
}

/// Refuses a request for `what` (a registry or git host, a check target) that another provider
/// serves, naming it; or that no provider of this build serves.
pub(crate) fn served_by_other(
    provider: Provider,
    operation: Operation,
    what: &str,
    owner: Option<Provider>,
) -> Error {
    let message = match owner {
        Some(owner) => format!("{operation} for {what} is done by provider '{owner}'"),
        None => format!("no provider of this build does {operation} for {what}"),
    };
    Error::invalid(message).for_provider(provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_served_or_explained() {
        for provider in Provider::ALL {
            match capabilities(provider) {
                Some(caps) => assert!(!caps.levels.is_empty(), "{provider}"),
                None => {
                    let message = absent(provider).to_string();
                    assert!(message.contains(provider.name()), "{message}");
                }
            }
        }
        assert!(served().contains(&Provider::Generic));
    }

    #[test]
    fn unsupported_operations_share_one_message() {
        assert_eq!(
            unsupported(Provider::Generic, Operation::NodeLevel).to_string(),
            "generic: the generic provider has no node level"
        );
        let other = served_by_other(
            Provider::Generic,
            Operation::RegistryLogin,
            "public.ecr.aws",
            Some(Provider::Aws),
        );
        assert!(
            other
                .to_string()
                .ends_with("registry login for public.ecr.aws is done by provider 'aws'"),
            "{other}"
        );
    }

    #[cfg(feature = "aws")]
    #[test]
    fn hosts_find_their_owner() {
        let registry = |host: &str| owner(|p| owns_registry(p, host));
        assert_eq!(registry("public.ecr.aws"), Some(Provider::Aws));
        assert_eq!(registry("ghcr.io"), None);
        let git = |host: &str| owner(|p| owns_git_host(p, host));
        assert_eq!(
            git("git-codecommit.us-east-1.amazonaws.com"),
            Some(Provider::Aws)
        );
        assert_eq!(git("github.com"), None);
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn a_build_without_aws_names_the_feature() {
        let message = absent(Provider::Aws).to_string();
        assert!(message.contains("cargo feature 'aws'"), "{message}");
    }
}
