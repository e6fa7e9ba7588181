//! The RFC 8693 token exchange at Google STS (`POST /v1/token`): a Kubernetes ServiceAccount
//! token for a federated access token.
//!
//! Written by hand, as is `iam.rs`: each is one form or JSON POST. The official
//! `google-cloud-auth` crate's credentials start refreshing in the background as soon as they
//! are built, and take neither a request's proxy nor kubecred's deadlines ([`Timeouts`]); its
//! external-account flow also reads the subject token from a file, URL or executable, where
//! object level has it in memory.

use std::time::SystemTime;

use url::Url;

use super::audience::{REQUESTED_TOKEN_TYPE, SUBJECT_TOKEN_TYPE_JWT, TOKEN_EXCHANGE_GRANT_TYPE};
use super::wire;
use crate::Secret;
use crate::credential::AccessToken;
use crate::error::Result;
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;

/// One exchange: where, for which audience and scopes, and how to reach it.
pub(crate) struct Exchange<'a> {
    /// The STS token endpoint.
    pub(crate) url: &'a Url,
    /// The STS audience (a workload identity provider, or GKE's identity namespace).
    pub(crate) audience: &'a str,
    /// The scopes asked for.
    pub(crate) scopes: &'a [String],
    /// The request's proxy.
    pub(crate) proxy: Option<&'a Url>,
    /// The deadlines.
    pub(crate) timeouts: &'a Timeouts,
}

const ACTION: &str = "exchange the Kubernetes token at Google STS";

/// Exchanges `subject_token` (a Kubernetes ServiceAccount JWT); the access token expires
/// `expires_in` seconds after `now`.
pub(crate) async fn exchange(
    exchange: Exchange<'_>,
    subject_token: &Secret,
    now: SystemTime,
) -> Result<AccessToken> {
    exchange_typed(exchange, subject_token, SUBJECT_TOKEN_TYPE_JWT, now).await
}

/// Exchanges `subject_token` of `subject_token_type` (an external account's JWT, OIDC ID
/// token or SAML response).
pub(crate) async fn exchange_typed(
    exchange: Exchange<'_>,
    subject_token: &Secret,
    subject_token_type: &str,
    now: SystemTime,
) -> Result<AccessToken> {
    let client = http::client(ACTION, Proxy::Request(exchange.proxy), exchange.timeouts)?;
    let scope = exchange.scopes.join(" ");
    let form = [
        ("grant_type", TOKEN_EXCHANGE_GRANT_TYPE),
        ("audience", exchange.audience),
        ("scope", &scope),
        ("requested_token_type", REQUESTED_TOKEN_TYPE),
        ("subject_token", subject_token.expose()),
        ("subject_token_type", subject_token_type),
    ];
    tracing::debug!(url = %exchange.url, audience = exchange.audience, %scope, "GCP STS token exchange");
    wire::token_grant(&client, exchange.url, &form, ACTION)
        .await?
        .into_access_token(now, exchange.scopes.to_vec(), ACTION)
}
