//! What every AWS call shares: the injected environment (region and endpoint overrides, named as
//! the AWS SDKs name them) and the conversion of [`AwsKeys`] into SDK credentials.
//!
//! Environment read here:
//! - `AWS_REGION`, then `AWS_DEFAULT_REGION`: the controller's region;
//! - `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_STS`), then `AWS_ENDPOINT_URL`: operator
//!   endpoint overrides (emulators, private endpoints), ignored when
//!   `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`. Unlike a request's `sts_endpoint`, these
//!   come from whoever runs the process and are trusted as given.

use std::time::SystemTime;

use aws_credential_types::Credentials;

use crate::Secret;
use crate::credential::AwsKeys;

/// The AWS variables of the environment, named as the AWS SDKs name them.
pub trait AwsVars {
    /// The controller's region: `AWS_REGION`, then `AWS_DEFAULT_REGION`.
    fn region(&self) -> Option<String>;
    /// The operator's endpoint override for a service (`STS`, `ECR`, `ECR_PUBLIC`, `EKS`, `S3`,
    /// `KMS`): `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, unless
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`.
    fn endpoint_url(&self, service: &str) -> Option<String>;
}

impl AwsVars for crate::Env {
    fn region(&self) -> Option<String> {
        self.var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
    }

    fn endpoint_url(&self, service: &str) -> Option<String> {
        if self
            .var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return None;
        }
        self.var(&format!("AWS_ENDPOINT_URL_{service}"))
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
    }
}

/// SDK credentials from keys.
pub(crate) fn sdk_credentials(keys: &AwsKeys) -> Credentials {
    Credentials::new(
        keys.access_key_id.clone(),
        keys.secret_access_key.expose().to_owned(),
        keys.session_token.as_ref().map(|t| t.expose().to_owned()),
        keys.expires_at,
        "kubecred",
    )
}

/// Keys from SDK credentials.
pub(crate) fn cloud_keys(credentials: &Credentials) -> AwsKeys {
    AwsKeys {
        access_key_id: credentials.access_key_id().to_owned(),
        secret_access_key: Secret::new(credentials.secret_access_key()),
        session_token: credentials.session_token().map(Secret::new),
        expires_at: credentials.expiry(),
    }
}

/// Keys from an STS `Credentials` answer.
pub(crate) fn sts_keys(credentials: &aws_sdk_sts::types::Credentials) -> AwsKeys {
    AwsKeys {
        access_key_id: credentials.access_key_id().to_owned(),
        secret_access_key: Secret::new(credentials.secret_access_key()),
        session_token: Some(Secret::new(credentials.session_token())),
        expires_at: SystemTime::try_from(*credentials.expiration()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_overrides_follow_the_sdk_convention() {
        let env = crate::Env::from_pairs(&[
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            env.endpoint_url("STS").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            env.endpoint_url("ECR").as_deref(),
            Some("http://127.0.0.1:2")
        );
        let ignored = crate::Env::from_pairs(&[
            ("AWS_ENDPOINT_URL_STS", "http://x"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(ignored.endpoint_url("STS"), None);
    }

    #[test]
    fn region_prefers_aws_region() {
        assert_eq!(
            crate::Env::from_pairs(&[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_DEFAULT_REGION", "us-east-1")
            ])
            .region()
            .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            crate::Env::from_pairs(&[("AWS_DEFAULT_REGION", "us-east-1")])
                .region()
                .as_deref(),
            Some("us-east-1")
        );
        assert_eq!(crate::Env::from_pairs(&[]).region(), None);
    }

    #[test]
    fn keys_round_trip_through_sdk_credentials() {
        let keys = AwsKeys {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("SECRET"),
            session_token: Some(Secret::new("TOKEN")),
            expires_at: Some(SystemTime::UNIX_EPOCH),
        };
        let back = cloud_keys(&sdk_credentials(&keys));
        assert_eq!(back.access_key_id, "AKID");
        assert_eq!(back.secret_access_key.expose(), "SECRET");
        assert_eq!(
            back.session_token.map(|t| t.expose().to_owned()).as_deref(),
            Some("TOKEN")
        );
        assert_eq!(back.expires_at, Some(SystemTime::UNIX_EPOCH));
    }
}
