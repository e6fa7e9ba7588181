//! S3 (REST-XML, path style): `ListObjectsV2` and `GetObject`.

use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::{Call, permit};
use crate::aws::auth::AuthFailure;
use crate::aws::error::AwsError;
use crate::aws::permissions::Need;
use crate::aws::state::AwsState;

pub(super) fn s3(state: &AwsState, call: &Call, method: &Method, uri: &Uri) -> Response {
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
pub(super) fn s3_auth_error(failure: AuthFailure) -> AwsError {
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

pub(super) fn s3_error(error: &AwsError) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        error.code(),
        xml_escaped(error.message())
    );
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}
