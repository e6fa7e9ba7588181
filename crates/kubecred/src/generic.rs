//! The `generic` provider: the Kubernetes ServiceAccount token itself is the credential, for
//! remote clusters (and other services) that trust this cluster's issuer.
//!
//! - Controller level: a TokenRequest for the process's own ServiceAccount, whose namespace and
//!   name come from the `sub` claim of the pod's mounted token
//!   (`/var/run/secrets/kubernetes.io/serviceaccount/token`), with the request's audiences.
//! - Object level: a TokenRequest for the named ServiceAccount; the token is returned as is.
//!
//! The audience defaults to the API server's default; for remote clusters callers pass the
//! cluster address.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use url::Url;

use crate::account::ServiceAccountInfo;
use crate::cloud::{self, Capabilities, Cloud, Operation, Presented};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{Credential, KubernetesToken, RegistryCredentials};
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Kubernetes, Provider, Request, Secret, jwt};

/// Where Kubernetes mounts a pod's ServiceAccount token.
pub const SERVICE_ACCOUNT_TOKEN_FILE: &str = crate::env::SERVICE_ACCOUNT_TOKEN_FILE;

/// The generic provider's side of the cloud seam.
pub(crate) struct Generic;

fn lacks(operation: Operation) -> Error {
    cloud::unsupported(Provider::Generic, operation)
}

impl Cloud for Generic {
    const CAPABILITIES: Capabilities = Capabilities {
        levels: &[Operation::ObjectLevel, Operation::ControllerLevel],
        registries: None,
        clusters: Some("any cluster that trusts this cluster's issuer"),
        reports_cluster_address: false,
        git: None,
        checks: None,
    };
    const ANNOTATIONS: &'static [&'static str] = &[];
    const REQUIRED_ANNOTATIONS: &'static [&'static str] = &[];

    async fn audiences(
        _: &Engine,
        request: &Request,
        _: &ServiceAccountInfo,
    ) -> Result<Vec<String>> {
        Ok(audiences(request))
    }

    fn controller_audiences(request: &Request) -> Vec<String> {
        audiences(request)
    }

    fn identity(account: &ServiceAccountInfo) -> Result<String> {
        Ok(identity(&account.namespace, &account.name))
    }

    async fn object_level(
        _: &Engine,
        _: &Request,
        _: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        Ok(Credential::KubernetesToken(token))
    }

    async fn controller_level(engine: &Engine, request: &Request) -> Result<Credential> {
        let token_file = engine.env().service_account_token_file();
        controller_token(engine.kubernetes()?, token_file, &audiences(request)).await
    }

    async fn node_level(_: &Engine, _: &Request) -> Result<Credential> {
        Err(lacks(Operation::NodeLevel))
    }

    async fn secret_level(
        _: &Engine,
        _: &Request,
        _: &BTreeMap<String, Secret>,
    ) -> Result<Credential> {
        Err(lacks(Operation::SecretLevel))
    }

    fn owns_registry(_: &str) -> bool {
        false
    }

    async fn registry_login(
        _: &Engine,
        _: &str,
        _: &Request,
        _: Option<Presented<'_>>,
    ) -> Result<RegistryCredentials> {
        Err(lacks(Operation::RegistryLogin))
    }

    async fn cluster_credentials(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<ClusterCredentials> {
        cluster_credentials(engine, cluster, request).await
    }

    async fn cluster_token(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<(Secret, SystemTime)> {
        let credentials = cluster_credentials(engine, cluster, request).await?;
        Ok((credentials.token, credentials.expires_at))
    }

    fn owns_git_host(_: &str) -> bool {
        false
    }

    async fn git_credentials(_: &Engine, _: &Url, _: &Request) -> Result<GitCredentials> {
        Err(lacks(Operation::GitCredentials))
    }

    fn owns_check(_: &str) -> bool {
        false
    }

    async fn check(_: &Engine, _: &str, _: &Request) -> Result<String> {
        Err(lacks(Operation::AccessCheck))
    }
}

/// A remote cluster that trusts this cluster's issuer: its address (the token's default
/// audience, as given), its CA, and the resolved identity's Kubernetes token.
async fn cluster_credentials(
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
    let token = engine.kubernetes_token(&request).await?;
    Ok(ClusterCredentials {
        server: address,
        ca_data: cluster.ca_data.clone(),
        token: token.token,
        expires_at: token.expires_at,
    })
}

/// The audiences of a generic token: the request's, else the remote cluster's address as given.
pub(crate) fn audiences(request: &Request) -> Vec<String> {
    match (&request.audiences[..], &request.cluster_address) {
        ([], Some(address)) => vec![address.clone()],
        (audiences, _) => audiences.to_vec(),
    }
}

/// The identity a ServiceAccount has in the `generic` provider: its token subject.
pub(crate) fn identity(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// A token for the process's own ServiceAccount, named by the pod's mounted token.
pub(crate) async fn controller_token(
    kubernetes: &Kubernetes,
    token_file: &Path,
    audiences: &[String],
) -> Result<Credential> {
    let own = tokio::fs::read_to_string(token_file).await.map_err(|e| {
        Error::not_configured(format!(
            "cannot read the pod's ServiceAccount token {} (not running in a pod? name a ServiceAccount instead)",
            token_file.display()
        ))
        .with_source(e)
    })?;
    let claims = jwt::unverified_claims(own.trim())
        .map_err(|e| e.at("read the pod's ServiceAccount token"))?;
    let subject = claims.sub.ok_or_else(|| {
        Error::invalid(format!(
            "the token in {} has no subject",
            token_file.display()
        ))
    })?;
    let (namespace, name) = jwt::service_account_of(&subject)?;
    let token = kubernetes
        .create_token(namespace, name, audiences, None)
        .await
        .map_err(|e| {
            e.at("create Kubernetes token")
                .for_identity(format!("controller service account {namespace}/{name}"))
        })?;
    Ok(Credential::KubernetesToken(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Provider;

    #[test]
    fn audiences_default_to_the_cluster_address_as_given() {
        let remote = Request {
            cluster_address: Some("Remote.Example:6443".into()),
            ..Request::new(Provider::Generic)
        };
        assert_eq!(audiences(&remote), vec!["Remote.Example:6443".to_string()]);
        let explicit = Request {
            audiences: vec!["aud".into()],
            ..remote
        };
        assert_eq!(audiences(&explicit), vec!["aud".to_string()]);
        assert!(audiences(&Request::new(Provider::Generic)).is_empty());
    }
}
