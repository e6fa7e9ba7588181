//! The issuer URL: `https`, a host, no user info, query or fragment, kept exactly as given
//! (clouds compare the `iss` claim, the discovery document's `issuer` and the registered
//! issuer as strings, so `https://x` and `https://x/` are different issuers).

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use crate::error::{Error, Result};

/// Where discovery lives under the issuer (OpenID Connect Discovery 1.0, section 4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Anchored: `https://`, an authority without user info, then a path; no query, no fragment,
/// no whitespace or control characters anywhere.
static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^https://[^/?#@\s\p{Cc}]+(/[^?#\s\p{Cc}]*)?$").unwrap_or_else(|_| unreachable!())
});

/// A ServiceAccount issuer URL as the API server's `--service-account-issuer` takes it and a
/// cloud registers it: checked, and kept as the exact string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    text: String,
    url: Url,
}

impl Issuer {
    /// Checks `text`: `https`, a host, no user info, query or fragment (kube-apiserver refuses
    /// the last two; a cloud fetches only `https`). Errors say what to change.
    pub fn parse(text: &str) -> Result<Issuer> {
        let shown = shown(text);
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(format!(
                "issuer {shown} has whitespace or control characters: copy it exactly"
            )));
        }
        if !text.starts_with("https://") {
            let why = match text.split_once("://") {
                Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                    "write the scheme in lowercase (clouds compare the issuer as a string)"
                }
                Some(_) => {
                    "clouds fetch an issuer's discovery document only over https (AWS, Entra and Google refuse http)"
                }
                None => "expected an absolute https:// URL",
            };
            return Err(Error::invalid(format!(
                "issuer {shown} is not an https:// URL: {why}"
            )));
        }
        let url = Url::parse(text)
            .map_err(|e| Error::invalid(format!("issuer {shown} is not a URL: {e}")))?;
        if let Some(problem) = problem(text, &url) {
            return Err(Error::invalid(format!("issuer {shown}: {problem}")));
        }
        Ok(Issuer {
            text: text.to_owned(),
            url,
        })
    }

    /// The issuer exactly as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed URL (for its host).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The issuer without trailing slashes: what paths are appended to.
    pub fn base(&self) -> &str {
        self.text.trim_end_matches('/')
    }

    /// `<issuer>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.base())
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What is wrong with an `https://` issuer, if anything.
fn problem(text: &str, url: &Url) -> Option<&'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        return Some("it has user info (user@ or user:password@); remove it");
    }
    if url.query().is_some() {
        return Some("it has a query (?...); an issuer has none (kube-apiserver refuses it)");
    }
    if url.fragment().is_some() {
        return Some("it has a fragment (#...); an issuer has none (kube-apiserver refuses it)");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Some("it has no host");
    }
    if !SHAPE.is_match(text) {
        return Some("it has whitespace, control characters or an unexpected shape");
    }
    None
}

/// `text` for an error: escaped, cut, and not at all if it may carry a password.
pub(crate) fn shown(text: &str) -> String {
    let authority = text.split("://").nth(1).unwrap_or(text);
    let authority = authority.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return "(not shown: it has user info)".to_owned();
    }
    let cut: String = text.chars().take(200).collect();
    format!("'{}'", cut.escape_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn good_issuers_are_kept_as_given() -> Result<()> {
        for text in [
            "https://oidc.example.com",
            "https://oidc.example.com/",
            "https://s3.amazonaws.com/my-bucket",
            "https://container.googleapis.com/v1/projects/p/locations/l/clusters/c",
            "https://westeurope.oic.prod-aks.azure.com/tenant/id/",
            "https://127.0.0.1:6443",
            "https://[::1]:8443/x",
        ] {
            let issuer = Issuer::parse(text)?;
            assert_eq!(issuer.as_str(), text);
            assert!(!issuer.base().ends_with('/'));
            assert!(issuer.discovery_url().ends_with(DISCOVERY_PATH));
        }
        let aks = Issuer::parse("https://x.example/t/i/")?;
        assert_eq!(
            aks.discovery_url(),
            "https://x.example/t/i/.well-known/openid-configuration"
        );
        Ok(())
    }

    #[test]
    fn bad_issuers_are_refused_with_the_reason() {
        for (text, reason) in [
            ("http://oidc.example.com", "only over https"),
            ("HTTPS://oidc.example.com", "lowercase"),
            ("oidc.example.com", "absolute https:// URL"),
            ("", "absolute https:// URL"),
            ("ftp://x", "only over https"),
            ("https://", "not a URL"),
            ("https://user:s3cret@oidc.example.com", "user info"),
            ("https://user@oidc.example.com/x", "user info"),
            ("https://oidc.example.com/?a=b", "query"),
            ("https://oidc.example.com?", "query"),
            ("https://oidc.example.com/#frag", "fragment"),
            ("https://oidc.example.com/a b", "whitespace"),
            ("https://oidc.example.com/a\tb", "whitespace"),
            (" https://oidc.example.com", "whitespace"),
            ("https://oidc.example.com\n", "whitespace"),
        ] {
            let error = Issuer::parse(text).err().map(|e| e.to_string());
            let error = error.unwrap_or_else(|| panic!("{text:?} accepted"));
            assert!(error.contains(reason), "{text:?}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    proptest! {
        #[test]
        fn anything_accepted_is_https_without_query_fragment_or_user_info(text in "\\PC{0,40}|https://[a-z.:@?#/ \\[\\]0-9-]{0,30}") {
            if let Ok(issuer) = Issuer::parse(&text) {
                prop_assert!(issuer.as_str().starts_with("https://"));
                prop_assert_eq!(issuer.url().scheme(), "https");
                prop_assert!(issuer.url().username().is_empty());
                prop_assert!(issuer.url().password().is_none());
                prop_assert!(issuer.url().query().is_none() && issuer.url().fragment().is_none());
                prop_assert!(!text.contains(['?', '#']) && !text.chars().any(char::is_whitespace));
                let discovery = Url::parse(&issuer.discovery_url());
                prop_assert_eq!(discovery.ok().and_then(|u| u.host_str().map(str::to_owned)),
                    issuer.url().host_str().map(str::to_owned));
            }
        }

        /// Ordinary DNS names (labels without `--`, so no IDNA `xn--` labels, which the URL
        /// parser checks as punycode).
        #[test]
        fn plain_https_hosts_and_paths_are_accepted(host in "[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,9})?(\\.[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,3})?){1,3}", path in "(/[A-Za-z0-9._~-]{1,12}){0,4}/?") {
            let text = format!("https://{host}{path}");
            prop_assert!(Issuer::parse(&text).is_ok(), "{}", text);
        }
    }
}
