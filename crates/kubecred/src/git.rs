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
use crate::error::{Error, Result};
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

/// `{url}/info/refs?service=git-upload-pack`: the smart-HTTP ref advertisement of repository
/// `url` (its path without a trailing `/`; query and fragment dropped).
pub(crate) fn refs_url(url: &Url) -> Url {
    let mut refs = url.clone();
    let path = format!("{}/info/refs", url.path().trim_end_matches('/'));
    refs.set_path(&path);
    refs.set_query(Some("service=git-upload-pack"));
    refs.set_fragment(None);
    refs
}

/// Reads repository `url`'s ref advertisement with the request's git credentials, as `git
/// fetch` does first: a one-line summary, or the host's refusal (401, 403 and 404 denied, with
/// the first line of its answer, where hosts name the reason).
pub(crate) async fn read_refs(engine: &Engine, url: &Url, request: &Request) -> Result<String> {
    let credentials = credentials(engine, url, request).await?;
    let provider = request.provider;
    let refs = cloud::git_refs_url(engine, url, provider)?;
    let action = format!("read the refs of {}", crate::request::redacted_url(url));
    let client = crate::http::client(
        &action,
        crate::http::Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    let call = client.get(refs).basic_auth(
        credentials.username.expose(),
        Some(credentials.password.expose()),
    );
    let body = crate::http::text(call, &action, refusal)
        .await
        .map_err(|e| e.for_provider(provider))?;
    let refs = body
        .lines()
        .filter(|l| !l.starts_with("001e# service"))
        .count();
    Ok(format!(
        "{}: read the refs ({refs} lines)",
        crate::request::redacted_url(url)
    ))
}

/// A git host's refusal: denied for 401, 403 and 404 (hosts answer 404 for a repository the
/// caller may not read), with the first line of the answer (Azure DevOps' `TF…` text).
fn refusal(status: u16, body: &str, action: &str) -> Error {
    let message = format!(
        "{action}: HTTP {status}: {}",
        crate::http::first_line(body, 300)
    );
    match status {
        401 | 403 | 404 => Error::denied(message),
        408 | 429 | 500..=599 => Error::transient(message),
        _ => Error::upstream(message),
    }
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
    fn refs_are_read_under_the_repository_and_refusals_are_classified()
    -> std::result::Result<(), url::ParseError> {
        for (url, refs) in [
            (
                "https://dev.azure.com/o/p/_git/r",
                "https://dev.azure.com/o/p/_git/r/info/refs?service=git-upload-pack",
            ),
            (
                "https://h.example/o/r/?x=1#f",
                "https://h.example/o/r/info/refs?service=git-upload-pack",
            ),
        ] {
            assert_eq!(refs_url(&Url::parse(url)?).as_str(), refs);
        }
        let denied = refusal(
            401,
            "TF400813: The user 'x' is not authorized\nmore",
            "read",
        );
        assert!(denied.is_denied());
        assert!(
            denied
                .to_string()
                .contains("HTTP 401: TF400813: The user 'x' is not authorized")
        );
        assert!(!denied.to_string().contains("more"));
        assert!(refusal(404, "TF401019", "read").is_denied());
        assert!(refusal(503, "", "read").is_transient());
        assert!(!refusal(400, "", "read").is_denied());
        Ok(())
    }

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
