//! The Azure stand-ins' shared state: the configuration, the key that signs the access tokens
//! Entra and IMDS issue (and ACR's refresh tokens), the checks every resource stand-in makes of
//! a bearer token, role assignments and call counters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::config::{AzureConfig, KNOWN_RESOURCES};
use crate::clock::unix_now;
use crate::signing::SigningKey;

/// Lifetime of access tokens, seconds (Entra's `expires_in` is one less).
pub(crate) const LIFETIME: i64 = 3600;

/// Who an access token stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) client_id: String,
    pub(crate) object_id: String,
    /// `appidacr`: 1 for a secret, 2 for a certificate or assertion, 0 for managed identities.
    pub(crate) auth_method: u8,
    /// `xms_mirid` of a managed identity.
    pub(crate) resource_id: Option<String>,
}

/// An access token's claims as the resource stand-ins read them.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) aud: String,
    pub(crate) appid: String,
    pub(crate) oid: String,
    pub(crate) tid: String,
    pub(crate) exp: i64,
}

impl Caller {
    /// Whether `principal` (an object or client id) names this caller.
    pub(crate) fn is(&self, principal: &str) -> bool {
        principal.eq_ignore_ascii_case(&self.oid) || principal.eq_ignore_ascii_case(&self.appid)
    }
}

/// Why a bearer token was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a JWT these stand-ins signed.
    Invalid,
    /// Expired (or not yet valid).
    Expired { exp: i64 },
    /// For another audience.
    Audience(String),
}

/// Shared by every stand-in's handlers.
pub(crate) struct AzureState {
    pub(crate) config: AzureConfig,
    pub(crate) signing: SigningKey,
    decoding: DecodingKey,
    /// Entra's base URL as clients reach it, `https://127.0.0.1:PORT`.
    pub(crate) entra_url: String,
    /// The Blob service behind the Blob stand-in (Azurite), once started.
    pub(crate) blob_upstream: Mutex<Option<String>>,
    /// The CA every stand-in's certificate (and Azurite's) chains to.
    pub(crate) ca_pem: String,
    counters: Mutex<HashMap<String, u64>>,
}

/// Locks `mutex`, recovering the data if a handler panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why the state could not be built.
#[derive(Debug)]
pub(crate) struct KeyError;

impl AzureState {
    pub(crate) fn new(
        config: AzureConfig,
        entra_url: String,
        ca_pem: String,
    ) -> Result<AzureState, KeyError> {
        let signing = SigningKey::generate().map_err(|_| KeyError)?;
        let jwk = signing.jwk();
        let decoding = DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap_or_default(),
            jwk["e"].as_str().unwrap_or_default(),
        )
        .map_err(|_| KeyError)?;
        Ok(AzureState {
            config,
            signing,
            decoding,
            entra_url,
            blob_upstream: Mutex::new(None),
            ca_pem,
            counters: Mutex::default(),
        })
    }

    /// Counts one successful `action`.
    pub(crate) fn count(&self, action: &str) {
        *lock(&self.counters).entry(action.to_string()).or_default() += 1;
    }

    /// Successful calls of `action` so far.
    pub(crate) fn calls(&self, action: &str) -> u64 {
        lock(&self.counters).get(action).copied().unwrap_or(0)
    }

    /// `https://sts.windows.net/<tenant>/`, the `iss` of access tokens (what Azurite accepts).
    pub(crate) fn token_issuer(&self) -> String {
        format!("https://sts.windows.net/{}/", self.config.tenant_id)
    }

    /// Whether Entra issues tokens for `resource` (exactly, or with/without one trailing `/`).
    pub(crate) fn knows_resource(&self, resource: &str) -> bool {
        let bare = resource.trim_end_matches('/');
        KNOWN_RESOURCES
            .iter()
            .copied()
            .chain(self.config.extra_resources.iter().map(String::as_str))
            .any(|known| known.trim_end_matches('/') == bare)
    }

    /// Signs an access token for `identity` and `audience`, valid from `not_before` for
    /// `lifetime` seconds.
    pub(crate) fn access_token(
        &self,
        identity: &Identity,
        audience: &str,
        not_before: i64,
        lifetime: i64,
    ) -> Option<String> {
        let issuer = self.token_issuer();
        let mut claims = serde_json::json!({
            "aud": audience,
            "iss": issuer,
            "iat": not_before,
            "nbf": not_before,
            "exp": not_before.saturating_add(lifetime),
            "aio": URL_SAFE_NO_PAD.encode(crate::random::uuid()),
            "appid": identity.client_id,
            "azp": identity.client_id,
            "appidacr": identity.auth_method.to_string(),
            "idp": issuer,
            "idtyp": "app",
            "oid": identity.object_id,
            "rh": "0.sandbox.",
            "sub": identity.object_id,
            "tid": self.config.tenant_id,
            "uti": crate::random::bearer_token(),
            "ver": "1.0",
        });
        if let Some(resource_id) = &identity.resource_id {
            claims["xms_mirid"] = serde_json::Value::String(resource_id.clone());
        }
        self.signing.sign_jwt(&claims).ok()
    }

    /// Checks `authorization` (`Bearer <token>`) is an unexpired access token of these
    /// stand-ins for one of `audiences` (compared without a trailing `/`).
    pub(crate) fn authenticate(
        &self,
        authorization: Option<&str>,
        audiences: &[&str],
    ) -> Result<Caller, TokenProblem> {
        let token = authorization
            .and_then(bearer)
            .ok_or(TokenProblem::Missing)?;
        self.verify(token, audiences)
    }

    /// Checks a bare access token as [`AzureState::authenticate`] does.
    pub(crate) fn verify(&self, token: &str, audiences: &[&str]) -> Result<Caller, TokenProblem> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.set_issuer(&[self.token_issuer()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let caller = jsonwebtoken::decode::<Caller>(token, &self.decoding, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ImmatureSignature => TokenProblem::Expired { exp: 0 },
                _ => TokenProblem::Invalid,
            })?
            .claims;
        if caller.exp <= unix_now() {
            return Err(TokenProblem::Expired { exp: caller.exp });
        }
        let bare = caller.aud.trim_end_matches('/');
        if !audiences.iter().any(|a| a.trim_end_matches('/') == bare) {
            return Err(TokenProblem::Audience(caller.aud));
        }
        Ok(caller)
    }

    /// Whether `caller` holds one of `roles` on `scope` or a scope containing it (a grant on
    /// `azblob://acct` covers `azblob://acct/container`; an ARM resource id, beginning with `/`,
    /// is compared case-insensitively).
    pub(crate) fn granted(&self, caller: &Caller, scope: &str, roles: &[&str]) -> bool {
        let arm = scope.starts_with('/');
        let fold = |text: &str| match arm {
            true => text.to_ascii_lowercase(),
            false => text.to_owned(),
        };
        let scope = fold(scope);
        self.config.grants.iter().any(|grant| {
            let covering = fold(&grant.scope);
            roles.contains(&grant.role.as_str())
                && caller.is(&grant.principal)
                && (scope == covering
                    || scope
                        .strip_prefix(covering.as_str())
                        .is_some_and(|rest| rest.starts_with('/')))
        })
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive).
pub(crate) fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::config::{
        AKS_CLUSTER_USER, ARM_AUDIENCE, RoleGrant, STORAGE_AUDIENCE, STORAGE_BLOB_DATA_READER,
    };

    fn state() -> AzureState {
        let config = AzureConfig {
            tenant_id: "t".into(),
            grants: vec![
                RoleGrant::new("azblob://acct", STORAGE_BLOB_DATA_READER, "app"),
                RoleGrant::new(
                    "/subscriptions/s/resourceGroups/RG",
                    AKS_CLUSTER_USER,
                    "oid",
                ),
            ],
            ..AzureConfig::default()
        };
        AzureState::new(config, String::new(), String::new()).expect("key")
    }

    fn identity() -> Identity {
        Identity {
            client_id: "app".into(),
            object_id: "oid".into(),
            auth_method: 1,
            resource_id: None,
        }
    }

    #[test]
    fn tokens_verify_until_they_expire_and_only_for_their_audience() {
        let state = state();
        let now = unix_now();
        let live = state
            .access_token(&identity(), STORAGE_AUDIENCE, now, 60)
            .expect("signs");
        let header = format!("Bearer {live}");
        let caller = state
            .authenticate(Some(&header), &["https://storage.azure.com/"])
            .expect("verifies");
        assert_eq!(caller.appid, "app");
        assert!(state.granted(&caller, "azblob://acct/c", &[STORAGE_BLOB_DATA_READER]));
        assert!(!state.granted(&caller, "azblob://acct2/c", &[STORAGE_BLOB_DATA_READER]));
        assert!(!state.granted(&caller, "azblob://ACCT/c", &[STORAGE_BLOB_DATA_READER]));
        assert!(!state.granted(&caller, "azblob://acctx", &[STORAGE_BLOB_DATA_READER]));
        assert_eq!(
            state.verify(&live, &["https://vault.azure.net"]),
            Err(TokenProblem::Audience(STORAGE_AUDIENCE.into()))
        );
        let dead = state
            .access_token(&identity(), STORAGE_AUDIENCE, now - 100, 50)
            .expect("signs");
        assert!(matches!(
            state.verify(&dead, &[STORAGE_AUDIENCE]),
            Err(TokenProblem::Expired { .. })
        ));
        assert_eq!(
            state.authenticate(None, &[STORAGE_AUDIENCE]),
            Err(TokenProblem::Missing)
        );
        assert_eq!(
            state.verify("a.b.c", &[STORAGE_AUDIENCE]),
            Err(TokenProblem::Invalid)
        );
    }

    #[test]
    fn arm_scopes_cover_their_resources_whatever_the_case() {
        let state = state();
        let token = state
            .access_token(&identity(), ARM_AUDIENCE, unix_now(), 60)
            .expect("signs");
        let caller = state.verify(&token, &[ARM_AUDIENCE]).expect("verifies");
        let cluster = "/SUBSCRIPTIONS/S/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/c";
        assert!(state.granted(&caller, cluster, &[AKS_CLUSTER_USER]));
        assert!(!state.granted(&caller, cluster, &[STORAGE_BLOB_DATA_READER]));
        assert!(!state.granted(
            &caller,
            "/subscriptions/s/resourceGroups/rg2/providers/Microsoft.ContainerService/managedClusters/c",
            &[AKS_CLUSTER_USER]
        ));
        assert!(!state.granted(&caller, "/subscriptions/s", &[AKS_CLUSTER_USER]));
    }
}
