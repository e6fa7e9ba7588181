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
use crate::signing::{KeyRing, SigningKey};
use crate::source::SourceCluster;
use crate::state::{self, AppState};
use crate::tls::TlsListener;
use crate::verify::{DiscoveryOptions, JwtVerifier, VerifyError};

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
    /// The kind of cluster it presents itself as (its issuer's shape).
    pub source: SourceCluster,
    /// Older issuers the API server still accepts after an issuer rotation (kube-apiserver's
    /// later `--service-account-issuer` flags; tokens are signed with the source's).
    pub old_issuers: Vec<String>,
    /// CAs of the sites an [`SourceCluster::Other`] issuer is published at, trusted by
    /// [`Sandbox::verifier`] beside the sandbox's own.
    pub issuer_ca_pems: Vec<String>,
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
    issuer_ca_pems: Vec<String>,
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
        let hosted = config.source.hosted_host();
        let tls = certs::generate(hosted.as_deref()).map_err(|e| SandboxError {
            message: format!("cannot set up the sandbox's TLS: {e}"),
            source: None,
        })?;
        let issuer_ca_pems = config.issuer_ca_pems.clone();
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
            issuer_ca_pems,
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

    /// A [`JwtVerifier`] for this sandbox's tokens as a target cloud trusting its issuer has
    /// one: discovered over HTTPS from the issuer URL ([`Sandbox::discovery_options`]), and
    /// fetched again before each verification. For an [`SourceCluster::Other`] issuer nothing
    /// is fetched until then (its documents may be published later).
    pub async fn verifier(&self) -> Result<JwtVerifier, VerifyError> {
        let options = self.discovery_options();
        match self.state.source {
            SourceCluster::Other { .. } => JwtVerifier::trusting(&self.issuer(), &options),
            _ => JwtVerifier::discover_with_options(&self.issuer(), &options).await,
        }
    }

    /// How a target reaches the issuer: trusting the sandbox's CA (and the sites' of
    /// [`SandboxConfig::issuer_ca_pems`]), with a managed issuer's host resolved to the sandbox.
    pub fn discovery_options(&self) -> DiscoveryOptions {
        DiscoveryOptions {
            ca_pems: std::iter::once(self.ca_pem.clone())
                .chain(self.issuer_ca_pems.iter().cloned())
                .collect(),
            resolve: self.resolve(),
        }
    }

    /// The host names that must resolve to the sandbox (a managed issuer's), with its address.
    pub fn resolve(&self) -> Vec<(String, SocketAddr)> {
        self.state
            .source
            .hosted_host()
            .map(|host| (host, self.address))
            .into_iter()
            .collect()
    }

    /// The token issuer (`iss`): the source type's ([`SourceCluster::issuer`]); for a kind
    /// cluster, the same as [`Sandbox::url`].
    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// The kind of cluster the sandbox presents itself as.
    pub fn source(&self) -> &SourceCluster {
        &self.state.source
    }

    /// The public half of the current signing key as PEM (`PUBLIC KEY`, PKIX), as
    /// kube-apiserver's `--service-account-key-file` takes it: what a self-managed cluster's
    /// operator hands `kubecred issuer generate`. The JWKS at `/openid/v1/jwks` publishes it.
    pub fn signing_key_pem(&self) -> String {
        self.state.key_ring().signing.public_key_pem()
    }

    /// The `kid` of the current signing key.
    pub fn signing_kid(&self) -> String {
        self.state.key_ring().signing.kid().to_owned()
    }

    /// Every verification key's PEM, oldest first (each `--service-account-key-file`).
    pub fn verification_key_pems(&self) -> Vec<String> {
        let ring = self.state.key_ring();
        ring.keys.iter().map(|k| k.public_key_pem()).collect()
    }

    /// Starts signing with a new key (returns its `kid`), as an operator who swaps
    /// `--service-account-signing-key-file`: the API server accepts old and new at once, but a
    /// managed issuer's public JWKS holds the new key only after [`Sandbox::publish_keys`] (and a
    /// self-managed one's after `kubecred issuer publish`).
    ///
    /// # Panics
    ///
    /// Only if aws-lc-rs cannot generate an RSA key.
    pub fn rotate_signing_key(&self) -> String {
        let key = match SigningKey::generate() {
            Ok(key) => Arc::new(key),
            Err(e) => panic!("the sandbox could not generate a signing key: {e}"),
        };
        let kid = key.kid().to_owned();
        self.state.change_keys(|ring| {
            ring.keys.push(key.clone());
            ring.signing = key;
        });
        kid
    }

    /// Publishes every verification key at the managed issuer's public JWKS.
    pub fn publish_keys(&self) {
        self.state
            .change_keys(|ring| ring.published = ring.keys.clone());
    }

    /// Drops verification key `kid` (not the signing one) from the API server and the published
    /// JWKS; returns whether it was there.
    pub fn retire_key(&self, kid: &str) -> bool {
        self.state.change_keys(|ring| {
            if ring.signing.kid() == kid {
                return false;
            }
            let before = ring.keys.len();
            ring.keys.retain(|k| k.kid() != kid);
            ring.published.retain(|k| k.kid() != kid);
            ring.keys.len() != before
        })
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
    let ring = KeyRing::new(key);
    let api_url = issuer;
    let issuer = config.source.issuer(&api_url);
    let jwks = ring.jwks();
    let verifiers = std::iter::once(&issuer)
        .chain(&config.old_issuers)
        .map(|issuer| JwtVerifier::from_jwks(issuer, &jwks))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SandboxError {
            message: format!("the sandbox's own JWKS is unusable: {e}"),
            source: None,
        })?;
    let access = Access {
        admin_token: random::bearer_token(),
        users: config.users,
        grants: config.grants,
        verifiers,
        webhooks: Default::default(),
    };
    Ok(AppState {
        issuer,
        api_url,
        source: config.source,
        namespaces: state::namespace_objects(&config.manifests),
        store: config.manifests,
        keys: std::sync::RwLock::new(ring),
        access,
        token_requests: AtomicU64::new(0),
    })
}
