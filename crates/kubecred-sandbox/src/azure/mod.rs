//! Loopback stand-ins for the Azure services kubecred talks to, behaving as Microsoft's do and
//! refusing in their error shapes. One port each; HTTPS with a certificate from a CA generated at
//! start ([`AzureStandIns::ca_pem`]), except IMDS, plain HTTP as the real one:
//!
//! - Entra ID: `POST /{tenant}/oauth2/v2.0/token` (client credentials with a client secret, a
//!   federated credential's token or a certificate-signed assertion; `AADSTS` refusals) and the
//!   metadata MSAL reads first;
//! - the managed-identity endpoint of IMDS for the node's identities;
//! - ACR's `POST /oauth2/exchange`;
//! - ARM's AKS `managedClusters` read and `listClusterUserCredential`;
//! - Blob storage in front of Azurite ([`AzureStandIns::start_azurite`]), Key Vault keys and
//!   Event Hubs sends, enforcing [`RoleGrant`]s (as ACR and ARM do with
//!   [`AzureConfig::require_role_assignments`]);
//! - [`load_policy`]: a `kubecred policy` JSON object as apps, federated credentials and grants;
//! - Azure DevOps git (`dev.azure.com`) smart-HTTP ref advertisement.
//!
//! Access tokens are RS256 JWTs with `iss = https://sts.windows.net/<tenant>/` (what Azurite
//! accepts) and `aud` following the requested scope.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

mod acr;
mod arm;
mod assertion;
mod azurite;
mod blob;
mod certificate;
mod config;
mod der;
mod devops;
mod entra;
mod error;
mod eventhubs;
mod form;
mod imds;
mod keyvault;
mod policy;
mod server;
mod state;
mod tls;

pub use azurite::{AZURITE_ACCOUNT, AZURITE_BLOB_VAR, Azurite};
pub use certificate::{AppCertificate, CertificateError};
pub use config::{
    ACR_AUDIENCE, ACR_PULL, AKS_AUDIENCE, AKS_CLUSTER_USER, ARM_AUDIENCE, AZURE_GRANTS_ANNOTATION,
    AksCluster, AzureConfig, CLIENT_ID_ANNOTATION, DEVOPS_AUDIENCE, DEVOPS_READING_GROUPS,
    DevOpsAccess, DevOpsEntitlement, DevOpsMembership, EVENT_HUBS_AUDIENCE, EVENT_HUBS_DATA_OWNER,
    EVENT_HUBS_DATA_SENDER, EntraApp, FederatedCredential, KEY_VAULT_AUDIENCE,
    KEY_VAULT_CRYPTO_USER, ManagedIdentity, NodeIdentities, RoleGrant, STORAGE_AUDIENCE,
    STORAGE_BLOB_DATA_CONTRIBUTOR, STORAGE_BLOB_DATA_READER, TENANT_ID_ANNOTATION,
    TOKEN_EXCHANGE_AUDIENCE, apps_for_annotated_service_accounts,
    grants_for_annotated_service_accounts,
};
pub use error::{AzureStartError, EntraError};
pub use policy::{PolicyError, load_policy};

use state::{AzureState, Identity};

/// The running Azure stand-ins. Dropping them stops the servers (and Azurite);
/// [`AzureStandIns::shutdown`] also waits for them.
pub struct AzureStandIns {
    state: Arc<AzureState>,
    ca: tls::Ca,
    entra: SocketAddr,
    imds: SocketAddr,
    acr: SocketAddr,
    arm: SocketAddr,
    blob: SocketAddr,
    keyvault: SocketAddr,
    eventhubs: SocketAddr,
    devops: SocketAddr,
    azurite: Option<Azurite>,
    stop: watch::Sender<bool>,
    tasks: Vec<server::Task>,
}

impl std::fmt::Debug for AzureStandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureStandIns")
            .field("tenant", &self.tenant_id())
            .field("authority_host", &self.authority_host())
            .field("imds", &self.imds_url())
            .finish_non_exhaustive()
    }
}

impl AzureStandIns {
    /// Generates the CA and the serving certificate, binds one loopback port per service and
    /// serves them in background tasks. Returns once all are listening.
    pub async fn start(config: AzureConfig) -> Result<AzureStandIns, AzureStartError> {
        let ca = tls::Ca::generate()?;
        let leaf = ca.leaf(&tls::SERVER_NAMES)?;
        let (stop, stopped) = watch::channel(false);
        // Entra's own URL goes into the state, so it binds first.
        let (entra_listener, entra) = crate::aws::server::bind().await?;
        let state = AzureState::new(config, format!("https://{entra}"), ca.pem.clone())
            .map_err(|_| AzureStartError::new("cannot generate the token signing key", None))?;
        let state = Arc::new(state);
        let shared = || Arc::clone(&state);
        let mut tasks = Vec::new();
        let entra_tls =
            crate::tls::TlsListener::new(entra_listener, entra, Arc::clone(&leaf.server));
        let mut entra_stop = stopped.clone();
        let entra_app = entra::router(shared());
        tasks.push(tokio::spawn(async move {
            axum::serve(entra_tls, entra_app)
                .with_graceful_shutdown(async move {
                    let _ = entra_stop.wait_for(|stopped| *stopped).await;
                })
                .await
        }));
        let (imds, task) = server::http(imds::router(shared()), stopped.clone()).await?;
        tasks.push(task);
        let mut https = async |app| -> Result<SocketAddr, AzureStartError> {
            let (address, task) =
                server::https(app, Arc::clone(&leaf.server), stopped.clone()).await?;
            tasks.push(task);
            Ok(address)
        };
        let acr = https(acr::router(shared())).await?;
        let arm = https(arm::router(shared())).await?;
        let blob = https(blob::router(shared())).await?;
        let keyvault = https(keyvault::router(shared())).await?;
        let eventhubs = https(eventhubs::router(shared())).await?;
        let devops = https(devops::router(shared())).await?;
        tracing::info!(%entra, %imds, %acr, %arm, %blob, %keyvault, %eventhubs, %devops, "Azure stand-ins listening");
        Ok(AzureStandIns {
            state,
            ca,
            entra,
            imds,
            acr,
            arm,
            blob,
            keyvault,
            eventhubs,
            devops,
            azurite: None,
            stop,
            tasks,
        })
    }

    /// The tenant id.
    pub fn tenant_id(&self) -> &str {
        &self.state.config.tenant_id
    }

    /// The CA (PEM) of every HTTPS stand-in's certificate and of Azurite's: what clients trust
    /// (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, a custom transport).
    pub fn ca_pem(&self) -> &str {
        &self.ca.pem
    }

    /// Entra's authority host, `https://127.0.0.1:PORT/` (`AZURE_AUTHORITY_HOST`).
    pub fn authority_host(&self) -> String {
        format!("https://{}/", self.entra)
    }

    /// The token endpoint, `https://127.0.0.1:PORT/<tenant>/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!(
            "https://{}/{}/oauth2/v2.0/token",
            self.entra,
            self.tenant_id()
        )
    }

    /// IMDS's base URL, `http://127.0.0.1:PORT` (`KUBECRED_AZURE_IMDS_URL`).
    pub fn imds_url(&self) -> String {
        format!("http://{}", self.imds)
    }

    /// ACR's base URL, `https://127.0.0.1:PORT` (`KUBECRED_AZURE_ACR_URL`).
    pub fn acr_url(&self) -> String {
        format!("https://{}", self.acr)
    }

    /// ARM's base URL (`KUBECRED_AZURE_ARM_URL`).
    pub fn arm_url(&self) -> String {
        format!("https://{}", self.arm)
    }

    /// The Blob stand-in's base URL, path-style `/<account>/<container>`
    /// (`KUBECRED_AZURE_BLOB_URL`).
    pub fn blob_url(&self) -> String {
        format!("https://{}", self.blob)
    }

    /// Key Vault's base URL, `/<vault>/keys/<key>` (`KUBECRED_AZURE_KEYVAULT_URL`).
    pub fn keyvault_url(&self) -> String {
        format!("https://{}", self.keyvault)
    }

    /// Event Hubs' base URL, `/<namespace>/<hub>/…` (`KUBECRED_AZURE_EVENTHUBS_URL`).
    pub fn eventhubs_url(&self) -> String {
        format!("https://{}", self.eventhubs)
    }

    /// The DevOps git stand-in's base URL, `https://127.0.0.1:PORT` (`KUBECRED_AZURE_DEVOPS_URL`,
    /// where `kubecred explain --git` reads a repository's refs; git itself resolves
    /// `dev.azure.com` to it).
    pub fn devops_url(&self) -> String {
        format!("https://{}", self.devops)
    }

    /// The port on 127.0.0.1 of the Azure DevOps git stand-in, whose certificate names
    /// `dev.azure.com` (git: `-c http.curloptResolve=dev.azure.com:PORT:127.0.0.1`).
    pub fn devops_port(&self) -> u16 {
        self.devops.port()
    }

    /// The clone URL of `org/project/repo` at the DevOps stand-in,
    /// `https://dev.azure.com:PORT/<org>/<project>/_git/<repo>`.
    pub fn devops_repository_url(&self, org: &str, project: &str, repo: &str) -> String {
        format!(
            "https://dev.azure.com:{}/{org}/{project}/_git/{repo}",
            self.devops_port()
        )
    }

    /// The variables that point a shell (kubecred, `@azure/identity`) at these stand-ins:
    /// `AZURE_AUTHORITY_HOST`, `AZURE_TENANT_ID` and `KUBECRED_AZURE_{IMDS,ACR,ARM,BLOB,
    /// KEYVAULT,EVENTHUBS,DEVOPS}_URL`. The CA is not among them: write [`AzureStandIns::ca_pem`] to a
    /// file and name it in the client's trust variable.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_AUTHORITY_HOST", self.authority_host()),
            ("AZURE_TENANT_ID", self.tenant_id().to_owned()),
            ("KUBECRED_AZURE_IMDS_URL", self.imds_url()),
            ("KUBECRED_AZURE_ACR_URL", self.acr_url()),
            ("KUBECRED_AZURE_ARM_URL", self.arm_url()),
            ("KUBECRED_AZURE_BLOB_URL", self.blob_url()),
            ("KUBECRED_AZURE_KEYVAULT_URL", self.keyvault_url()),
            ("KUBECRED_AZURE_EVENTHUBS_URL", self.eventhubs_url()),
            ("KUBECRED_AZURE_DEVOPS_URL", self.devops_url()),
        ]
    }

    /// What an AKS API server with Entra integration does with a bearer token: the user (the
    /// token's `oid`) an unexpired access token of these stand-ins for the AKS audience
    /// ([`AKS_AUDIENCE`]) authenticates as. Hand it to
    /// [`crate::Sandbox::accept_bearer_tokens`].
    pub fn aks_authenticator(&self) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let state = Arc::clone(&self.state);
        move |token| state.verify(token, &[AKS_AUDIENCE]).ok().map(|c| c.oid)
    }

    /// An access token as Entra would issue it to app (or identity) `client_id` for `resource`
    /// (a token audience, e.g. [`STORAGE_AUDIENCE`]), valid from `not_before` (Unix seconds) for
    /// `lifetime_seconds`: for tests of resource servers, e.g. an expired token for Azurite.
    pub fn access_token(
        &self,
        client_id: &str,
        resource: &str,
        not_before: i64,
        lifetime_seconds: i64,
    ) -> Option<String> {
        let identity = Identity {
            client_id: client_id.to_owned(),
            object_id: EntraApp::new(client_id).principal_id(),
            auth_method: 1,
            resource_id: None,
        };
        self.state
            .access_token(&identity, resource, not_before, lifetime_seconds)
    }

    /// Starts Azurite (HTTPS with a certificate from [`AzureStandIns::ca_pem`], `--oauth basic`)
    /// as the Blob service behind [`AzureStandIns::blob_url`], kept as long as these stand-ins.
    pub async fn start_azurite(&mut self) -> Result<&Azurite, AzureStartError> {
        let leaf = self.ca.leaf(&["127.0.0.1", "localhost"])?;
        let azurite = Azurite::start(&leaf, &self.ca.pem).await?;
        *state::lock(&self.state.blob_upstream) = Some(azurite.url().to_owned());
        Ok(self.azurite.insert(azurite))
    }

    /// The running Azurite, if [`AzureStandIns::start_azurite`] started it.
    pub fn azurite(&self) -> Option<&Azurite> {
        self.azurite.as_ref()
    }

    /// Successful calls so far of `action`: `entra.token`, `imds.token`, `acr.exchange`,
    /// `arm.managedClusters.get`, `arm.listClusterUserCredential`, `blob.request`,
    /// `keyvault.keys.get`, `eventhubs.send`, `eventhubs.get`, `devops.info_refs`; and
    /// `devops.refused`.
    pub fn calls(&self, action: &str) -> u64 {
        self.state.calls(action)
    }

    /// Stops accepting connections, lets open requests finish (up to 5 s), waits for the
    /// servers and stops Azurite.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            server::join(task).await;
        }
        drop(self.azurite);
    }
}
