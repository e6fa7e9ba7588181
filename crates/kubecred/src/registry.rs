//! Registry login: a registry host names its cloud and where to authenticate; the resolved
//! identity's credential is exchanged for a registry username and password.
//!
//! | host | provider | login |
//! |---|---|---|
//! | `<account>.dkr.ecr[-fips].<region>.<partition suffix>`, `<account>.dkr-ecr.<region>.on.aws` | aws | ECR `GetAuthorizationToken` in the host's region |
//! | `public.ecr.aws` | aws | ECR Public `GetAuthorizationToken` in us-east-1 |

use crate::aws::parse::{self, EcrRegistry};
use crate::error::{Error, Result};
use crate::{
    Credential, Engine, KubernetesToken, Provider, RegistryCredentials, Request, ServiceAccountInfo,
};

/// The provider a registry host belongs to, if kubecred knows it.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    parse::ecr_registry(host).ok().map(|_| Provider::Aws)
}

/// The registry part of an image reference or registry URL (`https://` and paths dropped).
pub fn registry_host(reference: &str) -> &str {
    let rest = reference
        .strip_prefix("https://")
        .or_else(|| reference.strip_prefix("http://"))
        .unwrap_or(reference);
    rest.split('/').next().unwrap_or(rest)
}

/// Logs in to `host` with the identity `request` names. The provider's own options win over the
/// request's (an ECR host decides the region), as in the reference.
pub async fn login(engine: &Engine, host: &str, request: &Request) -> Result<RegistryCredentials> {
    engine
        .within(STEP, login_unbounded(engine, host, request))
        .await
}

/// The overall deadline's name for a registry login.
const STEP: &str = "log in to the registry";

async fn login_unbounded(
    engine: &Engine,
    host: &str,
    request: &Request,
) -> Result<RegistryCredentials> {
    let host = registry_host(host);
    match request.provider {
        Provider::Aws => {
            let registry = parse::ecr_registry(host)?;
            ecr_login(engine, &registry, request)
                .await
                .map_err(|e| e.for_provider(Provider::Aws))
        }
        other => Err(Error::invalid(format!(
            "registry login for provider '{other}' is not implemented yet"
        ))
        .for_provider(other)),
    }
}

/// Logs in to `host` with a Kubernetes token someone presented (the kubelet's pod ServiceAccount
/// token) and the annotations of its ServiceAccount, without any Kubernetes access.
pub async fn login_with_presented_token(
    engine: &Engine,
    host: &str,
    request: &Request,
    account: &ServiceAccountInfo,
    token: KubernetesToken,
) -> Result<RegistryCredentials> {
    let host = registry_host(host);
    let login = async move {
        match request.provider {
            Provider::Aws => {
                let registry = parse::ecr_registry(host)?;
                let request = Request {
                    region: Some(registry.region().to_owned()),
                    ..request.clone()
                };
                let keys = match engine
                    .exchange_presented_token(&request, account, token)
                    .await?
                {
                    Credential::CloudKeys(keys) => keys,
                    other => {
                        return Err(Error::upstream(format!(
                            "expected AWS keys, got a {}",
                            other.kind()
                        )));
                    }
                };
                crate::aws::ecr::login(
                    &registry,
                    &keys,
                    engine.aws_env(),
                    engine.aws_transport(&request),
                )
                .await
                .map_err(|e| {
                    e.at("get an ECR authorization token")
                        .for_provider(Provider::Aws)
                })
            }
            other => Err(Error::invalid(format!(
                "registry login for provider '{other}' is not implemented yet"
            ))
            .for_provider(other)),
        }
    };
    engine.within(STEP, login).await
}

async fn ecr_login(
    engine: &Engine,
    registry: &EcrRegistry,
    request: &Request,
) -> Result<RegistryCredentials> {
    let request = Request {
        region: Some(registry.region().to_owned()),
        ..request.clone()
    };
    let keys = engine.aws_keys(&request).await?;
    crate::aws::ecr::login(
        registry,
        &keys,
        engine.aws_env(),
        engine.aws_transport(&request),
    )
    .await
    .map_err(|e| e.at("get an ECR authorization token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_their_provider() {
        assert_eq!(
            provider_for_host("012345678901.dkr.ecr.us-east-1.amazonaws.com"),
            Some(Provider::Aws)
        );
        assert_eq!(provider_for_host("public.ecr.aws"), Some(Provider::Aws));
        assert_eq!(provider_for_host("ghcr.io"), None);
    }

    #[test]
    fn registry_hosts_come_from_references_and_urls() {
        assert_eq!(
            registry_host("https://012345678901.dkr.ecr.us-east-1.amazonaws.com/v2/"),
            "012345678901.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(registry_host("public.ecr.aws/foo/bar:1"), "public.ecr.aws");
        assert_eq!(registry_host("localhost:5000"), "localhost:5000");
    }
}
