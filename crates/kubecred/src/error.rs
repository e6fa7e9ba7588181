//! The one error type of kubecred.
//!
//! [`Error`] is opaque: callers ask what to do about it ([`Error::is_not_configured`],
//! [`Error::is_transient`]) rather than match on its variants. Its message names the provider,
//! the identity (`service account ns/name`) and the step that failed, and never contains secret
//! material: constructors take descriptions, not tokens.

use std::fmt;
use std::sync::Arc;

use crate::Provider;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request for credentials failed.
///
/// Cheap to clone: the token cache hands one failed exchange to every caller that waited on it.
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: Kind,
    provider: Option<Provider>,
    identity: Option<String>,
    step: Option<&'static str>,
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// What the caller should do about an error; private so that it can grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A source of credentials is not set up here (fall through to the next one).
    NotConfigured,
    /// The request or the configuration is wrong; retrying will not help.
    Invalid,
    /// The multi-tenancy policy refuses the request.
    Refused,
    /// An object that the request names does not exist.
    NotFound,
    /// The peer refused the caller (HTTP 401/403).
    Denied,
    /// A retry later may succeed (5xx, 408, 429, connection errors, timeouts).
    Transient,
    /// The peer answered with something we cannot use.
    Upstream,
}

impl Error {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            kind,
            provider: None,
            identity: None,
            step: None,
            message: message.into(),
            source: None,
        }))
    }

    pub(crate) fn not_configured(message: impl Into<String>) -> Self {
        Self::new(Kind::NotConfigured, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, message)
    }

    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }

    pub(crate) fn denied(message: impl Into<String>) -> Self {
        Self::new(Kind::Denied, message)
    }

    pub(crate) fn transient(message: impl Into<String>) -> Self {
        Self::new(Kind::Transient, message)
    }

    pub(crate) fn upstream(message: impl Into<String>) -> Self {
        Self::new(Kind::Upstream, message)
    }

    /// Attaches the underlying cause (shown after the message).
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Names the step that failed, unless a deeper layer already did.
    pub(crate) fn at(mut self, step: &'static str) -> Self {
        self.0.step.get_or_insert(step);
        self
    }

    /// Prefixes the message with `context` (a file, a Secret key: what `at` cannot name, as
    /// its step is fixed text), keeping the kind.
    #[cfg(any(feature = "gcp", feature = "azure"))]
    pub(crate) fn within(mut self, context: impl fmt::Display) -> Self {
        self.0.message = format!("{context}: {}", self.0.message);
        self
    }

    /// Names the provider, unless a deeper layer already did.
    pub(crate) fn for_provider(mut self, provider: Provider) -> Self {
        self.0.provider.get_or_insert(provider);
        self
    }

    /// Names the identity (e.g. `service account team-a/app`), unless already named.
    pub(crate) fn for_identity(mut self, identity: impl Into<String>) -> Self {
        if self.0.identity.is_none() {
            self.0.identity = Some(identity.into());
        }
        self
    }

    /// The source of credentials asked for is not set up here (no token file, no environment,
    /// no Kubernetes access). A chain of sources moves on to the next one.
    pub fn is_not_configured(&self) -> bool {
        self.0.kind == Kind::NotConfigured
    }

    /// A retry later may succeed: the peer was unreachable, timed out, throttled or failed
    /// with a server error.
    pub fn is_transient(&self) -> bool {
        self.0.kind == Kind::Transient
    }

    /// The multi-tenancy policy (feature gate, default service account lockdown) refused the
    /// request.
    pub fn is_refused(&self) -> bool {
        self.0.kind == Kind::Refused
    }

    /// The peer refused the caller: wrong or expired token, missing permission, bad signature.
    pub fn is_denied(&self) -> bool {
        self.0.kind == Kind::Denied
    }

    /// An object the request names (ServiceAccount, Secret, ConfigMap) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.0.kind == Kind::NotFound
    }

    /// The provider the failed request was for, when known.
    pub fn provider(&self) -> Option<Provider> {
        self.0.provider
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.0;
        if let Some(provider) = inner.provider {
            write!(f, "{provider}: ")?;
        }
        if let Some(identity) = &inner.identity {
            write!(f, "{identity}: ")?;
        }
        if let Some(step) = inner.step {
            write!(f, "{step}: ")?;
        }
        f.write_str(&inner.message)?;
        if let Some(source) = &inner.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.to_string())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_provider_identity_and_step() {
        let error = Error::not_found("serviceaccounts \"app\" not found")
            .at("read service account")
            .for_identity("service account team-a/app")
            .for_provider(Provider::Generic);
        assert_eq!(
            error.to_string(),
            "generic: service account team-a/app: read service account: serviceaccounts \"app\" not found"
        );
    }

    #[test]
    fn the_deepest_context_wins() {
        let error = Error::transient("connection refused")
            .at("create token")
            .at("get credentials")
            .for_provider(Provider::Aws)
            .for_provider(Provider::Gcp);
        assert_eq!(error.to_string(), "aws: create token: connection refused");
        assert!(error.is_transient());
        assert!(!error.is_not_configured());
    }

    #[test]
    fn kinds_answer_their_predicates() {
        assert!(Error::not_configured("x").is_not_configured());
        assert!(Error::refused("x").is_refused());
        assert!(Error::not_found("x").is_not_found());
        assert!(!Error::invalid("x").is_transient());
        assert!(!Error::denied("x").is_transient());
        assert!(!Error::upstream("x").is_transient());
    }

    #[test]
    fn source_is_chained_in_display() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = Error::not_configured("cannot read token file /t").with_source(io);
        assert_eq!(error.to_string(), "cannot read token file /t: no such file");
        assert!(std::error::Error::source(&error).is_some());
    }
}
