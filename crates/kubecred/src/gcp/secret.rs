//! Secret level: a Secret holding a service-account key (JSON), under the key each Flux API
//! reads it from: `serviceaccount` (Bucket), `token` (notification Provider `googlepubsub`),
//! `sops.gcp-kms` (SOPS decryption). Its token comes from the JWT-bearer grant at the key's
//! `token_uri`.
//!
//! The key is a tenant's: its `token_uri` must be Google's, unless the operator pointed
//! kubecred's STS at a stand-in (`KUBECRED_GCP_STS_URL`), when a loopback one is accepted too.

use std::collections::BTreeMap;

use super::endpoints::STS_URL_VAR;
use super::key::ServiceAccountKey;
use super::urls::Endpoints;
use crate::error::{Error, Result};
use crate::{Env, Secret};

/// The Secret keys that hold a service-account key, in the order they are looked for.
pub const KEYS: &[&str] = &["serviceaccount", "token", "sops.gcp-kms"];

/// The Secret's service-account key, checked.
pub(crate) fn key(env: &Env, data: &BTreeMap<String, Secret>) -> Result<ServiceAccountKey> {
    let found = KEYS.iter().find_map(|k| Some((*k, data.get(*k)?)));
    let Some((name, json)) = found else {
        return Err(Error::invalid(format!(
            "the Secret has none of the keys {} (a GCP service account key in JSON)",
            KEYS.join(", ")
        )));
    };
    ServiceAccountKey::parse(json.expose(), endpoints(env))
        .map_err(|e| e.within(format_args!("Secret key '{name}'")))
}

fn endpoints(env: &Env) -> Endpoints {
    match env.var(STS_URL_VAR) {
        Some(_) => Endpoints::GoogleOrLoopback,
        None => Endpoints::Google,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_without_a_key_names_the_keys_looked_for() {
        let data = BTreeMap::from([("password".to_owned(), Secret::new("x"))]);
        let error = key(&Env::from_pairs(&[]), &data)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the Secret has none of the keys serviceaccount, token, sops.gcp-kms \
                 (a GCP service account key in JSON)"
            )
        );
        let data = BTreeMap::from([("token".to_owned(), Secret::new("{\"private_key\":"))]);
        let error = key(&Env::from_pairs(&[]), &data)
            .err()
            .map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(error.starts_with("Secret key 'token': "), "{error}");
        assert!(!error.contains("private_key\":"), "{error}");
    }
}
