//! The Azure endpoints kubecred calls by hand, and the operator's overrides of them (see the
//! `KUBECRED_AZURE_*` variables): the instance metadata service.

use url::Url;

use crate::Env;
use crate::error::{Error, Result};

/// The variable overriding the IMDS base URL.
pub const IMDS_URL_VAR: &str = "KUBECRED_AZURE_IMDS_URL";
const IMDS: &str = "http://169.254.169.254";

/// The managed-identity endpoint's base: `KUBECRED_AZURE_IMDS_URL`, else IMDS's address.
pub(crate) fn imds_base(env: &Env) -> Result<Url> {
    let value = env.var(IMDS_URL_VAR).filter(|v| !v.is_empty());
    let text = value.as_deref().unwrap_or(IMDS);
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Error::invalid(format!(
                "{IMDS_URL_VAR}: '{}' is not an http(s) URL",
                text.escape_default()
            ))
        })
}
