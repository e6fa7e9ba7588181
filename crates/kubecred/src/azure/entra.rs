//! Entra ID token requests (OAuth 2.0 client credentials at `{authority}/{tenant}/oauth2/v2.0/token`)
//! through Microsoft's `azure_identity` crate: `ClientSecretCredential` for a client secret,
//! `ClientAssertionCredential` for everything proved by a signed JWT (a Kubernetes token of a
//! federated identity, a certificate's assertion from [`super::certificate`]).
//!
//! Each call builds its credential with kubecred's HTTP client (the request's proxy, the
//! engine's [`crate::Timeouts`]), the authority given (never read from the process environment)
//! and no retries (like every other exchange, bounded by the operation's deadline; a transient
//! failure is reported as such and the cache serves a still-valid token). The assertion is made
//! before the call, so `azure_identity` only ever sees a finished JWT.

use std::sync::Arc;
use std::time::SystemTime;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientMethodOptions, ClientOptions, RetryOptions, Transport};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions,
};
use url::Url;

use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::{Engine, Request, Secret};

/// An app registration (or managed identity) in a tenant, at an authority.
#[derive(Clone, Debug)]
pub(crate) struct App<'a> {
    pub(crate) authority: &'a Url,
    pub(crate) tenant: &'a str,
    pub(crate) client_id: &'a str,
}

/// How the app proves itself.
pub(crate) enum Proof<'a> {
    /// A client secret.
    Secret(&'a Secret),
    /// A signed JWT: a Kubernetes token (federated identity) or a certificate's assertion.
    Assertion(Secret),
}

/// A finished assertion handed to `azure_identity` (redacted `Debug`).
struct Finished(Secret);

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Finished(<redacted>)")
    }
}

#[async_trait::async_trait]
impl ClientAssertion for Finished {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self.0.expose().to_owned())
    }
}

/// An Entra ID access token of `app` for `scopes`.
pub(crate) async fn token(
    engine: &Engine,
    request: &Request,
    app: &App<'_>,
    proof: Proof<'_>,
    scopes: &[String],
) -> Result<AccessToken> {
    let options = client_options(engine, request, app.authority)?;
    let scope_refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let answer = match proof {
        Proof::Secret(secret) => {
            let credential = ClientSecretCredential::new(
                app.tenant,
                app.client_id.to_owned(),
                azure_core::credentials::Secret::new(secret.expose().to_owned()),
                Some(ClientSecretCredentialOptions {
                    client_options: options,
                }),
            )
            .map_err(|e| refused(e, app))?;
            credential.get_token(&scope_refs, None).await
        }
        Proof::Assertion(assertion) => {
            let credential = ClientAssertionCredential::new(
                app.tenant.to_owned(),
                app.client_id.to_owned(),
                Finished(assertion),
                Some(ClientAssertionCredentialOptions {
                    client_options: options,
                }),
            )
            .map_err(|e| refused(e, app))?;
            credential.get_token(&scope_refs, None).await
        }
    };
    let token = answer.map_err(|e| refused(e, app))?;
    Ok(AccessToken {
        token: Secret::new(token.token.secret().to_owned()),
        // `azure_identity` computes the expiry from the answer's `expires_in` and the system
        // clock.
        expires_at: SystemTime::from(token.expires_on),
        scopes: scopes.to_vec(),
    })
}

fn client_options(engine: &Engine, request: &Request, authority: &Url) -> Result<ClientOptions> {
    let client = http::client(
        "request an Entra ID token",
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    let mut custom = CustomConfiguration::default();
    custom.authority_host = authority.as_str().to_owned();
    let cloud = CloudConfiguration::from(custom);
    Ok(ClientOptions {
        transport: Some(Transport::new(Arc::new(client))),
        retry: RetryOptions::none(),
        cloud: Some(Arc::new(cloud)),
        ..ClientOptions::default()
    })
}

/// Entra's refusal or a failure to reach it, explained: what was asked of whom, Entra's own
/// description (an `AADSTS…` code and text; never the request's secret or assertion), and the
/// kind (denied, transient, invalid).
fn refused(error: azure_core::Error, app: &App<'_>) -> Error {
    let text = error.to_string();
    let text = text
        .split("\nTo troubleshoot")
        .next()
        .unwrap_or_default()
        .trim();
    // `azure_identity` prefixes "<Credential> authentication failed." to what Entra said.
    let said = text
        .split_once("authentication failed.")
        .map_or(text, |(_, rest)| rest)
        .trim();
    let whom = format!(
        "Entra ID token for client {} in tenant {} at {}",
        app.client_id,
        app.tenant,
        app.authority.as_str()
    );
    match error.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let code = u16::from(*status);
            let message = format!("{whom}: HTTP {code}: {said}");
            match code {
                429 | 500..=599 => Error::transient(message),
                400 | 401 | 403 => Error::denied(message),
                _ => Error::upstream(message),
            }
        }
        ErrorKind::Io => Error::transient(format!("{whom}: cannot reach Entra ID: {said}")),
        _ => Error::invalid(format!("{whom}: {said}")),
    }
}
