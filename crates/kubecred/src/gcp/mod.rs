//! GCP: its side of the cloud seam (`cloud`: object and node level, registry login), the
//! exchanges it makes (`sts`, `iam`, `metadata`, at `endpoints`, their answers read by `wire`),
//! and the parsers and patterns of everything GCP that arrives from outside.
//!
//! - `annotations`: the ServiceAccount annotations (`iam.gke.io/gcp-service-account`,
//!   `gcp.auth.fluxcd.io/workload-identity-provider`), validated by `parse`.
//! - `cluster`: GKE cluster ids and the cluster the metadata server names; `audience`: the
//!   token and STS audiences on and off GKE, scopes and endpoints.
//! - `check_targets`, `checks`: the access checks (`gs://`, `gcpkms://`, `pubsub://`, `gar://`).
//! - `hosts`: GAR, GCR and S3NS registry hosts, matched exactly.
//! - `key`, `external_account` (with `source`): Google's credential files, checked, their
//!   endpoints checked by `urls`; `json`: reading them, errors without values.
//! - `controller`: Application Default Credentials (controller level), with `jwt_bearer` (a
//!   key for a token), `authorized_user` (gcloud's user credentials) and `subject` (an external account's subject token); `secret`: the
//!   Secret forms of a key (secret level).
//!
//! Without the `gcp` feature only the parsers are compiled (`annotations`, `check_targets`,
//! `cluster`, `hosts`, `parse`): `kubecred policy` writes GCP's policies in every build.

pub mod annotations;
#[cfg(feature = "gcp")]
pub mod audience;
#[cfg(feature = "gcp")]
pub mod authorized_user;
pub mod check_targets;
#[cfg(feature = "gcp")]
mod checks;
#[cfg(feature = "gcp")]
mod cloud;
pub mod cluster;
#[cfg(feature = "gcp")]
pub mod controller;
#[cfg(feature = "gcp")]
pub mod endpoints;
#[cfg(feature = "gcp")]
pub mod external_account;
#[cfg(feature = "gcp")]
mod gke;
pub mod hosts;
#[cfg(feature = "gcp")]
mod iam;
#[cfg(feature = "gcp")]
pub mod json;
#[cfg(feature = "gcp")]
mod jwt_bearer;
#[cfg(feature = "gcp")]
pub mod key;
#[cfg(feature = "gcp")]
pub mod metadata;
pub mod parse;
#[cfg(feature = "gcp")]
pub mod publish;
#[cfg(feature = "gcp")]
pub mod secret;
#[cfg(feature = "gcp")]
pub mod source;
#[cfg(feature = "gcp")]
mod sts;
#[cfg(feature = "gcp")]
mod subject;
#[cfg(feature = "gcp")]
pub mod urls;
#[cfg(feature = "gcp")]
mod wire;

#[cfg(feature = "gcp")]
pub(crate) use cloud::Gcp;
