//! A stand-in's API over HTTPS: the same handlers behind a certificate for `localhost` (and
//! `127.0.0.1`) from a CA generated at start, for clients that must be tested on TLS (the AWS
//! SDKs' HTTP client, proxies' CONNECT tunnels). Clients trust the CA (e.g. `SSL_CERT_FILE`, which
//! the SDKs' native root store reads).

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::AwsStartError;
use super::server;
use crate::tls::TlsListener;

/// A running HTTPS listener. Dropping it stops accepting; [`HttpsStandIn::shutdown`] also waits.
pub struct HttpsStandIn {
    address: SocketAddr,
    ca_pem: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for HttpsStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsStandIn")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl HttpsStandIn {
    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port())
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The CA (PEM) that signed the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Stops accepting connections and waits for the server (up to 5 s).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        server::join(self.task).await;
    }
}

/// Serves `app` over HTTPS on a loopback port of its own, with a certificate for `names`.
pub(crate) async fn serve(app: Router, names: &[&str]) -> Result<HttpsStandIn, AwsStartError> {
    let tls = crate::certs::generate_for(names)
        .map_err(|e| AwsStartError::new(format!("cannot set up the stand-in's TLS: {e}"), None))?;
    let (listener, address) = server::bind().await?;
    let listener = TlsListener::new(listener, address, tls.server);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    tracing::info!(%address, ?names, "HTTPS stand-in listening");
    Ok(HttpsStandIn {
        address,
        ca_pem: tls.ca_pem,
        stop,
        task,
    })
}
