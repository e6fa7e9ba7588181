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
//!
//! The transport ([`EntraTransport`]) reads every answer whole but bounded, and hands
//! `azure_identity` Entra's refusals with the line breaks of `error_description` made spaces:
//! `azure_identity` 1.0 borrows that field as `&str`, which serde cannot do for a JSON string
//! with escapes, and Entra's descriptions always carry `\r\n` ("…\r\nTrace ID: …"), so every
//! real refusal would otherwise surface as a parsing error instead of Entra's text.

use std::sync::Arc;
use std::time::SystemTime;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{
    AsyncRawResponse, ClientMethodOptions, ClientOptions, HttpClient, RetryOptions, Transport,
};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions,
};
use futures_util::StreamExt as _;
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
        transport: Some(Transport::new(Arc::new(EntraTransport(client)))),
        retry: RetryOptions::none(),
        cloud: Some(Arc::new(cloud)),
        ..ClientOptions::default()
    })
}

/// kubecred's reqwest client, answers bounded and Entra's refusals made readable (see the module
/// docs).
#[derive(Debug)]
struct EntraTransport(reqwest::Client);

/// The largest Entra answer read (a token answer is a few KB).
const MAX_ANSWER: usize = 256 * 1024;

#[async_trait::async_trait]
impl HttpClient for EntraTransport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<AsyncRawResponse> {
        let answer = self.0.execute_request(request).await?;
        let (status, headers, mut body) = answer.deconstruct();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(azure_core::Error::with_message(
                    ErrorKind::Io,
                    format!("Entra ID's answer is larger than {MAX_ANSWER} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            bytes = readable_refusal(u16::from(status), bytes);
        }
        Ok(AsyncRawResponse::from_bytes(status, headers, bytes))
    }
}

/// A refusal as `azure_identity` can read it: Entra's OAuth error with `error_description` on
/// one line and without characters JSON must escape (it is borrowed unescaped); any other answer
/// (a proxy's HTML page, an empty body) becomes such an error naming the status, so that the
/// status still decides whether it is transient.
fn readable_refusal(status: u16, bytes: Vec<u8>) -> Vec<u8> {
    let mut answer = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|a| a.get("error_description").is_some_and(|d| d.is_string()))
        .unwrap_or_else(|| {
            serde_json::json!({
                "error": "http_error",
                "error_description": format!("HTTP {status} without an Entra ID error answer"),
            })
        });
    let description = answer["error_description"].as_str().unwrap_or_default();
    let plain: String = description
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    answer["error_description"] =
        serde_json::Value::from(plain.split_whitespace().collect::<Vec<_>>().join(" "));
    serde_json::to_vec(&answer).unwrap_or(bytes)
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
    // `azure_identity` wraps the pipeline's error in a `Credential` one: the kind that says
    // what happened is the wrapped error's.
    let cause = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<azure_core::Error>())
        .unwrap_or(&error);
    match cause.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let code = u16::from(*status);
            let message = format!("{whom}: HTTP {code}: {said}");
            match code {
                429 | 500..=599 => Error::transient(message),
                400 | 401 | 403 => Error::denied(message),
                _ => Error::upstream(message),
            }
        }
        ErrorKind::Io | ErrorKind::Connection => {
            Error::transient(format!("{whom}: cannot reach Entra ID: {said}"))
        }
        _ => Error::invalid(format!("{whom}: {said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description(status: u16, body: &[u8]) -> serde_json::Value {
        let readable = readable_refusal(status, body.to_vec());
        let value: serde_json::Value = serde_json::from_slice(&readable).unwrap_or_default();
        // What azure_identity does with it: borrow the description unescaped.
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            #[allow(dead_code)]
            error_description: &'a str,
        }
        assert!(
            serde_json::from_slice::<Borrowed<'_>>(&readable).is_ok(),
            "{value}"
        );
        value
    }

    #[test]
    fn refusals_become_readable_for_azure_identity() {
        let entra = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the \"secret\" is right.\r\nTrace ID: 1\r\nCorrelation ID: 2","error_codes":[7000215]}"#;
        let value = description(401, entra);
        assert_eq!(
            value["error_description"],
            "AADSTS7000215: Invalid client secret provided. Ensure the 'secret' is right. \
             Trace ID: 1 Correlation ID: 2"
        );
        assert_eq!(value["error_codes"][0], 7000215);
        let proxy = description(502, b"<html>Bad gateway</html>");
        assert_eq!(
            proxy["error_description"],
            "HTTP 502 without an Entra ID error answer"
        );
        assert_eq!(
            description(500, b"")["error_description"],
            "HTTP 500 without an Entra ID error answer"
        );
    }

    proptest::proptest! {
        /// Whatever a server answers, azure_identity can read the refusal kubecred hands it.
        #[test]
        fn any_refusal_is_readable(status in 400u16..600, body in "\\PC{0,200}") {
            let _ = description(status, body.as_bytes());
            let json = serde_json::json!({"error": "e", "error_description": body}).to_string();
            let _ = description(status, json.as_bytes());
        }
    }
}
