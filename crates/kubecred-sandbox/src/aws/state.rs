//! The stand-ins' shared state: the configuration, the temporary keys they
//! issued, IMDS tokens, ECR passwords and call counters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::config::{AwsConfig, parse_role_arn};
use super::ids;
use crate::clock::unix_now;

/// Temporary keys issued for a role session.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: String,
    pub(crate) session_token: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub(crate) assumed_role_arn: String,
    /// `AROA...:<session>`.
    pub(crate) assumed_role_id: String,
    /// The role behind the session.
    pub(crate) role_arn: String,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
}

/// Who signed a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Caller {
    /// What GetCallerIdentity answers as `Arn`.
    pub(crate) arn: String,
    /// What GetCallerIdentity answers as `UserId`.
    pub(crate) user_id: String,
    /// The ARN trust policies name: the user, or the role behind a session.
    pub(crate) principal_arn: String,
    /// Whether the keys are a role session's (role chaining limits apply).
    pub(crate) is_session: bool,
}

/// What the verifier needs to know about an access key.
pub(crate) struct KeyRecord {
    pub(crate) secret: String,
    pub(crate) session_token: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) caller: Caller,
}

/// Shared by every stand-in's handlers.
pub(crate) struct AwsState {
    pub(crate) config: AwsConfig,
    /// `127.0.0.1:PORT` of the STS stand-in.
    pub(crate) sts_authority: String,
    sessions: Mutex<HashMap<String, Session>>,
    counters: Mutex<HashMap<String, u64>>,
    pub(crate) imds_tokens: Mutex<HashMap<String, i64>>,
    pub(crate) node_session: Mutex<Option<Session>>,
    pub(crate) ecr_passwords: Mutex<HashMap<String, i64>>,
}

/// Locks `mutex`, recovering the data if a handler panicked while holding it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AwsState {
    pub(crate) fn new(config: AwsConfig, sts_authority: String) -> AwsState {
        AwsState {
            config,
            sts_authority,
            sessions: Mutex::default(),
            counters: Mutex::default(),
            imds_tokens: Mutex::default(),
            node_session: Mutex::default(),
            ecr_passwords: Mutex::default(),
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

    /// Issues and remembers temporary keys for `role_arn` as `session_name`,
    /// valid `duration` seconds.
    pub(crate) fn issue_session(
        &self,
        role_arn: &str,
        session_name: &str,
        duration: i64,
    ) -> Session {
        let (account, role) = match parse_role_arn(role_arn) {
            Some(parsed) => (parsed.account, parsed.name),
            None => (self.config.account_id.clone(), role_arn.to_string()),
        };
        let now = unix_now();
        let session = Session {
            access_key_id: ids::temporary_key_id(),
            secret_access_key: ids::secret_access_key(),
            session_token: ids::session_token(),
            assumed_role_arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session_name}"),
            assumed_role_id: format!("{}:{session_name}", ids::unique_id("AROA", role_arn)),
            role_arn: role_arn.to_string(),
            issued_at: now,
            expires_at: now.saturating_add(duration),
        };
        lock(&self.sessions).insert(session.access_key_id.clone(), session.clone());
        session
    }

    /// The secret and identity behind `key_id`: an IAM user's key or a
    /// session this stand-in issued.
    pub(crate) fn lookup_key(&self, key_id: &str) -> Option<KeyRecord> {
        if let Some(user) = self.config.users.iter().find(|u| u.access_key_id == key_id) {
            return Some(KeyRecord {
                secret: user.secret_access_key.clone(),
                session_token: None,
                expires_at: None,
                caller: Caller {
                    arn: user.arn.clone(),
                    user_id: ids::unique_id("AIDA", &user.arn),
                    principal_arn: user.arn.clone(),
                    is_session: false,
                },
            });
        }
        let sessions = lock(&self.sessions);
        let session = sessions.get(key_id)?;
        Some(KeyRecord {
            secret: session.secret_access_key.clone(),
            session_token: Some(session.session_token.clone()),
            expires_at: Some(session.expires_at),
            caller: Caller {
                arn: session.assumed_role_arn.clone(),
                user_id: session.assumed_role_id.clone(),
                principal_arn: session.role_arn.clone(),
                is_session: true,
            },
        })
    }

    /// The account of `arn` (5th field), or the configured one.
    pub(crate) fn account_of(&self, arn: &str) -> String {
        arn.split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
            .map_or_else(|| self.config.account_id.clone(), str::to_string)
    }
}
