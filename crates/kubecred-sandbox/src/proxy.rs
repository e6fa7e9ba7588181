//! A forward HTTP proxy on loopback that records what passes through it, for tests of clients'
//! proxy settings: absolute-form requests (plain-HTTP targets) are forwarded, `CONNECT` opens a
//! tunnel. With credentials it answers `407` to any request without the matching
//! `Proxy-Authorization: Basic …`.
//!
//! Written by hand on hyper's server and client connections: the proxy crates on offer are
//! full servers with their own configuration and no record of what they relayed. Like every
//! stand-in here it only ever reaches loopback addresses; any other target is refused (`403`).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type Body = BoxBody<Bytes, hyper::Error>;

/// One request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// `GET`, `POST`, `CONNECT`, …
    pub method: String,
    /// The request target: an absolute URL, or `host:port` for `CONNECT`.
    pub target: String,
    /// How the proxy answered itself (`403`, `407`), or `None` when it relayed the request.
    pub refused: Option<u16>,
}

/// A running forward proxy; stops when dropped.
#[derive(Debug)]
pub struct ForwardProxy {
    address: SocketAddr,
    relayed: Arc<Mutex<Vec<Relayed>>>,
    task: JoinHandle<()>,
}

impl ForwardProxy {
    /// Starts a proxy that asks for no credentials.
    pub async fn start() -> std::io::Result<ForwardProxy> {
        ForwardProxy::start_with(None).await
    }

    /// Starts a proxy that requires basic authentication with `user` and `password`.
    pub async fn start_with_basic_auth(
        user: &str,
        password: &str,
    ) -> std::io::Result<ForwardProxy> {
        let expected = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        ForwardProxy::start_with(Some(expected)).await
    }

    async fn start_with(expected: Option<String>) -> std::io::Result<ForwardProxy> {
        let listener = TcpListener::bind((IpAddr::from([127, 0, 0, 1]), 0)).await?;
        let address = listener.local_addr()?;
        let relayed = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            expected,
            relayed: relayed.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { state.handle(request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Ok(ForwardProxy {
            address,
            relayed,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Everything received so far, in order.
    pub fn relayed(&self) -> Vec<Relayed> {
        self.relayed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct State {
    /// The `Proxy-Authorization` value required, if any.
    expected: Option<String>,
    relayed: Arc<Mutex<Vec<Relayed>>>,
}

impl State {
    async fn handle(&self, request: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
        let method = request.method().to_string();
        let target = request.uri().to_string();
        let refused = self.refusal(&request);
        self.relayed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Relayed {
                method,
                target,
                refused: refused.map(|status| status.as_u16()),
            });
        if let Some(status) = refused {
            let mut response = answer(status);
            if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
                response.headers_mut().insert(
                    PROXY_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"sandbox\""),
                );
            }
            return Ok(response);
        }
        match request.method() == Method::CONNECT {
            true => Ok(tunnel(request)),
            false => forward(request).await,
        }
    }

    /// `407` without the expected credentials, `403` for a target off loopback.
    fn refusal(&self, request: &Request<Incoming>) -> Option<StatusCode> {
        let given = request.headers().get(PROXY_AUTHORIZATION);
        if let Some(expected) = &self.expected
            && given.is_none_or(|value| value.as_bytes() != expected.as_bytes())
        {
            return Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED);
        }
        match target(request) {
            Some((host, _)) if is_loopback(&host) => None,
            _ => Some(StatusCode::FORBIDDEN),
        }
    }
}

/// The target's host and port: the authority of `CONNECT`, the absolute URL's otherwise.
fn target(request: &Request<Incoming>) -> Option<(String, u16)> {
    let uri = request.uri();
    let default_port = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    let authority = uri.authority()?;
    Some((
        authority.host().to_owned(),
        authority.port_u16().unwrap_or(default_port),
    ))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Relays an absolute-form request to its (loopback) target in origin form.
async fn forward(mut request: Request<Incoming>) -> Result<Response<Body>, hyper::Error> {
    let Some((host, port)) = target(&request) else {
        return Ok(answer(StatusCode::BAD_REQUEST));
    };
    let Ok(stream) = TcpStream::connect((host.as_str(), port)).await else {
        return Ok(answer(StatusCode::BAD_GATEWAY));
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let origin_form = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .parse()
        .unwrap_or_else(|_| hyper::Uri::from_static("/"));
    *request.uri_mut() = origin_form;
    request.headers_mut().remove(PROXY_AUTHORIZATION);
    let response = sender.send_request(request).await?;
    Ok(response.map(BodyExt::boxed))
}

/// Answers `200` to a `CONNECT` and then copies bytes both ways between the client and the
/// (loopback) target.
fn tunnel(request: Request<Incoming>) -> Response<Body> {
    let Some((host, port)) = target(&request) else {
        return answer(StatusCode::BAD_REQUEST);
    };
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        if let Ok(mut server) = TcpStream::connect((host.as_str(), port)).await {
            let mut client = TokioIo::new(upgraded);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    });
    answer(StatusCode::OK)
}

fn answer(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response
}
