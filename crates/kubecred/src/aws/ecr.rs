//! ECR registry login: `GetAuthorizationToken` with resolved keys, decoded into a `docker login`
//! username and password.
//!
//! - Private registries (`<account>.dkr.ecr.<region>.amazonaws.com`): ECR in the host's region,
//!   `POST https://api.ecr.<region>.amazonaws.com/`; override with `AWS_ENDPOINT_URL_ECR`.
//! - ECR Public (`public.ecr.aws`): ECR Public in `us-east-1`,
//!   `POST https://api.ecr-public.us-east-1.amazonaws.com/`; override with
//!   `AWS_ENDPOINT_URL_ECR_PUBLIC`.
//!
//! (`AWS_ENDPOINT_URL` applies to both; see [`Env`].) The token is base64 of `user:password`
//! (the user is normally `AWS`); its expiry is the API's (12 hours on AWS; moto answers with an
//! already expired date, which is reported as is).

use std::time::SystemTime;

use aws_sdk_ecr::config::{BehaviorVersion, Region};
use aws_smithy_types::DateTime;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::http::{self, HttpClient, Transport};
use super::parse::EcrRegistry;
use super::sdk::{AwsVars, sdk_credentials};
use super::sdk_error::sdk_error;
use crate::Env;
use crate::error::{Error, Result};
use crate::{AwsKeys, Provider, RegistryCredentials, Secret};

const STEP: &str = "get ECR authorization token";

/// Logs in to an ECR registry (private or public) with resolved keys, through the transport's
/// proxy if given (else the proxy environment variables, as [`crate::Request::proxy`]
/// describes) and within its timeouts.
pub async fn login(
    registry: &EcrRegistry,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<RegistryCredentials> {
    let result = async {
        let http = http::client(transport)?;
        match registry {
            EcrRegistry::Private { region } => private_token(&http, region, keys, env).await,
            EcrRegistry::Public => public_token(&http, keys, env).await,
        }
    }
    .await;
    result.map_err(|e| e.at(STEP).for_provider(Provider::Aws))
}

async fn private_token(
    http: &HttpClient,
    region: &str,
    keys: &AwsKeys,
    env: &Env,
) -> Result<RegistryCredentials> {
    let mut builder = aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http.client())
        .timeout_config(http.timeout_config())
        .region(Region::new(region.to_owned()))
        .credentials_provider(sdk_credentials(keys));
    builder.set_endpoint_url(env.endpoint_url("ECR"));
    let config = builder.build();
    let output = aws_sdk_ecr::Client::from_conf(config)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| sdk_error(e, &format!("region {region}")))?;
    let data = output.authorization_data().first();
    decode(data.map(|d| (d.authorization_token(), d.expires_at())))
}

async fn public_token(http: &HttpClient, keys: &AwsKeys, env: &Env) -> Result<RegistryCredentials> {
    let mut builder = aws_sdk_ecrpublic::Config::builder()
        .behavior_version(aws_sdk_ecrpublic::config::BehaviorVersion::latest())
        .http_client(http.client())
        .timeout_config(http.timeout_config())
        .region(aws_sdk_ecrpublic::config::Region::new(
            super::parse::ECR_PUBLIC_REGION,
        ))
        .credentials_provider(sdk_credentials(keys));
    builder.set_endpoint_url(env.endpoint_url("ECR_PUBLIC"));
    let config = builder.build();
    let output = aws_sdk_ecrpublic::Client::from_conf(config)
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| sdk_error(e, "ECR Public, region us-east-1"))?;
    let data = output.authorization_data();
    decode(data.map(|d| (d.authorization_token(), d.expires_at())))
}

/// Decodes the API's authorization data: `(token, expiry)` of the first entry, if any.
fn decode(data: Option<(Option<&str>, Option<&DateTime>)>) -> Result<RegistryCredentials> {
    let (token, expires_at) =
        data.ok_or_else(|| Error::upstream("no authorization data returned"))?;
    let token = token.ok_or_else(|| Error::upstream("authorization token is missing"))?;
    let expires_at =
        expires_at.ok_or_else(|| Error::upstream("authorization token expiration is missing"))?;
    let expires_at = SystemTime::try_from(*expires_at)
        .map_err(|_| Error::upstream("authorization token expiration is out of range"))?;
    let (username, password) = split_token(token)?;
    Ok(RegistryCredentials {
        username,
        password,
        expires_at,
    })
}

/// Splits base64(`user:password`); errors never show the token.
fn split_token(token: &str) -> Result<(String, Secret)> {
    let decoded = STANDARD
        .decode(token.trim())
        .map_err(|_| Error::upstream("failed to parse authorization token: not valid base64"))?;
    let decoded = Secret::new(
        String::from_utf8(decoded)
            .map_err(|_| Error::upstream("failed to parse authorization token: not UTF-8"))?,
    );
    let parts: Vec<&str> = decoded.expose().split(':').collect();
    match parts.as_slice() {
        [user, password] => Ok(((*user).to_owned(), Secret::new(*password))),
        _ => Err(Error::upstream(
            "invalid authorization token format: expected 'user:password'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn message<T>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn token_decodes_into_username_and_password() {
        let at = DateTime::from_secs(1_700_000_000);
        let token = STANDARD.encode("username:password");
        let credentials = decode(Some((Some(&token), Some(&at)))).map_err(|e| e.to_string());
        let credentials = credentials
            .as_ref()
            .map(|c| (c.username.as_str(), c.password.expose(), c.expires_at));
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(credentials, Ok(("username", "password", expected)));
    }

    #[test]
    fn each_missing_part_has_its_message() {
        let at = DateTime::from_secs(0);
        let token = STANDARD.encode("AWS:pw");
        assert_eq!(message(decode(None)), "no authorization data returned");
        assert_eq!(
            message(decode(Some((None, Some(&at))))),
            "authorization token is missing"
        );
        assert_eq!(
            message(decode(Some((Some(&token), None)))),
            "authorization token expiration is missing"
        );
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        let at = DateTime::from_secs(0);
        for (token, expected) in [
            ("!!not-base64-s3cr3t!!".to_owned(), "not valid base64"),
            (
                STANDARD.encode("s3cr3t-without-colon"),
                "invalid authorization token format",
            ),
            (
                STANDARD.encode("AWS:s3cr3t:extra"),
                "invalid authorization token format",
            ),
            (STANDARD.encode([0xff, 0xfe, b':', b'x']), "not UTF-8"),
        ] {
            let shown = message(decode(Some((Some(&token), Some(&at)))));
            assert!(shown.contains(expected), "{shown}");
            assert!(
                !shown.contains("s3cr3t") && !shown.contains(&token),
                "{shown}"
            );
        }
    }
}
