//! AWS: every credential source, role chaining, and the services that take the credentials.
//!
//! - `parse`: role ARNs and EKS cluster ARNs (and re-exports of `hosts`).
//! - `hosts`: ECR registry hosts, CodeCommit git hosts and URLs, STS endpoints, matched exactly.
//! - `sdk`: the injected environment and SDK credential conversions.
//! - `ecr`, `eks`, `checks`, `codecommit`: what the resolved credentials are used for;
//!   `cloud` (the seam's operations) and `cluster` compose them with the identity levels.

pub mod annotations;
pub mod checks;
mod cloud;
mod cluster;
pub mod codecommit;
mod controller;
pub mod credentials;
pub mod ecr;
pub mod eks;
pub mod hosts;
pub(crate) mod http;
pub use http::Transport;
pub mod parse;
mod process_loop;
pub mod publish;
pub mod sdk;
mod sdk_error;
mod secret_keys;
mod session;
mod signing;
mod sts;

pub(crate) use cloud::Aws;

/// The audience of Kubernetes tokens exchanged with STS.
pub const AUDIENCE: &str = "sts.amazonaws.com";
