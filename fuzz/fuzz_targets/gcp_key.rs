//! The GCP service-account key parser, on arbitrary JSON and with arbitrary text in each field of
//! a well-formed key (so that the PEM and URL checks are reached): never a panic, and a bad
//! `private_key` only ever gives one of the fixed messages (the key never reaches an error).
#![no_main]

use kubecred::gcp::key::ServiceAccountKey;
use kubecred::gcp::urls::Endpoints;
use libfuzzer_sys::fuzz_target;

const FIELDS: [&str; 5] = ["private_key", "client_email", "private_key_id", "token_uri", "type"];
const PRIVATE_KEY_ERRORS: [&str; 2] = [
    "invalid GCP service account key: field 'private_key': not a PEM 'PRIVATE KEY' (PKCS#8) block",
    "invalid GCP service account key: field 'private_key': not an RSA private key that can sign",
];

fuzz_target!(|input: &str| {
    let _ = ServiceAccountKey::parse(input, Endpoints::GoogleOrLoopback);
    let field = FIELDS[input.len() % FIELDS.len()];
    let mut key = serde_json::json!({
        "type": "service_account",
        "private_key_id": "0123456789abcdef",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        "client_email": "sa@project-id.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token"
    });
    key[field] = serde_json::Value::String(input.to_owned());
    let result = ServiceAccountKey::parse(&key.to_string(), Endpoints::Google);
    if let (Err(error), "private_key") = (result, field) {
        let shown = error.to_string();
        assert!(PRIVATE_KEY_ERRORS.contains(&shown.as_str()), "{shown}");
    }
});
