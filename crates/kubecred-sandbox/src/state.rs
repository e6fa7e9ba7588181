//! The state one sandbox server shares between its handlers and the
//! [`Sandbox`](crate::Sandbox) handle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use serde_json::Value;

use crate::access::{Access, Action};
use crate::claims::{Claims, IssuedClaims, ServiceAccountClaim};
use crate::clock::{rfc3339, unix_now};
use crate::manifest::Manifests;
use crate::objects::Namespace;
use crate::random;
use crate::signing::{KeyRing, SignError};
use crate::source::SourceCluster;
use crate::status::ApiError;

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The issuer tokens are signed with (the first `--service-account-issuer`).
    pub(crate) issuer: String,
    /// `https://127.0.0.1:PORT`.
    pub(crate) api_url: String,
    /// What kind of cluster the sandbox presents itself as.
    pub(crate) source: SourceCluster,
    pub(crate) store: Manifests,
    pub(crate) keys: std::sync::RwLock<KeyRing>,
    pub(crate) access: Access,
    pub(crate) token_requests: AtomicU64,
    /// The Namespaces served, as API JSON, by name.
    pub(crate) namespaces: BTreeMap<String, Value>,
}

/// The API JSON of every Namespace `store` implies (see
/// [`Manifests::namespaces`]); undeclared ones get a uid now.
pub(crate) fn namespace_objects(store: &Manifests) -> BTreeMap<String, Value> {
    let created = rfc3339(unix_now());
    store
        .namespaces()
        .into_iter()
        .map(|(name, declared)| {
            let json = match declared {
                Some(namespace) => namespace.to_json(),
                None => Namespace::implied(&name, random::uuid(), created.clone()).to_json(),
            };
            (name, json)
        })
        .collect()
}

/// A freshly minted ServiceAccount token.
pub(crate) struct Minted {
    pub(crate) token: String,
    pub(crate) expires_at: i64,
}

impl AppState {
    /// Authenticates the request and authorizes `action`; returns the user.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        action: &Action<'_>,
    ) -> Result<String, ApiError> {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let Some(user) = self.access.authenticate(header, &self.store) else {
            tracing::debug!(
                verb = action.verb,
                resource = action.resource,
                "unauthenticated request"
            );
            return Err(ApiError::unauthorized());
        };
        if !self.access.authorize(&user, action) {
            tracing::debug!(%user, verb = action.verb, resource = action.resource, "forbidden");
            let a = action;
            return Err(ApiError::forbidden(
                &user,
                a.verb,
                a.resource,
                a.namespace,
                a.name,
            ));
        }
        Ok(user)
    }

    /// Authenticates the request without authorizing an action (for
    /// discovery-like endpoints every user may read).
    pub(crate) fn authenticated(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        self.access
            .authenticate(header, &self.store)
            .ok_or_else(ApiError::unauthorized)
    }

    /// Signs a token for ServiceAccount `namespace/name`. The uid is the
    /// loaded ServiceAccount's, or a fresh one if it was not loaded.
    pub(crate) fn mint(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        ttl_seconds: i64,
    ) -> Result<Minted, SignError> {
        self.mint_at(namespace, name, audiences, unix_now(), ttl_seconds)
    }

    /// Mints a token issued at `issued_at` (Unix seconds), e.g. in the past for expiry tests.
    pub(crate) fn mint_at(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        issued_at: i64,
        ttl_seconds: i64,
    ) -> Result<Minted, SignError> {
        let uid = self
            .store
            .service_account_uid(namespace, name)
            .map_or_else(random::uuid, str::to_string);
        let account = ServiceAccountClaim {
            name: name.to_string(),
            uid,
        };
        let claims = Claims::for_service_account(
            &self.issuer,
            account,
            namespace,
            audiences,
            issued_at,
            ttl_seconds,
        );
        let issued = IssuedClaims {
            claims: &claims,
            jti: random::uuid(),
        };
        let key = self.key_ring().signing.clone();
        let token = key.sign_jwt(&issued)?;
        Ok(Minted {
            token,
            expires_at: claims.exp,
        })
    }

    /// The keys, for reading.
    pub(crate) fn key_ring(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the keys, then lets the API server accept exactly the verification keys.
    pub(crate) fn change_keys<T>(&self, change: impl FnOnce(&mut KeyRing) -> T) -> T {
        let mut ring = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let result = change(&mut ring);
        let jwks = ring.jwks();
        drop(ring);
        for verifier in &self.access.verifiers {
            if let Err(e) = verifier.replace_jwks(&jwks) {
                tracing::warn!("the API server's verifier refused its own keys: {e}");
            }
        }
        result
    }

    /// Counts one successful TokenRequest.
    pub(crate) fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Successful TokenRequests so far.
    pub(crate) fn token_request_count(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }
}
