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

/// The provider a registry host belongs to, if kubecred knows it: matched exactly, after
/// lowercasing and dropping a `:443` port ([`crate::aws::hosts`]); anything with userinfo, a
/// path or another port is no registry kubecred serves.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    parse::ecr_registry(host).ok().map(|_| Provider::Aws)
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

/// Logs in to `host` with the identity `request` names. The provider's own options win over the
/// request's (an ECR host decides the region), as in the reference.
pub async fn login(engine: &Engine, host: &str, request: &Request) -> Result<RegistryCredentials> {
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
            crate::aws::ecr::login(&registry, &keys, engine.aws_env(), request.proxy.as_ref())
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
    crate::aws::ecr::login(registry, &keys, engine.aws_env(), request.proxy.as_ref())
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
