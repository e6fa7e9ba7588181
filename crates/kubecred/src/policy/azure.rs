//! azure's side of `kubecred policy` (being written on its branch).

use super::{Policy, PolicyRequest, unsupported};
use crate::error::Result;

pub(super) fn policy(request: &PolicyRequest) -> Result<Policy> {
    Err(unsupported("azure", request.purpose, "not written yet"))
}
