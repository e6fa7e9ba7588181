//! A service-account key for an access token: an RS256 JWT assertion signed with the key, posted
//! as the JWT-bearer grant (RFC 7523) to the key's `token_uri`, as Google's OAuth endpoint
//! documents it. (Google's libraries may instead use the assertion itself as a self-signed
//! access token; kubecred always asks the token endpoint, which checks the key is still valid.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use url::Url;

use super::key::ServiceAccountKey;
use super::wire;
use crate::Secret;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The assertion's lifetime: Google's maximum.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
const ACTION: &str = "exchange the service account key's assertion at its token_uri";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    scope: String,
    iat: u64,
    exp: u64,
}

/// The assertion `key` signs for `scopes` at `now`.
fn assertion(key: &ServiceAccountKey, scopes: &[String], now: SystemTime) -> Result<Secret> {
    let iat = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::invalid("the clock is before 1970"))?;
    let claims = Claims {
        iss: &key.client_email,
        aud: key.token_uri.as_str(),
        scope: scopes.join(" "),
        iat: iat.as_secs(),
        exp: (iat + ASSERTION_LIFETIME).as_secs(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.private_key_id.clone());
    // The errors are fixed texts: jsonwebtoken's could describe the key.
    let signing = EncodingKey::from_rsa_pem(key.private_key.expose().as_bytes())
        .map_err(|_| Error::invalid("the service account key's private_key cannot sign"))?;
    jsonwebtoken::encode(&header, &claims, &signing)
        .map(Secret::new)
        .map_err(|_| Error::invalid("the service account key's assertion could not be signed"))
}

/// `key`'s access token for `scopes`, through the request's `proxy`.
pub(crate) async fn access_token(
    key: &ServiceAccountKey,
    scopes: &[String],
    proxy: Option<&Url>,
    timeouts: &Timeouts,
    now: SystemTime,
) -> Result<AccessToken> {
    let assertion = assertion(key, scopes, now)?;
    let client = http::client(ACTION, Proxy::Request(proxy), timeouts)?;
    let form = [
        ("grant_type", GRANT_TYPE),
        ("assertion", assertion.expose()),
    ];
    tracing::debug!(token_uri = %key.token_uri, account = %key.client_email, "GCP JWT-bearer grant");
    wire::token_grant(&client, &key.token_uri, &form, ACTION)
        .await?
        .into_access_token(now, scopes.to_vec(), ACTION)
}
