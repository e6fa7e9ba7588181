//! Where Entra ID tokens are asked for: the authority host (`AZURE_AUTHORITY_HOST`, default
//! the public cloud's) and the tenant.
//!
//! The operator's `AZURE_AUTHORITY_HOST` is trusted as given (a sovereign or private cloud, or
//! the sandbox's stand-in), once parsed: `https` (as `azure_identity` requires), a host, no user
//! info, query or fragment. An authority host a tenant writes into a Secret is hostile: only the
//! three public clouds' hosts, or the operator's own, are taken.

use url::Url;

use super::is_guid;
use crate::Env;
use crate::error::{Error, Result};

/// The variable naming the authority host.
pub const AUTHORITY_HOST_VAR: &str = "AZURE_AUTHORITY_HOST";
/// The public cloud's authority host.
pub const PUBLIC: &str = "https://login.microsoftonline.com/";
/// The authority hosts of the public, US Government and China clouds.
pub const KNOWN: &[&str] = &[
    PUBLIC,
    "https://login.microsoftonline.us/",
    "https://login.chinacloudapi.cn/",
];

/// The operator's authority host: `AZURE_AUTHORITY_HOST`, else the public cloud's.
pub(crate) fn from_env(env: &Env) -> Result<Url> {
    match env.var(AUTHORITY_HOST_VAR).filter(|v| !v.is_empty()) {
        None => parse(PUBLIC, "the public cloud"),
        Some(value) => parse(&value, AUTHORITY_HOST_VAR),
    }
}

/// An authority host from a Secret (`source` names it): one of [`KNOWN`] or the operator's.
pub(crate) fn from_secret(env: &Env, value: &str, source: &str) -> Result<Url> {
    let url = parse(value, source)?;
    let operator = from_env(env)?;
    let known = KNOWN
        .iter()
        .any(|k| Url::parse(k).is_ok_and(|k| k.origin() == url.origin()));
    if known || url.origin() == operator.origin() {
        return Ok(url);
    }
    Err(Error::invalid(format!(
        "{source}: authority host '{}' is not one of {} nor the controller's {AUTHORITY_HOST_VAR}",
        url.as_str(),
        KNOWN.join(", ")
    )))
}

fn parse(value: &str, source: &str) -> Result<Url> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "{source}: invalid authority host '{}': {why}",
            without_user_info(value).escape_default()
        ))
    };
    let url = Url::parse(value).map_err(|_| bad("not a URL"))?;
    if url.scheme() != "https" {
        return Err(bad("expected https:// (Entra ID is only reached over TLS)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("user info is not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment is not allowed"));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(bad(
            "a path is not allowed (the tenant is added to the host)",
        ));
    }
    Ok(url)
}

/// `value` for a message, anything up to its last `@` cut out (`https://user:password@host/` →
/// `https://***@host/`): a password written into the URL, however it is spelt
/// (`https:user:password@host` parses too), must not reach an error.
fn without_user_info(value: &str) -> String {
    let Some(at) = value.rfind('@') else {
        return value.to_owned();
    };
    let scheme = value
        .find("://")
        .map(|i| i + 3)
        .filter(|&end| end <= at)
        .unwrap_or(0);
    format!("{}***{}", &value[..scheme], &value[at..])
}

/// The token endpoint of `tenant` at `authority` (also the audience of certificate assertions).
pub(crate) fn token_endpoint(authority: &Url, tenant: &str) -> String {
    format!(
        "{}://{}/{tenant}/oauth2/v2.0/token",
        authority.scheme(),
        host_port(authority)
    )
}

fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    }
}

/// Checks a tenant (from the environment or a Secret, `source`): a GUID, or a verified domain
/// name such as `contoso.onmicrosoft.com`.
pub(crate) fn tenant<'a>(value: &'a str, source: &str) -> Result<&'a str> {
    let domain =
        value.len() <= 253 && value.contains('.') && value.split('.').all(crate::hosts::dns_label);
    if is_guid(value) || domain {
        return Ok(value);
    }
    Err(Error::invalid(format!(
        "{source}: invalid tenant '{}': expected a GUID or a domain name",
        super::shown(value)
    )))
}

/// Checks a client (application) id: a GUID.
pub(crate) fn client_id<'a>(value: &'a str, source: &str) -> Result<&'a str> {
    if is_guid(value) {
        return Ok(value);
    }
    Err(Error::invalid(format!(
        "{source}: invalid client id {}: expected a GUID",
        super::shown(value)
    )))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn env(value: Option<&str>) -> Env {
        match value {
            Some(v) => Env::from_pairs(&[(AUTHORITY_HOST_VAR, v)]),
            None => Env::from_pairs(&[]),
        }
    }

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_operators_host_or_the_public_cloud() {
        assert_eq!(
            from_env(&env(None)).ok().map(String::from),
            Some(PUBLIC.into())
        );
        assert_eq!(
            from_env(&env(Some(""))).ok().map(String::from),
            Some(PUBLIC.into())
        );
        let sandbox = from_env(&env(Some("https://127.0.0.1:8443/"))).ok();
        assert_eq!(
            sandbox.map(|u| token_endpoint(&u, "t.example.com")),
            Some("https://127.0.0.1:8443/t.example.com/oauth2/v2.0/token".into())
        );
        for (bad, why) in [
            ("http://login.microsoftonline.com/", "expected https://"),
            ("https://user:pw@login.microsoftonline.com/", "user info"),
            (
                "https://login.microsoftonline.com/?x=1",
                "query or fragment",
            ),
            (
                "https://login.microsoftonline.com/tenant",
                "a path is not allowed",
            ),
            ("login.microsoftonline.com", "not a URL"),
        ] {
            let error = message(from_env(&env(Some(bad))));
            if bad.contains('@') {
                assert_eq!(
                    error,
                    "AZURE_AUTHORITY_HOST: invalid authority host 'https://***@login.microsoftonline.com/': user info is not allowed"
                );
            }
            assert!(
                error.contains("AZURE_AUTHORITY_HOST: invalid authority host"),
                "{error}"
            );
            assert!(error.contains(why), "{bad}: {error}");
            assert!(!error.contains("pw@"), "{error}");
        }
    }

    #[test]
    fn a_secrets_authority_is_a_known_cloud_or_the_operators() {
        let operator = env(Some("https://127.0.0.1:8443/"));
        for good in [
            "https://login.microsoftonline.us/",
            "https://login.chinacloudapi.cn",
            "https://127.0.0.1:8443/",
            "https://login.microsoftonline.com",
            "https://LOGIN.MicrosoftOnline.com:443/",
        ] {
            assert!(from_secret(&operator, good, "Secret a/b").is_ok(), "{good}");
        }
        // A Secret's host is still parsed as the operator's is.
        for (bad, why) in [
            ("http://login.microsoftonline.com/", "expected https://"),
            (
                "https://login.microsoftonline.com/tenant",
                "a path is not allowed",
            ),
            // Was shown whole: a password in the URL reached the error.
            (
                "https://u:s3cret@login.microsoftonline.com/",
                "user info is not allowed",
            ),
            ("https://u:s3cret@", "not a URL"),
            ("https://s3cret@login.microsoftonline.com:x/", "not a URL"),
            (
                "https:u:s3cret@login.microsoftonline.com/",
                "user info is not allowed",
            ),
            (
                "https:\\\\u:s3cret@login.microsoftonline.com",
                "user info is not allowed",
            ),
            ("https://u:s3c?ret@login.microsoftonline.com/", "not"),
            (
                "https://login.microsoftonline.com/#x",
                "a query or fragment",
            ),
            ("login.microsoftonline.com", "not a URL"),
            ("", "not a URL"),
            ("https://", "not a URL"),
        ] {
            let error = message(from_secret(&operator, bad, "Secret a/b: authorityHost"));
            assert!(
                error.starts_with("Secret a/b: authorityHost: invalid authority host '")
                    && error.contains(why)
                    && !error.contains("s3cret"),
                "{bad}: {error}"
            );
        }
        for bad in [
            "https://login.microsoftonline.com.evil.example/",
            "https://evil.example/",
            "https://127.0.0.1:9999/",
            "https://login.microsoftonline.us.example/",
            "https://login.microsoftonline.us:8443/",
        ] {
            let error = message(from_secret(&operator, bad, "Secret a/b"));
            assert!(error.contains("is not one of"), "{bad}: {error}");
        }
    }

    #[test]
    fn tenants_and_clients() {
        let label63 = format!("{}.com", "a".repeat(63));
        let name253 = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(61));
        for good in [
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
            "contoso.onmicrosoft.com",
            "example.com",
            "x-1.y-2.example",
            label63.as_str(),
            name253.as_str(),
        ] {
            assert_eq!(tenant(good, "s").ok(), Some(good), "{good}");
        }
        let label64 = format!("{}.com", "a".repeat(64));
        let name255 = format!("{name253}.b");
        for bad in [
            "",
            "common/../x",
            "tenant",
            "common",
            "a b.com",
            "-x.com",
            "x-.com",
            "x.com/oauth2",
            "x..com",
            "x.com.",
            ".x.com",
            "x.com ",
            "t\n.com",
            "exämple.com",
            "x.com?x=1",
            "x.com#f",
            "u@x.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            label64.as_str(),
            name255.as_str(),
        ] {
            assert!(
                message(tenant(bad, "s")).contains("invalid tenant"),
                "{bad:?}"
            );
        }
        assert!(client_id("72f988bf-86f1-41af-91ab-2d7cd011db47", "s").is_ok());
        for bad in [
            "app",
            "",
            "contoso.onmicrosoft.com",
            " 72f988bf-86f1-41af-91ab-2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db47\n",
            "72f988bf_86f1_41af_91ab_2d7cd011db47",
        ] {
            let error = message(client_id(bad, "s"));
            assert!(
                error.starts_with("s: invalid client id \"")
                    && error.ends_with("\": expected a GUID"),
                "{bad:?}: {error}"
            );
        }
        let long = message(tenant(&"t".repeat(1000), "s"));
        assert!(
            long.len() < 200 && !long.contains(&"t".repeat(101)),
            "{long}"
        );
    }

    proptest! {
        /// A tenant that passes never carries a character that could change the token URL.
        #[test]
        fn accepted_tenants_stay_one_path_segment(value in "\\PC{0,80}") {
            if tenant(&value, "s").is_ok() {
                prop_assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
            }
        }

        /// Authority hosts from a Secret: whatever the text, only the known clouds' hosts pass.
        #[test]
        fn secret_authorities_are_known_hosts(value in "https://[a-z.]{1,40}(:[0-9]{1,5})?/") {
            if let Ok(url) = from_secret(&env(None), &value, "s") {
                prop_assert!(KNOWN.iter().any(|k| Url::parse(k).is_ok_and(|k| k.origin() == url.origin())));
            }
        }
    }
}
