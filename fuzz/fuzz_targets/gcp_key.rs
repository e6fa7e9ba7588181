//! The GCP service-account key parser, on arbitrary JSON and with arbitrary text in each field of
//! a well-formed key (so that the PEM and URL checks are reached): never a panic, and the text
//! put in `private_key` never appears in an error.
#![no_main]

use kubecred::gcp::key::ServiceAccountKey;
use kubecred::gcp::urls::Endpoints;
use libfuzzer_sys::fuzz_target;

const FIELDS: [&str; 5] = ["private_key", "client_email", "private_key_id", "token_uri", "type"];

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
    if let Err(error) = ServiceAccountKey::parse(&key.to_string(), Endpoints::Google) {
        let shown = error.to_string();
        assert!(input.len() < 8 || !shown.contains(input), "{field} shown: {shown}");
    }
});
