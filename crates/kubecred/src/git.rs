//! Git hosting: which provider issues git credentials for a host, and the credentials. This
//! module is cloud-neutral: each cloud says which hosts it owns ([`crate::cloud`]).
//!
//! | host | provider | credentials |
//! |---|---|---|
//! | `git-codecommit[-fips].<region>.amazonaws.com[.cn]` | aws | SigV4-signed username/password ([`crate::aws::codecommit`]) |
//! | `dev.azure.com`, `*.visualstudio.com` | azure | an Entra token (with the Azure provider) |

use std::time::SystemTime;

use url::Url;

use crate::cloud::{self, Operation};
use crate::error::Result;
use crate::{Engine, Provider, Request, Secret};

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

/// The provider that issues git credentials for `host` (`name` or `name:port`), if any.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    let name = host_name(host)?.to_ascii_lowercase();
    cloud::owner(|provider| cloud::claims_git_host(provider, &name))
}

/// Git credentials for the HTTPS repository `url`, by the request's provider.
pub async fn credentials(engine: &Engine, url: &Url, request: &Request) -> Result<GitCredentials> {
    let provider = request.provider;
    let supported = cloud::capabilities(provider).ok_or_else(|| cloud::absent(provider))?;
    if !supported.supports(Operation::GitCredentials) {
        return Err(cloud::unsupported(provider, Operation::GitCredentials));
    }
    cloud::git_credentials(engine, url, request)
        .await
        .map_err(|e| e.for_provider(provider))
}

/// The name part of `name[:port]`, when it is a plain DNS name (anything else is not ours).
fn host_name(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        Some(_) => return None,
        None => host,
    };
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    plain.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_providers() {
        for (host, provider) in [
            (
                "git-codecommit.us-east-1.amazonaws.com",
                Some(Provider::Aws),
            ),
            (
                "git-codecommit.us-east-1.amazonaws.com:8443",
                Some(Provider::Aws),
            ),
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
}
