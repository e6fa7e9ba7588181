//! Git hosting: which provider issues git credentials for a host, and the credentials. This
//! module is cloud-neutral: each cloud says which hosts it owns ([`crate::cloud`]).
//!
//! | host | provider | credentials |
//! |---|---|---|
//! | `git-codecommit[-fips].<region>.amazonaws.com[.cn]` | aws | SigV4-signed username/password ([`crate::aws::codecommit`]) |
//! | `dev.azure.com`, `<org>.visualstudio.com` | azure | an Entra token (with the Azure provider) |

use std::time::SystemTime;

use url::Url;

use crate::cloud::{self, Operation};
use crate::error::Result;
use crate::{Engine, Provider, Request, Secret, hosts};

/// Git credentials for an HTTPS repository URL.
#[derive(Clone)]
pub struct GitCredentials {
    /// The username (AWS CodeCommit: `<access key id>%<session token>`).
    pub username: Secret,
    /// The password.
    pub password: Secret,
    /// When the password stops working.
    pub expires_at: SystemTime,
}

/// The username may carry a session token: both halves are redacted.
impl std::fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCredentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The provider that issues git credentials for `host` (`name` or `name:port`, as git sends
/// it), if any. The name is matched exactly after lowercasing ([`hosts::dns_name`]); any port is
/// kept (it does not change whose server the name is); anything else is not a host kubecred
/// serves.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    let name = hosts::dns_name(without_port(host)?)?;
    cloud::owner(|provider| cloud::owns_git_host(provider, &name))
}

/// Git credentials for the HTTPS repository `url`, by the request's provider.
pub async fn credentials(engine: &Engine, url: &Url, request: &Request) -> Result<GitCredentials> {
    let provider = request.provider;
    cloud::require(provider, Operation::GitCredentials)?;
    cloud::git_credentials(engine, url, request)
        .await
        .map_err(|e| e.for_provider(provider))
}

/// `name` of `name[:port]`, when the port is a port number.
fn without_port(host: &str) -> Option<&str> {
    match host.rsplit_once(':') {
        Some((name, port)) => {
            let number = port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok();
            number.then_some(name)
        }
        None => Some(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookalike::{self, Pattern};

    #[test]
    fn hosts_map_to_providers() {
        for (host, provider) in [
            (
                "git-codecommit.us-east-1.amazonaws.com",
                Some(Provider::Aws),
            ),
            (
                "git-codecommit.us-east-1.amazonaws.com:443",
                Some(Provider::Aws),
            ),
            (
                "git-codecommit.us-east-1.amazonaws.com:8443",
                Some(Provider::Aws),
            ),
            ("git-codecommit.us-east-1.amazonaws.com:+443", None),
            ("git-codecommit.us-east-1.amazonaws.com:99999", None),
            ("git-codecommit.us-east-1.amazonaws.com:1:2", None),
            ("git-codecommit.us-east-1.amazonaws.comnc.cc", None),
            ("git-codecommit.us-east-1.evil.amazonaws.com", None),
            ("a.contoso.visualstudio.com", None),
            ("contoso.visualstudio.com.evil.example", None),
            (
                "GIT-CODECOMMIT-FIPS.us-west-2.amazonaws.com",
                Some(Provider::Aws),
            ),
            (
                "git-codecommit.cn-north-1.amazonaws.com.cn",
                Some(Provider::Aws),
            ),
            ("dev.azure.com", Some(Provider::Azure)),
            ("contoso.visualstudio.com", Some(Provider::Azure)),
            ("github.com", None),
            ("visualstudio.com", None),
            ("git-codecommit.us-east-1.amazonaws.com.evil.example", None),
            ("evil.example/git-codecommit.us-east-1.amazonaws.com", None),
            ("git-codecommit.us-east-1.amazonaws.com@evil.example", None),
            ("git-codecommit.us-east-1.amazonaws.com:", None),
            ("", None),
        ] {
            assert_eq!(provider_for_host(host), provider, "{host}");
        }
    }

    fn provider_name(host: &str) -> Option<String> {
        provider_for_host(host).map(|p| p.to_string())
    }

    const CODECOMMIT: Pattern = Pattern {
        name: "CodeCommit git hosts",
        valid: &[
            "git-codecommit.us-east-1.amazonaws.com",
            "git-codecommit-fips.us-gov-west-1.amazonaws.com",
            "git-codecommit.cn-northwest-1.amazonaws.com.cn",
        ],
        accept: provider_name,
        url: false,
        any_port: true,
        extensions: &["cn"],
        open_first_label: false,
    };
    const AZURE_DEVOPS: Pattern = Pattern {
        name: "Azure DevOps",
        valid: &["dev.azure.com"],
        accept: provider_name,
        url: false,
        any_port: true,
        extensions: &[],
        open_first_label: false,
    };
    const VISUAL_STUDIO: Pattern = Pattern {
        name: "Azure DevOps organisations",
        valid: &["contoso.visualstudio.com", "a-1.visualstudio.com"],
        accept: provider_name,
        url: false,
        any_port: true,
        extensions: &[],
        open_first_label: true,
    };

    #[test]
    fn git_hosts_refuse_every_trick() {
        for pattern in [&CODECOMMIT, &AZURE_DEVOPS, &VISUAL_STUDIO] {
            lookalike::assert_tricks_refused(pattern);
        }
    }

    proptest::proptest! {
        #[test]
        fn no_label_added_to_a_git_host_matches(index in 0usize..64, label in lookalike::LABEL) {
            for pattern in [&CODECOMMIT, &AZURE_DEVOPS, &VISUAL_STUDIO] {
                lookalike::extra_label_refused(pattern, index, &label)
                    .map_err(proptest::test_runner::TestCaseError::fail)?;
            }
        }

        #[test]
        fn provider_for_host_never_panics(input in "\\PC{0,300}") {
            let _ = provider_for_host(&input);
        }
    }
}
