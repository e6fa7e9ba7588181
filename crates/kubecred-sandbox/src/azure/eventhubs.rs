//! Event Hubs over REST (HTTPS): `POST /<namespace>/<hub>/messages` (Send: 201 Created for
//! holders of `Azure Event Hubs Data Sender` or `Owner` on the hub or namespace) and
//! `GET /<namespace>/<hub>?api-version=…` (the hub's description, Manage: `Owner`). Without the
//! claim, or without a valid Event Hubs token, 401 in Event Hubs' XML shape, as Event Hubs
//! answers both.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::config::{EVENT_HUBS_AUDIENCE, EVENT_HUBS_DATA_OWNER, EVENT_HUBS_DATA_SENDER};
use super::error::{EventHubsError, shown, xml};
use super::state::{AzureState, TokenProblem};

/// What [`AzureState::calls`] counts a send as.
pub(crate) const SEND: &str = "eventhubs.send";
/// What [`AzureState::calls`] counts a description read as.
pub(crate) const GET: &str = "eventhubs.get";
/// The largest event batch taken (Event Hubs' limit).
const MAX_BODY: usize = 1024 * 1024;

/// The Event Hubs router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

fn unauthorized(detail: String) -> EventHubsError {
    EventHubsError {
        status: 401,
        detail,
    }
}

async fn handle(
    State(state): State<Arc<AzureState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&state, &method, &uri, &headers, &body) {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, "the Event Hubs stand-in refused a request");
            error.into_response()
        }
    }
}

fn answer(
    state: &AzureState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, EventHubsError> {
    let parts: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let (namespace, hub, send) = match (parts.as_slice(), method) {
        ([ns, hub, "messages"], &Method::POST) => (*ns, *hub, true),
        ([ns, hub], &Method::GET) => (*ns, *hub, false),
        _ => {
            return Err(EventHubsError {
                status: 404,
                detail: "The requested resource or operation is not served here.".into(),
            });
        }
    };
    if namespace.is_empty() || hub.is_empty() {
        return Err(EventHubsError {
            status: 400,
            detail: "The namespace and the event hub must be named.".into(),
        });
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let namespace_audience = format!("https://{namespace}.servicebus.windows.net");
    let caller = state
        .authenticate(authorization, &[EVENT_HUBS_AUDIENCE, &namespace_audience])
        .map_err(|problem| {
            unauthorized(match problem {
                TokenProblem::Missing => {
                    "MissingToken: The authorization header was not found.".into()
                }
                TokenProblem::Invalid => {
                    "InvalidSignature: The token has an invalid signature.".into()
                }
                TokenProblem::Expired { .. } => "ExpiredToken: The token is expired.".into(),
                TokenProblem::Audience(audience) => format!(
                    "InvalidAudience: The token audience '{}' is not valid.",
                    shown(&audience)
                ),
            })
        })?;
    let resource = format!("sb://{namespace}.servicebus.windows.net/{hub}");
    let scope = format!("eventhub://{namespace}/{hub}");
    let (claim, roles): (&str, &[&str]) = match send {
        true => ("Send", &[EVENT_HUBS_DATA_SENDER, EVENT_HUBS_DATA_OWNER]),
        false => ("Manage", &[EVENT_HUBS_DATA_OWNER]),
    };
    if !state.granted(&caller, &scope, roles) {
        return Err(unauthorized(format!(
            "Unauthorized access. '{claim}' claim(s) are required to perform this operation. Resource: '{}'.",
            shown(&resource)
        )));
    }
    if send {
        if body.len() > MAX_BODY {
            return Err(EventHubsError {
                status: 413,
                detail: "The received message (delivery-id:0, size:0 bytes) exceeds the limit currently allowed on the link.".into(),
            });
        }
        state.count(SEND);
        return Ok(StatusCode::CREATED.into_response());
    }
    state.count(GET);
    let description = format!(
        "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>https://{ns}.servicebus.windows.net/{hub}</id><title type=\"text\">{hub}</title><content type=\"application/xml\"><EventHubDescription xmlns=\"http://schemas.microsoft.com/netservices/2010/10/servicebus/connect\"><MessageRetentionInDays>1</MessageRetentionInDays><Status>Active</Status><PartitionCount>2</PartitionCount></EventHubDescription></content></entry>",
        ns = xml(namespace),
        hub = xml(hub)
    );
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/atom+xml;type=entry;charset=utf-8",
        )],
        description,
    )
        .into_response())
}
