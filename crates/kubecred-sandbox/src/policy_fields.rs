//! The shape of a `kubecred policy --output json` object, shared by each cloud's loader
//! (`aws/policy.rs`, `gcp/policy.rs`, `azure/policy.rs`).

/// The policy object's fields (`terraform` is never part of it).
pub(crate) const TOP_LEVEL: [&str; 10] = [
    "provider",
    "for",
    "resource",
    "serviceAccount",
    "identity",
    "trust",
    "permissions",
    "annotations",
    "commands",
    "notes",
];
