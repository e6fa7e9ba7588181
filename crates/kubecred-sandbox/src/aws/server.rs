//! Serving each stand-in on its own loopback port, and stopping them.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::AwsStartError;

/// How long shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Binds `127.0.0.1:0`.
pub(crate) async fn bind() -> Result<(TcpListener, SocketAddr), AwsStartError> {
    let requested = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener = TcpListener::bind(requested)
        .await
        .map_err(|e| AwsStartError::new(format!("cannot listen on {requested}: {e}"), Some(e)))?;
    let address = listener
        .local_addr()
        .map_err(|e| AwsStartError::new(format!("cannot read the bound address: {e}"), Some(e)))?;
    Ok((listener, address))
}

/// Serves `app` on `listener` until `stop` turns true.
pub(crate) fn serve(
    listener: TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        use axum::serve::ListenerExt as _;
        // No Nagle delay on answers (see `tls.rs`).
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await
    })
}

/// Waits for `task` up to the grace period, then aborts it.
pub(crate) async fn join(mut task: JoinHandle<std::io::Result<()>>) {
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!("stand-in stopped with an error: {e}"),
        Ok(Err(e)) => tracing::warn!("stand-in task failed: {e}"),
        Err(_) => {
            tracing::warn!("stand-in connections still open after {SHUTDOWN_GRACE:?}; aborting");
            task.abort();
        }
    }
}
