//! App certificates for tests: a self-signed RSA-2048 certificate (PEM) with its PKCS#8 key,
//! its thumbprints (the `x5t` SHA-1 and `x5t#S256` SHA-256 of the DER), and the key encrypted
//! with a password (PKCS#8 PBES2: PBKDF2-HMAC-SHA256 and AES-256-CBC, what `openssl pkcs8
//! -topk8 -v2 aes-256-cbc` writes).

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{CertificateParams, DnType, KeyPair};

use super::der;

/// PBKDF2 rounds of an encrypted key.
const ITERATIONS: u32 = 2048;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the app certificate: {0}")]
pub struct CertificateError(String);

/// A certificate and its private key.
#[derive(Clone)]
pub struct AppCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub private_key_pem: String,
    der: Vec<u8>,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for AppCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCertificate")
            .field("x5t#S256", &self.thumbprint_sha256())
            .finish_non_exhaustive()
    }
}

impl AppCertificate {
    /// A self-signed certificate with subject `CN=<common_name>` and a fresh RSA-2048 key.
    pub fn generate(common_name: &str) -> Result<AppCertificate, CertificateError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .map_err(|e| CertificateError(e.to_string()))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let certificate = params
            .self_signed(&key)
            .map_err(|e| CertificateError(e.to_string()))?;
        Ok(AppCertificate {
            certificate_pem: certificate.pem(),
            private_key_pem: key.serialize_pem(),
            der: certificate.der().to_vec(),
            pkcs8: key.serialize_der(),
        })
    }

    /// The certificate followed by the key: the PEM file `AZURE_CLIENT_CERTIFICATE_PATH` and
    /// `@azure/identity`'s `certificatePath` take.
    pub fn bundle_pem(&self) -> String {
        format!("{}{}", self.certificate_pem, self.private_key_pem)
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `x5t`: base64url of the SHA-1 of the DER.
    pub fn thumbprint_sha1(&self) -> String {
        thumbprint(&self.der, false)
    }

    /// `x5t#S256`: base64url of the SHA-256 of the DER.
    pub fn thumbprint_sha256(&self) -> String {
        thumbprint(&self.der, true)
    }

    /// The private key encrypted with `password` (`BEGIN ENCRYPTED PRIVATE KEY`, PBES2 with
    /// PBKDF2-HMAC-SHA256 and AES-256-CBC).
    pub fn encrypted_private_key_pem(&self, password: &str) -> Result<String, CertificateError> {
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CertificateError("no randomness".into()))?;
        aws_lc_rs::rand::fill(&mut iv).map_err(|_| CertificateError("no randomness".into()))?;
        let rounds =
            NonZeroU32::new(ITERATIONS).ok_or_else(|| CertificateError("rounds".into()))?;
        let mut secret = [0u8; 32];
        aws_lc_rs::pbkdf2::derive(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            &salt,
            password.as_bytes(),
            &mut secret,
        );
        let key = UnboundCipherKey::new(&AES_256, &secret)
            .and_then(PaddedBlockEncryptingKey::cbc_pkcs7)
            .map_err(|_| CertificateError("AES key".into()))?;
        let mut data = self.pkcs8.clone();
        key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into()))
            .map_err(|_| CertificateError("encryption failed".into()))?;
        const PBES2: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
        const PBKDF2: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
        const HMAC_SHA256: &[u8] = &[6, 8, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
        const AES256_CBC: &[u8] = &[6, 9, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
        let prf = der::sequence(&[HMAC_SHA256, &[5, 0]]);
        let kdf_params = der::sequence(&[
            &der::encode(0x04, &salt),
            &der::encode(0x02, &ITERATIONS.to_be_bytes()[2..]),
            &prf,
        ]);
        let kdf = der::sequence(&[PBKDF2, &kdf_params]);
        let cipher = der::sequence(&[AES256_CBC, &der::encode(0x04, &iv)]);
        let algorithm = der::sequence(&[PBES2, &der::sequence(&[&kdf, &cipher])]);
        let info = der::sequence(&[&algorithm, &der::encode(0x04, &data)]);
        Ok(pem("ENCRYPTED PRIVATE KEY", &info))
    }
}

/// base64url of the SHA-1 or SHA-256 of `der`.
pub(crate) fn thumbprint(der: &[u8], sha256: bool) -> String {
    let algorithm = match sha256 {
        true => &digest::SHA256,
        false => &digest::SHA1_FOR_LEGACY_USE_ONLY,
    };
    URL_SAFE_NO_PAD.encode(digest::digest(algorithm, der).as_ref())
}

/// The DER of each `CERTIFICATE` block of `pem`.
pub(crate) fn certificates_der(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else {
            break;
        };
        let text: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = STANDARD.decode(text) {
            out.push(der);
        }
        rest = &body[end..];
    }
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let text = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_have_rsa_keys_and_thumbprints() {
        let certificate = AppCertificate::generate("app").expect("generates");
        let parsed = certificates_der(&certificate.certificate_pem);
        assert_eq!(parsed, [certificate.der().to_vec()]);
        assert!(der::certificate_rsa_key(certificate.der()).is_some());
        assert_eq!(certificate.thumbprint_sha1().len(), 27);
        assert_eq!(certificate.thumbprint_sha256().len(), 43);
        let encrypted = certificate
            .encrypted_private_key_pem("pw")
            .expect("encrypts");
        assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
    }
}
