//! An app registration's certificate: a PEM bundle (the certificate, its chain and the RSA
//! private key, the key possibly encrypted) and the client assertion Entra takes in place of a
//! client secret.
//!
//! The assertion is signed here, not by `azure_identity`'s certificate credential, which needs
//! OpenSSL: a JWT with header `alg: PS256`, `typ: JWT`, `x5t#S256` (SHA-256 thumbprint of the
//! certificate's DER) and, when the chain is sent (subject name / issuer authentication),
//! `x5c`; claims `aud` = the token endpoint, `iss` = `sub` = the client id, a fresh `jti`,
//! `nbf`/`iat` now and `exp` ten minutes later (Microsoft's "certificate credentials" format).
//!
//! The bundle is hostile input (a tenant's Secret, a mounted file): bounded, every block
//! checked, the certificate chosen as the one whose public key is the private key's, and errors
//! that name the source and what was wrong, never the key.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{KeyPair, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use x509_parser::pem::Pem;

use crate::Secret;
use crate::error::{Error, Result};

/// The largest PEM bundle read (a certificate chain and a key are a few KB).
pub const MAX_BUNDLE: usize = 64 * 1024;
/// How long an assertion is valid (Microsoft: "5-10 minutes after nbf at most").
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// A certificate with its private key, ready to sign assertions. `Debug` shows the thumbprint
/// only.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// DER of the leaf (the certificate of the key) first, then the others in file order.
    chain: Vec<Vec<u8>>,
    thumbprint: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Reads a PEM bundle from `source` (named in errors: a file, a Secret's key). `password`
    /// decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2).
    pub fn from_pem(
        pem: &[u8],
        password: Option<&Secret>,
        source: &str,
    ) -> Result<ClientCertificate> {
        let bad = |what: String| Error::invalid(format!("client certificate in {source}: {what}"));
        if pem.len() > MAX_BUNDLE {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_BUNDLE} a certificate bundle may have",
                pem.len()
            )));
        }
        let mut certificates = Vec::new();
        let mut key = None;
        for (index, block) in Pem::iter_from_buffer(pem).enumerate() {
            let block = block.map_err(|_| {
                bad(format!(
                    "PEM block {} is malformed (expected -----BEGIN …----- base64 -----END …-----)",
                    index + 1
                ))
            })?;
            match block.label.as_str() {
                "CERTIFICATE" => {
                    block.parse_x509().map_err(|_| {
                        bad(format!(
                            "PEM block {} is not an X.509 certificate",
                            index + 1
                        ))
                    })?;
                    certificates.push(block.contents);
                }
                "PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" if key.is_some() => {
                    return Err(bad("more than one private key".to_owned()));
                }
                "PRIVATE KEY" => key = Some(pkcs8_key(&block.contents).map_err(bad)?),
                "RSA PRIVATE KEY" => {
                    key = Some(RsaKeyPair::from_der(&block.contents).map_err(|_| {
                        bad(
                            "the RSA PRIVATE KEY block is not a usable RSA key (2048 to 8192 bits)"
                                .to_owned(),
                        )
                    })?)
                }
                "ENCRYPTED PRIVATE KEY" => {
                    let Some(password) = password else {
                        return Err(bad(
                            "the private key is encrypted and no password was given".to_owned(),
                        ));
                    };
                    key = Some(encrypted_key(&block.contents, password).map_err(bad)?);
                }
                "EC PRIVATE KEY" => {
                    return Err(bad(
                        "the private key is an EC key; Entra ID takes RSA certificates".to_owned(),
                    ));
                }
                other => {
                    return Err(bad(format!(
                        "unexpected PEM block '{}' (expected CERTIFICATE and PRIVATE KEY)",
                        other.escape_default()
                    )));
                }
            }
        }
        let Some(key) = key else {
            return Err(bad(
                "no private key (expected a PRIVATE KEY, RSA PRIVATE KEY or ENCRYPTED PRIVATE KEY \
                 block beside the certificate)"
                    .to_owned(),
            ));
        };
        if certificates.is_empty() {
            return Err(bad("no CERTIFICATE block".to_owned()));
        }
        let leaf = certificates
            .iter()
            .position(|der| certifies(der, &key))
            .ok_or_else(|| bad("no certificate in it matches the private key".to_owned()))?;
        let first = certificates.remove(leaf);
        let thumbprint = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &first));
        let mut chain = vec![first];
        chain.extend(certificates);
        Ok(ClientCertificate {
            key,
            chain,
            thumbprint,
        })
    }

    /// The certificate's `x5t#S256` thumbprint (base64url SHA-256 of its DER).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A signed client assertion for `client_id` at the token endpoint `audience`, valid from
    /// `now` for ten minutes; with the chain in `x5c` when `send_chain`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
        send_chain: bool,
    ) -> Result<Secret> {
        let mut header = serde_json::json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": self.thumbprint,
        });
        if send_chain {
            header["x5c"] = self
                .chain
                .iter()
                .map(|der| serde_json::Value::from(STANDARD.encode(der)))
                .collect();
        }
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::invalid("the clock is before 1970"))?
            .as_secs();
        let mut id = [0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| Error::invalid("no randomness for the assertion's jti"))?;
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Builder::from_random_bytes(id).into_uuid().to_string(),
            "nbf": issued,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::invalid("cannot sign the client assertion"))?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

fn pkcs8_key(der: &[u8]) -> std::result::Result<RsaKeyPair, String> {
    RsaKeyPair::from_pkcs8(der).map_err(|_| {
        "the PRIVATE KEY block is not a usable RSA key (Entra ID takes RSA keys of 2048 to 8192 \
         bits)"
            .to_owned()
    })
}

fn encrypted_key(der: &[u8], password: &Secret) -> std::result::Result<RsaKeyPair, String> {
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|_| "the ENCRYPTED PRIVATE KEY block is not PKCS#8".to_owned())?;
    bounded_cost(&info.encryption_algorithm)?;
    let document = info.decrypt(password.expose()).map_err(|_| {
        "cannot decrypt the private key: wrong password, or an encryption other than PBES2 \
         (PBKDF2 or scrypt with AES-CBC)"
            .to_owned()
    })?;
    pkcs8_key(document.as_bytes())
}

/// The most PBKDF2 iterations a key may ask for (OpenSSL writes 2048; OWASP's advice is 600,000).
const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
/// The largest scrypt cost `N` (OpenSSL writes 16384), block size `r` and parallelism `p` a
/// key may ask for: at most 64 MiB of memory (`128 · r · N`) and four passes.
const MAX_SCRYPT: (u64, u16, u16) = (1 << 16, 8, 4);

/// Refuses key-derivation parameters that would cost more than a key file's ever do. They come
/// with the bundle, so a hostile one could ask for 2³² PBKDF2 iterations (hours of CPU) or an
/// scrypt `N` of 2⁴⁰ (an allocation that aborts the process), and `pkcs5` panics on `N = 0`.
fn bounded_cost(scheme: &pkcs8::pkcs5::EncryptionScheme<'_>) -> std::result::Result<(), String> {
    use pkcs8::pkcs5::EncryptionScheme;
    use pkcs8::pkcs5::pbes2::Kdf;
    let EncryptionScheme::Pbes2(parameters) = scheme else {
        // Anything else is refused by the decryption itself, at no cost.
        return Ok(());
    };
    let (max_n, max_r, max_p) = MAX_SCRYPT;
    match &parameters.kdf {
        Kdf::Pbkdf2(pbkdf2) if pbkdf2.iteration_count > MAX_PBKDF2_ITERATIONS => Err(format!(
            "the private key's encryption asks for {} PBKDF2 iterations, more than the \
             {MAX_PBKDF2_ITERATIONS} accepted",
            pbkdf2.iteration_count
        )),
        Kdf::Scrypt(scrypt)
            if !(2..=max_n).contains(&scrypt.cost_parameter)
                || !scrypt.cost_parameter.is_power_of_two()
                || !(1..=max_r).contains(&scrypt.block_size)
                || !(1..=max_p).contains(&scrypt.parallelization) =>
        {
            Err(format!(
                "the private key's encryption asks for scrypt N={}, r={}, p={}; accepted are N a \
                 power of two up to {max_n}, r up to {max_r} and p up to {max_p}",
                scrypt.cost_parameter, scrypt.block_size, scrypt.parallelization
            ))
        }
        _ => Ok(()),
    }
}

/// Whether the certificate `der` is for `key` (its subject public key is the key's).
fn certifies(der: &[u8], key: &RsaKeyPair) -> bool {
    x509_parser::parse_x509_certificate(der).is_ok_and(|(_, certificate)| {
        certificate
            .tbs_certificate
            .subject_pki
            .subject_public_key
            .data
            .as_ref()
            == key.public_key().as_ref()
    })
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
