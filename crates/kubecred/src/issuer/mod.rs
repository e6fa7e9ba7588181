//! A cluster's ServiceAccount token issuer, as the clouds see it: the OIDC discovery document
//! and the JWKS a self-managed cluster publishes ([`generate`]), a check of a published issuer
//! made the way AWS, Entra and Google fetch it ([`verify`]), and the cluster's own documents read
//! through the Kubernetes API ([`show`]), the upload of both documents to a bucket with
//! kubecred's own credentials ([`publish`]) and the plan of a key or issuer rotation
//! ([`rotate_plan`]), and what a target cloud needs to trust it for a ServiceAccount
//! ([`setup()`]). Cloud-neutral; only the upload calls are per cloud (feature-gated).
//!
//! The documents are the ones kube-apiserver serves (`pkg/serviceaccount/openidmetadata.go`):
//! `/.well-known/openid-configuration` (`issuer`, `jwks_uri`, `response_types_supported`,
//! `subject_types_supported`, `id_token_signing_alg_values_supported`) and `/openid/v1/jwks`,
//! one JWK per public key (`use: sig`, `alg` RS256/ES256/ES384/ES512, `kid` the unpadded
//! base64url SHA-256 of the key's PKIX DER). A cloud trusts an issuer by fetching
//! `<issuer>/.well-known/openid-configuration` over HTTPS, comparing its `issuer` with the
//! registered string exactly, then fetching `jwks_uri` and picking the key by the token's `kid`.
//!
//! ```no_run
//! use kubecred::issuer::{self, Issuer, PublicKeyPem};
//!
//! # fn example() -> kubecred::Result<()> {
//! let issuer = Issuer::parse("https://oidc.example.com/cluster-a")?;
//! let key = PublicKeyPem::new("sa.pub", std::fs::read_to_string("sa.pub").unwrap_or_default());
//! let documents = issuer::generate(&issuer, None, &[key])?;
//! println!("{}", documents.discovery_json());
//! # Ok(()) }
//! ```

mod generate;
mod keys;
mod publish;
mod rotate;
pub(crate) mod setup;
mod show;
mod url;
mod verify;

pub use generate::{Documents, JWKS_PATH, generate};
pub use keys::{Jwk, PublicKeyPem, public_keys};
pub use publish::{CONTENT_TYPE, Object, Published, TARGETS, Target, publish};
pub use rotate::{
    CURRENT_KEY_FILE, CURRENT_SIGNING_KEY_FILE, NEW_SIGNING_KEY_FILE, Plan, Rotation, RotationKind,
    Step, plan_text, rotate_plan,
};
pub use setup::{
    AWS_AUDIENCE, AWS_ROLE_ARN_ANNOTATION, AZURE_AUDIENCE, AZURE_CLIENT_ID_ANNOTATION,
    AZURE_TENANT_ID_ANNOTATION, AzureIdentity, GCP_MAX_SUBJECT, GCP_PROVIDER_ANNOTATION, Setup,
    SetupTarget, setup,
};
pub use show::{ClusterIssuer, Reachability, reachability, show};
pub use url::{DISCOVERY_PATH, Issuer};
pub use verify::{Check, Outcome, Report, VerifyOptions, verify};
