//! The discovery document and JWKS of a self-managed cluster, byte for byte what its API server
//! would serve at `/.well-known/openid-configuration` and `/openid/v1/jwks` with
//! `--service-account-issuer` (and `--service-account-jwks-uri`) set.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::keys::{Jwk, PublicKeyPem, public_keys};
use super::url::{Issuer, shown};
use crate::error::{Error, Result};

/// Where kube-apiserver serves its JWKS, and where `jwks_uri` points under the issuer by
/// default.
pub const JWKS_PATH: &str = "/openid/v1/jwks";

/// An issuer's two documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Documents {
    /// The discovery document (`/.well-known/openid-configuration`).
    pub discovery: Value,
    /// The JWKS (`{"keys": [...]}`).
    pub jwks: Value,
}

impl Documents {
    /// The discovery document as pretty JSON with a final newline.
    pub fn discovery_json(&self) -> String {
        pretty(&self.discovery)
    }

    /// The JWKS as pretty JSON with a final newline.
    pub fn jwks_json(&self) -> String {
        pretty(&self.jwks)
    }

    /// The JWKS file a GCP workload identity pool OIDC provider takes instead of fetching the
    /// issuer's (`gcloud iam workload-identity-pools providers create-oidc --jwk-json-path`, the
    /// provider's `oidc.jwksJson`): `{"keys": [...]}` whose keys have only the fields Google
    /// accepts (`kty`, `alg`, `use`, `kid`, and `n`/`e` or `crv`/`x`/`y`), RSA or EC.
    pub fn gcp_jwks_json(&self) -> String {
        const FIELDS: [&str; 9] = ["kty", "alg", "use", "kid", "n", "e", "x", "y", "crv"];
        let keys: Vec<Value> = self.jwks["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter(|k| matches!(k["kty"].as_str(), Some("RSA" | "EC")))
                    .map(|k| {
                        let kept = FIELDS
                            .iter()
                            .filter_map(|f| k.get(*f).map(|v| ((*f).to_owned(), v.clone())));
                        Value::Object(kept.collect())
                    })
                    .collect()
            })
            .unwrap_or_default();
        pretty(&json!({ "keys": keys }))
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The documents of `issuer` publishing `keys` (at least one; several during a rotation), with
/// `jwks_uri` (default `<issuer>/openid/v1/jwks`, which must then also be `https`).
pub fn generate(
    issuer: &Issuer,
    jwks_uri: Option<&str>,
    keys: &[PublicKeyPem],
) -> Result<Documents> {
    if keys.is_empty() {
        return Err(Error::invalid(
            "no public key given: the JWKS must publish every key the API server signs with \
             (its --service-account-key-file keys)",
        ));
    }
    let jwks_uri = match jwks_uri {
        Some(uri) => {
            Issuer::parse(uri).map_err(|_| {
                Error::invalid(format!(
                    "jwks_uri {} must be an https:// URL without user info, query or fragment",
                    shown(uri)
                ))
            })?;
            uri.to_owned()
        }
        None => format!("{}{JWKS_PATH}", issuer.base()),
    };
    let keys = public_keys(keys)?;
    Ok(documents(issuer, &jwks_uri, &keys))
}

/// kube-apiserver's `openIDMetadata`: the algorithms are its keys', sorted, each once.
fn documents(issuer: &Issuer, jwks_uri: &str, keys: &[Jwk]) -> Documents {
    let algs: BTreeSet<&str> = keys.iter().map(|k| k.alg.as_str()).collect();
    let discovery = json!({
        "issuer": issuer.as_str(),
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
    });
    let jwks = json!({ "keys": keys });
    Documents { discovery, jwks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::{self, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn documents_have_the_api_servers_fields() -> Result<()> {
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| Error::invalid("keygen"))?;
        let rsa = rsa
            .public_key()
            .as_der()
            .map_err(|_| Error::invalid("der"))?;
        let ec = signature::EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_ASN1_SIGNING)
            .map_err(|_| Error::invalid("keygen"))?;
        let ec = signature::ParsedPublicKey::new(
            &signature::ECDSA_P384_SHA384_ASN1,
            ec.public_key().as_ref(),
        )
        .and_then(|p| p.as_der().map_err(|_| unreachable!()))
        .map_err(|_| Error::invalid("der"))?;
        let issuer = Issuer::parse("https://oidc.example.com/c/")?;
        let keys = [
            PublicKeyPem::new("new.pub", pem(ec.as_ref())),
            PublicKeyPem::new("old.pub", pem(rsa.as_ref())),
        ];
        let documents = generate(&issuer, None, &keys)?;
        assert_eq!(
            documents.discovery,
            json!({
                "issuer": "https://oidc.example.com/c/",
                "jwks_uri": "https://oidc.example.com/c/openid/v1/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES384", "RS256"],
            })
        );
        let published = documents.jwks["keys"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(published.len(), 2);
        assert_eq!(published[0]["crv"], "P-384");
        assert_eq!(published[1]["kty"], "RSA");
        assert!(documents.jwks_json().ends_with("}\n"));
        // GCP's direct upload: the same keys, only Google's fields.
        let gcp: Value = serde_json::from_str(&documents.gcp_jwks_json())
            .map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(gcp, documents.jwks);
        let mut extra = documents.clone();
        extra.jwks["keys"][0]["x5c"] = json!(["MIIB"]);
        extra.jwks["keys"][1]["kty"] = json!("oct");
        let gcp: Value = serde_json::from_str(&extra.gcp_jwks_json())
            .map_err(|e| Error::invalid(e.to_string()))?;
        assert_eq!(gcp, json!({ "keys": [documents.jwks["keys"][0]] }));
        let custom = generate(&issuer, Some("https://cdn.example.com/keys.json"), &keys)?;
        assert_eq!(
            custom.discovery["jwks_uri"],
            "https://cdn.example.com/keys.json"
        );
        Ok(())
    }

    #[test]
    fn no_keys_or_a_bad_jwks_uri_is_refused() -> Result<()> {
        let issuer = Issuer::parse("https://oidc.example.com")?;
        let error = generate(&issuer, None, &[]).err().map(|e| e.to_string());
        assert!(error.unwrap_or_default().contains("no public key given"));
        let key = PublicKeyPem::new("k", "");
        let error = generate(&issuer, Some("http://x/jwks"), &[key])
            .err()
            .map(|e| e.to_string());
        assert!(
            error
                .unwrap_or_default()
                .contains("must be an https:// URL")
        );
        Ok(())
    }
}
