//! GCP registry hosts, which decide where a Google access token goes: Artifact Registry
//! (`<location>-docker.pkg.dev`), Container Registry (`gcr.io` and its documented regional and
//! Marketplace hosts) and S3NS (`docker.s3nsregistry.fr`). Each is matched exactly on
//! [`dns_name`]'s output (lowercase ASCII, no userinfo, path or port but 443), with anchored
//! patterns; look-alikes are tested against the shared table of tricks (`lookalike.rs`).
//!
//! The reference's `^(((.+\.)?gcr\.io)|(.+-docker\.pkg\.dev)|(docker\.s3nsregistry\.fr))$` took
//! anything before `gcr.io` and `-docker.pkg.dev` (`evil.example/x.gcr.io`, `a@b-docker.pkg.dev`,
//! `evil.example#-docker.pkg.dev`), so the host a token went to was not always Google's. Here the
//! GCR hosts are the ones Google documents, and a GAR location is a multi-region (`us`, `europe`,
//! `asia`) or a region of Google's shape (`us-central1`, `northamerica-northeast1`). The
//! reference's vectors `a.gcr.io` and `a-docker.pkg.dev` are therefore refused.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

pub use crate::hosts::dns_name;

use super::parse::compiled;

/// `<location>-docker.pkg.dev`: a multi-region, or a region (`<geography>-<area><digits>`).
const GAR_HOST: &str =
    r"^(?P<location>us|europe|asia|[a-z]{2,20}-[a-z]{2,20}[0-9]{1,2})-docker\.pkg\.dev$";
/// The Container Registry hosts Google documents (`gcr.io` repositories of Artifact Registry
/// serve them), and the Marketplace's.
pub const GCR_HOSTS: &[&str] = &[
    "gcr.io",
    "us.gcr.io",
    "eu.gcr.io",
    "asia.gcr.io",
    "marketplace.gcr.io",
];
/// The Artifact Registry host of S3NS (Google Cloud's sovereign partner in France).
pub const S3NS_HOST: &str = "docker.s3nsregistry.fr";

const EXPECTED: &str = "<location>-docker.pkg.dev (location us, europe, asia or a region such as \
us-central1), gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io, marketplace.gcr.io or docker.s3nsregistry.fr, \
without user info, path or port other than 443";

static GAR_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(GAR_HOST));

/// A GCP registry. Every one takes the same Google access token (username
/// [`super::audience::REGISTRY_USERNAME`]); the variants say which service it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GcpRegistry {
    /// Artifact Registry, `<location>-docker.pkg.dev`.
    ArtifactRegistry {
        /// The multi-region or region, from the host.
        location: String,
    },
    /// Container Registry (`gcr.io` repositories), one of [`GCR_HOSTS`].
    ContainerRegistry {
        /// The host, lowercased.
        host: String,
    },
    /// S3NS's Artifact Registry, [`S3NS_HOST`].
    S3ns,
}

impl GcpRegistry {
    /// The registry's host.
    pub fn host(&self) -> String {
        match self {
            GcpRegistry::ArtifactRegistry { location } => format!("{location}-docker.pkg.dev"),
            GcpRegistry::ContainerRegistry { host } => host.clone(),
            GcpRegistry::S3ns => S3NS_HOST.to_owned(),
        }
    }
}

/// Parses a GCP registry host (an image reference's registry part, without scheme or path;
/// see the module documentation for case and ports).
pub fn registry(host: &str) -> Result<GcpRegistry> {
    dns_name(host)
        .and_then(|name| registry_name(&name))
        .ok_or_else(|| {
            Error::invalid(format!(
                "invalid GCP registry: '{}'. expected {EXPECTED}",
                host.escape_default()
            ))
        })
}

fn registry_name(name: &str) -> Option<GcpRegistry> {
    if name == S3NS_HOST {
        return Some(GcpRegistry::S3ns);
    }
    if GCR_HOSTS.contains(&name) {
        return Some(GcpRegistry::ContainerRegistry {
            host: name.to_owned(),
        });
    }
    let captures = GAR_HOST_RE.captures(name)?;
    Some(GcpRegistry::ArtifactRegistry {
        location: captures["location"].to_owned(),
    })
}

#[cfg(test)]
#[path = "hosts_tests.rs"]
mod tests;
