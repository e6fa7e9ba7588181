//! Loopback stand-ins for the services kubecred talks to, for tests, the
//! `kubecred sandbox` command and demos.
//!
//! [`Sandbox`] serves a Kubernetes API subset on `https://127.0.0.1:PORT`
//! with a certificate from a CA it generates at start ([`Sandbox::ca_pem`],
//! also in its kubeconfig): ServiceAccounts, Secrets, ConfigMaps and
//! Namespaces loaded from ordinary manifests ([`Manifests`]), the
//! TokenRequest subresource issuing RS256 JWTs with the real claim set, the
//! API discovery kubectl reads (`/api`, `/api/v1`, `/apis`), and OIDC
//! discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`).
//! Callers authenticate with bearer tokens: the admin token, extra [`User`]s,
//! or ServiceAccount tokens the sandbox issued; a small RBAC stand-in
//! ([`Grant`]) decides what non-admin users may do. kube-rs and kubectl
//! work with [`Sandbox::kubeconfig_file`] written to a file.
//!
//! [`JwtVerifier`] checks such tokens the way a cloud's token service does,
//! after discovering the issuer's keys ([`Sandbox::verifier`] trusts the
//! sandbox's CA; TLS is always verified).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kubecred_sandbox::{Manifests, Sandbox, SandboxConfig};
//! let manifests = Manifests::parse(
//!     "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: team}\n",
//! )?;
//! let sandbox = Sandbox::start(SandboxConfig { manifests, ..SandboxConfig::default() }).await?;
//! let token = sandbox.issue_token("team", "app", &["sts.amazonaws.com".into()],
//!     std::time::Duration::from_secs(3600));
//! let claims = sandbox.verifier().await?.verify(&token, "sts.amazonaws.com")?;
//! # let _ = claims;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod access;
pub mod aws;
pub mod azure;
mod certs;
mod claims;
mod clock;
pub mod controller;
pub mod gcp;
mod kubeconfig;
mod manifest;
mod objects;
pub mod peers;
mod policy_fields;
mod protobuf;
pub mod proxy;
mod random;
mod routes;
mod sandbox;
mod signing;
pub mod site;
pub mod source;
mod state;
mod status;
mod tls;
mod verify;

pub use access::{Grant, TokenAuthenticator, User};
pub use claims::{Claims, KubernetesClaims, ServiceAccountClaim};
pub use manifest::{ManifestError, Manifests};
pub use sandbox::{Sandbox, SandboxConfig, SandboxError};
pub use source::SourceCluster;
pub use verify::{DiscoveryOptions, JwtVerifier, VerifyError, VerifyErrorKind};
