//! The GCP external_account configuration parser, on arbitrary JSON and with arbitrary text in
//! the fields of a well-formed configuration and its credential source: never a panic.
#![no_main]

use kubecred::gcp::external_account::ExternalAccount;
use kubecred::gcp::urls::Endpoints;
use libfuzzer_sys::fuzz_target;

const POINTERS: [&str; 10] = [
    "/audience",
    "/subject_token_type",
    "/token_url",
    "/service_account_impersonation_url",
    "/token_info_url",
    "/credential_source/file",
    "/credential_source/url",
    "/credential_source/format/subject_token_field_name",
    "/credential_source/executable/command",
    "/credential_source/headers/X",
];

fuzz_target!(|input: &str| {
    let _ = ExternalAccount::parse(input, Endpoints::GoogleOrLoopback);
    let pointer = POINTERS[input.len() % POINTERS.len()];
    let mut config = serde_json::json!({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/pool/providers/prov",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": { "file": "/t", "format": { "type": "json", "subject_token_field_name": "t" } }
    });
    if pointer.starts_with("/credential_source/url") || pointer.starts_with("/credential_source/headers") {
        config["credential_source"] = serde_json::json!({ "url": "http://127.0.0.1/t", "headers": {} });
    }
    if pointer.contains("executable") {
        config["credential_source"] = serde_json::json!({ "executable": { "command": "/bin/t" } });
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(object) = config.pointer_mut(parent).and_then(|v| v.as_object_mut()) {
        object.insert(key.to_owned(), serde_json::Value::String(input.to_owned()));
    }
    for endpoints in [Endpoints::Google, Endpoints::GoogleOrLoopback] {
        let _ = ExternalAccount::parse(&config.to_string(), endpoints);
    }
});
