use std::sync::LazyLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};

use super::*;

/// A fresh RSA key as PKCS#8 PEM (made here: no private key is checked in).
static PEM: LazyLock<String> = LazyLock::new(|| {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap_or_else(|e| panic!("{e}"));
    let der = pair.as_der().unwrap_or_else(|e| panic!("{e}"));
    pem("PRIVATE KEY", der.as_ref())
});

pub(crate) use crate::test_pem::pem;

/// A key file as gcloud writes it, with `field` replaced by `value` (or removed when `None`).
fn key_file(field: &str, value: Option<serde_json::Value>) -> String {
    let mut file = serde_json::json!({
        "type": "service_account",
        "project_id": "project-id",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": *PEM,
        "client_email": "flux@project-id.iam.gserviceaccount.com",
        "client_id": "123456789012345678901",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/flux%40project-id.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    });
    match value {
        Some(value) => file[field] = value,
        None => {
            file.as_object_mut().map(|o| o.remove(field));
        }
    }
    file.to_string()
}

fn message(json: &str) -> String {
    let result = ServiceAccountKey::parse(json, Endpoints::Google);
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn a_key_as_gcloud_writes_it() {
    let key = ServiceAccountKey::parse(&key_file("x", None), Endpoints::Google);
    let key = key.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(key.client_email, "flux@project-id.iam.gserviceaccount.com");
    assert_eq!(
        key.private_key_id,
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(key.private_key.expose(), PEM.as_str());
    assert_eq!(
        key.token_uri.as_str(),
        "https://oauth2.googleapis.com/token"
    );
    assert_eq!(key.project_id.as_deref(), Some("project-id"));
}

#[test]
fn the_private_key_never_shows() {
    let key = ServiceAccountKey::parse(&key_file("x", None), Endpoints::Google);
    let shown = format!("{key:?}");
    let body = PEM.lines().nth(1).unwrap_or_default();
    assert!(!shown.contains(body) && !shown.contains("BEGIN"), "{shown}");
    for (field, value) in [
        (
            "private_key",
            serde_json::json!(PEM.replace("PRIVATE KEY", "RSA PRIVATE KEY")),
        ),
        ("private_key", serde_json::json!(PEM.replace('A', "B"))),
        (
            "private_key",
            serde_json::json!(PEM.replace("-----END PRIVATE KEY-----\n", "")),
        ),
        ("client_email", serde_json::json!(*PEM)),
        ("private_key_id", serde_json::json!(*PEM)),
        ("token_uri", serde_json::json!(*PEM)),
        ("type", serde_json::json!(*PEM)),
        ("client_email", serde_json::json!([*PEM])),
    ] {
        let error = message(&key_file(field, Some(value)));
        assert!(
            !error.is_empty() && !error.contains(body) && !error.contains("BEGIN"),
            "{field}: {error}"
        );
    }
}

#[test]
fn errors_name_the_field() {
    let ec_key = {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .unwrap_or_else(|e| panic!("{e}"));
        let der = pair.to_pkcs8v1().unwrap_or_else(|e| panic!("{e}"));
        pem("PRIVATE KEY", der.as_ref())
    };
    for (field, value, expected) in [
        (
            "type",
            Some(serde_json::json!("external_account")),
            "field 'type': not 'service_account'",
        ),
        ("client_email", None, "missing field `client_email`"),
        ("private_key", None, "missing field `private_key`"),
        ("private_key_id", None, "missing field `private_key_id`"),
        ("token_uri", None, "missing field `token_uri`"),
        (
            "client_email",
            Some(serde_json::json!("not-an-email")),
            "field 'client_email': not an email address",
        ),
        (
            "client_email",
            Some(serde_json::json!(42)),
            "field 'client_email': wrong type or value",
        ),
        (
            "private_key_id",
            Some(serde_json::json!("a b")),
            "field 'private_key_id': not a key id",
        ),
        (
            "private_key",
            Some(serde_json::json!("")),
            "field 'private_key': not a PEM 'PRIVATE KEY' (PKCS#8) block",
        ),
        (
            "private_key",
            Some(serde_json::json!(ec_key)),
            "field 'private_key': not an RSA private key that can sign",
        ),
        (
            "token_uri",
            Some(serde_json::json!("https://evil.example/token")),
            "field 'token_uri': the host is not one of Google's for this service. expected https://oauth2.googleapis.com/token",
        ),
        (
            "token_uri",
            Some(serde_json::json!("http://oauth2.googleapis.com/token")),
            "the scheme is not https",
        ),
        (
            "universe_domain",
            Some(serde_json::json!("s3nsapis.fr")),
            "field 'universe_domain': only googleapis.com is supported",
        ),
    ] {
        let error = message(&key_file(field, value));
        assert!(
            error.starts_with("invalid GCP service account key: ") && error.contains(expected),
            "{field}: {error}"
        );
    }
}

#[test]
fn loopback_token_uri_only_with_the_override() {
    let file = key_file(
        "token_uri",
        Some(serde_json::json!("http://127.0.0.1:18443/token")),
    );
    assert!(ServiceAccountKey::parse(&file, Endpoints::Google).is_err());
    let key = ServiceAccountKey::parse(&file, Endpoints::GoogleOrLoopback);
    assert_eq!(
        key.map(|k| k.token_uri.to_string()).ok().as_deref(),
        Some("http://127.0.0.1:18443/token")
    );
}

proptest::proptest! {
    #[test]
    fn parser_never_panics(input in "\\PC{0,400}") {
        let _ = ServiceAccountKey::parse(&input, Endpoints::GoogleOrLoopback);
    }

    #[test]
    fn parser_never_panics_on_odd_fields(field in "[a-z_]{1,16}", value in "\\PC{0,64}") {
        let _ = ServiceAccountKey::parse(&key_file(&field, Some(serde_json::json!(value))), Endpoints::Google);
    }
}
