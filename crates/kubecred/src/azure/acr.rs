//! Azure Container Registry login: the Entra token exchanged for an ACR refresh token at
//! `POST https://<registry>/oauth2/exchange` (form `grant_type=access_token`,
//! `service=<registry host>`, `access_token=<Entra token>`; answer `{"refresh_token": "<JWT>"}`),
//! used as the password of username `00000000-0000-0000-0000-000000000000`, expiring at the
//! refresh token's `exp` (read without verifying the signature: it is ACR's token for ACR, and
//! kubecred only reads when to ask again). The base URL is `KUBECRED_AZURE_ACR_URL` when the
//! operator sets it (`super::endpoints`).
//!
//! Hand-written: no Rust crate performs ACR's exchange, and it is one form POST.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use url::Url;

use super::environment;
use super::hosts::AcrRegistry;
use super::{endpoints, wire};
use crate::credential::RegistryCredentials;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::{Engine, Env, Request, Secret};

/// The username of ACR's refresh tokens (docker's `identitytoken` convention).
pub const USERNAME: &str = "00000000-0000-0000-0000-000000000000";

/// The scope of the Entra token to exchange for `registry`.
pub(crate) fn scope(env: &Env, registry: &AcrRegistry) -> Result<String> {
    environment::acr_scope(env, registry)
}

/// Exchanges `entra_token` (of [`scope`]) for `registry`'s credentials, through the request's
/// proxy with the engine's timeouts.
pub(crate) async fn exchange(
    engine: &Engine,
    request: &Request,
    registry: &AcrRegistry,
    entra_token: &Secret,
) -> Result<RegistryCredentials> {
    let action = action(registry);
    let url = endpoints::acr_exchange_url(engine.env(), registry)?;
    let client = http::client(
        &action,
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    exchange_at(&client, &url, registry, entra_token, &action).await
}

fn action(registry: &AcrRegistry) -> String {
    format!(
        "exchange the Entra token for an ACR refresh token at {}",
        registry.host()
    )
}

#[derive(Deserialize)]
struct Answer {
    refresh_token: String,
}

async fn exchange_at(
    client: &reqwest::Client,
    url: &Url,
    registry: &AcrRegistry,
    entra_token: &Secret,
    action: &str,
) -> Result<RegistryCredentials> {
    let host = registry.host();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "access_token"),
            ("service", host.as_str()),
            ("access_token", entra_token.expose()),
        ])
        .finish();
    tracing::debug!(%url, registry = %host, "ACR token exchange");
    let post = client
        .post(url.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let answer: Answer = wire::json(post, action).await?;
    let password = Secret::new(answer.refresh_token);
    let expires_at = expiry(&password, action)?;
    Ok(RegistryCredentials {
        username: USERNAME.to_owned(),
        password,
        expires_at,
    })
}

/// The refresh token's `exp` (read without verification); missing or out of range is an error
/// naming `action`, never the token.
pub fn expiry(refresh_token: &Secret, action: &str) -> Result<SystemTime> {
    // The decoding error's source may quote a claim: only what was wrong is said.
    let claims = crate::jwt::unverified_claims(refresh_token.expose()).map_err(|_| {
        Error::upstream(format!(
            "{action}: the refresh token is not a JWT with a JSON claim set"
        ))
    })?;
    match claims.exp.map(u64::try_from) {
        Some(Ok(seconds)) if seconds > 0 => UNIX_EPOCH
            .checked_add(Duration::from_secs(seconds))
            .ok_or_else(|| {
                Error::upstream(format!("{action}: the refresh token's exp is out of range"))
            }),
        Some(_) => Err(Error::upstream(format!(
            "{action}: the refresh token's exp is not a positive number of seconds"
        ))),
        None => Err(Error::upstream(format!(
            "{action}: the refresh token has no exp claim"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::azure::hosts::registry;
    use crate::azure::wire::stand_in;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn engine(pairs: &[(&str, &str)]) -> Result<Engine> {
        let policy = crate::PolicyConfig::default().build()?;
        Ok(Engine::new(policy).with_env(Env::from_pairs(pairs)))
    }

    fn io(e: std::io::Error) -> Error {
        Error::invalid(e.to_string())
    }

    /// §4.3: the refresh token's `exp` is the expiry; the form is the reference's.
    #[tokio::test]
    async fn the_entra_token_is_exchanged_for_a_refresh_token() -> Result<()> {
        let refresh = jwt(r#"{"exp":1735693200,"iss":"Azure Container Registry"}"#);
        let answer = serde_json::json!({ "refresh_token": refresh }).to_string();
        let (base, seen) = stand_in::serve(move |_| (200, answer.clone()))
            .await
            .map_err(io)?;
        let engine = engine(&[(endpoints::ACR_URL_VAR, &base)])?;
        let registry = registry("myregistry.azurecr.io")?;
        let request = Request::new(crate::Provider::Azure);
        let credentials =
            exchange(&engine, &request, &registry, &Secret::new("entra+token/=")).await?;
        assert_eq!(credentials.username, USERNAME);
        assert_eq!(credentials.password.expose(), refresh);
        assert_eq!(
            credentials.expires_at,
            UNIX_EPOCH + Duration::from_secs(1_735_693_200)
        );
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            (seen[0].method.as_str(), seen[0].target.as_str()),
            ("POST", "/oauth2/exchange")
        );
        assert_eq!(
            seen[0].header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            seen[0].body,
            "grant_type=access_token&service=myregistry.azurecr.io&access_token=entra%2Btoken%2F%3D"
        );
        Ok(())
    }

    #[tokio::test]
    async fn refusals_are_classified_without_tokens() -> Result<()> {
        for (status, body, denied, transient) in [
            (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                true,
                false,
            ),
            (403, "", true, false),
            (429, "", false, true),
            (503, "<html>", false, true),
        ] {
            let (base, _) = stand_in::serve(move |_| (status, body.to_owned()))
                .await
                .map_err(io)?;
            let engine = engine(&[(endpoints::ACR_URL_VAR, &base)])?;
            let registry = registry("myregistry.azurecr.cn")?;
            let request = Request::new(crate::Provider::Azure);
            let error = exchange(&engine, &request, &registry, &Secret::new("entra-s3cret"))
                .await
                .err();
            let error = error.ok_or_else(|| Error::invalid("the exchange succeeded"))?;
            let text = error.to_string();
            assert_eq!(
                (error.is_denied(), error.is_transient()),
                (denied, transient),
                "{text}"
            );
            assert!(
                text.starts_with("exchange the Entra token for an ACR refresh token at myregistry.azurecr.cn: HTTP ")
                    && !text.contains("s3cret"),
                "{text}"
            );
        }
        Ok(())
    }

    /// The reference panicked on a refresh token without `exp`; §4.3: `exp` is the expiry
    /// (`time.Unix(exp, 0)`).
    #[test]
    fn a_missing_or_invalid_exp_is_an_error() {
        let expiry = |token: &str| expiry(&Secret::new(token), "x").map_err(|e| e.to_string());
        for (claims, seconds) in [
            (
                r#"{"exp":1735693200,"iss":"Azure Container Registry"}"#,
                1_735_693_200,
            ),
            (r#"{"exp":1}"#, 1),
            (r#"{"exp":9223372036854775807}"#, i64::MAX as u64),
        ] {
            assert_eq!(
                expiry(&jwt(claims)),
                Ok(UNIX_EPOCH + Duration::from_secs(seconds)),
                "{claims}"
            );
        }
        let s3cret = URL_SAFE_NO_PAD.encode(r#"{"exp":"s3cret"}"#);
        for (token, expected) in [
            (
                jwt(r#"{"iss":"acr"}"#),
                "x: the refresh token has no exp claim",
            ),
            (
                jwt(r#"{"exp":null}"#),
                "x: the refresh token has no exp claim",
            ),
            (
                jwt(r#"{"exp":-5}"#),
                "x: the refresh token's exp is not a positive number of seconds",
            ),
            (jwt(r#"{"exp":0}"#), "not a positive number"),
            (
                jwt(r#"{"exp":"soon"}"#),
                "x: the refresh token is not a JWT with a JSON claim set",
            ),
            (jwt(r#"{"exp":1.5}"#), "not a JWT with a JSON claim set"),
            (jwt(r#"{"exp":1e30}"#), "not a JWT with a JSON claim set"),
            (
                jwt(r#"{"exp":18446744073709551616}"#),
                "not a JWT with a JSON claim set",
            ),
            (jwt("[1735693200]"), "not a JWT with a JSON claim set"),
            (jwt("not json s3cret"), "not a JWT with a JSON claim set"),
            (format!("e30.{s3cret}"), "not a JWT with a JSON claim set"),
            (
                format!("e30.{s3cret}.c2ln.c2ln"),
                "not a JWT with a JSON claim set",
            ),
            (
                "e30.!!s3cret!!.c2ln".to_owned(),
                "not a JWT with a JSON claim set",
            ),
            (
                "opaque-s3cret".to_owned(),
                "not a JWT with a JSON claim set",
            ),
            (String::new(), "not a JWT with a JSON claim set"),
        ] {
            let error = expiry(&token).err().unwrap_or_default();
            assert!(
                error.starts_with("x: ") && error.contains(expected),
                "{token}: {error}"
            );
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[tokio::test]
    async fn an_answer_without_a_refresh_token_is_an_error() -> Result<()> {
        let (base, _) = stand_in::serve(|_| (200, r#"{"access_token":"x"}"#.to_owned()))
            .await
            .map_err(io)?;
        let engine = engine(&[(endpoints::ACR_URL_VAR, &base)])?;
        let request = Request::new(crate::Provider::Azure);
        let error = exchange(
            &engine,
            &request,
            &registry("myregistry.azurecr.us")?,
            &Secret::new("t"),
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(error.contains("unexpected answer"), "{error}");
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn any_refresh_token_yields_an_expiry_or_an_error(token in "\\PC{0,300}") {
            let _ = expiry(&Secret::new(token), "x");
        }
    }
}
