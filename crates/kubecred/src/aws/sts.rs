//! The STS exchanges, as plain async functions: `AssumeRoleWithWebIdentity` (a Kubernetes
//! token for a role) and `AssumeRole` (role chaining, optional external ID).
//!
//! Endpoint: a request's `sts_endpoint` (checked by the caller with
//! [`super::hosts::sts_endpoint`], which returns the `https://<host>` to use; refused at
//! controller level), else the operator's `AWS_ENDPOINT_URL_STS`, else the regional endpoint
//! `sts.<region>.amazonaws.com`.

use aws_config::BehaviorVersion;
use aws_sdk_sts::config::Region;

use super::http::HttpClient;
use super::sdk::{sdk_credentials, sts_keys};
use super::sdk_error::sdk_error;
use crate::credential::AwsKeys;
use crate::error::{Error, Result};
use crate::{AssumeRole, Secret};

/// Chained role sessions cannot last longer than one hour (AWS limit for role chaining).
const CHAINED_SESSION_SECONDS: i32 = 3600;

/// An STS client for a region; `keys` sign the calls that need signing (`AssumeRole`).
pub(crate) fn client(
    http: &HttpClient,
    region: &str,
    endpoint: Option<&str>,
    keys: Option<&AwsKeys>,
) -> aws_sdk_sts::Client {
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http.client())
        .timeout_config(http.timeout_config())
        .region(Region::new(region.to_owned()));
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    if let Some(keys) = keys {
        config = config.credentials_provider(sdk_credentials(keys));
    }
    aws_sdk_sts::Client::from_conf(config.build())
}

/// Exchanges a Kubernetes token for the role's temporary keys.
pub(crate) async fn assume_role_with_web_identity(
    client: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    token: &Secret,
) -> Result<AwsKeys> {
    let output = client
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .web_identity_token(token.expose())
        .send()
        .await
        .map_err(|e| sdk_error(e, &format!("AssumeRoleWithWebIdentity {role_arn}")))?;
    let credentials = output
        .credentials()
        .ok_or_else(|| Error::upstream(format!("STS returned no credentials for {role_arn}")))?;
    Ok(sts_keys(credentials))
}

/// Assumes one role of a chain with the current keys.
pub(crate) async fn assume_role(
    client: &aws_sdk_sts::Client,
    hop: &AssumeRole,
    session_name: &str,
) -> Result<AwsKeys> {
    let output = client
        .assume_role()
        .role_arn(&hop.role_arn)
        .role_session_name(session_name)
        .set_external_id(hop.external_id.clone())
        .duration_seconds(CHAINED_SESSION_SECONDS)
        .send()
        .await
        .map_err(|e| sdk_error(e, &format!("AssumeRole {}", hop.role_arn)))?;
    let credentials = output.credentials().ok_or_else(|| {
        Error::upstream(format!("STS returned no credentials for {}", hop.role_arn))
    })?;
    Ok(sts_keys(credentials))
}
