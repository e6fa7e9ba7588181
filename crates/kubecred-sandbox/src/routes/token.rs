//! `POST .../serviceaccounts/{name}/token`: the TokenRequest subresource.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::access::Action;
use crate::clock::{rfc3339, unix_now};
use crate::protobuf;
use crate::state::AppState;
use crate::status::ApiError;

/// The media type of Kubernetes' protobuf encoding.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// Lifetime when the request gives none.
const DEFAULT_SECONDS: i64 = 3600;
/// The shortest lifetime kube-apiserver accepts.
const MIN_SECONDS: i64 = 600;
/// The longest lifetime issued; longer requests are capped.
const MAX_SECONDS: i64 = 48 * 3600;
/// Above this kube-apiserver refuses rather than caps.
const LIMIT_SECONDS: i64 = 1 << 32;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequestBody {
    kind: Option<String>,
    #[serde(default)]
    spec: TokenRequestSpec,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequestSpec {
    audiences: Option<Vec<String>>,
    expiration_seconds: Option<i64>,
    bound_object_ref: Option<Value>,
}

/// Creates a token for the ServiceAccount and answers 201 with the
/// TokenRequest, `status.token` filled.
pub(super) async fn create_token(
    State(state): State<Arc<AppState>>,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let action = Action {
        verb: "create",
        resource: "serviceaccounts/token",
        namespace: &namespace,
        name: &name,
    };
    let user = state.check(&headers, &action)?;
    let spec = parse_body(&headers, &body)?;
    let seconds = lifetime(&name, spec.expiration_seconds)?;
    if state.store.service_account(&namespace, &name).is_none() {
        return Err(ApiError::not_found("serviceaccounts", &name));
    }
    let audiences = match spec.audiences {
        Some(audiences) if !audiences.is_empty() => audiences,
        _ => vec![state.issuer.clone()],
    };
    let minted = state
        .mint(&namespace, &name, &audiences, seconds)
        .map_err(|e| ApiError::internal(format!("cannot sign the token: {e}")))?;
    state.count_token_request();
    tracing::debug!(%user, %namespace, %name, seconds, "TokenRequest served");
    let mut spec_json = Map::new();
    spec_json.insert("audiences".into(), json!(audiences));
    spec_json.insert("expirationSeconds".into(), json!(seconds));
    if let Some(bound) = spec.bound_object_ref {
        spec_json.insert("boundObjectRef".into(), bound);
    }
    let response = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(unix_now())},
        "spec": spec_json,
        "status": {"token": minted.token, "expirationTimestamp": rfc3339(minted.expires_at)},
    });
    Ok((StatusCode::CREATED, Json(response)))
}

/// Reads the TokenRequest in `body`: JSON, or protobuf as kubectl sends it.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequestSpec, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with(PROTOBUF) {
        let json = protobuf::token_request_json(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body is not a protobuf TokenRequest: {e}"
            ))
        })?;
        return read_token_request(serde_json::from_value(json));
    }
    parse_json(body)
}

fn parse_json(body: &[u8]) -> Result<TokenRequestSpec, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "the request body is empty; send a TokenRequest",
        ));
    }
    read_token_request(serde_json::from_slice(body))
}

fn read_token_request(
    parsed: serde_json::Result<TokenRequestBody>,
) -> Result<TokenRequestSpec, ApiError> {
    let parsed = parsed.map_err(|e| {
        ApiError::bad_request(format!("the request body is not a TokenRequest: {e}"))
    })?;
    match parsed.kind.as_deref() {
        None | Some("TokenRequest") => Ok(parsed.spec),
        Some(other) => Err(ApiError::bad_request(format!(
            "the request body is a {other}, not a TokenRequest"
        ))),
    }
}

/// The token lifetime: default 1 h, at least 10 min, capped at 48 h.
fn lifetime(name: &str, requested: Option<i64>) -> Result<i64, ApiError> {
    let seconds = requested.unwrap_or(DEFAULT_SECONDS);
    let refuse = |why: &str| {
        let detail = format!("Invalid value: {seconds}: {why}");
        ApiError::invalid_token_request(name, "spec.expirationSeconds", &detail)
    };
    if seconds < MIN_SECONDS {
        return Err(refuse("may not specify a duration less than 10 minutes"));
    }
    if seconds > LIMIT_SECONDS {
        return Err(refuse(
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    Ok(seconds.min(MAX_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_defaults_bounds_and_caps() {
        assert_eq!(lifetime("a", None).ok(), Some(3600));
        assert_eq!(lifetime("a", Some(600)).ok(), Some(600));
        assert_eq!(lifetime("a", Some(7 * 24 * 3600)).ok(), Some(48 * 3600));
        let status = lifetime("app", Some(599)).expect_err("too short").to_json();
        assert_eq!(
            status["message"],
            "TokenRequest.authentication.k8s.io \"app\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
        );
        assert_eq!(status["code"], 422);
        assert!(lifetime("a", Some(LIMIT_SECONDS + 1)).is_err());
    }

    #[test]
    fn body_must_be_a_token_request() {
        assert!(parse_json(b"").is_err());
        assert!(parse_json(b"{not json").is_err());
        let wrong = parse_json(br#"{"kind":"Pod"}"#).err().map(|e| e.to_json());
        assert_eq!(
            wrong.map(|s| s["message"].clone()),
            Some(json!("the request body is a Pod, not a TokenRequest"))
        );
        let spec = parse_json(br#"{"spec":{"audiences":["x"],"expirationSeconds":900}}"#).ok();
        assert_eq!(spec.and_then(|s| s.expiration_seconds), Some(900));
    }
}
