//! An `authorized_user` file (what `gcloud auth application-default login` writes): a user's
//! OAuth client and refresh token, for an access token through the refresh-token grant (RFC 6749
//! §6) at Google's token endpoint (or the file's `token_uri`, checked as a key's is). The client
//! secret and the refresh token are [`Secret`]s; no error shows a value.

use serde::Deserialize;
use url::Url;

use super::json::{self, field_error};
use super::key::check_universe;
use super::urls::{self, Endpoints, Service};
use super::wire;
use crate::Secret;
use crate::credential::AccessToken;
use crate::error::Result;
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;

const WHAT: &str = "GCP authorized_user file";
const ACTION: &str = "refresh the authorized user's token";
/// Google's token endpoint, when the file names none.
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

#[derive(Deserialize)]
struct RawUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    token_uri: Option<String>,
    universe_domain: Option<String>,
}

/// A checked `authorized_user` file.
#[derive(Clone, Debug)]
pub struct AuthorizedUser {
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
    token_uri: Url,
}

impl AuthorizedUser {
    /// Parses and checks a file (its `type` already read as `authorized_user`).
    pub fn parse(json: &str, endpoints: Endpoints) -> Result<Self> {
        let raw: RawUser = json::parse(json, WHAT)?;
        let client_secret = Secret::new(raw.client_secret);
        let refresh_token = Secret::new(raw.refresh_token);
        check_universe(WHAT, raw.universe_domain.as_deref())?;
        let uri = raw.token_uri.as_deref().unwrap_or(TOKEN_URI);
        let token_uri = urls::google_url_unshown(uri, Service::OAuthToken, endpoints)
            .map_err(|why| field_error(WHAT, "token_uri", why))?;
        for (field, value) in [
            ("client_id", raw.client_id.as_str()),
            ("client_secret", client_secret.expose()),
            ("refresh_token", refresh_token.expose()),
        ] {
            if value.is_empty() {
                return Err(field_error(WHAT, field, "empty"));
            }
        }
        Ok(AuthorizedUser {
            client_id: raw.client_id,
            client_secret,
            refresh_token,
            token_uri,
        })
    }
}

/// The user's access token (its scopes are the refresh token's: those Google answers with,
/// else `scopes`).
pub(crate) async fn access_token(
    user: &AuthorizedUser,
    scopes: &[String],
    proxy: Option<&Url>,
    timeouts: &Timeouts,
    now: std::time::SystemTime,
) -> Result<AccessToken> {
    let client = http::client(ACTION, Proxy::Request(proxy), timeouts)?;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", user.client_id.as_str()),
        ("client_secret", user.client_secret.expose()),
        ("refresh_token", user.refresh_token.expose()),
    ];
    tracing::debug!(token_uri = %user.token_uri, "GCP refresh-token grant");
    let mut answer = wire::token_grant(&client, &user.token_uri, &form, ACTION).await?;
    let granted = answer
        .scope
        .take()
        .map(|s| s.split_whitespace().map(str::to_owned).collect());
    answer.into_access_token(now, granted.unwrap_or_else(|| scopes.to_vec()), ACTION)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A token endpoint answering one request: a token if the body is the expected grant, else
    /// Google's `invalid_grant`.
    async fn token_endpoint() -> std::io::Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/token", listener.local_addr()?);
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = vec![0; 4096];
            while !String::from_utf8_lossy(&request).contains("refresh_token=") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).to_string();
            let expected = "grant_type=refresh_token&client_id=c.apps&client_secret=s3cr3t&refresh_token=1%2Fr3fr3sh";
            let (status, body) = match request.ends_with(expected) {
                true => (
                    "200 OK",
                    r#"{"access_token":"ya29.user","expires_in":3599,"scope":"openid https://www.googleapis.com/auth/cloud-platform","token_type":"Bearer"}"#,
                ),
                false => (
                    "400 Bad Request",
                    r#"{"error":"invalid_grant","error_description":"Bad Request"}"#,
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        });
        Ok(url)
    }

    fn user(token_uri: &str, refresh_token: &str) -> Result<AuthorizedUser> {
        let file = serde_json::json!({
            "type": "authorized_user",
            "client_id": "c.apps",
            "client_secret": "s3cr3t",
            "refresh_token": refresh_token,
            "token_uri": token_uri,
        });
        AuthorizedUser::parse(&file.to_string(), Endpoints::GoogleOrLoopback)
    }

    #[tokio::test]
    async fn the_refresh_token_grant_yields_the_users_token() -> Result<()> {
        let url = token_endpoint()
            .await
            .map_err(|e| crate::Error::invalid(e.to_string()))?;
        let now = std::time::UNIX_EPOCH;
        let token = access_token(
            &user(&url, "1/r3fr3sh")?,
            &[],
            None,
            &Timeouts::default(),
            now,
        )
        .await?;
        assert_eq!(token.token.expose(), "ya29.user");
        assert_eq!(
            token.scopes,
            ["openid", "https://www.googleapis.com/auth/cloud-platform"]
        );
        let url = token_endpoint()
            .await
            .map_err(|e| crate::Error::invalid(e.to_string()))?;
        let refused = access_token(
            &user(&url, "revoked")?,
            &[],
            None,
            &Timeouts::default(),
            now,
        )
        .await;
        let error = refused.err().map(|e| (e.is_denied(), e.to_string()));
        assert_eq!(
            error,
            Some((
                true,
                format!("{ACTION}: HTTP 400: invalid_grant: Bad Request")
            ))
        );
        Ok(())
    }

    #[test]
    fn files_are_checked_without_showing_values() {
        let error = |r: Result<AuthorizedUser>| r.err().map(|e| e.to_string()).unwrap_or_default();
        let foreign = error(user("https://evil.example/token", "1/r3fr3sh"));
        assert!(foreign.contains("field 'token_uri'"), "{foreign}");
        let debug = format!(
            "{:?}",
            user("https://oauth2.googleapis.com/token", "1/r3fr3sh")
        );
        assert!(
            !debug.contains("r3fr3sh") && !debug.contains("s3cr3t"),
            "{debug}"
        );
        let empty = error(user("https://oauth2.googleapis.com/token", ""));
        assert!(empty.contains("field 'refresh_token': empty"), "{empty}");
        let missing = error(AuthorizedUser::parse(
            r#"{"type":"authorized_user","client_id":"c"}"#,
            Endpoints::Google,
        ));
        assert!(missing.contains("client_secret"), "{missing}");
    }
}
