//! The AWS service APIs a workload's keys are used for, on one loopback port (point
//! `AWS_ENDPOINT_URL_S3`, `_KMS`, `_ECR`, `_EKS` and `_SQS` at it): each request's SigV4
//! signature is verified, the service taken from its credential scope, and the call's permission
//! checked against the caller's role policies ([`super::permissions`]) when permissions are
//! configured. Only the calls kubecred and the integrations of `kubecred policy` make:
//!
//! | service | calls (action) | resource |
//! |---|---|---|
//! | s3 (REST, path style) | `GET /B?list-type=2` (`s3:ListBucket`, `s3:prefix` from `prefix`), `GET`/`HEAD /B/KEY` (`s3:GetObject`) | `arn:aws:s3:::B`, `arn:aws:s3:::B/KEY` |
//! | kms (JSON 1.1) | `DescribeKey`, `Decrypt` (with `KeyId`; the plaintext is the blob: the stand-in checks access, it does not encrypt) | the key ARN |
//! | ecr (JSON 1.1) | `GetAuthorizationToken` (on `*`); `BatchCheckLayerAvailability`, `GetDownloadUrlForLayer`, `BatchGetImage`, `DescribeImages`, `ListImages` | `arn:aws:ecr:R:A:repository/NAME` |
//! | eks (REST-JSON) | `GET /clusters/NAME` (`eks:DescribeCluster`) | `arn:aws:eks:R:A:cluster/NAME` |
//! | sqs (JSON 1.0) | `GetQueueUrl`, `ReceiveMessage`, `DeleteMessage` | `arn:aws:sqs:R:A:QUEUE` |
//!
//! The region is the signature's, the account the caller's (or the call's `registryId` /
//! `QueueOwnerAWSAccountId`). Permission comes before existence, as in AWS: a caller without it
//! learns nothing about the resource. Denials carry AWS's wording ("User: ARN is not authorized
//! to perform: ACTION on resource: ARN because no identity-based policy allows the ACTION
//! action"), which `kubecred explain` reads.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{self, Expect, json_error};
use super::error::AwsError;
use super::http::{header as header_value, view};
use super::permissions::{self, Need};
use super::sigv4;
use super::state::{AwsState, Caller};
use crate::clock::unix_now;

/// How long an ECR registry password lasts.
mod ecr;
mod eks;
mod kms;
mod s3;
mod sqs;

/// The service APIs router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Who called, from where: the verified caller, the signature's region and the caller's account.
pub(super) struct Call {
    pub(super) caller: Caller,
    pub(super) region: String,
    pub(super) account: String,
}

async fn handle(
    State(state): State<Arc<AwsState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let service = header_value(&headers, "authorization")
        .and_then(sigv4::parse_authorization)
        .map(|info| (info.service, info.region));
    let Some((service, region)) = service else {
        return s3::s3_error(&AwsError::new(
            "AccessDenied",
            403,
            "the service APIs stand-in takes SigV4 Authorization headers only",
        ));
    };
    let request = view(&method, &uri, &headers, &body);
    let expect = Expect {
        service: &service,
        region: None,
        now: unix_now(),
    };
    let call = auth::authenticate(&state, &request, expect).map(|caller| Call {
        account: state.account_of(&caller.principal_arn),
        caller,
        region,
    });
    let json_service = matches!(service.as_str(), "kms" | "ecr" | "sqs");
    let call = match call {
        Ok(call) => call,
        Err(failure) if json_service || service == "eks" => {
            return json_answer(&service, Err(json_error(failure)));
        }
        Err(failure) => return s3::s3_error(&s3::s3_auth_error(failure)),
    };
    match service.as_str() {
        "s3" => s3::s3(&state, &call, &method, &uri),
        "eks" => json_answer("eks", eks::eks(&state, &call, &method, &uri)),
        _ if json_service => {
            let target = header_value(&headers, "x-amz-target").unwrap_or_default();
            let answer = serde_json::from_slice::<Value>(&body)
                .map_err(|_| AwsError::new("SerializationException", 400, "the body is not JSON"))
                .and_then(|input| json_call(&state, &call, &service, target, &input));
            json_answer(&service, answer)
        }
        other => s3::s3_error(&AwsError::new(
            "InvalidRequest",
            400,
            format!(
                "the service APIs stand-in serves s3, kms, ecr, eks and sqs, not {}",
                other.chars().take(40).collect::<String>()
            ),
        )),
    }
}

/// [`permissions::permit`] for `call`'s caller.
pub(super) fn permit(
    state: &AwsState,
    call: &Call,
    need: Need<'_>,
    code: &'static str,
) -> Result<(), AwsError> {
    permissions::permit(state, &call.caller, need, code)
}

fn json_call(
    state: &AwsState,
    call: &Call,
    service: &str,
    target: &str,
    input: &Value,
) -> Result<Value, AwsError> {
    let unknown = || {
        AwsError::new(
            "UnknownOperationException",
            400,
            format!(
                "Unknown operation {}",
                target.chars().take(100).collect::<String>()
            ),
        )
    };
    let (action, answer) = match service {
        "kms" => {
            let operation = target.strip_prefix("TrentService.").ok_or_else(unknown)?;
            kms::kms(state, call, operation, input)?
        }
        "ecr" => {
            let operation = target.strip_prefix(ecr::ECR).ok_or_else(unknown)?;
            ecr::ecr(state, call, operation, input)?
        }
        _ => {
            let operation = target.strip_prefix("AmazonSQS.").ok_or_else(unknown)?;
            sqs::sqs(state, call, operation, input)?
        }
    };
    state.count(&action);
    Ok(answer)
}

pub(super) fn text<'a>(input: &'a Value, field: &str) -> Result<&'a str, AwsError> {
    input[field]
        .as_str()
        .ok_or_else(|| AwsError::validation(format!("{field} is required")))
}

/// A JSON protocol's answer: the value, or the error as `__type` and `message` (EKS's REST-JSON
/// also names the type in `x-amzn-ErrorType`, which its SDK reads).
fn json_answer(service: &str, answer: Result<Value, AwsError>) -> Response {
    let content_type = match service {
        "sqs" => "application/x-amz-json-1.0",
        "eks" => "application/json",
        _ => "application/x-amz-json-1.1",
    };
    let request_id = crate::random::uuid();
    let (status, body, error_type) = match answer {
        Ok(value) => (StatusCode::OK, value, None),
        Err(e) => (
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            json!({"__type": e.code(), "message": e.message()}),
            Some(e.code().to_owned()),
        ),
    };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                request_id,
            ),
        ],
        body.to_string(),
    )
        .into_response();
    if let Some(kind) = error_type.and_then(|k| header::HeaderValue::from_str(&k).ok()) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-amzn-errortype"), kind);
    }
    response
}
