//! Controller level: Application Default Credentials, in Google's order, read from the engine's
//! [`Env`] only, and only when a token is asked for (nothing is built eagerly):
//!
//! 1. `GOOGLE_APPLICATION_CREDENTIALS` names a file: a service-account key (JWT-bearer grant at
//!    its `token_uri`), an `external_account` configuration (subject token, STS exchange,
//!    impersonation if configured) or an `authorized_user` file (refresh-token grant);
//!    `impersonated_service_account` files are refused as not supported yet;
//! 2. gcloud's well-known file, `$CLOUDSDK_CONFIG/application_default_credentials.json` or
//!    `$HOME/.config/gcloud/application_default_credentials.json`, when it exists;
//! 3. the metadata server's token (GCE, GKE), as node level.
//!
//! These files are the operator's: their endpoints may be a loopback listener (the sandbox's
//! stand-ins) as well as Google's.

use std::path::{Path, PathBuf};

use url::Url;

use super::audience::IMPERSONATION_STS_SCOPE;
use super::authorized_user::{self, AuthorizedUser};
use super::external_account::ExternalAccount;
use super::json::{self, CredentialType};
use super::key::ServiceAccountKey;
use super::urls::Endpoints;
use super::{iam, jwt_bearer, metadata, sts, subject};
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::{Engine, Env, Request};

/// The variable naming the ADC file.
pub const CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The variable naming gcloud's configuration directory.
pub const CLOUDSDK_CONFIG_VAR: &str = "CLOUDSDK_CONFIG";
const WELL_KNOWN_FILE: &str = "application_default_credentials.json";

/// The controller's access token for `scopes`.
pub(crate) async fn access_token(
    engine: &Engine,
    request: &Request,
    scopes: &[String],
) -> Result<AccessToken> {
    let env = engine.env();
    if let Some(path) = env.var(CREDENTIALS_VAR) {
        return from_file(engine, request, scopes, Path::new(&path))
            .await
            .map_err(|e| e.within(format_args!("{CREDENTIALS_VAR} file {path}")));
    }
    if let Some(path) = well_known_file(env)
        && tokio::fs::try_exists(&path).await.unwrap_or(false)
    {
        return from_file(engine, request, scopes, &path)
            .await
            .map_err(|e| e.within(format_args!("gcloud's ADC file {}", path.display())));
    }
    metadata::node_token(env, engine.timeouts(), scopes)
        .await
        .map_err(|e| {
            e.within(format_args!(
                "no {CREDENTIALS_VAR} nor gcloud ADC file, so the metadata server"
            ))
        })
}

/// gcloud's ADC file: under `CLOUDSDK_CONFIG`, else `~/.config/gcloud`.
fn well_known_file(env: &Env) -> Option<PathBuf> {
    let dir = match env.var(CLOUDSDK_CONFIG_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env.var("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join(WELL_KNOWN_FILE))
}

async fn from_file(
    engine: &Engine,
    request: &Request,
    scopes: &[String],
    path: &Path,
) -> Result<AccessToken> {
    let text = crate::fs::read_bounded(path).await?;
    let endpoints = Endpoints::GoogleOrLoopback;
    match json::credential_type(&text)? {
        CredentialType::ServiceAccount => {
            let key = ServiceAccountKey::parse(&text, endpoints)?;
            key_token(engine, request, scopes, &key).await
        }
        CredentialType::ExternalAccount => {
            let account = ExternalAccount::parse(&text, endpoints)?;
            external(engine, request, scopes, &account).await
        }
        CredentialType::AuthorizedUser => {
            let user = AuthorizedUser::parse(&text, endpoints)?;
            let proxy = request.proxy.as_ref();
            let (timeouts, now) = (engine.timeouts(), engine.env().now());
            authorized_user::access_token(&user, scopes, proxy, timeouts, now).await
        }
        CredentialType::ImpersonatedServiceAccount => {
            Err(unsupported("impersonated_service_account"))
        }
    }
}

fn unsupported(kind: &str) -> Error {
    Error::invalid(format!(
        "type '{kind}' is not supported yet: use a service_account key, an \
         external_account configuration or an authorized_user file"
    ))
}

/// A service-account key's token (JWT-bearer grant at its `token_uri`).
pub(crate) async fn key_token(
    engine: &Engine,
    request: &Request,
    scopes: &[String],
    key: &ServiceAccountKey,
) -> Result<AccessToken> {
    let proxy = request.proxy.as_ref();
    jwt_bearer::access_token(key, scopes, proxy, engine.timeouts(), engine.env().now()).await
}

/// An external account's token: its subject token at STS, then impersonation if configured.
async fn external(
    engine: &Engine,
    request: &Request,
    scopes: &[String],
    account: &ExternalAccount,
) -> Result<AccessToken> {
    if account.client.is_some() {
        return Err(Error::invalid(
            "client_id (a workforce pool's OAuth client) is not supported yet",
        ));
    }
    let proxy = request.proxy.as_ref();
    let subject = subject::subject_token(account, engine.env(), proxy, engine.timeouts()).await?;
    let Some(impersonation) = &account.impersonation else {
        return exchange(engine, proxy, account, scopes, &subject).await;
    };
    // STS grants what impersonating needs; the service account's token carries the scopes.
    let sts_scopes = [IMPERSONATION_STS_SCOPE.to_owned()];
    let federated = exchange(engine, proxy, account, &sts_scopes, &subject).await?;
    let url = &impersonation.url;
    iam::generate_access_token(url, &federated.token, scopes, proxy, engine.timeouts()).await
}

async fn exchange(
    engine: &Engine,
    proxy: Option<&Url>,
    account: &ExternalAccount,
    scopes: &[String],
    subject: &crate::Secret,
) -> Result<AccessToken> {
    let exchange = sts::Exchange {
        url: &account.token_url,
        audience: &account.audience,
        scopes,
        proxy,
        timeouts: engine.timeouts(),
    };
    let kind = &account.subject_token_type;
    sts::exchange_typed(exchange, subject, kind, engine.env().now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_file_is_under_cloudsdk_config_else_home() {
        let file = |pairs: &[(&str, &str)]| well_known_file(&Env::from_pairs(pairs));
        assert_eq!(
            file(&[(CLOUDSDK_CONFIG_VAR, "/etc/gcloud"), ("HOME", "/home/u")]),
            Some(PathBuf::from(
                "/etc/gcloud/application_default_credentials.json"
            ))
        );
        assert_eq!(
            file(&[("HOME", "/home/u")]),
            Some(PathBuf::from(
                "/home/u/.config/gcloud/application_default_credentials.json"
            ))
        );
        assert_eq!(file(&[]), None);
    }
}
