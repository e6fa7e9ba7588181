//! GCP: the parsers and patterns of everything GCP that arrives from outside, and the constants
//! and audiences of its exchange. Not yet wired into the cloud seam (`cloud::dispatch!`).
//!
//! - `annotations`: the ServiceAccount annotations (`iam.gke.io/gcp-service-account`,
//!   `gcp.auth.fluxcd.io/workload-identity-provider`), validated by `parse`.
//! - `cluster`: GKE cluster ids and the cluster the metadata server names; `audience`: the
//!   token and STS audiences on and off GKE, scopes and endpoints.
//! - `hosts`: GAR, GCR and S3NS registry hosts, matched exactly.
//! - `key`, `external_account` (with `source`): Google's credential files, checked, their
//!   endpoints checked by `urls`; `json`: reading them, errors without values.

pub mod annotations;
pub mod audience;
pub mod cluster;
pub mod external_account;
pub mod hosts;
pub mod json;
pub mod key;
pub mod parse;
pub mod source;
pub mod urls;
