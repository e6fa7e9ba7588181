//! Test certificates in `testdata/` were made with openssl (a CA, an app certificate it signed,
//! the app key as PKCS#8, PKCS#1 and PBES2-encrypted PKCS#8 with password `s3cret`, an EC key).

use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use proptest::prelude::*;

use super::*;

const BUNDLE: &str = include_str!("testdata/bundle.pem");
const CHAIN_ENCRYPTED: &str = include_str!("testdata/bundle-chain-encrypted.pem");
const PKCS1: &str = include_str!("testdata/bundle-pkcs1.pem");
const MISMATCH: &str = include_str!("testdata/bundle-mismatch.pem");
const EC: &str = include_str!("testdata/bundle-ec.pem");
const APP: &str = include_str!("testdata/app.pem");
const CA: &str = include_str!("testdata/ca.pem");
/// `openssl x509 -in app.pem -outform der | openssl dgst -sha256 -binary | basenc --base64url`.
const APP_THUMBPRINT: &str = "urQN9ggtcQ7Ft3mOLYDkO8rYM2Pye0Gsy5VY8dM0_Ug";
const CLIENT: &str = "00000000-0000-0000-0000-0000000000aa";
const AUDIENCE: &str = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token";

fn password() -> Secret {
    Secret::new("s3cret")
}

fn error(pem: &str, password: Option<&Secret>) -> String {
    ClientCertificate::from_pem(
        pem.as_bytes(),
        password,
        "Secret team/app key clientCertificate",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default()
}

fn der(pem: &str) -> Vec<u8> {
    Pem::iter_from_buffer(pem.as_bytes())
        .next()
        .and_then(|block| block.ok())
        .map(|block| block.contents)
        .unwrap_or_default()
}

fn decode(part: &str) -> serde_json::Value {
    let bytes = URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

#[test]
fn every_key_form_gives_the_openssl_thumbprint() {
    let plain = ClientCertificate::from_pem(BUNDLE.as_bytes(), None, "t").map(|c| c.thumbprint);
    assert_eq!(plain.ok().as_deref(), Some(APP_THUMBPRINT));
    let pkcs1 = ClientCertificate::from_pem(PKCS1.as_bytes(), None, "t").map(|c| c.thumbprint);
    assert_eq!(pkcs1.ok().as_deref(), Some(APP_THUMBPRINT));
    let pass = password();
    let encrypted = ClientCertificate::from_pem(CHAIN_ENCRYPTED.as_bytes(), Some(&pass), "t")
        .map(|c| (c.thumbprint, c.chain.len()));
    // The CA certificate comes first in the file; the leaf is the one of the key.
    assert_eq!(
        encrypted.ok(),
        Some((APP_THUMBPRINT.to_owned(), 2)),
        "leaf chosen by key, chain kept"
    );
}

#[test]
fn the_assertion_is_signed_by_the_certificates_key_with_microsofts_claims() {
    let pass = password();
    let certificate =
        ClientCertificate::from_pem(CHAIN_ENCRYPTED.as_bytes(), Some(&pass), "t").ok();
    let Some(certificate) = certificate else {
        panic!("bundle did not load");
    };
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let Ok(assertion) = certificate.assertion(CLIENT, AUDIENCE, now, true) else {
        panic!("no assertion");
    };
    let parts: Vec<&str> = assertion.expose().split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["x5t#S256"], APP_THUMBPRINT);
    let x5c: Vec<String> = header["x5c"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        x5c,
        vec![STANDARD.encode(der(APP)), STANDARD.encode(der(CA))]
    );
    let claims = decode(parts[1]);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["iss"], CLIENT);
    assert_eq!(claims["sub"], CLIENT);
    assert_eq!(claims["nbf"], 1_700_000_000u64);
    assert_eq!(claims["exp"], 1_700_000_600u64);
    assert_eq!(claims["jti"].as_str().map(str::len), Some(36));

    // Verified with the public key of the certificate (not of the key).
    let app = der(APP);
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(&app) else {
        panic!("app.pem");
    };
    let public = parsed
        .tbs_certificate
        .subject_pki
        .subject_public_key
        .data
        .to_vec();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &public)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    );
    // Without the chain, no x5c; a fresh jti each time.
    let Ok(bare) = certificate.assertion(CLIENT, AUDIENCE, now, false) else {
        panic!("no assertion");
    };
    let bare_parts: Vec<&str> = bare.expose().split('.').collect();
    assert!(decode(bare_parts[0]).get("x5c").is_none());
    assert_ne!(decode(bare_parts[1])["jti"], claims["jti"]);
}

#[test]
fn bad_bundles_are_named_and_explained() {
    let pass = password();
    let wrong = Secret::new("wrong");
    let cases: &[(&str, Option<&Secret>, &str)] = &[
        (
            MISMATCH,
            None,
            "no certificate in it matches the private key",
        ),
        (EC, None, "EC key; Entra ID takes RSA certificates"),
        (CHAIN_ENCRYPTED, None, "encrypted and no password was given"),
        (CHAIN_ENCRYPTED, Some(&wrong), "wrong password"),
        (APP, None, "no private key"),
        ("", None, "no private key"),
        ("not pem at all", None, "no private key"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None,
            "PEM block 1 is not an X.509 certificate",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            None,
            "unexpected PEM block 'PUBLIC KEY'",
        ),
    ];
    for (pem, password, expected) in cases {
        let message = error(pem, *password);
        assert!(
            message.starts_with("client certificate in Secret team/app key clientCertificate: "),
            "{message}"
        );
        assert!(message.contains(expected), "{expected}: {message}");
        assert!(
            !message.contains("s3cret") && !message.contains("MII"),
            "{message}"
        );
    }
    let twice = format!("{BUNDLE}{BUNDLE}");
    assert!(error(&twice, None).contains("more than one private key"));
    let huge = "A".repeat(MAX_BUNDLE + 1);
    assert!(error(&huge, None).contains("more than the 65536"));
    let _ = pass;
}

/// The app certificate with an encrypted key whose derivation is `kdf` (the key itself junk).
fn encrypted_with(kdf: pkcs8::pkcs5::pbes2::Kdf<'_>) -> String {
    use pkcs8::der::Encode as _;
    use pkcs8::pkcs5::{EncryptionScheme, pbes2};
    let iv = [7u8; 16];
    let info = pkcs8::EncryptedPrivateKeyInfo {
        encryption_algorithm: EncryptionScheme::Pbes2(pbes2::Parameters {
            kdf,
            encryption: pbes2::EncryptionScheme::Aes256Cbc { iv: &iv },
        }),
        encrypted_data: &[0u8; 48],
    };
    let encoded = STANDARD.encode(info.to_der().unwrap_or_default());
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap_or_default())
        .collect();
    format!(
        "{APP}-----BEGIN ENCRYPTED PRIVATE KEY-----\n{}\n-----END ENCRYPTED PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// The key derivation's cost comes with the bundle: a hostile one asked for hours of PBKDF2,
/// an scrypt allocation that aborted the process, or (`N = 0`) a panic in `pkcs5`. Each is
/// refused at once, before any derivation; ordinary costs still reach the decryption.
#[test]
fn key_derivation_costs_are_bounded() {
    use pkcs8::pkcs5::pbes2::{Kdf, Pbkdf2Params, Pbkdf2Prf, ScryptParams};
    let salt = [1u8; 16];
    let pbkdf2 = |iteration_count| {
        Kdf::Pbkdf2(Pbkdf2Params {
            salt: &salt,
            iteration_count,
            key_length: None,
            prf: Pbkdf2Prf::HmacWithSha256,
        })
    };
    let scrypt = |cost_parameter, block_size, parallelization| {
        Kdf::Scrypt(ScryptParams {
            salt: &salt,
            cost_parameter,
            block_size,
            parallelization,
            key_length: None,
        })
    };
    let pass = password();
    for (kdf, expected) in [
        (
            pbkdf2(u32::MAX),
            "asks for 4294967295 PBKDF2 iterations, more than the 1000000 accepted",
        ),
        (pbkdf2(1_000_001), "PBKDF2 iterations, more than"),
        (scrypt(0, 8, 1), "asks for scrypt N=0, r=8, p=1"),
        (scrypt(1, 8, 1), "asks for scrypt N=1,"),
        (scrypt(1 << 40, 8, 1), "asks for scrypt N=1099511627776,"),
        (
            scrypt(u64::MAX, 8, 1),
            "asks for scrypt N=18446744073709551615,",
        ),
        (scrypt(3, 8, 1), "asks for scrypt N=3,"),
        (scrypt(1 << 17, 8, 1), "asks for scrypt N=131072,"),
        (scrypt(16384, 0, 1), "r=0"),
        (scrypt(16384, 9, 1), "r=9"),
        (scrypt(16384, 8, 0), "p=0"),
        (scrypt(16384, 8, 5), "p=5"),
        (pbkdf2(2048), "wrong password"),
        (pbkdf2(1), "wrong password"),
        (scrypt(16384, 8, 1), "wrong password"),
    ] {
        let message = error(&encrypted_with(kdf), Some(&pass));
        assert!(
            message.starts_with("client certificate in Secret team/app key clientCertificate: ")
                && message.contains(expected)
                && !message.contains("s3cret"),
            "{expected}: {message}"
        );
    }
}

#[test]
fn debug_shows_the_thumbprint_only() {
    let certificate = ClientCertificate::from_pem(BUNDLE.as_bytes(), None, "t").ok();
    let shown = format!("{certificate:?}");
    assert!(shown.contains(APP_THUMBPRINT), "{shown}");
    assert!(!shown.contains("MII") && !shown.contains("key:"), "{shown}");
}

proptest! {
    /// Whatever the bytes, a bundle parses or is refused with an error; never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = ClientCertificate::from_pem(&bytes, Some(&password()), "t");
    }

    /// Cutting a valid bundle anywhere never panics and never yields a certificate without its
    /// key.
    #[test]
    fn truncated_bundles_never_panic(cut in 0usize..BUNDLE.len()) {
        if let Ok(certificate) = ClientCertificate::from_pem(&BUNDLE.as_bytes()[..cut], None, "t") {
            prop_assert_eq!(certificate.thumbprint(), APP_THUMBPRINT);
        }
    }
}
