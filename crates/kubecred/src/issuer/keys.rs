//! Public keys (PEM) to JWKs, as kube-apiserver turns its `--service-account-key-file` keys into
//! its JWKS: RSA (`RS256`) and ECDSA P-256/P-384/P-521 (`ES256`/`ES384`/`ES512`), `use: sig`,
//! `kid` = unpadded base64url of the SHA-256 of the key's PKIX `SubjectPublicKeyInfo` DER
//! (`keyIDFromPublicKey`).
//!
//! PEM blocks read: `PUBLIC KEY` (PKIX), `RSA PUBLIC KEY` (PKCS#1) and `CERTIFICATE` (its public
//! key); a file may hold several. A private key is refused, and never shown.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION,
};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::{Error, Result};

/// The text of a PEM file and where it came from (named in errors; the text never is).
#[derive(Clone)]
pub struct PublicKeyPem {
    source: String,
    pem: String,
}

impl PublicKeyPem {
    /// `pem` read from `source` (a file name, or any label for errors).
    pub fn new(source: impl Into<String>, pem: impl Into<String>) -> Self {
        PublicKeyPem {
            source: source.into(),
            pem: pem.into(),
        }
    }

    /// Reads a PEM file (a regular file, size-bounded); errors name the path, never the text.
    pub async fn read(path: &std::path::Path) -> Result<Self> {
        let pem = crate::fs::read_bounded(path).await?;
        Ok(PublicKeyPem::new(path.display().to_string(), pem))
    }

    /// Where the PEM came from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl std::fmt::Debug for PublicKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKeyPem")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// One JSON Web Key of an issuer's JWKS, in kube-apiserver's field order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `RSA` or `EC`.
    pub kty: String,
    /// The key id: unpadded base64url SHA-256 of the PKIX DER.
    pub kid: String,
    /// The curve (`P-256`, `P-384`, `P-521`), EC only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// `RS256`, `ES256`, `ES384` or `ES512`.
    pub alg: String,
    /// The x coordinate (unpadded base64url, curve-size bytes), EC only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// The y coordinate, EC only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// The modulus (unpadded base64url, no leading zero), RSA only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// The exponent, RSA only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
}

impl Jwk {
    /// Whether `other` holds the same public key (whatever its `kid`, `use` or `alg`).
    pub fn same_key(&self, other: &Jwk) -> bool {
        (&self.kty, &self.crv, &self.x, &self.y, &self.n, &self.e)
            == (
                &other.kty, &other.crv, &other.x, &other.y, &other.n, &other.e,
            )
    }
}

/// The JWKs of every key in `pems`, in order, each once (a key given twice is published once).
pub fn public_keys(pems: &[PublicKeyPem]) -> Result<Vec<Jwk>> {
    let mut keys: Vec<Jwk> = Vec::new();
    for pem in pems {
        for jwk in read(pem)? {
            if !keys.iter().any(|k| k.kid == jwk.kid) {
                keys.push(jwk);
            }
        }
    }
    Ok(keys)
}

/// The JWKs of one PEM text.
pub(crate) fn read(pem: &PublicKeyPem) -> Result<Vec<Jwk>> {
    let source = &pem.source;
    // Before any parsing, so that no parser's message can quote a private key.
    if pem.pem.contains("PRIVATE KEY-----") {
        return Err(Error::invalid(format!(
            "{source} holds a private key (not shown); give its public key instead \
             (openssl pkey -in KEY -pubout), as --service-account-key-file does"
        )));
    }
    let mut keys = Vec::new();
    for block in Pem::iter_from_buffer(pem.pem.as_bytes()) {
        let block = block.map_err(|_| {
            Error::invalid(format!("{source}: a PEM block is malformed (not shown)"))
        })?;
        let label = block.label.as_str();
        let jwk = match label {
            "PUBLIC KEY" => from_spki(&block.contents),
            "RSA PUBLIC KEY" => rsa(&block.contents),
            "CERTIFICATE" => from_certificate(&block.contents),
            // openssl ecparam -genkey writes these before the key; they hold no key.
            "EC PARAMETERS" => continue,
            _ => Err(format!(
                "a '{}' PEM block is not a public key",
                label.chars().take(40).collect::<String>().escape_default()
            )),
        }
        .map_err(|why| Error::invalid(format!("{source}: {why}")))?;
        keys.push(jwk);
    }
    if keys.is_empty() {
        return Err(Error::invalid(format!(
            "{source} holds no PEM public key (-----BEGIN PUBLIC KEY-----)"
        )));
    }
    Ok(keys)
}

fn from_certificate(der: &[u8]) -> Result<Jwk, String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| "the certificate is not DER X.509".to_owned())?;
    from_spki(certificate.public_key().raw)
}

/// A PKIX `SubjectPublicKeyInfo`: RSA or EC on a curve the API server signs with.
fn from_spki(der: &[u8]) -> Result<Jwk, String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(der)
        .map_err(|_| "the public key is not DER SubjectPublicKeyInfo".to_owned())?;
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == OID_PKCS1_RSAENCRYPTION {
        return rsa(der);
    }
    if *algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY {
        return Err(format!(
            "a public key of type {algorithm} (the API server signs with RSA or ECDSA keys only)"
        ));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .ok_or_else(|| "an EC key without a named curve".to_owned())?;
    let (crv, alg, verify, size): (_, _, &'static signature::EcdsaVerificationAlgorithm, _) =
        match curve {
            c if c == OID_EC_P256 => ("P-256", "ES256", &signature::ECDSA_P256_SHA256_ASN1, 32),
            c if c == OID_NIST_EC_P384 => {
                ("P-384", "ES384", &signature::ECDSA_P384_SHA384_ASN1, 48)
            }
            c if c == OID_NIST_EC_P521 => {
                ("P-521", "ES512", &signature::ECDSA_P521_SHA512_ASN1, 66)
            }
            other => {
                return Err(format!(
                    "an EC key on curve {other} (P-256, P-384 or P-521)"
                ));
            }
        };
    let point = spki.subject_public_key.data.as_ref();
    if point.len() != 1 + 2 * size || point.first() != Some(&4) {
        return Err(format!(
            "the {crv} point is not uncompressed (04 || x || y), which the API server needs"
        ));
    }
    let parsed = ParsedPublicKey::new(verify, point)
        .map_err(|_| format!("the {crv} point is not on the curve"))?;
    let canonical = parsed
        .as_der()
        .map_err(|_| "the EC key cannot be encoded".to_owned())?;
    Ok(Jwk {
        use_: "sig".into(),
        kty: "EC".into(),
        kid: kid(canonical.as_ref()),
        crv: Some(crv.into()),
        alg: alg.into(),
        x: Some(URL_SAFE_NO_PAD.encode(&point[1..=size])),
        y: Some(URL_SAFE_NO_PAD.encode(&point[1 + size..])),
        n: None,
        e: None,
    })
}

/// An RSA public key, PKIX or PKCS#1 DER.
fn rsa(der: &[u8]) -> Result<Jwk, String> {
    let key = aws_lc_rs::rsa::PublicKey::from_der(der)
        .map_err(|_| "the RSA public key is malformed or too weak".to_owned())?;
    // Re-encoded as PKIX (with the NULL parameters Go writes), whatever the input's form.
    let canonical = key
        .as_der()
        .map_err(|_| "the RSA key cannot be encoded".to_owned())?;
    Ok(Jwk {
        use_: "sig".into(),
        kty: "RSA".into(),
        kid: kid(canonical.as_ref()),
        crv: None,
        alg: "RS256".into(),
        x: None,
        y: None,
        n: Some(URL_SAFE_NO_PAD.encode(key.modulus().big_endian_without_leading_zero())),
        e: Some(URL_SAFE_NO_PAD.encode(key.exponent().big_endian_without_leading_zero())),
    })
}

/// kube-apiserver's key id: unpadded base64url of the SHA-256 of the PKIX DER.
fn kid(pkix_der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pkix_der);
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Checks a published JWK's shape (the key material parses on its curve or as RSA); the reason
/// it is unusable otherwise.
pub(crate) fn check_published(value: &serde_json::Value) -> Result<Jwk, String> {
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|_| "lacks use, kty, kid or alg, or a field is not a string".to_owned())?;
    let decode = |field: &Option<String>, name: &str| {
        field
            .as_deref()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            .ok_or_else(|| format!("{name} is missing or not unpadded base64url"))
    };
    if jwk.use_ != "sig" {
        return Err(format!("use is '{}', not 'sig'", jwk.use_.escape_default()));
    }
    match (jwk.kty.as_str(), jwk.alg.as_str()) {
        ("RSA", "RS256") => {
            let n = decode(&jwk.n, "n")?;
            let e = decode(&jwk.e, "e")?;
            let components = aws_lc_rs::rsa::PublicKeyComponents { n: &n, e: &e };
            let der = components
                .as_der()
                .map_err(|_| "n and e are not a usable RSA key".to_owned())?;
            aws_lc_rs::rsa::PublicKey::from_der(der.as_ref())
                .map_err(|_| "n and e are not a usable RSA key".to_owned())?;
        }
        ("EC", alg) => {
            let (crv, verify, size): (_, &'static signature::EcdsaVerificationAlgorithm, _) =
                match alg {
                    "ES256" => ("P-256", &signature::ECDSA_P256_SHA256_ASN1, 32),
                    "ES384" => ("P-384", &signature::ECDSA_P384_SHA384_ASN1, 48),
                    "ES512" => ("P-521", &signature::ECDSA_P521_SHA512_ASN1, 66),
                    _ => return Err("alg is not ES256, ES384 or ES512".to_owned()),
                };
            if jwk.crv.as_deref() != Some(crv) {
                return Err(format!("crv is not {crv}, as alg {alg} needs"));
            }
            let (x, y) = (decode(&jwk.x, "x")?, decode(&jwk.y, "y")?);
            if x.len() != size || y.len() != size {
                return Err(format!("x and y are not {size} bytes each"));
            }
            let point = [&[4u8][..], &x, &y].concat();
            ParsedPublicKey::new(verify, point)
                .map_err(|_| "x and y are not a point on the curve".to_owned())?;
        }
        (kty, alg) => {
            return Err(format!(
                "kty {} with alg {} (the API server signs RS256, ES256, ES384 or ES512)",
                kty.escape_default(),
                alg.escape_default()
            ));
        }
    }
    Ok(jwk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::KeyPair as _;

    use crate::test_pem::pem;

    fn ec_spki(alg: &'static signature::EcdsaSigningAlgorithm) -> Vec<u8> {
        let pair = signature::EcdsaKeyPair::generate(alg).unwrap_or_else(|_| unreachable!());
        let point = pair.public_key().as_ref().to_vec();
        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &point)
            .or_else(|_| ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, &point))
            .or_else(|_| ParsedPublicKey::new(&signature::ECDSA_P521_SHA512_ASN1, &point))
            .and_then(|p| p.as_der().map_err(|_| unreachable!()))
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    fn rsa_pair() -> aws_lc_rs::rsa::KeyPair {
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn rsa_pkix_and_pkcs1_give_the_same_jwk() -> Result<()> {
        let pair = rsa_pair();
        let pkcs1 = pair.public_key().as_ref().to_vec();
        let pkix = pair
            .public_key()
            .as_der()
            .map_err(|_| Error::invalid("der"))?;
        let a = public_keys(&[PublicKeyPem::new("a", pem("PUBLIC KEY", pkix.as_ref()))])?;
        let b = public_keys(&[PublicKeyPem::new("b", pem("RSA PUBLIC KEY", &pkcs1))])?;
        assert_eq!(a, b);
        assert_eq!(a[0].kid, kid(pkix.as_ref()));
        assert_eq!(
            (a[0].alg.as_str(), a[0].e.as_deref()),
            ("RS256", Some("AQAB"))
        );
        assert!(check_published(&serde_json::to_value(&a[0]).unwrap_or_default()).is_ok());
        Ok(())
    }

    #[test]
    fn ecdsa_keys_on_each_curve() -> Result<()> {
        for (alg, crv, jws, size) in [
            (
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                "P-256",
                "ES256",
                32,
            ),
            (
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                "P-384",
                "ES384",
                48,
            ),
            (
                &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                "P-521",
                "ES512",
                66,
            ),
        ] {
            let spki = ec_spki(alg);
            let keys = public_keys(&[PublicKeyPem::new("ec", pem("PUBLIC KEY", &spki))])?;
            let key = &keys[0];
            assert_eq!((key.crv.as_deref(), key.alg.as_str()), (Some(crv), jws));
            assert_eq!(key.kid, kid(&spki));
            let x = URL_SAFE_NO_PAD.decode(key.x.as_deref().unwrap_or_default());
            assert_eq!(x.map(|x| x.len()).ok(), Some(size));
            let value = serde_json::to_value(key).unwrap_or_default();
            assert!(check_published(&value).is_ok(), "{value}");
            assert!(value.get("n").is_none());
        }
        Ok(())
    }

    #[test]
    fn several_keys_in_files_in_order_each_once() -> Result<()> {
        let first = pem(
            "PUBLIC KEY",
            &ec_spki(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        );
        let second = pem("RSA PUBLIC KEY", rsa_pair().public_key().as_ref());
        let both = format!("# rotation\n{first}{second}");
        let keys = public_keys(&[
            PublicKeyPem::new("both", both),
            PublicKeyPem::new("again", first),
        ])?;
        assert_eq!(keys.len(), 2);
        assert_eq!((keys[0].kty.as_str(), keys[1].kty.as_str()), ("EC", "RSA"));
        Ok(())
    }

    #[test]
    fn private_keys_are_refused_without_being_shown() {
        let secret_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let text = format!("-----BEGIN {label}-----\n{secret_body}\n-----END {label}-----\n");
            let error = public_keys(&[PublicKeyPem::new("sa.key", text)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains("sa.key holds a private key"), "{error}");
            assert!(!error.contains(secret_body), "{error}");
        }
    }

    #[test]
    fn other_inputs_are_refused_with_the_reason() {
        let ed =
            aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap_or_else(|_| unreachable!());
        let ed = ed
            .public_key()
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default();
        for (text, reason) in [
            (String::new(), "holds no PEM public key"),
            ("not pem at all".to_owned(), "holds no PEM public key"),
            (
                pem("PUBLIC KEY", b"garbage"),
                "not DER SubjectPublicKeyInfo",
            ),
            (
                pem("RSA PUBLIC KEY", b"garbage"),
                "RSA public key is malformed",
            ),
            (pem("PUBLIC KEY", &ed), "RSA or ECDSA keys only"),
            (
                pem("X509 CRL", b"x"),
                "'X509 CRL' PEM block is not a public key",
            ),
        ] {
            let error = public_keys(&[PublicKeyPem::new("f", text)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(reason), "{error}");
        }
    }

    #[test]
    fn published_keys_that_cannot_verify_are_named() {
        for (value, reason) in [
            (serde_json::json!({"kty": "RSA"}), "lacks use"),
            (
                serde_json::json!({"use": "enc", "kty": "RSA", "kid": "k", "alg": "RS256"}),
                "not 'sig'",
            ),
            (
                serde_json::json!({"use": "sig", "kty": "RSA", "kid": "k", "alg": "RS256", "n": "!!", "e": "AQAB"}),
                "n is missing",
            ),
            (
                serde_json::json!({"use": "sig", "kty": "EC", "kid": "k", "alg": "ES256", "crv": "P-384", "x": "AA", "y": "AA"}),
                "crv is not P-256",
            ),
            (
                serde_json::json!({"use": "sig", "kty": "oct", "kid": "k", "alg": "HS256"}),
                "kty oct",
            ),
        ] {
            let error = check_published(&value).err().unwrap_or_default();
            assert!(error.contains(reason), "{value}: {error}");
        }
    }
}
