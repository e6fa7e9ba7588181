//! Starting, addressing and stopping a sandbox server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::access::{Access, Grant, User};
use crate::certs;
use crate::manifest::Manifests;
use crate::random;
use crate::routes;
use crate::signing::SigningKey;
use crate::state::{self, AppState};
use crate::tls::TlsListener;
use crate::verify::{JwtVerifier, VerifyError};

/// How long [`Sandbox::shutdown`] waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What a sandbox serves and to whom.
#[derive(Debug, Default)]
pub struct SandboxConfig {
    /// The objects to serve.
    pub manifests: Manifests,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Extra users with static bearer tokens.
    pub users: Vec<User>,
    /// What non-admin users may do.
    pub grants: Vec<Grant>,
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SandboxError {
    message: String,
    #[source]
    source: Option<std::io::Error>,
}

/// A running sandbox: a Kubernetes API subset and OIDC issuer on
/// `https://127.0.0.1:PORT`, with a certificate from its own CA. Dropping it stops the server too;
/// [`Sandbox::shutdown`] also waits for it.
pub struct Sandbox {
    pub(crate) state: Arc<AppState>,
    address: SocketAddr,
    ca_pem: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Binds 127.0.0.1:`config.port`, generates the CA and serving
    /// certificate, the signing key and the admin token, and serves HTTPS in
    /// a background task. Returns once listening.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (listener, address) = bind(config.port).await?;
        let tls = certs::generate().map_err(|e| SandboxError {
            message: format!("cannot set up the sandbox's TLS: {e}"),
            source: None,
        })?;
        let state = Arc::new(build_state(config, format!("https://{address}"))?);
        let listener = TlsListener::new(listener, address, tls.server);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = routes::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(url = %format!("https://{address}"), "kubecred sandbox listening");
        Ok(Sandbox {
            state,
            address,
            ca_pem: tls.ca_pem,
            stop,
            task,
        })
    }

    /// The base URL, `https://127.0.0.1:PORT`. Its certificate is signed by
    /// [`Sandbox::ca_pem`].
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// The certificate authority (PEM) that signed the sandbox's serving
    /// certificate. Generated at start; clients must trust it to connect.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A [`JwtVerifier`] for this sandbox's tokens, discovered over HTTPS
    /// trusting [`Sandbox::ca_pem`].
    pub async fn verifier(&self) -> Result<JwtVerifier, VerifyError> {
        JwtVerifier::discover_with_ca(&self.issuer(), &self.ca_pem).await
    }

    /// The token issuer (`iss`): the same as [`Sandbox::url`].
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// The public half of the issuer's signing key as PEM (`PUBLIC KEY`, PKIX), as
    /// kube-apiserver's `--service-account-key-file` takes it: what a self-managed cluster's
    /// operator hands `kubecred issuer generate`. The JWKS at `/openid/v1/jwks` publishes it.
    pub fn signing_key_pem(&self) -> String {
        self.state.key.public_key_pem()
    }

    /// Lets the API server also take the bearer tokens `authenticator` vouches for (tried after
    /// the admin token, the static users and ServiceAccount tokens), as GKE's takes Google
    /// access tokens: e.g. [`crate::gcp::GcpStandIns::gke_authenticator`].
    pub fn accept_bearer_tokens(
        &self,
        authenticator: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) {
        self.state.access.webhooks.add(Box::new(authenticator));
    }

    /// The bearer token of user `sandbox-admin`, who may do everything.
    pub fn admin_token(&self) -> &str {
        &self.state.access.admin_token
    }

    /// Mints a ServiceAccount token directly, as the kubelet would project
    /// it into a pod. The ServiceAccount need not be loaded (its uid is then
    /// random, and the sandbox's API will not accept the token as a user).
    ///
    /// # Panics
    ///
    /// Only if RSA signing itself fails, which aws-lc-rs does not do for a
    /// key it generated and a correctly sized buffer.
    pub fn issue_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        ttl: Duration,
    ) -> String {
        let seconds = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        match self.state.mint(namespace, name, audiences, seconds) {
            Ok(minted) => minted.token,
            Err(e) => panic!("the sandbox could not sign a token: {e}"),
        }
    }

    /// Mints a ServiceAccount token as if issued at `issued_at` (e.g. one that has already
    /// expired), for tests of what verifiers do with old tokens.
    ///
    /// # Panics
    ///
    /// Only if signing itself fails, as [`Sandbox::issue_token`].
    pub fn issue_token_at(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        issued_at: std::time::SystemTime,
        ttl: Duration,
    ) -> String {
        let issued = issued_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let seconds = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        match self
            .state
            .mint_at(namespace, name, audiences, issued, seconds)
        {
            Ok(minted) => minted.token,
            Err(e) => panic!("the sandbox could not sign a token: {e}"),
        }
    }

    /// Successful TokenRequests served so far.
    pub fn token_requests(&self) -> u64 {
        self.state.token_request_count()
    }

    /// Stops accepting connections, lets open requests finish (up to 5 s)
    /// and waits for the server task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("sandbox server stopped with an error: {e}"),
            Ok(Err(e)) => tracing::warn!("sandbox server task failed: {e}"),
            Err(_) => {
                tracing::warn!("sandbox connections still open after {SHUTDOWN_GRACE:?}; aborting");
                task.abort();
            }
        }
    }
}

/// Binds 127.0.0.1:`port` (0: any free port); returns the bound address.
async fn bind(port: u16) -> Result<(TcpListener, SocketAddr), SandboxError> {
    let requested = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(requested)
        .await
        .map_err(|e| SandboxError {
            message: format!("cannot listen on {requested}: {e}"),
            source: Some(e),
        })?;
    let address = listener.local_addr().map_err(|e| SandboxError {
        message: format!("cannot read the address bound for {requested}: {e}"),
        source: Some(e),
    })?;
    Ok((listener, address))
}

fn build_state(config: SandboxConfig, issuer: String) -> Result<AppState, SandboxError> {
    let key = SigningKey::generate().map_err(|_| SandboxError {
        message: "cannot generate the sandbox's RSA signing key".into(),
        source: None,
    })?;
    let jwks = serde_json::json!({"keys": [key.jwk()]});
    let verifier = JwtVerifier::from_jwks(&issuer, &jwks).map_err(|e| SandboxError {
        message: format!("the sandbox's own JWKS is unusable: {e}"),
        source: None,
    })?;
    let access = Access {
        admin_token: random::bearer_token(),
        users: config.users,
        grants: config.grants,
        verifier,
        webhooks: Default::default(),
    };
    Ok(AppState {
        issuer,
        namespaces: state::namespace_objects(&config.manifests),
        store: config.manifests,
        key,
        access,
        token_requests: AtomicU64::new(0),
    })
}
