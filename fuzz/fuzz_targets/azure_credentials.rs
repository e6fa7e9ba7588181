//! The Azure credential parsers on arbitrary input: a PEM bundle (certificate and key, the key
//! possibly encrypted), a Secret in both of its forms (keys, `sops.azure-kv` YAML), its tenant,
//! client id and authority host (the Secret's and the operator's `AZURE_AUTHORITY_HOST`). The
//! input is split at NUL bytes into those fields, the missing ones valid, so that each check is
//! reached on its own. An error is fine, a panic is a bug, and no error shows a secret field.
#![no_main]

use std::collections::BTreeMap;

use kubecred::azure::authority::AUTHORITY_HOST_VAR;
use kubecred::azure::certificate::ClientCertificate;
use kubecred::azure::secret::{self, SOPS_KEY};
use kubecred::{Env, Secret};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "fuzz-secret-marker";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "00000000-0000-0000-0000-0000000000aa";

fn secret_free(result: Result<secret::AppSecret, kubecred::Error>) {
    if let Err(error) = result {
        let shown = error.to_string();
        assert!(!shown.contains(MARKER), "{shown}");
    }
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Secret> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Secret::new(*v)))
        .collect()
}

fuzz_target!(|input: &str| {
    // A secret written by the input itself may rightly be shown (as a tenant, say).
    let marked = input.contains(MARKER);
    let password = Secret::new(input);
    let _ = ClientCertificate::from_pem(input.as_bytes(), Some(&password), "fuzz");
    if let Err(error) =
        ClientCertificate::from_pem(input.as_bytes(), Some(&Secret::new(MARKER)), "fuzz")
    {
        assert!(!error.to_string().contains(MARKER), "{error}");
    }

    let mut fields = input.split('\0');
    let mut next = |default: &'static str| {
        fields
            .next()
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| default.to_owned())
    };
    let (tenant, client, authority, operator, pem) =
        (next(TENANT), next(CLIENT), next(""), next(""), next(""));
    let env = match operator.as_str() {
        "" => Env::from_pairs(&[]),
        host => Env::from_pairs(&[(AUTHORITY_HOST_VAR, host)]),
    };

    let mut keys = vec![
        ("tenantId", tenant.as_str()),
        ("clientId", client.as_str()),
        ("clientSecret", MARKER),
    ];
    if !authority.is_empty() {
        keys.push(("authorityHost", &authority));
    }
    let result = secret::app(&env, &data(&keys));
    if !marked {
        secret_free(result);
    }
    if !pem.is_empty() {
        keys[2] = ("clientCertificate", &pem);
        keys.push(("clientCertificatePassword", MARKER));
        keys.push(("clientCertificateSendChain", &client));
        let result = secret::app(&env, &data(&keys));
        if !marked {
            secret_free(result);
        }
    }

    let _ = secret::app(&env, &data(&[(SOPS_KEY, input)]));
    let yaml = format!("{input}\nclientSecret: {MARKER}\nclientCertificatePassword: {MARKER}\n");
    let result = secret::app(&env, &data(&[(SOPS_KEY, &yaml)]));
    if !marked {
        secret_free(result);
    }
    let quoted = serde_json::to_string(input).unwrap_or_default();
    let yaml = format!(
        "tenantId: {quoted}\nclientId: {CLIENT}\nclientSecret: {MARKER}\nauthorityHost: {quoted}\n"
    );
    let result = secret::app(&env, &data(&[(SOPS_KEY, &yaml)]));
    if !marked {
        secret_free(result);
    }
});
