//! Azure: the parsers and patterns of everything Azure that arrives from outside. Not wired into
//! the cloud seam yet (`cloud::dispatch!` answers "not implemented yet" for `azure`); the Azure
//! issue builds the exchanges on these.
//!
//! - `annotations`: the workload identity annotations (`azure.workload.identity/client-id`,
//!   `azure.workload.identity/tenant-id`), GUIDs.
//! - `hosts`: Azure Container Registry hosts of the public, China and US Government clouds,
//!   matched exactly.
//! - `cluster`: AKS cluster resource ids.

pub(crate) mod acr;
pub(crate) mod aks;
pub mod annotations;
pub mod check_targets;
pub(crate) mod checks;
pub mod cluster;
pub(crate) mod devops;
pub(crate) mod endpoints;
pub(crate) mod environment;
pub mod hosts;
pub(crate) mod wire;

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
