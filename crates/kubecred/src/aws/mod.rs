//! AWS: every credential source, role chaining, and the services that take the credentials.
//!
//! - `parse`: role ARNs, STS endpoints, ECR hosts, EKS cluster ARNs, CodeCommit URLs.
//! - `sdk`: the injected environment and SDK credential conversions.
//! - `ecr`, `eks`, `checks`, `codecommit`: what the resolved credentials are used for.

pub mod checks;
pub mod codecommit;
mod controller;
pub mod credentials;
pub mod ecr;
pub mod eks;
pub(crate) mod http;
pub mod parse;
mod process_loop;
pub mod sdk;
mod sdk_error;
mod secret_keys;
mod session;
mod signing;
mod sts;

/// The audience of Kubernetes tokens exchanged with STS.
pub const AUDIENCE: &str = "sts.amazonaws.com";
