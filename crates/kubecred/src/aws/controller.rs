//! Controller and node level: the credentials of the process's own environment, through the
//! official `aws-config` chain:
//!
//! 1. environment keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`);
//! 2. the shared config and credentials files (`AWS_PROFILE`, `AWS_CONFIG_FILE`,
//!    `AWS_SHARED_CREDENTIALS_FILE`, incl. `credential_process` and assume-role profiles);
//! 3. web identity (IRSA and non-EKS OIDC: `AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`,
//!    `AWS_ROLE_SESSION_NAME`);
//! 4. container credentials (EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` with
//!    `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`; ECS);
//! 5. EC2 instance metadata, IMDSv2 (the node's role; `AWS_EC2_METADATA_SERVICE_ENDPOINT`,
//!    `AWS_EC2_METADATA_DISABLED`).
//!
//! The chain reads the process environment itself (aws-config offers no public way to inject
//! one); kubecred's own reads go through the engine's [`crate::Env`]. A profile whose
//! `credential_process` runs kubecred back into this chain is stopped at its first re-entry
//! ([`super::process_loop`]).

use aws_config::BehaviorVersion;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::config::Region;
use aws_types::os_shim_internal::{Env, Fs};

use super::http::HttpClient;
use super::process_loop;
use super::sdk::cloud_keys;
use crate::credential::AwsKeys;
use crate::error::{Error, Result};
use crate::timeouts::Timeouts;

/// The keys of the default chain, in `region`. The chain's own STS calls (web identity,
/// assume-role profiles) go where the environment says (`AWS_ENDPOINT_URL_STS`, profiles):
/// aws-config builds their STS client from the environment only, so a request's STS endpoint
/// cannot reach them (see [`super::credentials::controller_level`]).
pub(crate) async fn default_chain(http: &HttpClient, region: &str) -> Result<AwsKeys> {
    let (env, fs) = (Env::real(), Fs::real());
    process_loop::refuse_reentry(&env)?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http.client())
        .timeout_config(http.timeout_config())
        .region(RegionProviderChain::first_try(Region::new(
            region.to_owned(),
        )));
    if let Some(files) = process_loop::guarded_profile_files(&env, &fs).await {
        loader = loader.profile_files(files);
    }
    let config = loader.load().await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| Error::not_configured("no AWS credentials provider is configured"))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| chain_error(e, CHAIN_SOURCES))?;
    Ok(cloud_keys(&credentials))
}

/// What the default chain tries, in order, for "no credentials found".
const CHAIN_SOURCES: &str = "no AWS credentials found in the environment (env keys, profile, \
                             web identity token file, EKS Pod Identity, instance metadata)";
/// What the node level tries.
const NODE_SOURCES: &str = "no AWS credentials found from the instance metadata service (IMDSv2; the node level tries \
     nothing else)";

/// The node's role from the instance metadata service (IMDSv2). The link-local service keeps
/// its client's own 1 s connect and read timeouts; `overall` bounds the calls with their retries.
pub(crate) async fn instance_metadata(timeouts: &Timeouts) -> Result<AwsKeys> {
    let client = aws_config::imds::Client::builder()
        .operation_timeout(timeouts.overall)
        .build();
    let provider = ImdsCredentialsProvider::builder()
        .imds_client(client)
        .build();
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| chain_error(e, NODE_SOURCES))?;
    Ok(cloud_keys(&credentials))
}

/// Classifies a credentials provider's failure; `not_found` says what was tried.
fn chain_error(error: CredentialsError, not_found: &str) -> Error {
    let detail = super::sdk_error::messages(&error);
    match error {
        CredentialsError::CredentialsNotLoaded(_) => {
            Error::not_configured(format!("{not_found}: {detail}"))
        }
        CredentialsError::ProviderTimedOut(_) => {
            Error::transient(format!("the AWS credentials provider timed out: {detail}"))
        }
        CredentialsError::InvalidConfiguration(_) => {
            Error::invalid(format!("invalid AWS credentials configuration: {detail}"))
        }
        _ => Error::upstream(format!("the AWS credentials provider failed: {detail}")),
    }
}
