//! Verifying ServiceAccount JWTs the way a cloud's token service does:
//! discover the issuer's JWKS, then check signature, issuer, audience and
//! lifetime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::claims::Claims;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 30;
/// Timeout for each discovery request.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest discovery document or JWKS read, as a cloud bounds what it fetches.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// What kind of check failed; lets callers map failures to their own error
/// shapes (e.g. a cloud's "expired token" versus "invalid token").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// Fetching or reading the discovery document or the JWKS failed.
    Discovery,
    /// The token is not a well-formed RS256 JWT with the expected claims.
    Malformed,
    /// The token's `kid` names no key in the JWKS.
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// The token has expired.
    Expired,
    /// The token's `nbf` is in the future.
    NotYetValid,
    /// The token's issuer is not the expected one.
    Issuer,
    /// The token's audiences do not include the expected one.
    Audience,
}

/// Why a token (or the issuer's discovery) failed verification. The message
/// never contains the token.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    kind: VerifyErrorKind,
    message: String,
}

impl VerifyError {
    fn new(kind: VerifyErrorKind, message: impl Into<String>) -> VerifyError {
        VerifyError {
            kind,
            message: message.into(),
        }
    }

    /// Which check failed.
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }
}

/// Verifies JWTs from one issuer against that issuer's keys.
///
/// A verifier made by discovery keeps its HTTP client and fetches the issuer's documents again on
/// [`JwtVerifier::refresh`], which the stand-ins call before each verification of a token from
/// that issuer: what a target accepts follows what the issuer publishes now (a key rotated in,
/// a key retired, documents that became unreachable). Real clouds cache the JWKS for a while;
/// the sandbox does not, so a rotation test sees each step at once. Clones share the keys.
#[derive(Clone)]
pub struct JwtVerifier {
    issuer: String,
    keys: Arc<RwLock<Result<HashMap<String, DecodingKey>, VerifyError>>>,
    source: Option<reqwest::Client>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = match &*self.read_keys() {
            Ok(keys) => {
                let mut kids: Vec<String> = keys.keys().cloned().collect();
                kids.sort();
                kids
            }
            Err(e) => vec![format!("<{e}>")],
        };
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .field("kids", &kids)
            .field("live", &self.source.is_some())
            .finish()
    }
}

/// Where discovery fetches from: the roots it trusts and the hosts it resolves by hand (the
/// sandbox's stand-in for DNS: a managed issuer's host resolved to the sandbox).
#[derive(Clone, Debug, Default)]
pub struct DiscoveryOptions {
    /// PEM certificates of the CAs to trust, instead of the system's roots (empty: the system's).
    pub ca_pems: Vec<String>,
    /// Host names resolved to these addresses.
    pub resolve: Vec<(String, SocketAddr)>,
}

impl JwtVerifier {
    /// Fetches `{issuer}/.well-known/openid-configuration`, checks that its
    /// `issuer` equals `issuer`, then fetches its `jwks_uri` and keeps the RSA
    /// keys by `kid`. HTTPS servers must present certificates the system
    /// trusts.
    ///
    /// Uses reqwest with rustls: the process must have installed a rustls
    /// crypto provider (aws-lc-rs) first.
    pub async fn discover(issuer: &str) -> Result<JwtVerifier, VerifyError> {
        JwtVerifier::discover_with_options(issuer, &DiscoveryOptions::default()).await
    }

    /// Like [`JwtVerifier::discover`], but HTTPS servers must present
    /// certificates issued by a CA in `ca_pem` (one or more PEM
    /// certificates, e.g. [`Sandbox::ca_pem`](crate::Sandbox::ca_pem)); the
    /// system's roots are not used. Certificates are always verified.
    pub async fn discover_with_ca(issuer: &str, ca_pem: &str) -> Result<JwtVerifier, VerifyError> {
        let options = DiscoveryOptions {
            ca_pems: vec![ca_pem.to_owned()],
            resolve: Vec::new(),
        };
        JwtVerifier::discover_with_options(issuer, &options).await
    }

    /// Discovery now, fetching as `options` say; the verifier fetches again on each
    /// [`JwtVerifier::refresh`].
    pub async fn discover_with_options(
        issuer: &str,
        options: &DiscoveryOptions,
    ) -> Result<JwtVerifier, VerifyError> {
        let verifier = JwtVerifier::trusting(issuer, options)?;
        let keys = discover_keys(verifier.source.as_ref(), issuer).await?;
        verifier.set_keys(Ok(keys));
        Ok(verifier)
    }

    /// A verifier for `issuer` that has fetched nothing yet: every verification fails until a
    /// [`JwtVerifier::refresh`] finds the documents (for an issuer whose documents are published
    /// after the target trusts it, as a bucket's are).
    pub fn trusting(issuer: &str, options: &DiscoveryOptions) -> Result<JwtVerifier, VerifyError> {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if !options.ca_pems.is_empty() {
            let mut roots = Vec::new();
            for pem in &options.ca_pems {
                roots.extend(
                    reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                        discovery_error(format!("the CA certificates are not PEM: {e}"))
                    })?,
                );
            }
            if roots.is_empty() {
                return Err(discovery_error("the CA PEM holds no certificate"));
            }
            builder = builder.tls_certs_only(roots);
        }
        for (host, address) in &options.resolve {
            builder = builder.resolve(host, *address);
        }
        let client = discovery_client(builder)?;
        Ok(JwtVerifier {
            issuer: issuer.to_owned(),
            keys: Arc::new(RwLock::new(Err(discovery_error(format!(
                "the documents of issuer '{issuer}' have not been fetched yet"
            ))))),
            source: Some(client),
        })
    }

    /// Fetches the issuer's documents again (a verifier made from a JWKS keeps its keys). A
    /// failure is kept: verifications fail with it until a later refresh succeeds.
    pub async fn refresh(&self) {
        if self.source.is_none() {
            return;
        }
        let keys = discover_keys(self.source.as_ref(), &self.issuer).await;
        if let Err(e) = &keys {
            tracing::debug!(issuer = %self.issuer, "issuer discovery failed: {e}");
        }
        self.set_keys(keys);
    }

    /// Replaces the keys with those of `jwks` (the sandbox's own API server after a rotation).
    pub(crate) fn replace_jwks(&self, jwks: &serde_json::Value) -> Result<(), VerifyError> {
        self.set_keys(Ok(keys_of(jwks)?));
        Ok(())
    }

    fn set_keys(&self, keys: Result<HashMap<String, DecodingKey>, VerifyError>) {
        match self.keys.write() {
            Ok(mut guard) => *guard = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    fn read_keys(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, Result<HashMap<String, DecodingKey>, VerifyError>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A verifier for `issuer` with the keys of a JWKS document
    /// (`{"keys": [...]}`), kept as they are (GCP's uploaded JWKS). Keys without a `kid` are
    /// ignored.
    pub fn from_jwks(issuer: &str, jwks: &serde_json::Value) -> Result<JwtVerifier, VerifyError> {
        Ok(JwtVerifier {
            issuer: issuer.to_string(),
            keys: Arc::new(RwLock::new(Ok(keys_of(jwks)?))),
            source: None,
        })
    }

    /// The issuer this verifier accepts.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks the signature (key chosen by `kid`), `iss`, that `aud` contains
    /// `audience`, and `exp`/`nbf` with 30 s of clock skew.
    pub fn verify(&self, token: &str, audience: &str) -> Result<Claims, VerifyError> {
        let claims = self.verify_any_audience(token)?;
        if !claims.aud.iter().any(|a| a == audience) {
            let message = format!(
                "token audience {:?} does not include '{audience}'",
                claims.aud
            );
            return Err(VerifyError::new(VerifyErrorKind::Audience, message));
        }
        Ok(claims)
    }

    /// Like [`JwtVerifier::verify`] but accepts any audience, as
    /// kube-apiserver does for its own ServiceAccount tokens.
    pub(crate) fn verify_any_audience(&self, token: &str) -> Result<Claims, VerifyError> {
        let key = self.key_for(token)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(map_jwt_error)?;
        let claims = data.claims;
        if claims.iss != self.issuer {
            let message = format!("token issuer '{}' is not '{}'", claims.iss, self.issuer);
            return Err(VerifyError::new(VerifyErrorKind::Issuer, message));
        }
        Ok(claims)
    }

    fn key_for(&self, token: &str) -> Result<DecodingKey, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            VerifyError::new(
                VerifyErrorKind::Malformed,
                format!("token is not a JWT: {e}"),
            )
        })?;
        if header.alg != Algorithm::RS256 {
            let message = format!("token algorithm {:?} is not RS256", header.alg);
            return Err(VerifyError::new(VerifyErrorKind::Malformed, message));
        }
        let Some(kid) = header.kid else {
            return Err(VerifyError::new(
                VerifyErrorKind::UnknownKey,
                "token header has no kid",
            ));
        };
        let keys = self.read_keys();
        let keys = keys.as_ref().map_err(Clone::clone)?;
        keys.get(&kid).cloned().ok_or_else(|| {
            let shown: String = kid.chars().take(80).collect();
            VerifyError::new(
                VerifyErrorKind::UnknownKey,
                format!(
                    "no key with kid '{shown}' in the JWKS of '{}' (is the signing key published?)",
                    self.issuer
                ),
            )
        })
    }
}

/// Refreshes each of `verifiers` whose issuer is the (unverified) `iss` of `token`: what a
/// target does before it verifies a token.
pub(crate) async fn refresh_issuer_of<'a>(
    verifiers: impl IntoIterator<Item = &'a JwtVerifier>,
    token: &str,
) {
    let Some(issuer) = unverified_issuer(token) else {
        return;
    };
    for verifier in verifiers {
        if verifier.issuer == issuer {
            verifier.refresh().await;
        }
    }
}

/// The `iss` claim of a JWT, unverified.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

/// The keys of a JWKS document by `kid`.
fn keys_of(jwks: &serde_json::Value) -> Result<HashMap<String, DecodingKey>, VerifyError> {
    let set: JwkSet = serde_json::from_value(jwks.clone())
        .map_err(|e| discovery_error(format!("not a JWK set: {e}")))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| discovery_error(format!("key '{kid}' is unusable: {e}")))?;
        keys.insert(kid, key);
    }
    if keys.is_empty() {
        return Err(discovery_error("no usable keys (with a kid)"));
    }
    Ok(keys)
}

/// Builds the discovery client: `builder` with the discovery timeout.
fn discovery_client(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, VerifyError> {
    builder
        .timeout(DISCOVERY_TIMEOUT)
        .build()
        .map_err(|e| discovery_error(format!("cannot build an HTTP client: {e}")))
}

/// Discovery proper: configuration, issuer check, JWKS.
async fn discover_keys(
    client: Option<&reqwest::Client>,
    issuer: &str,
) -> Result<HashMap<String, DecodingKey>, VerifyError> {
    let Some(client) = client else {
        return Err(discovery_error("this verifier has no issuer to fetch from"));
    };
    let config_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let config = fetch_json(client, &config_url).await?;
    let jwks_uri = check_discovery(&config, issuer, &config_url)?;
    let jwks = fetch_json(client, &jwks_uri).await?;
    keys_of(&jwks).map_err(|e| discovery_error(format!("JWKS at {jwks_uri}: {e}")))
}

fn discovery_error(message: impl Into<String>) -> VerifyError {
    VerifyError::new(VerifyErrorKind::Discovery, message)
}

/// GETs `url` (no redirects) and parses the body, at most [`MAX_DOCUMENT_BYTES`], as JSON;
/// errors name the URL.
async fn fetch_json(client: &reqwest::Client, url: &str) -> Result<serde_json::Value, VerifyError> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| discovery_error(format!("GET {url} failed: {}", with_causes(&e))))?;
    let status = response.status();
    if !status.is_success() {
        return Err(discovery_error(format!("GET {url} returned HTTP {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| discovery_error(format!("GET {url} failed: {}", with_causes(&e))))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(discovery_error(format!(
                "GET {url} returned more than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body)
        .map_err(|e| discovery_error(format!("GET {url} did not return JSON: {e}")))
}

/// `error` and its sources, `: `-separated (reqwest's own message omits the
/// cause, e.g. an untrusted certificate).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Checks the discovery document's `issuer` and returns its `jwks_uri`.
fn check_discovery(
    config: &serde_json::Value,
    issuer: &str,
    config_url: &str,
) -> Result<String, VerifyError> {
    let advertised = config.get("issuer").and_then(|v| v.as_str());
    if advertised != Some(issuer) {
        let message = format!(
            "{config_url} advertises issuer {} instead of '{issuer}'",
            advertised.map_or_else(|| "nothing".to_string(), |a| format!("'{a}'"))
        );
        return Err(discovery_error(message));
    }
    config
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| discovery_error(format!("{config_url} has no jwks_uri")))
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> VerifyError {
    use VerifyErrorKind as K;
    let (kind, message) = match error.kind() {
        ErrorKind::InvalidSignature => (K::Signature, "signature does not verify".to_string()),
        ErrorKind::ExpiredSignature => (K::Expired, "token expired".to_string()),
        ErrorKind::ImmatureSignature => {
            (K::NotYetValid, "token is not valid yet (nbf)".to_string())
        }
        ErrorKind::InvalidAlgorithm => (K::Malformed, "token algorithm is not RS256".to_string()),
        ErrorKind::MissingRequiredClaim(claim) => {
            (K::Malformed, format!("token has no '{claim}' claim"))
        }
        _ => (K::Malformed, format!("token is malformed: {error}")),
    };
    VerifyError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{IssuedClaims, ServiceAccountClaim};
    use crate::clock::unix_now;
    use crate::signing::SigningKey;

    const ISSUER: &str = "http://127.0.0.1:1";

    fn setup() -> (SigningKey, JwtVerifier) {
        let key = SigningKey::generate().expect("keygen");
        let jwks = serde_json::json!({"keys": [key.jwk()]});
        let verifier = JwtVerifier::from_jwks(ISSUER, &jwks).expect("verifier");
        (key, verifier)
    }

    fn token(key: &SigningKey, issuer: &str, issued_at: i64, ttl: i64) -> String {
        let account = ServiceAccountClaim {
            name: "app".into(),
            uid: "uid-1".into(),
        };
        let aud = ["sts.amazonaws.com".to_string()];
        let claims = Claims::for_service_account(issuer, account, "ns", &aud, issued_at, ttl);
        let issued = IssuedClaims {
            claims: &claims,
            jti: "j".into(),
        };
        key.sign_jwt(&issued).expect("sign")
    }

    #[test]
    fn good_token_verifies() {
        let (key, verifier) = setup();
        let claims = verifier
            .verify(&token(&key, ISSUER, unix_now(), 600), "sts.amazonaws.com")
            .expect("valid");
        assert_eq!(claims.sub, "system:serviceaccount:ns:app");
        assert_eq!(claims.kubernetes.serviceaccount.uid, "uid-1");
    }

    #[test]
    fn wrong_audience_is_refused() {
        let (key, verifier) = setup();
        let err = verifier
            .verify(&token(&key, ISSUER, unix_now(), 600), "other")
            .expect_err("wrong audience");
        assert_eq!(err.kind(), VerifyErrorKind::Audience);
        assert_eq!(
            err.to_string(),
            "token audience [\"sts.amazonaws.com\"] does not include 'other'"
        );
    }

    #[test]
    fn expired_token_is_refused_beyond_the_skew() {
        let (key, verifier) = setup();
        let stale = token(&key, ISSUER, unix_now() - 700, 600);
        let err = verifier
            .verify(&stale, "sts.amazonaws.com")
            .expect_err("expired");
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (VerifyErrorKind::Expired, "token expired")
        );
        let within_skew = token(&key, ISSUER, unix_now() - 610, 600);
        assert!(verifier.verify(&within_skew, "sts.amazonaws.com").is_ok());
    }

    #[test]
    fn future_token_is_refused() {
        let (key, verifier) = setup();
        let future = token(&key, ISSUER, unix_now() + 300, 600);
        let err = verifier
            .verify(&future, "sts.amazonaws.com")
            .expect_err("nbf");
        assert_eq!(err.kind(), VerifyErrorKind::NotYetValid);
    }

    #[test]
    fn tampered_signature_is_refused_without_echoing_the_token() {
        let (key, verifier) = setup();
        let good = token(&key, ISSUER, unix_now(), 600);
        let (rest, sig) = good.rsplit_once('.').expect("three parts");
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{rest}.{flipped}{}", &sig[1..]);
        let err = verifier
            .verify(&tampered, "sts.amazonaws.com")
            .expect_err("tampered");
        assert_eq!(err.kind(), VerifyErrorKind::Signature);
        assert_eq!(err.to_string(), "signature does not verify");
    }

    #[test]
    fn token_from_another_key_is_refused() {
        let (_, verifier) = setup();
        let other = SigningKey::generate().expect("keygen");
        let err = verifier
            .verify(&token(&other, ISSUER, unix_now(), 600), "sts.amazonaws.com")
            .expect_err("unknown kid");
        assert_eq!(err.kind(), VerifyErrorKind::UnknownKey);
        assert!(err.to_string().starts_with("no key with kid '"));
    }

    #[test]
    fn wrong_issuer_is_refused() {
        let (key, verifier) = setup();
        let err = verifier
            .verify(
                &token(&key, "http://elsewhere", unix_now(), 600),
                "sts.amazonaws.com",
            )
            .expect_err("issuer");
        assert_eq!(err.kind(), VerifyErrorKind::Issuer);
        assert_eq!(
            err.to_string(),
            "token issuer 'http://elsewhere' is not 'http://127.0.0.1:1'"
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let (_, verifier) = setup();
        for input in ["", "a.b", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30.AA"] {
            let err = verifier.verify(input, "x").expect_err("garbage");
            assert!(matches!(
                err.kind(),
                VerifyErrorKind::Malformed | VerifyErrorKind::UnknownKey
            ));
        }
    }

    #[test]
    fn check_discovery_requires_matching_issuer() {
        let config = serde_json::json!({"issuer": "http://a", "jwks_uri": "http://a/keys"});
        assert_eq!(
            check_discovery(&config, "http://a", "u").ok().as_deref(),
            Some("http://a/keys")
        );
        let err = check_discovery(&config, "http://b", "u").expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "u advertises issuer 'http://a' instead of 'http://b'"
        );
    }
}
