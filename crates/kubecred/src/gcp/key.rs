//! A GCP service-account key file (`"type": "service_account"`), as `gcloud iam service-accounts
//! keys create` writes it: checked and typed, its private key a [`Secret`] that never appears in
//! `Debug` or errors. No error shows a field's value (one could be a misplaced key).
//!
//! Checks: `client_email` is an email, `private_key_id` a key id, `private_key` a PKCS#8 PEM
//! RSA key that loads (the JWT-bearer grant signs RS256 with it), `token_uri` Google's OAuth
//! token endpoint over https (see [`super::urls`]; a loopback listener only with
//! [`Endpoints::GoogleOrLoopback`]), `universe_domain` absent or `googleapis.com`. Unknown
//! top-level fields are allowed: Google adds fields to keys (`universe_domain` came late) and its
//! own libraries ignore those they do not know, so refusing them would refuse tomorrow's keys.

use std::sync::LazyLock;

use aws_lc_rs::signature::RsaKeyPair;
use regex::Regex;
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use url::Url;

use crate::Secret;
use crate::error::Result;

use super::audience::UNIVERSE_DOMAIN;
use super::json::{self, field_error};
use super::parse::compiled;
use super::urls::{self, Endpoints, Service};

const WHAT: &str = "GCP service account key";
/// Any service account's email (user-managed, default compute, App Engine...).
const EMAIL: &str = r"^[A-Za-z0-9._+-]{1,100}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,5}$";
const KEY_ID: &str = r"^[A-Za-z0-9_-]{1,128}$";

static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| compiled(EMAIL));
static KEY_ID_RE: LazyLock<Regex> = LazyLock::new(|| compiled(KEY_ID));

/// The fields kubecred reads; the others (`client_id`, `auth_uri`, cert URLs) are ignored.
#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key_id: String,
    private_key: String,
    token_uri: String,
    project_id: Option<String>,
    universe_domain: Option<String>,
}

/// A checked service-account key.
#[derive(Clone, Debug)]
pub struct ServiceAccountKey {
    /// The account's email (the JWT's `iss` and `sub`).
    pub client_email: String,
    /// The key's id (the JWT's `kid`).
    pub private_key_id: String,
    /// The PKCS#8 PEM RSA private key.
    pub private_key: Secret,
    /// The OAuth token endpoint, as checked.
    pub token_uri: Url,
    /// The account's project, when the file names it.
    pub project_id: Option<String>,
}

impl ServiceAccountKey {
    /// Parses and checks a key file.
    pub fn parse(json: &str, endpoints: Endpoints) -> Result<Self> {
        let mut raw: RawKey = json::parse(json, WHAT)?;
        // Held as a Secret from here on, so that an early error zeroizes it too (serde_json's
        // scratch buffer for escaped strings is not ours to zeroize).
        let private_key = Secret::new(std::mem::take(&mut raw.private_key));
        if raw.kind != "service_account" {
            return Err(field_error(WHAT, "type", "not 'service_account'"));
        }
        if !EMAIL_RE.is_match(&raw.client_email) {
            return Err(field_error(WHAT, "client_email", "not an email address"));
        }
        if !KEY_ID_RE.is_match(&raw.private_key_id) {
            return Err(field_error(
                WHAT,
                "private_key_id",
                "not a key id (letters, digits, '-' and '_')",
            ));
        }
        check_universe(WHAT, raw.universe_domain.as_deref())?;
        let token_uri = urls::google_url_unshown(&raw.token_uri, Service::OAuthToken, endpoints)
            .map_err(|why| field_error(WHAT, "token_uri", why))?;
        check_private_key(&private_key)?;
        Ok(ServiceAccountKey {
            client_email: raw.client_email,
            private_key_id: raw.private_key_id,
            private_key,
            token_uri,
            project_id: raw.project_id,
        })
    }
}

/// Only Google's universe is served; another (a sovereign cloud) has its own endpoints. The
/// value is not shown (a key file's could be a misplaced key).
pub(crate) fn check_universe(what: &str, universe: Option<&str>) -> Result<()> {
    match universe {
        None | Some(UNIVERSE_DOMAIN) => Ok(()),
        Some(_) => Err(field_error(
            what,
            "universe_domain",
            format_args!("only {UNIVERSE_DOMAIN} is supported"),
        )),
    }
}

/// The key must be one PKCS#8 PEM block holding an RSA key that loads. The errors are fixed
/// texts: the PEM reader's would quote a line of the key.
fn check_private_key(key: &Secret) -> Result<()> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|_| {
        field_error(
            WHAT,
            "private_key",
            "not a PEM 'PRIVATE KEY' (PKCS#8) block",
        )
    })?;
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map(|_| ())
        .map_err(|_| field_error(WHAT, "private_key", "not an RSA private key that can sign"))
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
