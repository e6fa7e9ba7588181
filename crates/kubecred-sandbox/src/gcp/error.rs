//! Errors of the GCP stand-ins in Google's two shapes: OAuth endpoints (STS `v1/token`, the
//! OAuth token endpoint) answer `{"error": code, "error_description": text}`; Google APIs (IAM
//! Credentials) answer `{"error": {"code": status, "message": text, "status": STATUS}}`.
//! Messages never contain tokens or keys.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An OAuth 2.0 error (RFC 6749 §5.2), as Google's STS and token endpoint answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    error: &'static str,
    description: String,
    status: u16,
}

impl OAuthError {
    fn new(error: &'static str, status: u16, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
            status,
        }
    }

    /// `invalid_request` (400): a parameter is missing or malformed.
    pub(crate) fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_request", 400, description)
    }

    /// `invalid_grant` (400): the subject token or assertion is not acceptable.
    pub(crate) fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", 400, description)
    }

    /// `invalid_target` (400): the audience names no pool provider this STS knows.
    pub(crate) fn invalid_target() -> OAuthError {
        OAuthError::new(
            "invalid_target",
            400,
            "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.",
        )
    }

    /// `unsupported_grant_type` (400).
    pub(crate) fn unsupported_grant_type(grant_type: &str) -> OAuthError {
        let shown: String = grant_type.chars().take(100).collect();
        OAuthError::new(
            "unsupported_grant_type",
            400,
            format!("Invalid value for \"grant_type\": '{shown}'."),
        )
    }

    /// `invalid_scope` (400).
    pub(crate) fn invalid_scope(description: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_scope", 400, description)
    }

    /// `unauthorized_client` (401): the caller may not use this grant.
    pub(crate) fn unauthorized_client(description: impl Into<String>) -> OAuthError {
        OAuthError::new("unauthorized_client", 401, description)
    }

    /// The `error` code.
    pub fn code(&self) -> &str {
        self.error
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        (status, Json(body)).into_response()
    }
}

/// A Google API error (`google.rpc.Status` in JSON).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} ({code}): {message}")]
pub struct ApiError {
    code: u16,
    status: &'static str,
    message: String,
    permission: Option<&'static str>,
}

impl ApiError {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
            permission: None,
        }
    }

    /// 400 `INVALID_ARGUMENT`.
    pub(crate) fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", message)
    }

    /// 401 `UNAUTHENTICATED`: no bearer token, or one this project did not issue.
    pub(crate) fn unauthenticated() -> ApiError {
        ApiError::new(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )
    }

    /// 403 `PERMISSION_DENIED` for `permission`, the same whether the resource exists or not.
    pub(crate) fn permission_denied(permission: &'static str) -> ApiError {
        ApiError {
            permission: Some(permission),
            ..ApiError::new(
                403,
                "PERMISSION_DENIED",
                format!("Permission '{permission}' denied on resource (or it may not exist)."),
            )
        }
    }

    /// 404 `NOT_FOUND`.
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "NOT_FOUND", message)
    }

    /// 503 `UNAVAILABLE`.
    pub(crate) fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "UNAVAILABLE", message)
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The `google.rpc.Code` name, e.g. `PERMISSION_DENIED`.
    pub fn status(&self) -> &str {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "code": self.code,
            "message": self.message,
            "status": self.status,
        });
        if let Some(permission) = self.permission {
            error["details"] = serde_json::json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": permission},
            }]);
        }
        serde_json::json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self.body())).into_response()
    }
}

/// Why the GCP stand-ins could not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GcpStartError {
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

impl GcpStartError {
    pub(crate) fn new(message: impl Into<String>, source: Option<std::io::Error>) -> GcpStartError {
        GcpStartError {
            message: message.into(),
            source,
        }
    }
}

impl From<crate::aws::AwsStartError> for GcpStartError {
    fn from(error: crate::aws::AwsStartError) -> GcpStartError {
        GcpStartError::new(error.to_string(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_have_googles_shape() {
        let body = ApiError::permission_denied("iam.serviceAccounts.getAccessToken").body();
        assert_eq!(body["error"]["code"], 403);
        assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
        assert_eq!(
            body["error"]["message"],
            "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
        );
        assert_eq!(
            body["error"]["details"][0]["metadata"]["permission"],
            "iam.serviceAccounts.getAccessToken"
        );
    }

    #[test]
    fn unsupported_grant_types_are_shown_shortened() {
        let long = "x".repeat(500);
        let error = OAuthError::unsupported_grant_type(&long);
        assert!(error.description().len() < 150, "{}", error.description());
        assert_eq!(error.code(), "unsupported_grant_type");
    }
}
