//! What an exchange produces: cloud keys, a bearer access token or a Kubernetes token, each
//! with its absolute expiry. Secret parts are [`Secret`]s, so `Debug` is safe to log.

use std::time::SystemTime;

use crate::Secret;

/// A credential and its expiry.
#[derive(Clone, Debug)]
pub enum Credential {
    /// AWS keys: access key id, secret key, optional session token.
    AwsKeys(AwsKeys),
    /// A bearer access token (Azure, GCP, Entra, registry).
    AccessToken(AccessToken),
    /// A Kubernetes ServiceAccount token (the `generic` provider).
    KubernetesToken(KubernetesToken),
}

/// AWS keys (`Debug` redacts the secret parts).
#[derive(Clone, Debug)]
pub struct AwsKeys {
    /// The access key id (not secret: it names the key).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary keys.
    pub session_token: Option<Secret>,
    /// When temporary keys expire; `None` for long-lived keys.
    pub expires_at: Option<SystemTime>,
}

/// A bearer access token (Azure, GCP), with the scopes it was granted for when the cloud says.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token.
    pub token: Secret,
    /// When it expires.
    pub expires_at: SystemTime,
    /// The OAuth scopes it carries (empty: not reported).
    pub scopes: Vec<String>,
}

/// A Kubernetes ServiceAccount token (a JWT signed by the cluster's issuer).
#[derive(Clone, Debug)]
pub struct KubernetesToken {
    /// The JWT.
    pub token: Secret,
    /// When it expires (its `exp` claim).
    pub expires_at: SystemTime,
}

impl KubernetesToken {
    /// A token someone presented, with its expiry from the `exp` claim (read, not verified: the
    /// party it is exchanged with verifies it).
    pub fn from_jwt(jwt: &str) -> crate::Result<Self> {
        let claims = crate::jwt::unverified_claims(jwt.trim())?;
        let exp = claims
            .exp
            .ok_or_else(|| crate::Error::invalid("the token has no exp claim"))?;
        let seconds = u64::try_from(exp)
            .map_err(|_| crate::Error::invalid("the token's exp claim is before 1970"))?;
        Ok(KubernetesToken {
            token: Secret::new(jwt.trim()),
            expires_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(seconds),
        })
    }

    /// The ServiceAccount the token names in its `sub` claim, as `(namespace, name)`.
    pub fn service_account(&self) -> crate::Result<(String, String)> {
        let claims = crate::jwt::unverified_claims(self.token.expose())?;
        let subject = claims
            .sub
            .ok_or_else(|| crate::Error::invalid("the token has no sub claim"))?;
        let (namespace, name) = crate::jwt::service_account_of(&subject)?;
        Ok((namespace.to_owned(), name.to_owned()))
    }
}

/// Credentials for a container registry login (`docker login` username and password).
#[derive(Clone, Debug)]
pub struct RegistryCredentials {
    /// The username (`AWS` for ECR, `oauth2accesstoken` for GAR, a fixed GUID for ACR).
    pub username: String,
    /// The password.
    pub password: Secret,
    /// When the password stops working.
    pub expires_at: SystemTime,
}

impl Credential {
    /// When the credential expires; `None` for long-lived keys (never cached).
    pub fn expires_at(&self) -> Option<SystemTime> {
        match self {
            Credential::AwsKeys(keys) => keys.expires_at,
            Credential::AccessToken(token) => Some(token.expires_at),
            Credential::KubernetesToken(token) => Some(token.expires_at),
        }
    }

    /// The kind's name, as the CLI's JSON output prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            // The CLI's JSON `kind` predates the variant's name; kept for scripts that read it.
            Credential::AwsKeys(_) => "CloudKeys",
            Credential::AccessToken(_) => "AccessToken",
            Credential::KubernetesToken(_) => "KubernetesToken",
        }
    }

    /// The AWS keys, or an error naming the kind the identity yielded instead.
    pub fn into_aws_keys(self) -> crate::Result<AwsKeys> {
        match self {
            Credential::AwsKeys(keys) => Ok(keys),
            other => Err(other.not_a("AWS keys")),
        }
    }

    /// The bearer access token, or an error naming the kind the identity yielded instead.
    pub fn into_access_token(self) -> crate::Result<AccessToken> {
        match self {
            Credential::AccessToken(token) => Ok(token),
            other => Err(other.not_a("an access token")),
        }
    }

    /// The Kubernetes token, or an error naming the kind the identity yielded instead.
    pub fn into_kubernetes_token(self) -> crate::Result<KubernetesToken> {
        match self {
            Credential::KubernetesToken(token) => Ok(token),
            other => Err(other.not_a("a Kubernetes token")),
        }
    }

    fn not_a(&self, expected: &str) -> crate::Error {
        crate::Error::upstream(format!(
            "expected {expected}, the identity yielded a {}",
            self.kind()
        ))
    }

    /// The bearer token, for the kinds that are one.
    pub fn bearer_token(&self) -> Option<&Secret> {
        match self {
            Credential::AwsKeys(_) => None,
            Credential::AccessToken(token) => Some(&token.token),
            Credential::KubernetesToken(token) => Some(&token.token),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn debug_redacts_every_secret_part() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let credentials = [
            Credential::AwsKeys(AwsKeys {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::new("wJalrXUtnFEMI-K7MDENG"),
                session_token: Some(Secret::new("FwoGZXIvYXdzE-session")),
                expires_at: Some(at),
            }),
            Credential::AccessToken(AccessToken {
                token: Secret::new("ya29.a0AfH6SM"),
                expires_at: at,
                scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
            }),
            Credential::KubernetesToken(KubernetesToken {
                token: Secret::new("eyJhbGciOiJSUzI1NiJ9"),
                expires_at: at,
            }),
        ];
        for credential in credentials {
            let shown = format!("{credential:?}");
            for value in ["wJalrXUtnFEMI", "FwoGZXIvYXdzE", "ya29.", "eyJhbGci"] {
                assert!(!shown.contains(value), "{shown}");
            }
            assert_eq!(credential.expires_at(), Some(at));
        }
    }
}
