//! AWS hosts that decide where credentials go: ECR registries (private and Public), CodeCommit
//! git hosts, and a request's STS endpoint. Each is matched exactly: anchored patterns, the real
//! partition suffixes only, 12-digit accounts, region names of AWS's shape; look-alikes are
//! tested against a shared table of tricks (`crate::lookalike`).
//!
//! What a host may look like before it is matched:
//! - case: hosts are case-insensitive, so ASCII letters are lowercased before matching;
//! - only ASCII letters, digits, `.` and `-`: userinfo (`a@host`), paths, `%`-escapes, other
//!   characters and international names (Unicode or `xn--` punycode) never match;
//! - port: registry hosts take none or `:443` (HTTPS's own); CodeCommit git hosts and URLs keep
//!   any port, as git sends it (the name decides whose server it is; the CodeCommit stand-in
//!   listens on a port of its own); an STS endpoint takes none but 443;
//! - a trailing dot (`host.`) does not match.

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use crate::error::{Error, Result};

/// An AWS region name: `us-east-1`, `us-gov-west-1`, `cn-northwest-1`, `us-isob-east-1`,
/// `eusc-de-east-1`. A macro so that it can be spliced into the patterns below with `concat!`.
macro_rules! region {
    () => {
        r"[a-z]{2,4}(?:-[a-z]{2,10}){1,3}-[0-9]{1,2}"
    };
}

/// `<account>.dkr.ecr[-fips].<region>.<partition suffix>`, or the dual-stack
/// `<account>.dkr-ecr[-fips].<region>.on.aws`; the suffixes of every AWS partition, exactly.
const ECR_HOST: &str = concat!(
    r"^[0-9]{12}\.(?:dkr\.ecr(?:-fips)?\.(?P<region>",
    region!(),
    r")\.(?:amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)",
    r"|dkr-ecr(?:-fips)?\.(?P<dual_stack_region>",
    region!(),
    r")\.on\.aws)$"
);
const ECR_EXPECTED: &str = "<12-digit account>.dkr.ecr[-fips].<region>.<amazonaws.com, amazonaws.com.cn, \
amazonaws.eu, sc2s.sgov.gov, c2s.ic.gov, cloud.adc-e.uk or csp.hci.ic.gov>, \
<12-digit account>.dkr-ecr[-fips].<region>.on.aws, or public.ecr.aws";
/// The global, regional (and FIPS) STS hosts, and VPC endpoints of STS
/// (`vpce-<id>-<suffix>[-<zone>].sts[-fips].<region>.vpce.amazonaws.com`).
const STS_HOST: &str = concat!(
    r"^(?:sts\.amazonaws\.com|sts(?:-fips)?\.",
    region!(),
    r"\.amazonaws\.com|vpce-[0-9a-f]{8,17}-[0-9a-z]{8}(?:-",
    region!(),
    r"[a-z])?\.sts(?:-fips)?\.",
    region!(),
    r"\.vpce\.amazonaws\.com)$"
);
const STS_EXPECTED: &str = "https://sts.amazonaws.com, https://sts[-fips].<region>.amazonaws.com or \
https://<VPC endpoint>.sts[-fips].<region>.vpce.amazonaws.com, without user info, port, path or query";
/// `git-codecommit[-fips].<region>.amazonaws.com[.cn]`.
const CODECOMMIT_HOST: &str = concat!(
    r"^git-codecommit(?:-fips)?\.(?P<region>",
    region!(),
    r")\.amazonaws\.com(?:\.cn)?$"
);

/// The host of ECR Public, whose authorization lives in us-east-1.
pub const ECR_PUBLIC_HOST: &str = "public.ecr.aws";
/// The only region of the ECR Public authorization API.
pub const ECR_PUBLIC_REGION: &str = "us-east-1";

fn compiled(pattern: &str) -> Regex {
    // The patterns are constants covered by tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static ECR_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(ECR_HOST));
static STS_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(STS_HOST));
static CODECOMMIT_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CODECOMMIT_HOST));

pub use crate::hosts::dns_name;

/// Which ECR authorization API a registry host uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrRegistry {
    /// A private registry of this region.
    Private {
        /// The region, from the host.
        region: String,
    },
    /// ECR Public (`public.ecr.aws`).
    Public,
}

impl EcrRegistry {
    /// The region the authorization call goes to.
    pub fn region(&self) -> &str {
        match self {
            EcrRegistry::Private { region } => region,
            EcrRegistry::Public => ECR_PUBLIC_REGION,
        }
    }
}

/// Parses an ECR registry host (an image reference's registry part, without scheme or path;
/// see the module documentation for case and ports).
pub fn ecr_registry(host: &str) -> Result<EcrRegistry> {
    dns_name(host)
        .and_then(|name| ecr_registry_name(&name))
        .ok_or_else(|| {
            Error::invalid(format!(
                "invalid AWS registry: '{}'. expected {ECR_EXPECTED}",
                host.escape_default()
            ))
        })
}

fn ecr_registry_name(name: &str) -> Option<EcrRegistry> {
    if name == ECR_PUBLIC_HOST {
        return Some(EcrRegistry::Public);
    }
    let captures = ECR_HOST_RE.captures(name)?;
    let region = captures
        .name("region")
        .or_else(|| captures.name("dual_stack_region"))?;
    Some(EcrRegistry::Private {
        region: region.as_str().to_owned(),
    })
}

/// Checks an STS endpoint given with a request (tenant input): an `https` URL whose host is an
/// STS host of `amazonaws.com` (`STS_HOST`), with no user info, no port but 443, no path but
/// `/`, no query or fragment. Returns the endpoint as checked, `https://<host>`, which is what
/// the calls use. Only ASCII without `%`-escapes is read: the URL parser would otherwise map
/// Unicode, escapes and stray whitespace onto other hosts.
pub fn sts_endpoint(endpoint: &str) -> Result<String> {
    sts_host(endpoint)
        .map(|host| format!("https://{host}"))
        .map_err(|why| {
            Error::invalid(format!(
                "invalid STS endpoint: '{}': {why}. expected {STS_EXPECTED}",
                endpoint.escape_default()
            ))
        })
}

fn sts_host(endpoint: &str) -> std::result::Result<String, &'static str> {
    if !endpoint.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Err("only printable ASCII without %-escapes is accepted");
    }
    let url = Url::parse(endpoint).map_err(|_| "not a URL")?;
    url_parts_are_bare(&url)?;
    let host = url.domain().ok_or("the host is not a DNS name")?;
    match STS_HOST_RE.is_match(host) {
        true => Ok(host.to_owned()),
        false => Err("the host is not an STS host"),
    }
}

/// Everything but the host of an endpoint URL is absent: `https`, no user info, no port but 443,
/// no path but `/`, no query, no fragment.
fn url_parts_are_bare(url: &Url) -> std::result::Result<(), &'static str> {
    let problem = [
        (url.scheme() != "https", "the scheme is not https"),
        (
            !url.username().is_empty() || url.password().is_some(),
            "it has user info",
        ),
        (url.port().is_some(), "it names a port other than 443"),
        (url.path() != "/", "it has a path"),
        (url.query().is_some(), "it has a query"),
        (url.fragment().is_some(), "it has a fragment"),
    ]
    .into_iter()
    .find_map(|(bad, why)| bad.then_some(why));
    problem.map_or(Ok(()), Err)
}

/// The region of a CodeCommit git host name (no port; see [`dns_name`] for case), if it is one.
pub fn codecommit_host_region(host: &str) -> Option<String> {
    let name = dns_name(host)?;
    let captures = CODECOMMIT_HOST_RE.captures(&name)?;
    Some(captures["region"].to_owned())
}

/// The region of an AWS CodeCommit HTTPS git URL (user info and a port, which do not change
/// whose server it is, are allowed).
pub fn codecommit_region(url: &str) -> Result<String> {
    let parsed = Url::parse(url).map_err(|e| {
        Error::invalid(format!(
            "invalid AWS CodeCommit Git URL '{}'",
            url.escape_default()
        ))
        .with_source(e)
    })?;
    if !parsed.scheme().eq_ignore_ascii_case("https") {
        return Err(Error::invalid(
            "AWS CodeCommit authentication requires an HTTPS Git URL",
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    let shown = parsed
        .port()
        .map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"));
    let region = parsed.domain().and_then(codecommit_host_region);
    region.ok_or_else(|| {
        Error::invalid(format!(
            "invalid AWS CodeCommit Git URL: {shown}. expected https://git-codecommit[-fips].<region>.amazonaws.com[.cn]/..."
        ))
    })
}

#[cfg(test)]
#[path = "hosts_tests.rs"]
mod tests;
