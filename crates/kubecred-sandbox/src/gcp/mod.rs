//! Loopback stand-ins for the Google Cloud services kubecred talks to, behaving as Google does
//! and answering refusals in Google's error shapes (plain HTTP on 127.0.0.1, one port each;
//! Google's libraries take `http` URLs in credential configurations and `GCE_METADATA_HOST`):
//!
//! - STS `POST /v1/token`: the token exchange of an OIDC token for a federated access token,
//!   for workload identity pool providers and a GKE identity namespace;
//! - IAM Credentials `generateAccessToken`, enforcing `roles/iam.workloadIdentityUser` (or
//!   `roles/iam.serviceAccountTokenCreator`) bindings;
//! - the OAuth token endpoint's JWT-bearer grant for service-account keys
//!   ([`GcpStandIns::create_key`]) and its `tokeninfo`;
//! - the metadata server (project, GKE cluster attributes, the node's service account);
//! - GKE `clusters.get` (the configured [`ControlPlane`]'s endpoint and CA; with
//!   [`GcpConfig::enforce_project_bindings`], for callers granted `container.clusters.get` on
//!   the project);
//! - the Google APIs of the access checks (Cloud Storage listing in front of
//!   [`FakeGcs`], Cloud KMS and Pub/Sub `testIamPermissions`), enforcing
//!   [`ResourceBinding`]s;
//! - and [`GcpStandIns::token_info`], what a Google API learns from a bearer token.
//!
//! [`load_policy`] configures them from a `kubecred policy` object (pool providers, service
//! account bindings, resource bindings), so that they enforce what it grants.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::aws::server;

mod apis;
mod audience;
mod config;
mod container;
mod error;
mod fake_gcs;
mod grants;
mod iam;
mod keys;
mod metadata;
mod oauth;
mod params;
mod policy;
mod state;
mod sts;
mod subject;

pub use config::{
    Binding, ControlPlane, GCP_SERVICE_ACCOUNT_ANNOTATION, GcpConfig, GcpServiceAccount,
    GkeCluster, OidcProvider, TOKEN_CREATOR, WORKLOAD_IDENTITY_USER, WorkloadIdentityPool,
    service_accounts_for_annotated_service_accounts,
};
pub use error::{ApiError, GcpStartError, OAuthError};
pub use fake_gcs::{FAKE_GCS_SERVER_VAR, FakeGcs};
pub use grants::{
    ARTIFACT_REGISTRY_READER, CLUSTER_VIEWER, GCP_GRANTS_ANNOTATION, KMS_DECRYPTER,
    PUBSUB_PUBLISHER, ResourceBinding, STORAGE_OBJECT_VIEWER,
    resource_bindings_for_annotated_service_accounts,
};
pub use keys::{KeyError, ServiceAccountKey};
pub use policy::{GcpPolicy, PolicyError, PolicyProvider, load_policy};
pub use state::TokenInfo;

use state::GcpState;

/// The running GCP stand-ins. Dropping them stops the servers too; [`GcpStandIns::shutdown`]
/// also waits for them.
pub struct GcpStandIns {
    state: Arc<GcpState>,
    sts: SocketAddr,
    iam: SocketAddr,
    metadata: SocketAddr,
    container: SocketAddr,
    apis: SocketAddr,
    gcs: Option<FakeGcs>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for GcpStandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcpStandIns")
            .field("sts", &self.sts_token_url())
            .field("iam", &self.iam_credentials_url())
            .field("oauth", &self.oauth_token_url())
            .field("metadata", &self.metadata_host())
            .field("container", &self.container_url())
            .finish_non_exhaustive()
    }
}

impl GcpStandIns {
    /// Binds one loopback port per service and serves them in background tasks. Returns once
    /// all are listening.
    pub async fn start(config: GcpConfig) -> Result<GcpStandIns, GcpStartError> {
        let (sts_listener, sts) = server::bind().await?;
        let (iam_listener, iam) = server::bind().await?;
        let (oauth_listener, oauth) = server::bind().await?;
        let (metadata_listener, metadata) = server::bind().await?;
        let (container_listener, container) = server::bind().await?;
        let (apis_listener, apis) = server::bind().await?;
        let token_uri = format!("http://{oauth}{}", oauth::PATH);
        let state = Arc::new(GcpState::new(config, token_uri));
        let (stop, stopped) = watch::channel(false);
        let shared = || Arc::clone(&state);
        let tasks = vec![
            server::serve(sts_listener, sts::router(shared()), stopped.clone()),
            server::serve(iam_listener, iam::router(shared()), stopped.clone()),
            server::serve(oauth_listener, oauth::router(shared()), stopped.clone()),
            server::serve(
                metadata_listener,
                metadata::router(shared()),
                stopped.clone(),
            ),
            server::serve(
                container_listener,
                container::router(shared()),
                stopped.clone(),
            ),
            server::serve(apis_listener, apis::router(shared()), stopped),
        ];
        tracing::info!(%sts, %iam, %oauth, %metadata, %container, %apis, "GCP stand-ins listening");
        Ok(GcpStandIns {
            state,
            sts,
            iam,
            metadata,
            container,
            apis,
            gcs: None,
            stop,
            tasks,
        })
    }

    /// STS's exchange URL (an `external_account`'s `token_url`),
    /// `http://127.0.0.1:PORT/v1/token`.
    pub fn sts_token_url(&self) -> String {
        format!("http://{}{}", self.sts, sts::PATH)
    }

    /// The IAM Credentials base URL, `http://127.0.0.1:PORT` (requests go to
    /// `/v1/projects/-/serviceAccounts/<email>:generateAccessToken`).
    pub fn iam_credentials_url(&self) -> String {
        format!("http://{}", self.iam)
    }

    /// An `external_account`'s `service_account_impersonation_url` for `email`.
    pub fn impersonation_url(&self, email: &str) -> String {
        format!(
            "{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
            self.iam_credentials_url()
        )
    }

    /// The OAuth token endpoint (a key file's `token_uri`), `http://127.0.0.1:PORT/token`.
    pub fn oauth_token_url(&self) -> String {
        self.state.token_uri.clone()
    }

    /// The metadata server as `GCE_METADATA_HOST` takes it: `127.0.0.1:PORT`.
    pub fn metadata_host(&self) -> String {
        self.metadata.to_string()
    }

    /// The GKE API base URL, `http://127.0.0.1:PORT` (`clusters.get` is
    /// `/v1/projects/P/locations/L/clusters/C`).
    pub fn container_url(&self) -> String {
        format!("http://{}", self.container)
    }

    /// What a GKE API server does with a bearer token: the user a Google access token these
    /// stand-ins issued (and that has not expired) authenticates as, its service account's
    /// email, else its principal. Hand it to [`crate::Sandbox::accept_bearer_tokens`] to let
    /// the sandbox's API server take these tokens as GKE's takes Google's.
    pub fn gke_authenticator(&self) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let state = Arc::clone(&self.state);
        move |token| {
            let info = state.lookup(token)?.info;
            Some(info.service_account.unwrap_or(info.principal))
        }
    }

    /// The base URL of the Google APIs the access checks call (Cloud Storage, Cloud KMS,
    /// Pub/Sub, Artifact Registry), `http://127.0.0.1:PORT`: the value of
    /// `KUBECRED_GCP_STORAGE_URL`, `KUBECRED_GCP_KMS_URL`, `KUBECRED_GCP_PUBSUB_URL` and
    /// `KUBECRED_GCP_ARTIFACTREGISTRY_URL`.
    pub fn apis_url(&self) -> String {
        format!("http://{}", self.apis)
    }

    /// Keeps `gcs` (the Cloud Storage behind [`GcpStandIns::apis_url`]) running as long as
    /// these stand-ins.
    pub fn keep_gcs(&mut self, gcs: FakeGcs) {
        self.gcs = Some(gcs);
    }

    /// Creates a key for a configured service account (or the node's): the JSON key file,
    /// whose `token_uri` is [`GcpStandIns::oauth_token_url`].
    pub fn create_key(&self, email: &str) -> Result<ServiceAccountKey, KeyError> {
        keys::create(&self.state, email)
    }

    /// Who `access_token` stands for, if these stand-ins issued it and it has not expired:
    /// the check a Google API (GCS, KMS, Pub/Sub stand-ins) makes of its bearer token.
    pub fn token_info(&self, access_token: &str) -> Option<TokenInfo> {
        self.state.lookup(access_token).map(|issued| issued.info)
    }

    /// Successful calls so far of `action`: `sts.token`, `iamcredentials.generateAccessToken`,
    /// `oauth2.token`, `metadata.token` or `container.clusters.get`.
    pub fn calls(&self, action: &str) -> u64 {
        self.state.calls(action)
    }

    /// Stops accepting connections, lets open requests finish (up to 5 s) and waits for the
    /// servers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            server::join(task).await;
        }
        drop(self.gcs);
    }
}
