//! API errors rendered as Kubernetes `Status` objects.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed API call: HTTP code, `reason`, `message` and `details`.
#[derive(Debug)]
pub(crate) struct ApiError {
    code: StatusCode,
    reason: &'static str,
    message: String,
    details: Option<Value>,
}

impl ApiError {
    /// 404 for `resource` (plural) `name`: `serviceaccounts "app" not found`.
    pub(crate) fn not_found(resource: &str, name: &str) -> ApiError {
        ApiError {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: format!("{resource} \"{name}\" not found"),
            details: Some(json!({"name": name, "kind": resource})),
        }
    }

    /// 404 for a path the sandbox does not serve.
    pub(crate) fn no_route() -> ApiError {
        ApiError {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }
    }

    /// 405 for a method the path does not support.
    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError {
            code: StatusCode::METHOD_NOT_ALLOWED,
            reason: "MethodNotAllowed",
            message: "the server does not allow this method on the requested resource".into(),
            details: None,
        }
    }

    /// 401 for a missing or unknown bearer token.
    pub(crate) fn unauthorized() -> ApiError {
        ApiError {
            code: StatusCode::UNAUTHORIZED,
            reason: "Unauthorized",
            message: "Unauthorized".into(),
            details: None,
        }
    }

    /// 403 in kube-apiserver's words; `name` is empty for a list.
    pub(crate) fn forbidden(
        user: &str,
        verb: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> ApiError {
        let kind = resource.split('/').next().unwrap_or(resource);
        let object = if name.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} \"{name}\"")
        };
        ApiError {
            code: StatusCode::FORBIDDEN,
            reason: "Forbidden",
            message: format!(
                "{object} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{namespace}\""
            ),
            details: Some(json!({"name": name, "kind": kind})),
        }
    }

    /// 400 for a body that cannot be read.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::BAD_REQUEST,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 422 for an invalid TokenRequest field.
    pub(crate) fn invalid_token_request(name: &str, field: &str, detail: &str) -> ApiError {
        ApiError {
            code: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid",
            message: format!(
                "TokenRequest.authentication.k8s.io \"{name}\" is invalid: {field}: {detail}"
            ),
            details: Some(json!({
                "name": name,
                "group": "authentication.k8s.io",
                "kind": "TokenRequest",
                "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
            })),
        }
    }

    /// 500 for a failure inside the sandbox.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "InternalError",
            message: message.into(),
            details: None,
        }
    }

    /// The `Status` object.
    pub(crate) fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code, Json(self.to_json())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_uses_kube_apiserver_wording() {
        let error = ApiError::forbidden(
            "system:serviceaccount:ns:x",
            "create",
            "serviceaccounts/token",
            "ns",
            "app",
        );
        let status = error.to_json();
        assert_eq!(
            status["message"],
            "serviceaccounts \"app\" is forbidden: User \"system:serviceaccount:ns:x\" cannot create resource \"serviceaccounts/token\" in API group \"\" in the namespace \"ns\""
        );
        assert_eq!(status["code"], 403);
        assert_eq!(status["details"]["kind"], "serviceaccounts");
    }

    #[test]
    fn not_found_has_details() {
        let status = ApiError::not_found("secrets", "db").to_json();
        assert_eq!(status["message"], "secrets \"db\" not found");
        assert_eq!(status["reason"], "NotFound");
        assert_eq!(status["details"], json!({"name": "db", "kind": "secrets"}));
    }
}
