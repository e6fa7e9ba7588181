//! Errors of the AWS stand-ins: an AWS error (code, message, HTTP status)
//! as the service would answer, and failures to start.

/// An error the way an AWS service reports it: a code such as
/// `InvalidIdentityToken`, a message and the HTTP status. Messages never
/// contain secrets or tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AwsError {
    code: &'static str,
    message: String,
    status: u16,
}

impl AwsError {
    pub(crate) fn new(code: &'static str, status: u16, message: impl Into<String>) -> AwsError {
        AwsError {
            code,
            message: message.into(),
            status,
        }
    }

    /// The AWS error code, e.g. `AccessDenied`.
    pub fn code(&self) -> &str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status the service answers with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `ValidationError` (400).
    pub(crate) fn validation(message: impl Into<String>) -> AwsError {
        AwsError::new("ValidationError", 400, message)
    }

    /// `AccessDenied` (403).
    pub(crate) fn access_denied(message: impl Into<String>) -> AwsError {
        AwsError::new("AccessDenied", 403, message)
    }
}

/// Why the AWS stand-ins could not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AwsStartError {
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl AwsStartError {
    pub(crate) fn new(message: impl Into<String>, source: Option<std::io::Error>) -> AwsStartError {
        AwsStartError {
            message: message.into(),
            source,
        }
    }
}
