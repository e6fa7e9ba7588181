//! A TLS listener for `axum::serve`: accepts TCP connections and completes
//! each TLS handshake in its own task, so a slow or broken client never holds
//! up the others; only finished handshakes reach the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. too many open files) before retrying.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Finished handshakes waiting for the server to pick them up.
const BACKLOG: usize = 64;

type Connection = (TlsStream<TcpStream>, SocketAddr);

/// Serves TLS on a bound TCP listener. Dropping it stops accepting.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<Connection>,
    address: SocketAddr,
    accept_loop: JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` (bound to `address`) with the server
    /// settings `config`. Must be called within a tokio runtime.
    pub(crate) fn new(
        listener: TcpListener,
        address: SocketAddr,
        config: Arc<ServerConfig>,
    ) -> TlsListener {
        let (sender, ready) = mpsc::channel(BACKLOG);
        let acceptor = TlsAcceptor::from(config);
        let accept_loop = tokio::spawn(accept_loop(listener, acceptor, sender));
        TlsListener {
            ready,
            address,
            accept_loop,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> Connection {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.address)
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<Connection>,
) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                // Answers go out at once: with Nagle's algorithm a small answer waits for the
                // client's delayed ACK (~40 ms), which real services do not add.
                let _ = tcp.set_nodelay(true);
                tokio::spawn(handshake(acceptor.clone(), tcp, peer, ready.clone()));
            }
            Err(e) => {
                tracing::debug!("sandbox cannot accept a connection: {e}");
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    ready: mpsc::Sender<Connection>,
) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            // Fails only when the server is shutting down.
            let _ = ready.send((tls, peer)).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake with the sandbox failed: {e}"),
        Err(_) => tracing::debug!(%peer, "TLS handshake with the sandbox timed out"),
    }
}
