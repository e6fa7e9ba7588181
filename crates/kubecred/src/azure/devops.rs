//! Azure DevOps git credentials (`dev.azure.com`, `<org>.visualstudio.com`): an Entra token of
//! the resolved identity for Azure DevOps (`499b84ac-1321-427f-aa17-267ca6975798/.default`) as
//! the password of HTTP Basic authentication, expiring with the token.
//!
//! The username: Azure DevOps reads only the password of Basic authentication when it is an
//! Entra token (as with a PAT, "any non-empty username"). Git Credential Manager, for the
//! non-interactive identities kubecred has (managed identity, service principal, workload
//! identity federation), answers git with the identity's client id as the username and the
//! access token as the password (`AzureReposHostProvider`: `new GitCredential(mid |
//! sp.Id | fedOpts.ClientId, accessToken)`); kubecred does the same, the client id read from
//! the token's `appid`/`azp` claim, else [`FALLBACK_USERNAME`].
//!
//! Why not git's `authtype=Bearer` (git 2.46+, `capability[]=authtype` in the helper protocol,
//! answered with `authtype` and `credential` instead of `username` and `password`): Basic with
//! the token works with every git version and is what GCM sends; Bearer would need git to
//! announce the capability and a second answer shape in the CLI's helper; the reference's
//! `BearerToken` is the same token. A front door may still offer it when git announces it.
//!
//! The URL is not otherwise checked here beyond `https` and an Azure DevOps host (the
//! reference checked nothing; the token is not bound to a repository).

use url::Url;

use super::environment::DEVOPS_SCOPE;
use super::hosts::{dns_name, git_host};
use super::wire;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Request, Secret};

/// The username when the token names no client id (Azure DevOps takes any non-empty one).
pub const FALLBACK_USERNAME: &str = "kubecred";

/// Git credentials for the Azure DevOps repository `url`.
pub(crate) async fn git_credentials(
    engine: &Engine,
    url: &Url,
    request: &Request,
) -> Result<GitCredentials> {
    check_url(url)?;
    let scoped = Request {
        scopes: vec![DEVOPS_SCOPE.to_owned()],
        ..request.clone()
    };
    let token = engine.access_token(&scoped).await?;
    Ok(basic(token))
}

/// `https` on an Azure DevOps host (any port: the name decides whose server it is).
fn check_url(url: &Url) -> Result<()> {
    let host = url.host_str().and_then(dns_name);
    match (url.scheme(), host) {
        ("https", Some(host)) if git_host(&host) => Ok(()),
        _ => Err(Error::invalid(format!(
            "Azure DevOps git credentials are for https://dev.azure.com/... or https://<org>.visualstudio.com/... repositories, not {:?}",
            crate::request::redacted_url(url)
        ))),
    }
}

/// The token as Basic credentials: the client id (or [`FALLBACK_USERNAME`]) and the token.
fn basic(token: AccessToken) -> GitCredentials {
    let username = wire::token_client_id(&token.token).unwrap_or_else(|| FALLBACK_USERNAME.into());
    GitCredentials {
        username: Secret::new(username),
        password: token.token,
        expires_at: token.expires_at,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn token(claims: serde_json::Value) -> AccessToken {
        let jwt = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()));
        AccessToken {
            token: Secret::new(jwt),
            expires_at: UNIX_EPOCH + Duration::from_secs(1_735_689_600),
            scopes: vec![DEVOPS_SCOPE.into()],
        }
    }

    /// §4.3: the token is the credential and its expiry the credentials'.
    #[test]
    fn the_token_is_the_password_of_its_client_id() {
        let client = "11111111-2222-3333-4444-555555555555";
        let given = token(
            serde_json::json!({"appid": client, "aud": "499b84ac-1321-427f-aa17-267ca6975798"}),
        );
        let password = given.token.expose().to_owned();
        let credentials = basic(given);
        assert_eq!(credentials.username.expose(), client);
        assert_eq!(credentials.password.expose(), password);
        assert_eq!(
            credentials.expires_at,
            UNIX_EPOCH + Duration::from_secs(1_735_689_600)
        );
        let v2 = basic(token(serde_json::json!({"azp": client})));
        assert_eq!(v2.username.expose(), client);
        for claims in [
            serde_json::json!({}),
            serde_json::json!({"appid": "not-a-guid:x"}),
        ] {
            assert_eq!(basic(token(claims)).username.expose(), FALLBACK_USERNAME);
        }
        let opaque = AccessToken {
            token: Secret::new("opaque"),
            expires_at: UNIX_EPOCH,
            scopes: vec![],
        };
        assert_eq!(basic(opaque).username.expose(), FALLBACK_USERNAME);
    }

    #[test]
    fn only_https_devops_repositories_get_the_token() -> std::result::Result<(), url::ParseError> {
        for url in [
            "https://dev.azure.com/myorg/myproject/_git/myrepo",
            "https://myorg.visualstudio.com/myproject/_git/myrepo",
            "https://dev.azure.com:8443/myorg/myproject/_git/myrepo",
            "https://MyOrg@dev.azure.com/myorg/p/_git/r",
        ] {
            assert!(check_url(&Url::parse(url)?).is_ok(), "{url}");
        }
        for url in [
            "http://dev.azure.com/myorg/myproject/_git/myrepo",
            "https://other.example.com/whatever",
            "https://dev.azure.com.evil.example/o/p/_git/r",
            "https://a.b.visualstudio.com/p/_git/r",
            "ssh://ssh.dev.azure.com/v3/o/p/r",
        ] {
            let error = check_url(&Url::parse(url)?).err().map(|e| e.to_string());
            assert!(
                error.is_some_and(|e| e.contains("https://dev.azure.com/")),
                "{url}"
            );
        }
        Ok(())
    }
}
