//! Git hosting: which provider issues git credentials for a host.
//!
//! | host | provider | credentials |
//! |---|---|---|
//! | `git-codecommit[-fips].<region>.amazonaws.com[.cn]` | aws | SigV4-signed username/password ([`crate::aws::codecommit`]) |
//! | `dev.azure.com`, `*.visualstudio.com` | azure | an Entra token (with the Azure provider) |

use crate::Provider;
use crate::aws::parse;

/// The provider that issues git credentials for `host` (`name` or `name:port`), if any.
pub fn provider_for_host(host: &str) -> Option<Provider> {
    let name = host_name(host)?.to_ascii_lowercase();
    if parse::codecommit_region(&format!("https://{name}/")).is_ok() {
        return Some(Provider::Aws);
    }
    if name == "dev.azure.com" || name.ends_with(".visualstudio.com") {
        return Some(Provider::Azure);
    }
    None
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
