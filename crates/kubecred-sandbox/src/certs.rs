//! The sandbox's TLS identity: a certificate authority generated at start-up
//! and a serving certificate it signs, as kubeadm sets up a cluster.
//!
//! Clients trust the CA (it goes into the kubeconfig as
//! `certificate-authority-data`); the server presents the leaf, which is not
//! a CA (`CA:FALSE`), is for `serverAuth` and names `127.0.0.1` and
//! `localhost`. Both keys are ECDSA P-256 and never leave memory. All crypto
//! is aws-lc-rs.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::random;

/// The subject common name of the generated CA, before a random suffix
/// (distinct names let clients tell one sandbox's CA from another's).
const CA_NAME: &str = "kubecred-sandbox-ca";
/// The subject common name of the serving certificate.
const SERVER_NAME: &str = "kubecred-sandbox";
/// The names the serving certificate is valid for.
const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// Why the TLS identity could not be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CertError {
    /// rcgen could not generate a key or certificate.
    #[error("cannot generate the {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    /// rustls refused the generated certificate or key.
    #[error("the TLS server configuration is unusable: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The CA certificate clients trust and the server configuration that
/// presents the leaf certificate.
pub(crate) struct TlsIdentity {
    /// The CA certificate, PEM.
    pub(crate) ca_pem: String,
    /// rustls server settings: the leaf, its key, HTTP/1.1 over ALPN.
    pub(crate) server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

/// Generates a fresh CA and a serving certificate signed by it, for loopback and `extra` (a
/// managed issuer's host the sandbox answers for).
pub(crate) fn generate(extra: Option<&str>) -> Result<TlsIdentity, CertError> {
    let names: Vec<&str> = SERVER_NAMES.into_iter().chain(extra).collect();
    generate_for(&names)
}

/// Generates a fresh CA and a serving certificate for `names` (DNS names or
/// IP addresses) signed by it.
pub(crate) fn generate_for(names: &[&str]) -> Result<TlsIdentity, CertError> {
    let ca_key = new_key("CA key")?;
    let ca_params = ca_params();
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(|source| generate_error("CA certificate", source))?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = new_key("server key")?;
    let leaf = leaf_params(names)?
        .signed_by(&leaf_key, &issuer)
        .map_err(|source| generate_error("server certificate", source))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let server = server_config(leaf.der().clone(), key)?;
    Ok(TlsIdentity {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}

fn new_key(what: &'static str) -> Result<KeyPair, CertError> {
    KeyPair::generate().map_err(|source| generate_error(what, source))
}

fn generate_error(what: &'static str, source: rcgen::Error) -> CertError {
    CertError::Generate { what, source }
}

/// A CA that may sign end-entity certificates only (path length 0).
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let name = format!("{CA_NAME}-{}", random::uuid());
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A serving certificate: `CA:FALSE`, serverAuth, for `names`.
fn leaf_params(names: &[&str]) -> Result<CertificateParams, CertError> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names)
        .map_err(|source| generate_error("server certificate names", source))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

/// rustls settings with the aws-lc-rs provider (not the process default, so
/// serving works whatever the embedding process installed).
fn server_config(
    leaf: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> Result<ServerConfig, CertError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![leaf], key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_pem_ca_and_a_server_config() {
        let identity = generate(None).expect("certificates");
        assert!(
            identity.ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"),
            "{}",
            identity.ca_pem
        );
        assert_eq!(identity.server.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let other = generate(None).expect("certificates");
        assert_ne!(
            identity.ca_pem, other.ca_pem,
            "every sandbox has its own CA"
        );
    }
}
