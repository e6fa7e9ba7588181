//! GCP: its side of the cloud seam (`cloud`: object and node level, registry login), the
//! exchanges it makes (`sts`, `iam`, `metadata`, at `endpoints`, their answers read by `wire`),
//! and the parsers and patterns of everything GCP that arrives from outside.
//!
//! - `annotations`: the ServiceAccount annotations (`iam.gke.io/gcp-service-account`,
//!   `gcp.auth.fluxcd.io/workload-identity-provider`), validated by `parse`.
//! - `cluster`: GKE cluster ids and the cluster the metadata server names; `audience`: the
//!   token and STS audiences on and off GKE, scopes and endpoints.
//! - `check_targets`, `checks`: the access checks (`gs://`, `gcpkms://`, `pubsub://`).
//! - `hosts`: GAR, GCR and S3NS registry hosts, matched exactly.
//! - `key`, `external_account` (with `source`): Google's credential files, checked, their
//!   endpoints checked by `urls`; `json`: reading them, errors without values.
//! - `controller`: Application Default Credentials (controller level), with `jwt_bearer` (a
//!   key for a token), `authorized_user` (gcloud's user credentials) and `subject` (an external account's subject token); `secret`: the
//!   Secret forms of a key (secret level).

pub mod annotations;
pub mod audience;
pub mod authorized_user;
pub mod check_targets;
mod checks;
mod cloud;
pub mod cluster;
pub mod controller;
pub mod endpoints;
pub mod external_account;
mod gke;
pub mod hosts;
mod iam;
pub mod json;
mod jwt_bearer;
pub mod key;
pub mod metadata;
pub mod parse;
pub mod publish;
pub mod secret;
pub mod source;
mod sts;
mod subject;
pub mod urls;
mod wire;

pub(crate) use cloud::Gcp;
