//! Azure Container Registry hosts, which decide where an Entra token goes:
//! `<registry>.azurecr.io` (public cloud), `.azurecr.cn` (Azure China), `.azurecr.us` (Azure US
//! Government), and a private cloud's suffix from its environment file (read by
//! `environment::registry`); Azure DevOps git hosts (`git_host`). Matched exactly on
//! [`dns_name`]'s output (lowercase ASCII, no user info, path or port but 443); look-alikes are
//! tested against the shared table of tricks (`lookalike.rs`).
//!
//! The reference's `^.+\.(azurecr\.io|azurecr\.cn|azurecr\.de|azurecr\.us)$` took anything
//! before the suffix (`evil.example/x.azurecr.io`, `a@b.azurecr.io`, `x.evil.azurecr.io`), and
//! `azurecr.de` (Azure Germany) was retired in 2021. Here the registry name is one label of ACR's
//! own rule: 5 to 50 letters and digits.

use std::sync::LazyLock;

use regex::Regex;

use crate::azure_names::ACR_NAME;
use crate::error::{Error, Result};

pub use crate::hosts::dns_name;

const EXPECTED: &str = "<registry>.azurecr.io, <registry>.azurecr.cn or <registry>.azurecr.us \
(registry: 5 to 50 letters and digits), without user info, path or port other than 443";

static ACR_HOST_RE: LazyLock<Regex> = LazyLock::new(|| {
    // Constants covered by tests (the name's rule is `azure_names`').
    let pattern = format!(r"^(?P<name>{ACR_NAME})\.azurecr\.(?P<cloud>io|cn|us)$");
    Regex::new(&pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
});

/// The Azure cloud a registry belongs to (it decides the Entra authority and the ACR scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AzureCloud {
    /// Azure public cloud (`azurecr.io`).
    Public,
    /// Azure operated by 21Vianet (`azurecr.cn`).
    China,
    /// Azure US Government (`azurecr.us`).
    Government,
    /// A private cloud described by `AZURE_ENVIRONMENT_FILEPATH` (its own registry suffix).
    Private,
}

/// An Azure Container Registry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AcrRegistry {
    /// The registry's name, lowercased.
    pub name: String,
    /// Its cloud.
    pub cloud: AzureCloud,
    /// The registry DNS suffix after the name (`azurecr.io`, or a private cloud's).
    pub suffix: String,
}

impl AcrRegistry {
    /// The registry's host.
    pub fn host(&self) -> String {
        format!("{}.{}", self.name, self.suffix)
    }
}

/// Parses an ACR host (an image reference's registry part, without scheme or path).
pub fn registry(host: &str) -> Result<AcrRegistry> {
    dns_name(host)
        .and_then(|name| registry_name(&name))
        .ok_or_else(|| {
            let cut: String = host.chars().take(200).collect();
            Error::invalid(format!(
                "invalid Azure registry: {cut:?}. expected {EXPECTED}"
            ))
        })
}

fn registry_name(name: &str) -> Option<AcrRegistry> {
    let captures = ACR_HOST_RE.captures(name)?;
    let cloud = match &captures["cloud"] {
        "io" => AzureCloud::Public,
        "cn" => AzureCloud::China,
        _ => AzureCloud::Government,
    };
    Some(AcrRegistry {
        name: captures["name"].to_owned(),
        cloud,
        suffix: format!("azurecr.{}", &captures["cloud"]),
    })
}

/// The registry of `name` (a host already normalised by [`dns_name`]) under a private cloud's
/// `suffix` (validated, lowercase, without a leading dot): one ACR name label, then the suffix.
pub fn private_registry(name: &str, suffix: &str) -> Option<AcrRegistry> {
    let registry = name.strip_suffix(suffix)?.strip_suffix('.')?;
    let label = (5..=50).contains(&registry.len())
        && registry
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    label.then(|| AcrRegistry {
        name: registry.to_owned(),
        cloud: AzureCloud::Private,
        suffix: suffix.to_owned(),
    })
}

/// Whether `host` (a name already normalised by [`dns_name`]) is an Azure DevOps git host:
/// `dev.azure.com`, or an organisation's `<org>.visualstudio.com` (one DNS label).
pub fn git_host(host: &str) -> bool {
    host == "dev.azure.com"
        || host
            .strip_suffix(".visualstudio.com")
            .is_some_and(crate::hosts::dns_label)
}

#[cfg(test)]
#[path = "hosts_tests.rs"]
mod tests;
