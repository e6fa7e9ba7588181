//! The GCP stand-ins' shared state: the configuration, the access tokens they issued (with
//! whom each stands for), service-account keys and call counters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use jsonwebtoken::DecodingKey;

use super::config::GcpConfig;
use crate::clock::unix_now;
use crate::random;

/// Who an access token the stand-ins issued stands for, for the checks of other stand-ins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenInfo {
    /// A federated principal
    /// (`principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/subject/S`)
    /// or `serviceAccount:<email>`.
    pub principal: String,
    /// The service account, for a service account's token.
    pub service_account: Option<String>,
    /// The OAuth scopes granted.
    pub scopes: Vec<String>,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
}

/// An issued token: what [`TokenInfo`] reports, and the IAM members it matches.
#[derive(Clone, Debug)]
pub(crate) struct Issued {
    pub(crate) info: TokenInfo,
    pub(crate) members: Vec<String>,
}

/// A service-account key the stand-ins created; its public half verifies JWT-bearer assertions.
pub(crate) struct KeyRecord {
    pub(crate) email: String,
    pub(crate) key: DecodingKey,
}

/// Shared by every stand-in's handlers.
pub(crate) struct GcpState {
    pub(crate) config: GcpConfig,
    /// The OAuth token endpoint's own URL (an accepted assertion audience).
    pub(crate) token_uri: String,
    tokens: Mutex<HashMap<String, Issued>>,
    keys: Mutex<HashMap<String, KeyRecord>>,
    counters: Mutex<HashMap<String, u64>>,
}

/// Locks `mutex`, recovering the data if a handler panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl GcpState {
    pub(crate) fn new(config: GcpConfig, token_uri: String) -> GcpState {
        GcpState {
            config,
            token_uri,
            tokens: Mutex::default(),
            keys: Mutex::default(),
            counters: Mutex::default(),
        }
    }

    /// Counts one successful `action`.
    pub(crate) fn count(&self, action: &str) {
        *lock(&self.counters).entry(action.to_string()).or_default() += 1;
    }

    /// Successful calls of `action` so far.
    pub(crate) fn calls(&self, action: &str) -> u64 {
        lock(&self.counters).get(action).copied().unwrap_or(0)
    }

    /// Issues an opaque access token for `principal`, matching IAM `members`, valid `lifetime`
    /// seconds; returns it.
    pub(crate) fn issue(
        &self,
        principal: String,
        members: Vec<String>,
        scopes: Vec<String>,
        lifetime: i64,
    ) -> String {
        let token = format!("ya29.sandbox.{}", random::bearer_token());
        let service_account = principal
            .strip_prefix("serviceAccount:")
            .map(str::to_string);
        let info = TokenInfo {
            principal,
            service_account,
            scopes,
            expires_at: unix_now().saturating_add(lifetime),
        };
        lock(&self.tokens).insert(token.clone(), Issued { info, members });
        token
    }

    /// Issues a token of service account `email`.
    pub(crate) fn issue_for_service_account(
        &self,
        email: &str,
        scopes: Vec<String>,
        lifetime: i64,
    ) -> String {
        let member = format!("serviceAccount:{email}");
        self.issue(member.clone(), vec![member], scopes, lifetime)
    }

    /// The unexpired token `token`, if these stand-ins issued it.
    pub(crate) fn lookup(&self, token: &str) -> Option<Issued> {
        let issued = lock(&self.tokens).get(token).cloned()?;
        (issued.info.expires_at > unix_now()).then_some(issued)
    }

    /// Remembers the public key `kid` of service account `email`.
    pub(crate) fn add_key(&self, kid: String, email: String, key: DecodingKey) {
        lock(&self.keys).insert(kid, KeyRecord { email, key });
    }

    /// Runs `f` on the key `kid`, if known.
    pub(crate) fn with_key<T>(&self, kid: &str, f: impl FnOnce(&KeyRecord) -> T) -> Option<T> {
        lock(&self.keys).get(kid).map(f)
    }

    /// Whether `email` names a configured service account.
    pub(crate) fn has_service_account(&self, email: &str) -> bool {
        self.config
            .service_accounts
            .iter()
            .any(|a| a.email == email)
            || self.config.node_service_account.as_deref() == Some(email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_found_until_they_expire() {
        let state = GcpState::new(GcpConfig::default(), String::new());
        let live = state.issue_for_service_account("a@p.iam.gserviceaccount.com", vec![], 60);
        let dead = state.issue_for_service_account("a@p.iam.gserviceaccount.com", vec![], -1);
        let info = state.lookup(&live).expect("live").info;
        assert_eq!(
            info.service_account.as_deref(),
            Some("a@p.iam.gserviceaccount.com")
        );
        assert!(state.lookup(&dead).is_none());
        assert!(state.lookup("ya29.unknown").is_none());
    }
}
