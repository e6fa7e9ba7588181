//! The sandbox's RSA signing key: key generation, the JWK it publishes and
//! RS256 JWT signing.
//!
//! JWTs are signed by hand with aws-lc-rs (`base64url(header) "."
//! base64url(claims)`, RSASSA-PKCS1-v1_5 with SHA-256) because
//! `jsonwebtoken::EncodingKey::from_rsa_der` wants a PKCS#1 private key, which
//! aws-lc-rs key generation does not export. Verification uses jsonwebtoken
//! (see `verify.rs`), so the two implementations check each other.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;

/// Why a JWT could not be signed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignError {
    /// The claims could not be serialized.
    #[error("cannot serialize JWT claims: {0}")]
    Claims(#[from] serde_json::Error),
    /// aws-lc-rs refused to sign.
    #[error("RSA signing failed")]
    Rsa,
}

/// The API server's keys: every verification key (`--service-account-key-file`, newest last),
/// the one that signs (`--service-account-signing-key-file`), and those the issuer's published
/// JWKS holds (a managed service's copy, or the operator's bucket: it lags a rotation until
/// [`crate::Sandbox::publish_keys`]).
#[derive(Debug)]
pub(crate) struct KeyRing {
    pub(crate) keys: Vec<std::sync::Arc<SigningKey>>,
    pub(crate) signing: std::sync::Arc<SigningKey>,
    pub(crate) published: Vec<std::sync::Arc<SigningKey>>,
}

impl KeyRing {
    /// A ring of one key, signing and published.
    pub(crate) fn new(key: SigningKey) -> KeyRing {
        let key = std::sync::Arc::new(key);
        KeyRing {
            keys: vec![key.clone()],
            signing: key.clone(),
            published: vec![key],
        }
    }

    /// The JWKS of every verification key (what kube-apiserver serves itself).
    pub(crate) fn jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": self.keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
    }

    /// The JWKS the issuer's public location serves.
    pub(crate) fn published_jwks(&self) -> serde_json::Value {
        serde_json::json!({"keys": self.published.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
    }
}

/// An RSA-2048 key pair with its key id.
pub(crate) struct SigningKey {
    pair: KeyPair,
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
    /// The public key as a PKIX `SubjectPublicKeyInfo` (DER).
    spki: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key. The key id is the base64url (unpadded) SHA-256 of the
    /// PKIX `SubjectPublicKeyInfo` DER, as kube-apiserver derives it (`keyIDFromPublicKey`:
    /// `x509.MarshalPKIXPublicKey`), not of the PKCS#1 `RSAPublicKey`.
    pub(crate) fn generate() -> Result<SigningKey, aws_lc_rs::error::Unspecified> {
        let pair = KeyPair::generate(KeySize::Rsa2048)?;
        let public = pair.public_key();
        let spki = public.as_der()?.as_ref().to_vec();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &spki);
        let kid = URL_SAFE_NO_PAD.encode(digest.as_ref());
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        Ok(SigningKey {
            pair,
            kid,
            n,
            e,
            spki,
        })
    }

    /// The key id (`kid`).
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as PEM (`PUBLIC KEY`, PKIX), as `--service-account-key-file` takes it.
    pub(crate) fn public_key_pem(&self) -> String {
        let body = STANDARD.encode(&self.spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The public key as a JWK (`kty RSA, alg RS256, use sig`).
    pub(crate) fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Signs `claims` as an RS256 JWT with header `{alg, kid, typ}`.
    pub(crate) fn sign_jwt<T: Serialize>(&self, claims: &T) -> Result<String, SignError> {
        let header = serde_json::json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let signing_input = format!("{header}.{payload}");
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SignError::Rsa)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwk_publishes_modulus_and_exponent() {
        let key = SigningKey::generate().expect("keygen");
        let jwk = key.jwk();
        assert_eq!(jwk["kid"], key.kid.as_str());
        assert_eq!(jwk["e"], "AQAB");
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap_or_default());
        assert_eq!(n.map(|n| n.len()).ok(), Some(256));
    }

    #[test]
    fn kid_is_the_sha256_of_the_pkix_public_key() {
        let key = SigningKey::generate().expect("keygen");
        let pem = key.public_key_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(body).expect("base64");
        assert_eq!(der, key.spki);
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        assert_eq!(key.kid, URL_SAFE_NO_PAD.encode(digest.as_ref()));
        // Not the PKCS#1 RSAPublicKey, which the SPKI wraps.
        let pkcs1 = key.pair.public_key().as_ref().to_vec();
        assert_ne!(der, pkcs1);
        assert!(der.ends_with(&pkcs1));
    }

    #[test]
    fn signed_jwt_verifies_with_the_public_key() {
        let key = SigningKey::generate().expect("keygen");
        let jwt = key
            .sign_jwt(&serde_json::json!({"sub": "x"}))
            .expect("sign");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
        let public = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            key.pair.public_key().as_ref(),
        );
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(input.as_bytes(), &signature).is_ok());
        assert!(public.verify(b"other", &signature).is_err());
    }
}
