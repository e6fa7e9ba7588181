//! The STS stand-in: the Query API on `POST /` (and `GET /`), answering
//! in STS's XML shapes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::auth::{self, AuthFailure, Expect};
use super::error::AwsError;
use super::http::view;
use super::sigv4::RequestView;
use super::state::{AwsState, Caller};
use crate::clock::unix_now;
use crate::random;

mod assume_role;
mod params;
mod web_identity;
pub(crate) mod xml;

use params::Params;

/// The service name in SigV4 scopes.
pub(crate) const SERVICE: &str = "sts";
/// The only API version.
const VERSION: &str = "2011-06-15";

/// The STS router.
pub(crate) fn router(state: Arc<AwsState>) -> Router {
    Router::new().route("/", any(handle)).with_state(state)
}

async fn handle(
    State(state): State<Arc<AwsState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = random::uuid();
    let request = view(&method, &uri, &headers, &body);
    let params = params_of(&request);
    let action = params.get("Action").unwrap_or_default().to_string();
    if let Some(token) = params.get("WebIdentityToken") {
        crate::verify::refresh_issuer_of(&state.config.oidc_providers, token).await;
    }
    match dispatch(&state, &request, &params, &action) {
        Ok(result) => {
            state.count(&action);
            let body = xml::success(&action, &result, &request_id);
            respond(StatusCode::OK, &request_id, body)
        }
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            respond(status, &request_id, xml::error(&error, &request_id))
        }
    }
}

fn respond(status: StatusCode, request_id: &str, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/xml"),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                request_id,
            ),
        ],
        body,
    )
        .into_response()
}

/// Query parameters, then form-body parameters.
fn params_of(request: &RequestView<'_>) -> Params {
    let mut pairs = request.query_pairs();
    let is_form = request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        pairs.extend(
            url::form_urlencoded::parse(request.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    Params(pairs)
}

fn dispatch(
    state: &AwsState,
    request: &RequestView<'_>,
    params: &Params,
    action: &str,
) -> Result<String, AwsError> {
    if params.get("Version").is_some_and(|v| v != VERSION) {
        return Err(AwsError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for the given version"),
        ));
    }
    match action {
        web_identity::ACTION => web_identity::run(state, params),
        assume_role::ASSUME_ROLE => {
            assume_role::assume_role(state, params, &authenticate(state, request)?)
        }
        assume_role::GET_CALLER_IDENTITY => Ok(assume_role::caller_identity(
            state,
            &authenticate(state, request)?,
        )),
        "" => Err(AwsError::new("MissingAction", 400, "Missing Action")),
        other => {
            let shown: String = other.chars().take(64).collect();
            Err(AwsError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {shown} for version {VERSION}"),
            ))
        }
    }
}

/// Verifies the request's SigV4 signature for STS (any region).
pub(crate) fn authenticate(
    state: &AwsState,
    request: &RequestView<'_>,
) -> Result<Caller, AwsError> {
    let expect = Expect {
        service: SERVICE,
        region: None,
        now: unix_now(),
    };
    auth::authenticate(state, request, expect).map_err(sts_error)
}

/// STS's codes for signature failures.
pub(crate) fn sts_error(failure: AuthFailure) -> AwsError {
    match failure {
        AuthFailure::Missing => AwsError::new(
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        AuthFailure::Incomplete(message) => AwsError::new("IncompleteSignature", 400, message),
        AuthFailure::UnknownKey | AuthFailure::InvalidToken => AwsError::new(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        AuthFailure::Signature(message) | AuthFailure::Skew(message) => {
            AwsError::new("SignatureDoesNotMatch", 403, message)
        }
        AuthFailure::PresignExpired(message) => AwsError::new("RequestExpired", 400, message),
        AuthFailure::ExpiredKey => AwsError::new(
            "ExpiredToken",
            400,
            "The security token included in the request is expired",
        ),
    }
}
