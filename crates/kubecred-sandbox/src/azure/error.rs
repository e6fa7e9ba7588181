//! Errors of the Azure stand-ins in Microsoft's shapes: Entra's OAuth errors with `AADSTS` codes,
//! IMDS's OAuth-style errors, ARM's `{"error": {"code", "message"}}`, ACR's `{"errors": [...]}`,
//! Azure Storage's XML errors, Key Vault's JSON errors (with `innererror`) and Event Hubs' XML
//! errors. Messages never contain tokens, secrets or keys.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::clock::unix_now;
use crate::random;

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

/// Caller-supplied text, shortened for messages.
pub(crate) fn shown(text: &str) -> String {
    text.chars().take(200).collect()
}

/// `2026-12-03 10:00:00Z`, the form of Entra's timestamps.
fn entra_timestamp() -> String {
    let rfc = crate::clock::rfc3339(unix_now());
    rfc.replacen('T', " ", 1)
}

/// An Entra token endpoint refusal: `{"error", "error_description": "AADSTS<code>: …",
/// "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("AADSTS{code}: {message}")]
pub struct EntraError {
    status: u16,
    error: &'static str,
    code: u32,
    message: String,
}

impl EntraError {
    pub(crate) fn new(
        status: u16,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> EntraError {
        EntraError {
            status,
            error,
            code,
            message: message.into(),
        }
    }

    /// AADSTS90002: the tenant does not exist.
    pub(crate) fn tenant_not_found(tenant: &str) -> EntraError {
        EntraError::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
                shown(tenant)
            ),
        )
    }

    /// AADSTS900144: a required parameter is missing.
    pub(crate) fn missing(parameter: &str) -> EntraError {
        EntraError::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{parameter}'."),
        )
    }

    /// AADSTS50027: a JWT that cannot be read.
    pub(crate) fn malformed_jwt(detail: &str) -> EntraError {
        EntraError::new(
            400,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed. {detail}"),
        )
    }

    /// AADSTS700016: no such app in the tenant.
    pub(crate) fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
        EntraError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                shown(client_id),
                shown(tenant)
            ),
        )
    }

    /// The `error` code, e.g. `invalid_client`.
    pub fn error(&self) -> &str {
        self.error
    }

    /// The AADSTS number.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The message after `AADSTS<code>: `.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    pub(crate) fn body(&self) -> serde_json::Value {
        let timestamp = entra_timestamp();
        let trace = random::uuid();
        let correlation = random::uuid();
        serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}",
                self.code, self.message
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        (status(self.status), Json(self.body())).into_response()
    }
}

/// An IMDS refusal: `{"error", "error_description"}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct ImdsError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: String,
}

impl ImdsError {
    pub(crate) fn invalid_request(description: impl Into<String>) -> ImdsError {
        ImdsError {
            status: 400,
            error: "invalid_request",
            description: description.into(),
        }
    }
}

impl IntoResponse for ImdsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        (status(self.status), Json(body)).into_response()
    }
}

/// An ARM refusal: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ArmError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ArmError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (status(self.status), Json(body)).into_response();
        if self.status == 401 {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"",
                ),
            );
        }
        response
    }
}

/// An ACR refusal: `{"errors": [{"code", "message"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AcrError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl AcrError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> AcrError {
        AcrError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for AcrError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"errors": [{"code": self.code, "message": self.message}]});
        (status(self.status), Json(body)).into_response()
    }
}

/// An Azure Storage refusal: XML `<Error><Code>…</Code><Message>…</Message></Error>` and the
/// `x-ms-error-code` header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct StorageError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
    pub(crate) detail: Option<String>,
    pub(crate) challenge: Option<String>,
}

impl StorageError {
    pub(crate) fn new(status: u16, code: &'static str, message: &'static str) -> StorageError {
        StorageError {
            status,
            code,
            message,
            detail: None,
            challenge: None,
        }
    }

    /// 403 `AuthorizationPermissionMismatch`: the caller lacks the data role.
    pub(crate) fn permission_mismatch() -> StorageError {
        StorageError::new(
            403,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        )
    }

    pub(crate) fn body(&self) -> String {
        let request_id = random::uuid();
        let time = crate::clock::rfc3339(unix_now());
        let detail = self
            .detail
            .as_deref()
            .map(|d| {
                format!(
                    "<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>",
                    xml(d)
                )
            })
            .unwrap_or_default();
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\nRequestId:{request_id}\nTime:{time}</Message>{detail}</Error>",
            self.code, self.message
        )
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let mut response = (
            status(self.status),
            [
                (header::CONTENT_TYPE, "application/xml"),
                (
                    header::HeaderName::from_static("x-ms-error-code"),
                    self.code,
                ),
            ],
            self.body(),
        )
            .into_response();
        if let Some(value) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// XML-escapes `text`.
pub(crate) fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Key Vault refusal: `{"error": {"code", "message", "innererror": {"code"}}}`, with the
/// Bearer challenge on 401.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct KeyVaultError {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) inner: Option<&'static str>,
    pub(crate) challenge: Option<String>,
}

impl IntoResponse for KeyVaultError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(inner) = self.inner {
            error["innererror"] = serde_json::json!({ "code": inner });
        }
        let mut response = (
            status(self.status),
            Json(serde_json::json!({ "error": error })),
        )
            .into_response();
        if let Some(value) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// An Event Hubs refusal: XML `<Error><Code>status</Code><Detail>…</Detail></Error>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct EventHubsError {
    pub(crate) status: u16,
    pub(crate) detail: String,
}

impl IntoResponse for EventHubsError {
    fn into_response(self) -> Response {
        let tracking = random::uuid();
        let time = crate::clock::rfc3339(unix_now());
        let body = format!(
            "<Error><Code>{}</Code><Detail>{} TrackingId:{tracking}, SystemTracker:NoSystemTracker, Timestamp:{time}</Detail></Error>",
            self.status,
            xml(&self.detail)
        );
        (
            status(self.status),
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            body,
        )
            .into_response()
    }
}

/// Why the Azure stand-ins (or Azurite) could not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AzureStartError {
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl AzureStartError {
    pub(crate) fn new(
        message: impl Into<String>,
        source: Option<std::io::Error>,
    ) -> AzureStartError {
        AzureStartError {
            message: message.into(),
            source,
        }
    }
}

impl From<crate::aws::AwsStartError> for AzureStartError {
    fn from(error: crate::aws::AwsStartError) -> AzureStartError {
        AzureStartError::new(error.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_have_entras_shape() {
        let body = EntraError::tenant_not_found("nope").body();
        assert_eq!(body["error"], "invalid_request");
        assert_eq!(body["error_codes"], serde_json::json!([90002]));
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(
            description.starts_with("AADSTS90002: Tenant 'nope' not found."),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "), "{description}");
    }

    #[test]
    fn storage_errors_are_xml() {
        let body = StorageError::permission_mismatch().body();
        assert!(
            body.contains("<Code>AuthorizationPermissionMismatch</Code>"),
            "{body}"
        );
        assert_eq!(xml("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
