//! [`Env`]: the one environment every cloud module reads, injected into the [`crate::Engine`]:
//! variables (the process's, or a fixed set for tests and embedding controllers), the files the
//! environment points at (the pod's own ServiceAccount token), and the clock.
//!
//! Each cloud reads its own variables through it, named as that cloud's SDKs name them (AWS:
//! `AWS_REGION`, `AWS_ENDPOINT_URL_<SERVICE>`; see `aws::sdk`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::clock::{SharedClock, SystemClock};

/// Where the kubelet mounts a pod's own ServiceAccount token.
pub const SERVICE_ACCOUNT_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// The environment the library reads: variables, the pod's token file, the clock.
#[derive(Clone, Debug)]
pub struct Env {
    vars: Vars,
    token_file: PathBuf,
    clock: SharedClock,
}

#[derive(Clone, Debug)]
enum Vars {
    Process,
    Fixed(Arc<BTreeMap<String, String>>),
}

impl Default for Env {
    /// The process's variables, the standard token mount and the system clock.
    fn default() -> Self {
        Env {
            vars: Vars::Process,
            token_file: PathBuf::from(SERVICE_ACCOUNT_TOKEN_FILE),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Env {
    /// An environment holding exactly these variables (the rest as [`Env::default`]).
    pub fn from_pairs(vars: &[(&str, &str)]) -> Self {
        let map = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env {
            vars: Vars::Fixed(Arc::new(map)),
            ..Env::default()
        }
    }

    /// Reads the pod's own ServiceAccount token from `path` instead of the standard mount.
    pub fn with_service_account_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = path.into();
        self
    }

    /// Reads the time from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// A variable's value; unset and empty are the same (as the cloud SDKs treat them).
    pub fn var(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Vars::Process => std::env::var(name).ok(),
            Vars::Fixed(map) => map.get(name).cloned(),
        };
        value.filter(|v| !v.is_empty())
    }

    /// Whether a variable is defined, even empty (for the few settings whose mere presence
    /// means something, such as `AZURE_ENVIRONMENT_FILEPATH`).
    #[cfg_attr(not(feature = "azure"), allow(dead_code))]
    pub(crate) fn is_defined(&self, name: &str) -> bool {
        match &self.vars {
            Vars::Process => std::env::var_os(name).is_some(),
            Vars::Fixed(map) => map.contains_key(name),
        }
    }

    /// The pod's own ServiceAccount token file.
    pub fn service_account_token_file(&self) -> &Path {
        &self.token_file
    }

    /// The current time, from the injected clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn fixed_variables_hide_the_process_environment() {
        let env = Env::from_pairs(&[("A", "1"), ("EMPTY", "")]);
        assert_eq!(env.var("A").as_deref(), Some("1"));
        assert_eq!(env.var("EMPTY"), None);
        assert_eq!(env.var("PATH"), None);
        assert!(Env::default().var("PATH").is_some());
    }

    #[test]
    fn files_and_clock_are_injected() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(42);
        let env = Env::default()
            .with_service_account_token_file("/tmp/token")
            .with_clock(Arc::new(ManualClock::new(at)));
        assert_eq!(env.service_account_token_file(), Path::new("/tmp/token"));
        assert_eq!(env.now(), at);
        assert_eq!(
            Env::default().service_account_token_file(),
            Path::new(SERVICE_ACCOUNT_TOKEN_FILE)
        );
    }
}
