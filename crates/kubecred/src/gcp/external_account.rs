//! An `external_account` credential configuration (workload identity federation), as
//! `gcloud iam workload-identity-pools create-cred-config` writes it and Google's
//! "external account credentials" format (AIP-4117) defines it: checked and typed.
//!
//! Checks: `audience` names a workload identity pool provider (or a workforce pool provider),
//! `subject_token_type` is one of the token types a file, URL or executable can supply,
//! `token_url`, `service_account_impersonation_url` and `token_info_url` are Google's endpoints
//! of those services ([`super::urls`]: https and Google's hosts, a loopback listener only with
//! [`Endpoints::GoogleOrLoopback`]), the impersonated account is read from its URL, the token
//! lifetime is within Google's bounds; `credential_source` in [`super::source`].
//!
//! Unknown top-level fields are allowed, as Google's libraries allow them (the format grows:
//! `universe_domain`, `token_info_url`, `workforce_pool_user_project` came late); the nested
//! objects are closed (`deny_unknown_fields`), so a misspelt source field is an error rather
//! than a silently different source.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use url::Url;

use crate::Secret;
use crate::error::Result;

use super::json::{self, field_error};
use super::key::check_universe;
use super::parse::compiled;
use super::source::{CredentialSource, RawSource};
use super::urls::{self, Endpoints, Service};

pub(crate) const WHAT: &str = "GCP external account configuration";

/// A workload identity pool provider, or a workforce pool provider, as an audience.
const AUDIENCE: &str = r"^//iam\.googleapis\.com/(?:projects/[0-9]{1,30}/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}|locations/global/workforcePools/[a-z0-9-]{4,63})/providers/[a-z0-9-]{4,32}$";
static AUDIENCE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(AUDIENCE));

/// The subject token types of file, URL and executable sources.
pub const SUBJECT_TOKEN_TYPES: &[&str] = &[
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
];
/// Lifetime of an impersonated token when the file names none, and Google's bounds.
const DEFAULT_LIFETIME_SECONDS: u32 = 3600;
const LIFETIME_SECONDS: std::ops::RangeInclusive<u32> = 600..=43200;

#[derive(Deserialize)]
struct RawExternalAccount {
    #[serde(rename = "type")]
    kind: String,
    audience: String,
    subject_token_type: String,
    token_url: String,
    credential_source: RawSource,
    service_account_impersonation_url: Option<String>,
    service_account_impersonation: Option<RawImpersonationOptions>,
    token_info_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    quota_project_id: Option<String>,
    workforce_pool_user_project: Option<String>,
    universe_domain: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImpersonationOptions {
    token_lifetime_seconds: Option<u32>,
}

/// A checked `external_account` configuration.
#[derive(Clone, Debug)]
pub struct ExternalAccount {
    /// The STS audience: `//iam.googleapis.com/<provider>`.
    pub audience: String,
    /// The subject token's type (one of [`SUBJECT_TOKEN_TYPES`]).
    pub subject_token_type: String,
    /// The STS token endpoint, as checked.
    pub token_url: Url,
    /// Where the subject token comes from.
    pub source: CredentialSource,
    /// Impersonation of a service account after the exchange, if configured.
    pub impersonation: Option<Impersonation>,
    /// STS's introspection endpoint, if named (direct access).
    pub token_info_url: Option<Url>,
    /// The OAuth client of a workforce pool, if any (basic auth at STS).
    pub client: Option<(String, Secret)>,
    /// The project billed for quota, if named.
    pub quota_project_id: Option<String>,
    /// The user project of a workforce pool, if named.
    pub workforce_pool_user_project: Option<String>,
}

/// Impersonation through IAM Credentials `generateAccessToken`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impersonation {
    /// The endpoint, as checked.
    pub url: Url,
    /// The impersonated account (email or unique id), from the URL.
    pub service_account: String,
    /// The lifetime asked for the token, in seconds.
    pub lifetime_seconds: u32,
}

impl ExternalAccount {
    /// Parses and checks a configuration.
    pub fn parse(json: &str, endpoints: Endpoints) -> Result<Self> {
        let raw: RawExternalAccount = json::parse(json, WHAT)?;
        if raw.kind != "external_account" {
            let kind = raw.kind.escape_default();
            return Err(field_error(
                WHAT,
                "type",
                format_args!("'{kind}' is not 'external_account'"),
            ));
        }
        check_audience(&raw.audience)?;
        check_subject_token_type(&raw.subject_token_type)?;
        check_universe(WHAT, raw.universe_domain.as_deref())?;
        let url = |value: &str, field: &str, service| {
            urls::google_url(value, service, endpoints).map_err(|why| field_error(WHAT, field, why))
        };
        let token_url = url(&raw.token_url, "token_url", Service::StsToken)?;
        let token_info_url = raw
            .token_info_url
            .as_deref()
            .map(|v| url(v, "token_info_url", Service::StsIntrospect))
            .transpose()?;
        let impersonation = impersonation(&raw, endpoints)?;
        Ok(ExternalAccount {
            audience: raw.audience,
            subject_token_type: raw.subject_token_type,
            token_url,
            source: raw.credential_source.checked()?,
            impersonation,
            token_info_url,
            client: client(raw.client_id, raw.client_secret)?,
            quota_project_id: raw.quota_project_id,
            workforce_pool_user_project: raw.workforce_pool_user_project,
        })
    }
}

fn check_audience(audience: &str) -> Result<()> {
    match AUDIENCE_RE.is_match(audience) {
        true => Ok(()),
        false => Err(field_error(
            WHAT,
            "audience",
            format_args!(
                "'{}' is not //iam.googleapis.com/projects/<number>/locations/global/\
                 workloadIdentityPools/<pool>/providers/<provider> (or a workforce pool provider)",
                audience.escape_default()
            ),
        )),
    }
}

fn check_subject_token_type(kind: &str) -> Result<()> {
    match SUBJECT_TOKEN_TYPES.contains(&kind) {
        true => Ok(()),
        false => Err(field_error(
            WHAT,
            "subject_token_type",
            format_args!(
                "'{}' is not supported. expected one of {}",
                kind.escape_default(),
                SUBJECT_TOKEN_TYPES.join(", ")
            ),
        )),
    }
}

fn impersonation(raw: &RawExternalAccount, endpoints: Endpoints) -> Result<Option<Impersonation>> {
    let field = "service_account_impersonation_url";
    let lifetime = raw.service_account_impersonation.as_ref();
    let Some(value) = raw.service_account_impersonation_url.as_deref() else {
        return match lifetime {
            None => Ok(None),
            Some(_) => Err(field_error(
                WHAT,
                "service_account_impersonation",
                format_args!("given without {field}"),
            )),
        };
    };
    let url = urls::google_url(value, Service::Impersonation, endpoints)
        .map_err(|why| field_error(WHAT, field, why))?;
    let service_account = urls::impersonated_account(&url)
        .ok_or_else(|| field_error(WHAT, field, "names no service account"))?;
    let lifetime_seconds = lifetime
        .and_then(|o| o.token_lifetime_seconds)
        .unwrap_or(DEFAULT_LIFETIME_SECONDS);
    if !LIFETIME_SECONDS.contains(&lifetime_seconds) {
        return Err(field_error(
            WHAT,
            "service_account_impersonation.token_lifetime_seconds",
            format_args!("{lifetime_seconds} is not within 600..=43200"),
        ));
    }
    Ok(Some(Impersonation {
        url,
        service_account,
        lifetime_seconds,
    }))
}

fn client(id: Option<String>, secret: Option<String>) -> Result<Option<(String, Secret)>> {
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(id), secret) => Ok(Some((id, Secret::new(secret.unwrap_or_default())))),
        (None, Some(_)) => Err(field_error(
            WHAT,
            "client_secret",
            "given without client_id",
        )),
    }
}

#[cfg(test)]
#[path = "external_account_tests.rs"]
mod tests;
