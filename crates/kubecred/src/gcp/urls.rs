//! Google endpoints named in credential files (an `external_account` configuration's
//! `token_url`, `service_account_impersonation_url` and `token_info_url`, a service-account key's
//! `token_uri`): where a subject token, a signed assertion or an access token is sent. Each is
//! an `https` URL of a Google host of that service, with no user info, no port but 443, no query
//! or fragment, and the service's path; only printable ASCII without `%`-escapes is read (the
//! URL parser would otherwise map Unicode and escapes onto other hosts).
//!
//! The host patterns are those Google's auth libraries used to check (`sts.googleapis.com`,
//! `sts.<label>.googleapis.com`, `<label>-sts.googleapis.com`, Private Service Connect's
//! `sts-<label>.p.googleapis.com`; alike for `iamcredentials`), with each label exact.
//!
//! [`Endpoints::GoogleOrLoopback`] also takes a loopback listener (`127.0.0.1`, `[::1]`,
//! `localhost`) over `http` or `https` on any port, with the same paths: it exists for the
//! sandbox's stand-ins and the conformance tests, and is for files the operator wrote; tenant
//! input is always read with [`Endpoints::Google`].

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use super::parse::compiled;

/// Which hosts the Google endpoints of a credential file may name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endpoints {
    /// Google's hosts over `https` only.
    #[default]
    Google,
    /// Google's hosts, or a loopback listener over `http` or `https` (stand-ins, tests).
    GoogleOrLoopback,
}

/// A Google service whose endpoint a credential file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    /// STS token exchange (`/v1/token`).
    StsToken,
    /// STS introspection (`/v1/introspect`).
    StsIntrospect,
    /// IAM Credentials `generateAccessToken`.
    Impersonation,
    /// The OAuth 2.0 token endpoint of the JWT-bearer grant.
    OAuthToken,
    /// GKE `clusters.get` (`/v1/projects/P/locations/L/clusters/C`).
    GkeCluster,
}

/// One label of a Google host: a letter, then letters and digits in hyphen-separated runs (no
/// `--`, so no punycode). A macro so that it can be spliced into the patterns with `concat!`.
macro_rules! label {
    () => {
        r"[a-z][a-z0-9]{0,30}(?:-[a-z0-9]{1,30}){0,4}"
    };
}

const STS_HOST: &str = concat!(
    r"^(?:sts|sts\.",
    label!(),
    r"|",
    label!(),
    r"-sts|sts-",
    label!(),
    r"\.p)\.googleapis\.com$"
);
const IAM_CREDENTIALS_HOST: &str = concat!(
    r"^(?:iamcredentials|iamcredentials\.",
    label!(),
    r"|",
    label!(),
    r"-iamcredentials|iamcredentials-",
    label!(),
    r"\.p)\.googleapis\.com$"
);
const OAUTH_HOST: &str = concat!(
    r"^(?:oauth2\.googleapis\.com|oauth2-",
    label!(),
    r"\.p\.googleapis\.com|accounts\.google\.com|www\.googleapis\.com)$"
);
/// The email (or unique id) of the impersonated account is captured.
const IMPERSONATION_PATH: &str = r"^/v1/projects/-/serviceAccounts/(?P<account>[A-Za-z0-9._+-]{1,100}@[A-Za-z0-9.-]{1,253}|[0-9]{1,30}):generateAccessToken$";
const CONTAINER_HOST: &str = concat!(
    r"^(?:container|container-",
    label!(),
    r"\.p)\.googleapis\.com$"
);
const CLUSTER_PATH: &str =
    r"^/v1/projects/[a-z0-9-]{1,30}/locations/[a-z0-9-]{1,50}/clusters/[a-z0-9-]{1,40}$";
const OAUTH_PATH: &str = r"^/(?:token|o/oauth2/token|oauth2/v4/token)$";

static STS_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(STS_HOST));
static IAM_CREDENTIALS_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(IAM_CREDENTIALS_HOST));
static OAUTH_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(OAUTH_HOST));
static IMPERSONATION_PATH_RE: LazyLock<Regex> = LazyLock::new(|| compiled(IMPERSONATION_PATH));
static OAUTH_PATH_RE: LazyLock<Regex> = LazyLock::new(|| compiled(OAUTH_PATH));
static CONTAINER_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CONTAINER_HOST));
static CLUSTER_PATH_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CLUSTER_PATH));

impl Service {
    fn host_matches(self, host: &str) -> bool {
        match self {
            Service::StsToken | Service::StsIntrospect => STS_HOST_RE.is_match(host),
            Service::Impersonation => IAM_CREDENTIALS_HOST_RE.is_match(host),
            Service::OAuthToken => OAUTH_HOST_RE.is_match(host),
            Service::GkeCluster => CONTAINER_HOST_RE.is_match(host),
        }
    }

    fn path_matches(self, path: &str) -> bool {
        match self {
            Service::StsToken => matches!(path, "/v1/token" | "/v1beta/token"),
            Service::StsIntrospect => matches!(path, "/v1/introspect" | "/v1beta/introspect"),
            Service::Impersonation => IMPERSONATION_PATH_RE.is_match(path),
            Service::OAuthToken => OAUTH_PATH_RE.is_match(path),
            Service::GkeCluster => CLUSTER_PATH_RE.is_match(path),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Service::StsToken => {
                "https://sts.googleapis.com/v1/token (or a regional or private STS host)"
            }
            Service::StsIntrospect => {
                "https://sts.googleapis.com/v1/introspect (or a regional or private STS host)"
            }
            Service::Impersonation => {
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/<email>:generateAccessToken"
            }
            Service::OAuthToken => "https://oauth2.googleapis.com/token",
            Service::GkeCluster => "https://container.googleapis.com",
        }
    }
}

/// Checks endpoint `value`; returns it as parsed, or why not (with the value).
pub(crate) fn google_url(
    value: &str,
    service: Service,
    endpoints: Endpoints,
) -> Result<Url, String> {
    checked(value, service, endpoints).map_err(|why| {
        format!(
            "'{}': {why}. expected {}",
            value.escape_default(),
            service.expected()
        )
    })
}

/// [`google_url`] for a file that holds a secret: why not, without the value.
pub(crate) fn google_url_unshown(
    value: &str,
    service: Service,
    endpoints: Endpoints,
) -> Result<Url, String> {
    checked(value, service, endpoints)
        .map_err(|why| format!("{why}. expected {}", service.expected()))
}

/// The account an impersonation URL (checked by [`google_url`]) names.
pub(crate) fn impersonated_account(url: &Url) -> Option<String> {
    let captures = IMPERSONATION_PATH_RE.captures(url.path())?;
    Some(captures["account"].to_owned())
}

fn checked(
    value: &str,
    service: Service,
    endpoints: Endpoints,
) -> std::result::Result<Url, &'static str> {
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Err("only printable ASCII without %-escapes is accepted");
    }
    let url = Url::parse(value).map_err(|_| "not a URL")?;
    let loopback = endpoints == Endpoints::GoogleOrLoopback && is_loopback(&url);
    parts_are_bare(&url, loopback)?;
    if !loopback && !url.domain().is_some_and(|host| service.host_matches(host)) {
        return Err("the host is not one of Google's for this service");
    }
    match service.path_matches(url.path()) {
        true => Ok(url),
        false => Err("the path is not the service's"),
    }
}

/// Everything but the host and path is absent: `https` (or `http` to a loopback listener), no
/// user info, no port but 443 (any, to a loopback listener), no query, no fragment.
fn parts_are_bare(url: &Url, loopback: bool) -> std::result::Result<(), &'static str> {
    let scheme_ok = url.scheme() == "https" || (loopback && url.scheme() == "http");
    let problem = [
        (!scheme_ok, "the scheme is not https"),
        (
            !url.username().is_empty() || url.password().is_some(),
            "it has user info",
        ),
        (
            url.query().is_some() || url.fragment().is_some(),
            "it has a query or fragment",
        ),
        (
            !loopback && url.port().is_some(),
            "it names a port other than 443",
        ),
    ]
    .into_iter()
    .find_map(|(bad, why)| bad.then_some(why));
    problem.map_or(Ok(()), Err)
}

pub(crate) use crate::http::is_loopback;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookalike::{self, Pattern};

    fn sts(url: &str) -> Option<String> {
        google_url(url, Service::StsToken, Endpoints::Google)
            .ok()
            .map(|u| u.to_string())
    }

    fn message(value: &str, service: Service, endpoints: Endpoints) -> String {
        google_url(value, service, endpoints)
            .err()
            .unwrap_or_default()
    }

    /// `host` (a look-alike trick may end it with an empty path, `/` or `\\`) followed by `path`.
    fn with_path(host: &str, path: &str) -> String {
        let path = match host.ends_with(['/', '\\']) {
            true => &path[1..],
            false => path,
        };
        format!("https://{host}{path}")
    }

    const STS: Pattern = Pattern {
        name: "STS token URLs",
        valid: &[
            "sts.googleapis.com",
            "sts.mtls.googleapis.com",
            "us-east1-sts.googleapis.com",
            "sts-xyz.p.googleapis.com",
        ],
        accept: |host| sts(&with_path(host, "/v1/token")),
        url: true,
        any_port: false,
        extensions: &[],
        open_first_label: false,
    };

    const IAM: Pattern = Pattern {
        name: "impersonation URLs",
        valid: &[
            "iamcredentials.googleapis.com",
            "europe-west1-iamcredentials.googleapis.com",
        ],
        accept: |host| {
            let path =
                "/v1/projects/-/serviceAccounts/a@p.iam.gserviceaccount.com:generateAccessToken";
            let url = with_path(host, path);
            google_url(&url, Service::Impersonation, Endpoints::Google)
                .ok()
                .map(|u| u.to_string())
        },
        url: true,
        any_port: false,
        extensions: &[],
        open_first_label: false,
    };

    #[test]
    fn google_endpoints() {
        for valid in [
            "https://sts.googleapis.com/v1/token",
            "HTTPS://STS.GOOGLEAPIS.COM:443/v1/token",
            "https://sts.googleapis.com/v1beta/token",
            "https://sts-xyz.p.googleapis.com/v1/token",
        ] {
            assert!(sts(valid).is_some(), "{valid}");
        }
        let url = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken";
        let parsed = google_url(url, Service::Impersonation, Endpoints::Google);
        assert_eq!(
            parsed
                .ok()
                .and_then(|u| impersonated_account(&u))
                .as_deref(),
            Some("sa@p.iam.gserviceaccount.com")
        );
        for (valid, service) in [
            ("https://oauth2.googleapis.com/token", Service::OAuthToken),
            (
                "https://accounts.google.com/o/oauth2/token",
                Service::OAuthToken,
            ),
            (
                "https://sts.googleapis.com/v1/introspect",
                Service::StsIntrospect,
            ),
        ] {
            assert!(
                google_url(valid, service, Endpoints::Google).is_ok(),
                "{valid}"
            );
        }
    }

    #[test]
    fn foreign_and_odd_endpoints_are_refused_with_the_reason() {
        for (value, why) in [
            (
                "http://sts.googleapis.com/v1/token",
                "the scheme is not https",
            ),
            (
                "https://sts.googleapis.com.evil.example/v1/token",
                "the host is not",
            ),
            (
                "https://evil.example/sts.googleapis.com/v1/token",
                "the host is not",
            ),
            (
                "https://sts.googleapis.com@evil.example/v1/token",
                "it has user info",
            ),
            ("https://a@sts.googleapis.com/v1/token", "it has user info"),
            (
                "https://sts.googleapis.com:8443/v1/token",
                "it names a port",
            ),
            (
                "https://sts.googleapis.com/v1/token?x=1",
                "it has a query or fragment",
            ),
            (
                "https://sts.googleapis.com/v1/token#x",
                "it has a query or fragment",
            ),
            (
                "https://sts.googleapis.com/v1/token/",
                "the path is not the service's",
            ),
            (
                "https://sts.googleapis.com/v2/../v1/x",
                "the path is not the service's",
            ),
            (
                "https://sts.googleapis.com/v1/%74oken",
                "only printable ASCII",
            ),
            (
                "https://sts.googleapis.com/v1/token ",
                "only printable ASCII",
            ),
            (
                "https://iamcredentials.googleapis.com/v1/token",
                "the host is not",
            ),
            ("https://127.0.0.1/v1/token", "the host is not"),
            ("sts.googleapis.com/v1/token", "not a URL"),
        ] {
            let error = message(value, Service::StsToken, Endpoints::Google);
            assert!(
                error.starts_with(&format!("'{}': {why}", value.escape_default()))
                    && error.ends_with(Service::StsToken.expected()),
                "{value}: {error}"
            );
        }
        for path in [
            "/v1/projects/-/serviceAccounts/a@b:generateAccessToken/x",
            "/v1/projects/p/serviceAccounts/a@b:generateAccessToken",
            "/v1/projects/-/serviceAccounts/a/b@c:generateAccessToken",
            "/v1/projects/-/serviceAccounts/:generateAccessToken",
        ] {
            let url = format!("https://iamcredentials.googleapis.com{path}");
            assert!(
                google_url(&url, Service::Impersonation, Endpoints::Google).is_err(),
                "{path}"
            );
        }
    }

    /// The documented test override takes loopback listeners, over http too, with the same paths.
    #[test]
    fn loopback_only_with_the_override() {
        for loopback in [
            "http://127.0.0.1:18080/v1/token",
            "https://localhost:8443/v1/token",
            "http://[::1]:1/v1/token",
        ] {
            assert!(
                google_url(loopback, Service::StsToken, Endpoints::GoogleOrLoopback).is_ok(),
                "{loopback}"
            );
            assert!(
                google_url(loopback, Service::StsToken, Endpoints::Google).is_err(),
                "{loopback}"
            );
        }
        for refused in [
            "http://127.0.0.1:18080/v1/other",
            "http://10.0.0.1/v1/token",
            "http://sts.googleapis.com/v1/token",
            "http://u@127.0.0.1/v1/token",
            "http://localhost.evil.example/v1/token",
        ] {
            assert!(
                google_url(refused, Service::StsToken, Endpoints::GoogleOrLoopback).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn sts_hosts_refuse_every_trick() {
        lookalike::assert_tricks_refused(&STS);
    }

    #[test]
    fn impersonation_hosts_refuse_every_trick() {
        lookalike::assert_tricks_refused(&IAM);
    }
}
