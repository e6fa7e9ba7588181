//! Serving a stand-in on a loopback port of its own, over HTTPS with the stand-ins' CA or over
//! plain HTTP (IMDS), and stopping them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use rustls::ServerConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::AzureStartError;
use crate::aws::server;
use crate::tls::TlsListener;

pub(crate) type Task = JoinHandle<std::io::Result<()>>;

/// Serves `app` over HTTPS with `tls` until `stop` turns true.
pub(crate) async fn https(
    app: Router,
    tls: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, Task), AzureStartError> {
    let (listener, address) = server::bind().await?;
    let listener = TlsListener::new(listener, address, tls);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    Ok((address, task))
}

/// Serves `app` over plain HTTP until `stop` turns true.
pub(crate) async fn http(
    app: Router,
    stop: watch::Receiver<bool>,
) -> Result<(SocketAddr, Task), AzureStartError> {
    let (listener, address) = server::bind().await?;
    Ok((address, server::serve(listener, app, stop)))
}

/// Waits for `task` (up to the grace period).
pub(crate) async fn join(task: Task) {
    server::join(task).await;
}
