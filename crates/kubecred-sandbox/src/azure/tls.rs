//! The stand-ins' TLS: one CA generated at start signs the serving certificate of every HTTPS
//! stand-in (names `127.0.0.1`, `localhost` and `dev.azure.com`) and Azurite's, so a client
//! trusts them all with one PEM ([`super::AzureStandIns::ca_pem`]).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::error::AzureStartError;

/// The names of the stand-ins' serving certificate.
pub(crate) const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "dev.azure.com"];

/// A CA and what it issued.
pub(crate) struct Ca {
    pub(crate) pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A serving certificate and key, PEM (for peers such as Azurite) and as rustls settings.
pub(crate) struct Leaf {
    pub(crate) certificate_pem: String,
    pub(crate) key_pem: String,
    pub(crate) server: Arc<ServerConfig>,
}

fn failed(what: &str, error: impl std::fmt::Display) -> AzureStartError {
    AzureStartError::new(format!("cannot generate the {what}: {error}"), None)
}

impl Ca {
    /// A fresh CA (ECDSA P-256) that may sign end-entity certificates only.
    pub(crate) fn generate() -> Result<Ca, AzureStartError> {
        let key = KeyPair::generate().map_err(|e| failed("CA key", e))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            format!("kubecred-sandbox-azure-ca-{}", crate::random::uuid()),
        );
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params
            .self_signed(&key)
            .map_err(|e| failed("CA certificate", e))?;
        Ok(Ca {
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A serving certificate for `names` (`CA:FALSE`, serverAuth).
    pub(crate) fn leaf(&self, names: &[&str]) -> Result<Leaf, AzureStartError> {
        let key = KeyPair::generate().map_err(|e| failed("server key", e))?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params =
            CertificateParams::new(names).map_err(|e| failed("server certificate names", e))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "kubecred-sandbox-azure");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let certificate = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| failed("server certificate", e))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![CertificateDer::from(certificate.der().to_vec())], der)
            })
            .map_err(|e| failed("TLS settings", e))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Leaf {
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            server: Arc::new(server),
        })
    }
}

/// A client trusting only `ca_pem`, bounded, never through a proxy.
pub(crate) fn client(ca_pem: &str) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap_or_default();
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(roots)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}
