//! A private cloud's environment file (`AZURE_ENVIRONMENT_FILEPATH`) on arbitrary text, and a
//! well-formed file with arbitrary text in each field (so that the field checks are reached),
//! then the registry hosts under its suffix and its ARM pair. An error is fine, a panic is a bug;
//! an error never shows the value of another field.
#![no_main]

use std::path::Path;

use kubecred::azure::environment::EnvironmentFile;
use kubecred::azure::hosts::AzureCloud;
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "fuzz-secret-marker";

fn check(file: &EnvironmentFile, host: &str) {
    if let Ok((endpoint, audience)) = file.resource_manager() {
        let https = endpoint
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        assert!(
            https && !endpoint.contains(['?', '#', '%', '\\']),
            "{endpoint}"
        );
        assert!(
            !endpoint[8..].starts_with('/') && endpoint.len() > 8,
            "{endpoint}"
        );
        assert!(!audience.is_empty() && audience.bytes().all(|b| b.is_ascii_graphic()));
    }
    if let Ok(registry) = file.registry(host) {
        assert_eq!(registry.cloud, AzureCloud::Private);
        assert!((5..=50).contains(&registry.name.len()), "{registry:?}");
        assert!(!registry.host().contains(['/', '@', ':']), "{registry:?}");
    }
}

fuzz_target!(|input: &str| {
    let path = Path::new("/fuzz/env.json");
    let (text, host) = input.rsplit_once('\n').unwrap_or((input, input));
    if let Ok(file) = EnvironmentFile::parse(path, text) {
        check(&file, host);
    }
    for field in [
        "containerRegistryDNSSuffix",
        "resourceManagerEndpoint",
        "tokenAudience",
    ] {
        let json = serde_json::json!({
            "containerRegistryDNSSuffix": "azurecr.private",
            "resourceManagerEndpoint": "https://management.core.azure.private/",
            "tokenAudience": "https://management.core.azure.private/",
            "clientSecret": MARKER,
            field: input,
        });
        match EnvironmentFile::parse(path, &json.to_string()) {
            Ok(file) => {
                check(&file, &format!("fooregistry.{input}"));
                check(&file, input);
            }
            Err(error) => {
                let shown = error.to_string();
                assert!(shown.starts_with("AZURE_ENVIRONMENT_FILEPATH /fuzz/env.json: "));
                assert!(!shown.contains(MARKER), "{shown}");
            }
        }
    }
});
