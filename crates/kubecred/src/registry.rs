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

/// The provider of this build that serves registry `host`: matched exactly by each cloud, after
/// lowercasing and dropping a `:443` port ([`crate::hosts::dns_name`]); anything with user info,
/// a path or another port is no registry kubecred serves.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    cloud::owner(|provider| cloud::owns_registry(provider, host))
}

/// The registry part of an image reference or registry URL (`https://` and paths dropped).
/// What is left is matched whole by [`provider_for_host`]: user info (`https://a@host`), a query
/// or a fragment stays in it, so such a URL names no registry kubecred serves.
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
    let login = cloud::registry_login(engine, host, request, None);
    engine
        .within(STEP, login)
        .await
        .map_err(|e| e.for_provider(request.provider))
}

/// The overall deadline's name for a registry login.
const STEP: &str = "log in to the registry";

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
    let login = cloud::registry_login(engine, host, request, Some(presented));
    engine
        .within(STEP, login)
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

    const REGISTRY: crate::lookalike::Pattern = crate::lookalike::Pattern {
        name: "registry hosts",
        valid: &[
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr-ecr.us-west-2.on.aws",
            "public.ecr.aws",
        ],
        accept: |host| provider_for_host(host).map(|p| p.to_string()),
        url: false,
        any_port: false,
        extensions: &["cn"],
        open_first_label: false,
    };

    #[test]
    fn registry_hosts_refuse_every_trick() {
        crate::lookalike::assert_tricks_refused(&REGISTRY);
    }

    /// What the docker helper (`https://host`, `host`), `registry login` and the kubelet (an
    /// image, `host/repo:tag`) hand in: a look-alike stays one whatever the wrapping.
    #[test]
    fn look_alikes_are_refused_whatever_the_front_door_hands_in() {
        let lookalike = "123456789012.dkr.ecr.us-east-1.amazonaws.comnc.cc";
        let real = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        for (input, provider) in [
            (format!("https://{lookalike}"), None),
            (lookalike.to_owned(), None),
            (format!("{lookalike}/team/app:1.0"), None),
            (format!("https://{lookalike}/v2/"), None),
            (format!("https://a@{real}"), None),
            (format!("https://{real}@{lookalike}/"), None),
            (format!("https://{lookalike}/{real}"), None),
            (format!("{real}.evil.example/team/app"), None),
            (format!("https://{real}"), Some(Provider::Aws)),
            (format!("{real}/team/app@sha256:abcd"), Some(Provider::Aws)),
            (format!("https://{real}:443/v2/"), Some(Provider::Aws)),
        ] {
            assert_eq!(
                provider_for_host(registry_host(&input)),
                provider,
                "{input}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn no_label_added_to_a_registry_host_matches(
            index in 0usize..64,
            label in crate::lookalike::LABEL,
        ) {
            crate::lookalike::extra_label_refused(&REGISTRY, index, &label)
                .map_err(proptest::test_runner::TestCaseError::fail)?;
        }

        #[test]
        fn host_matching_never_panics(input in "\\PC{0,300}") {
            let _ = provider_for_host(registry_host(&input));
        }
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
