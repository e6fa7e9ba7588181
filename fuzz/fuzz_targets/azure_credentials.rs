//! The Azure credential parsers on arbitrary input: a PEM bundle (certificate and key, the key
//! possibly encrypted), a Secret in both of its forms (keys, `sops.azure-kv` YAML) and an
//! authority host. An error is fine, a panic is a bug, and no error shows a secret field.
#![no_main]

use std::collections::BTreeMap;

use kubecred::azure::certificate::ClientCertificate;
use kubecred::azure::secret::{self, SOPS_KEY};
use kubecred::{Env, Secret};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "fuzz-secret-marker";

fuzz_target!(|input: &str| {
    let password = Secret::new(input);
    let _ = ClientCertificate::from_pem(input.as_bytes(), Some(&password), "fuzz");
    let env = Env::from_pairs(&[]);
    let sops = BTreeMap::from([(SOPS_KEY.to_owned(), Secret::new(input))]);
    let _ = secret::app(&env, &sops);
    let keys = BTreeMap::from([
        ("tenantId".to_owned(), Secret::new(input)),
        ("clientId".to_owned(), Secret::new(input)),
        ("clientSecret".to_owned(), Secret::new(MARKER)),
        ("authorityHost".to_owned(), Secret::new(input)),
    ]);
    if let Err(error) = secret::app(&env, &keys) {
        assert!(!error.to_string().contains(MARKER), "{error}");
    }
});
