//! Loopback stand-ins for the AWS services kubecred talks to, behaving as
//! AWS does (plain HTTP on 127.0.0.1, one port per service, like moto):
//!
//! - STS (`AssumeRoleWithWebIdentity` against the configured OIDC providers
//!   and trust policies, `AssumeRole` and `GetCallerIdentity` with SigV4
//!   verified by a hand-written verifier, presigned URLs included);
//! - EC2 IMDSv2 serving the node role's credentials;
//! - the EKS Pod Identity agent;
//! - ECR Public's `GetAuthorizationToken`;
//! - the service APIs workload keys are used for (S3, KMS, ECR, EKS, SQS; [`AwsStandIns::api_url`]),
//!   each call's permission checked against the role's policies;
//! - CodeCommit's git smart HTTP over HTTPS, checking SigV4 git credentials
//!   ([`AwsStandIns::start_codecommit`]);
//! - and [`AwsStandIns::verify_eks_token`], what an EKS authenticator does
//!   with a `k8s-aws-v1.` bearer token.
//!
//! Keys issued by any of them are remembered, so they can sign later calls.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

mod api;
mod auth;
mod codecommit;
mod codecommit_auth;
mod config;
mod ecr_public;
mod eks;
mod error;
mod grants;
mod http;
pub(crate) mod https;
mod ids;
mod imds;
mod permissions;
mod pod_identity;
mod policy;
pub(crate) mod server;
mod sigv4;
mod state;
mod sts;

pub use codecommit::CodeCommitStandIn;
pub use config::{
    AwsConfig, AwsResources, AwsRole, AwsUser, Bucket, EksCluster, PodIdentity,
    ROLE_ARN_ANNOTATION, Trust, roles_for_annotated_service_accounts,
};
pub use error::{AwsError, AwsStartError};
pub use grants::{AWS_GRANTS_ANNOTATION, SANDBOX_OBJECT, grants_for_annotated_service_accounts};
pub use https::HttpsStandIn;
pub use policy::{LoadedPolicy, load_policy};

use state::AwsState;

/// The running AWS stand-ins. Dropping them stops the servers too;
/// [`AwsStandIns::shutdown`] also waits for them.
pub struct AwsStandIns {
    state: Arc<AwsState>,
    sts: SocketAddr,
    imds: SocketAddr,
    pod_identity: SocketAddr,
    ecr_public: SocketAddr,
    api: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for AwsStandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsStandIns")
            .field("sts", &self.sts_url())
            .field("imds", &self.imds_url())
            .field("pod_identity", &self.pod_identity_url())
            .field("ecr_public", &self.ecr_public_url())
            .finish_non_exhaustive()
    }
}

impl AwsStandIns {
    /// Binds one loopback port per service and serves them in background
    /// tasks. Returns once all are listening.
    pub async fn start(config: AwsConfig) -> Result<AwsStandIns, AwsStartError> {
        let (sts_listener, sts) = server::bind().await?;
        let (imds_listener, imds) = server::bind().await?;
        let (pod_listener, pod_identity) = server::bind().await?;
        let (ecr_listener, ecr_public) = server::bind().await?;
        let (api_listener, api) = server::bind().await?;
        let state = Arc::new(AwsState::new(config, sts.to_string()));
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            server::serve(
                sts_listener,
                sts::router(Arc::clone(&state)),
                stopped.clone(),
            ),
            server::serve(
                imds_listener,
                imds::router(Arc::clone(&state)),
                stopped.clone(),
            ),
            server::serve(
                pod_listener,
                pod_identity::router(Arc::clone(&state)),
                stopped.clone(),
            ),
            server::serve(
                ecr_listener,
                ecr_public::router(Arc::clone(&state)),
                stopped.clone(),
            ),
            server::serve(api_listener, api::router(Arc::clone(&state)), stopped),
        ];
        tracing::info!(sts = %sts, imds = %imds, pod_identity = %pod_identity, ecr_public = %ecr_public, "AWS stand-ins listening");
        Ok(AwsStandIns {
            state,
            sts,
            imds,
            pod_identity,
            ecr_public,
            api,
            stop,
            tasks,
        })
    }

    /// The STS endpoint, `http://127.0.0.1:PORT`.
    pub fn sts_url(&self) -> String {
        format!("http://{}", self.sts)
    }

    /// The IMDS endpoint, `http://127.0.0.1:PORT`.
    pub fn imds_url(&self) -> String {
        format!("http://{}", self.imds)
    }

    /// The Pod Identity agent's full credentials URI,
    /// `http://127.0.0.1:PORT/v1/credentials`.
    pub fn pod_identity_url(&self) -> String {
        format!("http://{}{}", self.pod_identity, pod_identity::PATH)
    }

    /// The ECR Public API endpoint, `http://127.0.0.1:PORT`.
    pub fn ecr_public_url(&self) -> String {
        format!("http://{}", self.ecr_public)
    }

    /// The service APIs endpoint (S3, KMS, ECR, EKS, SQS on one port), `http://127.0.0.1:PORT`:
    /// what `AWS_ENDPOINT_URL_S3`, `_KMS`, `_ECR`, `_EKS` and `_SQS` point at. Calls are checked
    /// against [`AwsConfig::permissions`].
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }

    /// What an EKS authenticator does with a `k8s-aws-v1.` bearer token for
    /// `cluster_name`: decodes the presigned `GetCallerIdentity` URL, checks
    /// it targets this STS, signs `x-k8s-aws-id` and lasts at most 900 s,
    /// and verifies its signature with the cluster name as that header.
    /// Returns the caller's ARN.
    pub fn verify_eks_token(&self, token: &str, cluster_name: &str) -> Result<String, AwsError> {
        let arn = eks::verify(&self.state, token, cluster_name, crate::clock::unix_now())?;
        self.state.count("GetCallerIdentity");
        Ok(arn)
    }

    /// What an EKS cluster's authenticator does for the API server of cluster `cluster_name`:
    /// the caller's ARN for a valid `k8s-aws-v1.` token of that cluster. Hand it to
    /// [`crate::Sandbox::accept_bearer_tokens`] to let the sandbox's API server take the tokens
    /// `kubecred cluster credentials --provider aws` mints, as EKS's does.
    pub fn eks_authenticator(
        &self,
        cluster_name: &str,
    ) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
        let state = Arc::clone(&self.state);
        let cluster = cluster_name.to_owned();
        move |token| eks::verify(&state, token, &cluster, crate::clock::unix_now()).ok()
    }

    /// Successful calls so far of `action`: an STS action name
    /// (`AssumeRoleWithWebIdentity`, `AssumeRole`, `GetCallerIdentity` —
    /// which includes verified EKS tokens), `GetAuthorizationToken` (ECR
    /// Public), `ImdsCredentials` or `PodIdentityCredentials`.
    pub fn calls(&self, action: &str) -> u64 {
        self.state.calls(action)
    }

    /// Whether `password` is an unexpired ECR Public registry password this
    /// stand-in issued.
    pub fn ecr_public_password_valid(&self, password: &str) -> bool {
        ecr_public::password_valid(&self.state, password)
    }

    /// Starts a CodeCommit stand-in for `host` (e.g.
    /// `git-codecommit.us-east-1.amazonaws.com`) serving the empty repository
    /// `repository` over HTTPS on its own loopback port, with a certificate
    /// for `host` from a CA of its own. It verifies git credentials signed
    /// with any key these stand-ins know (users' keys, issued sessions).
    pub async fn start_codecommit(
        &self,
        host: &str,
        repository: &str,
    ) -> Result<CodeCommitStandIn, AwsStartError> {
        codecommit::start(Arc::clone(&self.state), host, repository).await
    }

    /// Serves STS (the same state: roles, users, call counts) over HTTPS as well, at
    /// `https://localhost:PORT` with a certificate from a CA of its own.
    pub async fn start_sts_https(&self) -> Result<HttpsStandIn, AwsStartError> {
        https::serve(
            sts::router(Arc::clone(&self.state)),
            &["localhost", "127.0.0.1"],
        )
        .await
    }

    /// Stops accepting connections, lets open requests finish (up to 5 s)
    /// and waits for the servers.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            server::join(task).await;
        }
    }
}
