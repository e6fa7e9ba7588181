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
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::auth::{self, AuthFailure, Expect};
use super::ecr_public::json_error;
use super::error::AwsError;
use super::http::{header as header_value, view};
use super::permissions::{self, Need};
use super::sigv4;
use super::state::{AwsState, Caller};
use super::{ids, state::lock};
use crate::clock::unix_now;

/// How long an ECR registry password lasts.
const PASSWORD_SECONDS: i64 = 12 * 3600;
/// The ECR API's target prefix.
const ECR: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// The service APIs router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Who called, from where: the verified caller, the signature's region and the caller's account.
struct Call {
    caller: Caller,
    region: String,
    account: String,
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
        return s3_error(&AwsError::new(
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
        Err(failure) => return s3_error(&s3_auth_error(failure)),
    };
    match service.as_str() {
        "s3" => s3(&state, &call, &method, &uri),
        "eks" => json_answer("eks", eks(&state, &call, &method, &uri)),
        _ if json_service => {
            let target = header_value(&headers, "x-amz-target").unwrap_or_default();
            let answer = serde_json::from_slice::<Value>(&body)
                .map_err(|_| AwsError::new("SerializationException", 400, "the body is not JSON"))
                .and_then(|input| json_call(&state, &call, &service, target, &input));
            json_answer(&service, answer)
        }
        other => s3_error(&AwsError::new(
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
fn permit(
    state: &AwsState,
    call: &Call,
    need: Need<'_>,
    code: &'static str,
) -> Result<(), AwsError> {
    permissions::permit(state, &call.caller, need, code)
}

// --- S3 ---------------------------------------------------------------------------------------

fn s3(state: &AwsState, call: &Call, method: &Method, uri: &Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) if !key.is_empty() => (bucket, Some(key)),
        Some((bucket, _)) => (bucket, None),
        None => (path, None),
    };
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let answer = match (method.as_str(), key) {
        ("GET", None) if param("list-type") == Some("2") => {
            let prefix = param("prefix");
            let context: Vec<(&str, &str)> = prefix.map(|p| ("s3:prefix", p)).into_iter().collect();
            let need = Need {
                action: "s3:ListBucket",
                resource: &format!("arn:aws:s3:::{bucket}"),
                context: &context,
            };
            permit(state, call, need, "AccessDenied")
                .and_then(|()| list_objects(state, bucket, prefix.unwrap_or(""), param("max-keys")))
        }
        ("GET" | "HEAD", Some(key)) => {
            let key = percent_decoded(key);
            let need = Need {
                action: "s3:GetObject",
                resource: &format!("arn:aws:s3:::{bucket}/{key}"),
                context: &[],
            };
            permit(state, call, need, "AccessDenied").and_then(|()| {
                let object = state
                    .config
                    .resources
                    .bucket(bucket)
                    .ok_or_else(no_such_bucket)?
                    .objects
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, body)| body.clone())
                    .ok_or_else(|| {
                        AwsError::new("NoSuchKey", 404, "The specified key does not exist.")
                    })?;
                state.count("s3:GetObject");
                Ok(match *method == Method::HEAD {
                    true => (
                        StatusCode::OK,
                        [(header::CONTENT_LENGTH, object.len().to_string())],
                    )
                        .into_response(),
                    false => (StatusCode::OK, object).into_response(),
                })
            })
        }
        _ => Err(AwsError::new(
            "NotImplemented",
            501,
            "the S3 stand-in serves ListObjectsV2 and GetObject only",
        )),
    };
    answer.unwrap_or_else(|e| s3_error(&e))
}

/// S3's codes for signature failures (its REST-XML protocol names them otherwise than the JSON
/// protocols do).
fn s3_auth_error(failure: AuthFailure) -> AwsError {
    match failure {
        AuthFailure::Missing => AwsError::new("AccessDenied", 403, "Access Denied"),
        AuthFailure::Incomplete(message) => {
            AwsError::new("AuthorizationHeaderMalformed", 400, message)
        }
        AuthFailure::UnknownKey => AwsError::new(
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        AuthFailure::InvalidToken => AwsError::new(
            "InvalidToken",
            400,
            "The provided token is malformed or otherwise invalid.",
        ),
        AuthFailure::Signature(message) => AwsError::new("SignatureDoesNotMatch", 403, message),
        AuthFailure::Skew(message) => AwsError::new("RequestTimeTooSkewed", 403, message),
        AuthFailure::PresignExpired(message) => AwsError::new("AccessDenied", 403, message),
        AuthFailure::ExpiredKey => {
            AwsError::new("ExpiredToken", 400, "The provided token has expired.")
        }
    }
}

fn percent_decoded(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn no_such_bucket() -> AwsError {
    AwsError::new("NoSuchBucket", 404, "The specified bucket does not exist")
}

fn list_objects(
    state: &AwsState,
    bucket: &str,
    prefix: &str,
    max_keys: Option<&str>,
) -> Result<Response, AwsError> {
    let held = state
        .config
        .resources
        .bucket(bucket)
        .ok_or_else(no_such_bucket)?;
    let max_keys: usize = max_keys.and_then(|m| m.parse().ok()).unwrap_or(1000);
    let keys: Vec<&str> = held
        .objects
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with(prefix))
        .take(max_keys)
        .collect();
    let contents: String = keys
        .iter()
        .map(|k| format!("<Contents><Key>{}</Key></Contents>", xml_escaped(k)))
        .collect();
    state.count("s3:ListBucket");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>false</IsTruncated>{contents}</ListBucketResult>",
        xml_escaped(bucket),
        xml_escaped(prefix),
        keys.len()
    );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        xml,
    )
        .into_response())
}

fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn s3_error(error: &AwsError) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        error.code(),
        xml_escaped(error.message())
    );
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

// --- EKS --------------------------------------------------------------------------------------

fn eks(state: &AwsState, call: &Call, method: &Method, uri: &Uri) -> Result<Value, AwsError> {
    let name = match (method.as_str(), uri.path().strip_prefix("/clusters/")) {
        ("GET", Some(name)) if !name.is_empty() && !name.contains('/') => name,
        _ => {
            return Err(AwsError::new(
                "InvalidRequestException",
                400,
                "the EKS stand-in serves DescribeCluster only",
            ));
        }
    };
    let arn = format!(
        "arn:aws:eks:{}:{}:cluster/{name}",
        call.region, call.account
    );
    let need = Need {
        action: "eks:DescribeCluster",
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    let cluster = state
        .config
        .resources
        .eks_clusters
        .iter()
        .find(|c| c.arn == arn)
        .ok_or_else(|| {
            AwsError::new(
                "ResourceNotFoundException",
                404,
                format!("No cluster found for name: {name}."),
            )
        })?;
    state.count("eks:DescribeCluster");
    Ok(json!({"cluster": {
        "name": name,
        "arn": arn,
        "endpoint": cluster.endpoint,
        "status": "ACTIVE",
        "certificateAuthority": {"data": STANDARD.encode(&cluster.ca_pem)},
    }}))
}

// --- KMS, ECR, SQS (JSON protocols) -----------------------------------------------------------

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
            kms(state, call, operation, input)?
        }
        "ecr" => {
            let operation = target.strip_prefix(ECR).ok_or_else(unknown)?;
            ecr(state, call, operation, input)?
        }
        _ => {
            let operation = target.strip_prefix("AmazonSQS.").ok_or_else(unknown)?;
            sqs(state, call, operation, input)?
        }
    };
    state.count(&action);
    Ok(answer)
}

fn text<'a>(input: &'a Value, field: &str) -> Result<&'a str, AwsError> {
    input[field]
        .as_str()
        .ok_or_else(|| AwsError::validation(format!("{field} is required")))
}

fn kms(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let key_id = text(input, "KeyId")?;
    let arn = match key_id.starts_with("arn:") {
        true => key_id.to_owned(),
        false => format!("arn:aws:kms:{}:{}:key/{key_id}", call.region, call.account),
    };
    let action = match operation {
        "DescribeKey" | "Decrypt" => format!("kms:{operation}"),
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation TrentService.{operation}"),
            ));
        }
    };
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    if !state.config.resources.kms_keys.contains(&arn) {
        return Err(AwsError::new(
            "NotFoundException",
            400,
            format!("Key '{arn}' does not exist"),
        ));
    }
    let answer = match operation {
        "DescribeKey" => json!({"KeyMetadata": {
            "KeyId": arn.rsplit('/').next().unwrap_or_default(),
            "Arn": arn,
            "Enabled": true,
            "KeyState": "Enabled",
            "KeyUsage": "ENCRYPT_DECRYPT",
        }}),
        _ => json!({
            "KeyId": arn,
            "Plaintext": text(input, "CiphertextBlob")?,
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }),
    };
    Ok((action, answer))
}

fn ecr(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let action = format!("ecr:{operation}");
    if operation == "GetAuthorizationToken" {
        let need = Need {
            action: &action,
            resource: "*",
            context: &[],
        };
        permit(state, call, need, "AccessDeniedException")?;
        let password = ids::password();
        let expires_at = unix_now() + PASSWORD_SECONDS;
        lock(&state.ecr_passwords).insert(password.clone(), expires_at);
        let endpoint = format!(
            "https://{}.dkr.ecr.{}.amazonaws.com",
            call.account, call.region
        );
        return Ok((
            action,
            json!({"authorizationData": [{
                "authorizationToken": STANDARD.encode(format!("AWS:{password}")),
                "expiresAt": expires_at,
                "proxyEndpoint": endpoint,
            }]}),
        ));
    }
    const PULL: [&str; 5] = [
        "BatchCheckLayerAvailability",
        "GetDownloadUrlForLayer",
        "BatchGetImage",
        "DescribeImages",
        "ListImages",
    ];
    if !PULL.contains(&operation) {
        return Err(AwsError::new(
            "UnknownOperationException",
            400,
            format!("Unknown operation {ECR}{operation}"),
        ));
    }
    let name = text(input, "repositoryName")?;
    let account = input["registryId"].as_str().unwrap_or(&call.account);
    let arn = format!("arn:aws:ecr:{}:{account}:repository/{name}", call.region);
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDeniedException")?;
    if !state.config.resources.ecr_repositories.contains(&arn) {
        return Err(AwsError::new(
            "RepositoryNotFoundException",
            400,
            format!(
                "The repository with name '{name}' does not exist in the registry with id '{account}'"
            ),
        ));
    }
    Ok((action, json!({})))
}

fn sqs(
    state: &AwsState,
    call: &Call,
    operation: &str,
    input: &Value,
) -> Result<(String, Value), AwsError> {
    let action = format!("sqs:{operation}");
    let (account, name) = match operation {
        "GetQueueUrl" => (
            input["QueueOwnerAWSAccountId"]
                .as_str()
                .unwrap_or(&call.account)
                .to_owned(),
            text(input, "QueueName")?.to_owned(),
        ),
        "ReceiveMessage" | "DeleteMessage" => {
            let url = text(input, "QueueUrl")?;
            let mut segments = url.rsplit('/');
            match (segments.next(), segments.next()) {
                (Some(name), Some(account)) if !name.is_empty() => {
                    (account.to_owned(), name.to_owned())
                }
                _ => return Err(AwsError::validation("QueueUrl is not .../ACCOUNT/QUEUE")),
            }
        }
        _ => {
            return Err(AwsError::new(
                "UnknownOperationException",
                400,
                format!("Unknown operation AmazonSQS.{operation}"),
            ));
        }
    };
    let arn = format!("arn:aws:sqs:{}:{account}:{name}", call.region);
    let need = Need {
        action: &action,
        resource: &arn,
        context: &[],
    };
    permit(state, call, need, "AccessDenied")?;
    if !state.config.resources.sqs_queues.contains(&arn) {
        return Err(AwsError::new(
            "QueueDoesNotExist",
            400,
            "The specified queue does not exist.",
        ));
    }
    let answer = match operation {
        "GetQueueUrl" => {
            json!({"QueueUrl": format!("https://sqs.{}.amazonaws.com/{account}/{name}", call.region)})
        }
        "ReceiveMessage" => json!({"Messages": []}),
        _ => json!({}),
    };
    Ok((action, answer))
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
