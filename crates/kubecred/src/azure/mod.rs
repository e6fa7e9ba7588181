//! Azure: Entra ID tokens at every identity level, through the cloud seam (`cloud.rs`).
//!
//! - `cloud`: Azure's side of the seam; `controller` (environment credentials, workload
//!   identity, managed identity), `secret` (a Secret's app registration), `managed_identity`
//!   (IMDS), `entra` (token requests through `azure_identity`), `certificate` (a certificate's
//!   client assertion), `authority` (authority hosts, tenants, client ids), `endpoints`;
//! - `annotations`: the workload identity annotations (`azure.workload.identity/client-id`,
//!   `azure.workload.identity/tenant-id`), GUIDs.
//! - `hosts`: Azure Container Registry hosts of the public, China and US Government clouds,
//!   matched exactly.
//! - `cluster`: AKS cluster resource ids.
//!
//! Every parser of what arrives from outside is public, as GCP's, so that the fuzz targets
//! (`fuzz/`) reach it: identifiers and hosts (`annotations`, `hosts`, `cluster`,
//! `check_targets`), the environment file (`environment`), credentials (`certificate`,
//! `secret`, `authority`) and answers (`acr`'s refresh token, `aks`'s kubeconfigs and
//! addresses, `wire`'s refusals, `managed_identity`'s IMDS answers).

pub mod acr;
pub mod aks;
pub mod annotations;
pub mod authority;
pub mod certificate;
pub mod check_targets;
pub(crate) mod checks;
mod cli;
mod cloud;
pub mod cluster;
pub mod controller;
pub(crate) mod devops;
pub(crate) mod endpoints;
mod entra;
pub mod environment;
pub mod hosts;
pub mod managed_identity;
pub mod publish;
pub mod secret;
pub mod wire;

pub(crate) use cloud::Azure;
pub use endpoints::IMDS_URL_VAR;

/// The audience of the Kubernetes tokens exchanged with Entra ID (workload identity federation).
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

use std::sync::LazyLock;

use regex::Regex;

/// A GUID as Entra prints it (`8-4-4-4-12` hexadecimal digits, either case).
const GUID: &str = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

static GUID_RE: LazyLock<Regex> = LazyLock::new(|| {
    // A constant covered by tests.
    Regex::new(GUID).unwrap_or_else(|e| panic!("invalid built-in pattern {GUID}: {e}"))
});

/// Whether `text` is a GUID.
pub fn is_guid(text: &str) -> bool {
    GUID_RE.is_match(text)
}

/// `text` quoted for a message: escaped, and cut at 100 characters (it may be hostile).
fn shown(text: &str) -> String {
    let cut: String = text.chars().take(100).collect();
    format!("{cut:?}")
}
