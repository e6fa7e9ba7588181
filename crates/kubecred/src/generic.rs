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

use std::path::Path;

use crate::credential::{Credential, KubernetesToken};
use crate::error::{Error, Result};
use crate::{Kubernetes, Request, jwt};

/// Where Kubernetes mounts a pod's ServiceAccount token.
pub const SERVICE_ACCOUNT_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

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

/// The credential for a ServiceAccount's token: the token itself.
pub(crate) fn service_account_credential(token: KubernetesToken) -> Credential {
    Credential::KubernetesToken(token)
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
