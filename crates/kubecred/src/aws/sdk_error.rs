//! Classification of AWS SDK errors and of plain HTTP answers from AWS services into kubecred's
//! [`Error`] kinds: throttling, 5xx, 408/429, timeouts and connection failures are transient;
//! 401/403 and the authentication error codes are denials; 404 and the "not found" codes name a
//! missing object; everything else is an upstream error.
//!
//! Messages keep only the error code, the service's message and the HTTP status: AWS error
//! messages name ARNs and actions, never keys or tokens.

use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::Error;

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "IDPCommunicationError",
];
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "InvalidToken",
    "MissingAuthenticationToken",
    "InvalidIdentityToken",
    "IDPRejectedClaim",
];
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "NotFoundException",
    "NoSuchBucket",
    "RepositoryNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

/// What an AWS service answered when it refused a request.
#[derive(Debug, Default)]
pub(crate) struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The AWS error code (`AccessDenied`, `NoSuchBucket`, ...), when the answer had one.
    pub code: Option<String>,
    /// The service's message, when the answer had one.
    pub message: Option<String>,
}

impl Refusal {
    /// The kubecred error for this answer; `action` names what was attempted and on what.
    pub(crate) fn into_error(self, action: &str) -> Error {
        let code = self.code.as_deref().unwrap_or_default();
        let mut text = format!("{action}: ");
        if !code.is_empty() {
            text.push_str(&format!("{code}: "));
        }
        let fallback = match self.status {
            // Only a proxy answers 407: its user or password (the proxy URL's user info) is off.
            407 => "the proxy refused the request: check the user and password of the proxy URL",
            _ => "no message",
        };
        text.push_str(self.message.as_deref().unwrap_or(fallback));
        text.push_str(&format!(" (HTTP {})", self.status));
        match classify(self.status, code) {
            Class::Transient => Error::transient(text),
            Class::Denied => Error::denied(text),
            Class::NotFound => Error::not_found(text),
            Class::Upstream => Error::upstream(text),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Class {
    Transient,
    Denied,
    NotFound,
    Upstream,
}

fn classify(status: u16, code: &str) -> Class {
    if THROTTLING_CODES.contains(&code) || status >= 500 || status == 408 || status == 429 {
        Class::Transient
    } else if DENIED_CODES.contains(&code) || matches!(status, 401 | 403 | 407) {
        Class::Denied
    } else if NOT_FOUND_CODES.contains(&code) || status == 404 {
        Class::NotFound
    } else {
        Class::Upstream
    }
}

/// The text between `<tag>` and `</tag>` in an XML error body (AWS query and REST-XML
/// protocols, and moto's authentication errors for every protocol).
pub(crate) fn xml_element(body: &str, tag: &str) -> Option<String> {
    let start = body.find(&format!("<{tag}>"))? + tag.len() + 2;
    let length = body[start..].find(&format!("</{tag}>"))?;
    Some(body[start..start + length].trim().to_owned()).filter(|text| !text.is_empty())
}

/// The messages of `error` and its sources, joined with `": "`, each once (a source whose text
/// the previous message already holds is skipped). Unlike the SDK's `DisplayErrorContext`, no
/// `Debug` dump of the error is appended: messages stay one readable line.
pub(crate) fn messages(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        next = current.source();
    }
    parts.join(": ")
}

/// Converts an SDK error; `action` names the call and its object (e.g. `describe EKS cluster 'x'`).
pub(crate) fn sdk_error<E>(error: SdkError<E, HttpResponse>, action: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::TimeoutError(_) => Error::transient(format!("{action}: timed out")),
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            Error::invalid(format!("{action}: {}", messages(&error)))
        }
        SdkError::DispatchFailure(_) => Error::transient(format!("{action}: {}", messages(&error))),
        SdkError::ConstructionFailure(_) => {
            Error::invalid(format!("{action}: {}", messages(&error)))
        }
        _ => refusal(&error).into_error(action),
    }
}

fn refusal<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Refusal {
    let raw = error.raw_response();
    let body = raw
        .and_then(|raw| raw.body().bytes())
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    Refusal {
        status: raw.map_or(0, |raw| raw.status().as_u16()),
        code: error
            .code()
            .map(str::to_owned)
            .or_else(|| xml_element(&body, "Code")),
        message: error
            .message()
            .map(str::to_owned)
            .or_else(|| xml_element(&body, "Message")),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn messages_join_the_chain_once_without_debug() {
        let chain = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "TLS handshake failed: invalid peer certificate",
                Some(Box::new(Layer("invalid peer certificate", None))),
            ))),
        );
        assert_eq!(
            messages(&chain),
            "dispatch failure: TLS handshake failed: invalid peer certificate"
        );
    }

    use super::*;

    fn refused(status: u16, code: &str) -> Error {
        Refusal {
            status,
            code: Some(code.into()).filter(|c: &String| !c.is_empty()),
            message: Some("m".into()),
        }
        .into_error("describe key 'k'")
    }

    #[test]
    fn statuses_and_codes_choose_the_kind() {
        assert!(refused(500, "").is_transient());
        assert!(refused(400, "ThrottlingException").is_transient());
        assert!(refused(429, "").is_transient());
        assert!(
            refused(400, "UnrecognizedClientException")
                .to_string()
                .contains("UnrecognizedClientException")
        );
        assert_eq!(classify(400, "ExpiredTokenException"), Class::Denied);
        assert_eq!(classify(403, ""), Class::Denied);
        assert_eq!(classify(404, ""), Class::NotFound);
        assert_eq!(classify(400, "NotFoundException"), Class::NotFound);
        assert_eq!(classify(400, "ValidationException"), Class::Upstream);
        assert!(refused(404, "NoSuchBucket").is_not_found());
        assert_eq!(classify(407, ""), Class::Denied);
    }

    #[test]
    fn message_names_action_code_and_status() {
        assert_eq!(
            refused(403, "AccessDenied").to_string(),
            "describe key 'k': AccessDenied: m (HTTP 403)"
        );
        let bare = Refusal {
            status: 502,
            ..Refusal::default()
        }
        .into_error("list bucket 'b'");
        assert_eq!(bare.to_string(), "list bucket 'b': no message (HTTP 502)");
    }

    #[test]
    fn xml_elements() {
        let body =
            "<Error><Code>AccessDenied</Code><Message>User x is not authorized</Message></Error>";
        assert_eq!(xml_element(body, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_element(body, "Message").as_deref(),
            Some("User x is not authorized")
        );
        assert_eq!(xml_element(body, "KeyCount"), None);
        assert_eq!(xml_element("<Code></Code>", "Code"), None);
        assert_eq!(xml_element("<Code>unterminated", "Code"), None);
    }
}
