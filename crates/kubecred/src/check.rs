//! Access checks: do the resolved credentials reach a resource? A target names its cloud
//! (`s3://BUCKET`, `kms://KEY-ARN`, ...); this module is cloud-neutral and asks each cloud
//! whether it runs the check ([`crate::cloud`]).

use crate::cloud::{self, Operation};
use crate::error::{Error, Result};
use crate::{Engine, Provider, Request};

/// The provider of this build that runs the check `target`, if any.
pub fn provider_for_target(target: &str) -> Option<Provider> {
    cloud::owner(|provider| cloud::owns_check(provider, target))
}

/// Checks that the request's credentials reach `target`; a one-line summary of what was seen.
pub async fn run(engine: &Engine, target: &str, request: &Request) -> Result<String> {
    let provider = request.provider;
    let supported = cloud::require(provider, Operation::AccessCheck)?;
    if !cloud::owns_check(provider, target) {
        let expected = supported.checks.unwrap_or_default();
        return Err(Error::invalid(format!("'{target}': expected {expected}")));
    }
    cloud::check(engine, target, request)
        .await
        .map_err(|e| e.for_provider(provider))
}
