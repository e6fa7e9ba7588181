//! Registry login: a registry host names its cloud and where to authenticate; the resolved
//! identity's credential is exchanged for a registry username and password. This module is
//! cloud-neutral: each cloud says which hosts it owns and logs in to them ([`crate::cloud`]).
//!
//! | host | provider | login |
//! |---|---|---|
//! | `<account>.dkr.ecr[-fips].<region>.<partition suffix>`, `<account>.dkr-ecr.<region>.on.aws` | aws | ECR `GetAuthorizationToken` in the host's region |
//! | `public.ecr.aws` | aws | ECR Public `GetAuthorizationToken` in us-east-1 |

use crate::cloud::{self, Operation, Presented};
use crate::error::Result;
use crate::{Engine, KubernetesToken, Provider, RegistryCredentials, Request, ServiceAccountInfo};

/// The provider that serves registry `host` in this build, if any (exact host patterns).
pub fn provider_for_host(host: &str) -> Option<Provider> {
    let host = registry_host(host);
    cloud::owner(|provider| cloud::owns_registry(provider, host))
}

/// The registry host of an image reference or a server URL (`https://host/v2/` → `host`).
pub fn registry_host(reference: &str) -> &str {
    let rest = reference
        .strip_prefix("https://")
        .or_else(|| reference.strip_prefix("http://"))
        .unwrap_or(reference);
    rest.split('/').next().unwrap_or(rest)
}

/// Logs in to registry `host` (a host, server URL or image reference) with the request's
/// identity.
pub async fn login(engine: &Engine, host: &str, request: &Request) -> Result<RegistryCredentials> {
    let host = registry_host(host);
    serves(host, request)?;
    cloud::registry_login(engine, host, request, None)
        .await
        .map_err(|e| e.for_provider(request.provider))
}

/// Logs in to registry `host` with a Kubernetes token someone presented (the kubelet's pod
/// ServiceAccount token), exchanged with the ServiceAccount's annotations; nothing is cached.
pub async fn login_with_presented_token(
    engine: &Engine,
    host: &str,
    request: &Request,
    account: &ServiceAccountInfo,
    token: KubernetesToken,
) -> Result<RegistryCredentials> {
    let host = registry_host(host);
    serves(host, request)?;
    let presented = Presented { account, token };
    cloud::registry_login(engine, host, request, Some(presented))
        .await
        .map_err(|e| e.for_provider(request.provider))
}

/// Refuses a provider without registry login, naming the provider that serves `host`. A
/// provider with registry login checks the host itself (its message names its patterns).
fn serves(host: &str, request: &Request) -> Result<()> {
    let provider = request.provider;
    match cloud::capabilities(provider) {
        None => Err(cloud::absent(provider)),
        Some(caps) if caps.supports(Operation::RegistryLogin) => Ok(()),
        Some(_) => Err(cloud::served_by_other(
            provider,
            Operation::RegistryLogin,
            host,
            provider_for_host(host),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "aws")]
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
