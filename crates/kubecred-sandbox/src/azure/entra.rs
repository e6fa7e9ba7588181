//! The Entra ID stand-in (HTTPS only): the v2.0 token endpoint's client-credentials grant with a
//! client secret or a client assertion ([`super::assertion`]), and the metadata MSAL reads first
//! (the tenant's OpenID configuration, its keys, instance discovery).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::assertion;
use super::config::EntraApp;
use super::error::{EntraError, shown};
use super::form::{Form, FormError};
use super::state::{AzureState, Identity, LIFETIME};
use crate::clock::unix_now;

/// What [`AzureState::calls`] counts an issued token as.
pub(crate) const ACTION: &str = "entra.token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Scopes MSAL may add that name no resource.
const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "offline_access"];

/// The Entra router.
pub(crate) fn router(state: Arc<AzureState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/common/discovery/instance", get(instance_discovery))
        .with_state(state)
}

/// `https://<Host>` as the client addressed Entra (else the stand-in's own URL).
fn base(state: &AzureState, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .map(|h| format!("https://{h}"))
        .unwrap_or_else(|| state.entra_url.clone())
}

async fn openid_configuration(
    State(state): State<Arc<AzureState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if tenant != state.config.tenant_id {
        let error = EntraError::tenant_not_found(&tenant);
        let body = serde_json::json!({"error": "invalid_tenant", "error_description": error.body()["error_description"]});
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    let base = base(&state, &headers);
    let t = &state.config.tenant_id;
    axum::Json(serde_json::json!({
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{t}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

async fn keys(State(state): State<Arc<AzureState>>) -> Response {
    axum::Json(serde_json::json!({ "keys": [state.signing.jwk()] })).into_response()
}

async fn instance_discovery(State(state): State<Arc<AzureState>>, headers: HeaderMap) -> Response {
    let base = base(&state, &headers);
    let host = base.trim_start_matches("https://").to_owned();
    axum::Json(serde_json::json!({
        "tenant_discovery_endpoint": format!("{base}/{}/v2.0/.well-known/openid-configuration", state.config.tenant_id),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
    .into_response()
}

async fn token(
    State(state): State<Arc<AzureState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let base = base(&state, &headers);
    let assertion = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "client_assertion")
        .map(|(_, value)| value.into_owned());
    if let Some(assertion) = assertion {
        crate::verify::refresh_issuer_of(&state.config.issuers, &assertion).await;
    }
    match grant(&state, &tenant, &base, &body) {
        Ok(answer) => {
            state.count(ACTION);
            axum::Json(answer).into_response()
        }
        Err(error) => {
            tracing::debug!(%error, "the Entra stand-in refused a token request");
            error.into_response()
        }
    }
}

/// The token endpoints a certificate assertion may name as its audience.
fn token_endpoints(state: &AzureState, base: &str) -> Vec<String> {
    let t = &state.config.tenant_id;
    let localhost = state.entra_url.replace("127.0.0.1", "localhost");
    [
        base,
        state.entra_url.as_str(),
        localhost.as_str(),
        "https://login.microsoftonline.com",
    ]
    .iter()
    .flat_map(|b| {
        [
            format!("{b}/{t}/oauth2/v2.0/token"),
            format!("{b}/{t}/oauth2/token"),
        ]
    })
    .collect()
}

fn grant(
    state: &AzureState,
    tenant: &str,
    base: &str,
    body: &[u8],
) -> Result<serde_json::Value, EntraError> {
    if tenant != state.config.tenant_id {
        return Err(EntraError::tenant_not_found(tenant));
    }
    let form = Form::parse(body).map_err(|e| match e {
        FormError::TooLarge => EntraError::new(
            400,
            "invalid_request",
            90020,
            "The request body is too large.",
        ),
        FormError::Repeated(name) => EntraError::new(
            400,
            "invalid_request",
            90015,
            format!("Requested query string is too long or the parameter '{name}' is duplicated."),
        ),
    })?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| EntraError::missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::new(
            400,
            "unsupported_grant_type",
            70003,
            format!(
                "The app requested an unsupported grant type '{}'.",
                shown(grant_type)
            ),
        ));
    }
    let client_id = form
        .get("client_id")
        .ok_or_else(|| EntraError::missing("client_id"))?;
    let resource = resource(state, form.get("scope"))?;
    let app = state
        .config
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| EntraError::app_not_found(client_id, tenant))?;
    let auth_method = authenticate(state, app, &form, base)?;
    let identity = Identity {
        client_id: app.client_id.clone(),
        object_id: app.principal_id(),
        auth_method,
        resource_id: None,
    };
    let token = state
        .access_token(&identity, &resource, unix_now(), LIFETIME)
        .ok_or_else(|| EntraError::new(500, "temporarily_unavailable", 90033, "Signing failed."))?;
    Ok(serde_json::json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME - 1,
        "ext_expires_in": LIFETIME - 1,
        "access_token": token,
    }))
}

/// Checks the client secret or assertion; returns `appidacr`.
fn authenticate(
    state: &AzureState,
    app: &EntraApp,
    form: &Form,
    base: &str,
) -> Result<u8, EntraError> {
    if let Some(secret) = form.get("client_secret") {
        let known = app.secrets.iter().any(|s| {
            aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), secret.as_bytes())
                .is_ok()
        });
        return match known {
            true => Ok(1),
            false => Err(EntraError::new(
                401,
                "invalid_client",
                7000215,
                format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            )),
        };
    }
    let Some(assertion) = form.get("client_assertion") else {
        return Err(EntraError::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if form.get("client_assertion_type") != Some(JWT_BEARER) {
        return Err(EntraError::new(
            401,
            "invalid_client",
            7000218,
            format!(
                "The request body must contain the following parameter: 'client_assertion_type' ({JWT_BEARER})."
            ),
        ));
    }
    assertion::verify(state, app, assertion, &token_endpoints(state, base))?;
    Ok(2)
}

/// The one resource of `scope` (`<resource>/.default`, OIDC scopes ignored) as the token's
/// audience: without `/.default`, which also drops one `/` of ARM's `…net//.default`.
fn resource(state: &AzureState, scope: Option<&str>) -> Result<String, EntraError> {
    let scope = scope.ok_or_else(|| EntraError::missing("scope"))?;
    let scopes: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !OIDC_SCOPES.contains(s))
        .collect();
    let [one] = scopes.as_slice() else {
        return Err(EntraError::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {} is not valid.",
                shown(scope)
            ),
        ));
    };
    let Some(resource) = one.strip_suffix("/.default") else {
        return Err(EntraError::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                shown(one)
            ),
        ));
    };
    if resource.is_empty() || !state.knows_resource(resource) {
        return Err(EntraError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                shown(resource),
                state.config.tenant_id
            ),
        ));
    }
    Ok(resource.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::config::AzureConfig;

    fn state() -> AzureState {
        let config = AzureConfig {
            tenant_id: "t".into(),
            apps: vec![EntraApp {
                secrets: vec!["s3cret".into()],
                ..EntraApp::new("app")
            }],
            ..AzureConfig::default()
        };
        AzureState::new(config, "https://127.0.0.1:1".into(), String::new()).expect("key")
    }

    fn refused(tenant: &str, form: &str) -> u32 {
        grant(&state(), tenant, "https://127.0.0.1:1", form.as_bytes())
            .expect_err(form)
            .code()
    }

    #[test]
    fn refusals_carry_entras_codes() {
        let ok = "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=https%3A%2F%2Fstorage.azure.com%2F.default";
        assert_eq!(refused("other", ok), 90002);
        assert_eq!(refused("t", "client_id=app"), 900144);
        assert_eq!(refused("t", "grant_type=password"), 70003);
        assert_eq!(
            refused("t", &ok.replace("client_id=app", "client_id=nope")),
            700016
        );
        assert_eq!(refused("t", &ok.replace("s3cret", "wrong")), 7000215);
        assert_eq!(
            refused("t", &ok.replace("&client_secret=s3cret", "")),
            7000218
        );
        assert_eq!(refused("t", &ok.replace("%2F.default", "")), 1002012);
        assert_eq!(
            refused("t", &ok.replace("storage.azure.com", "nope.example")),
            500011
        );
        assert_eq!(
            refused(
                "t",
                &format!("{ok}+https%3A%2F%2Fvault.azure.net%2F.default")
            ),
            70011
        );
    }

    #[test]
    fn audiences_follow_the_scope() {
        let state = state();
        for (scope, audience) in [
            (
                "https://management.core.windows.net//.default",
                "https://management.core.windows.net/",
            ),
            (
                "https://storage.azure.com/.default openid",
                "https://storage.azure.com",
            ),
            (
                "499b84ac-1321-427f-aa17-267ca6975798/.default",
                "499b84ac-1321-427f-aa17-267ca6975798",
            ),
        ] {
            assert_eq!(resource(&state, Some(scope)).as_deref(), Ok(audience));
        }
        let form = "grant_type=client_credentials&client_id=app&client_secret=s3cret&scope=https%3A%2F%2Fstorage.azure.com%2F.default";
        let answer = grant(&state, "t", "https://127.0.0.1:1", form.as_bytes()).expect("granted");
        let token = answer["access_token"].as_str().unwrap_or_default();
        let caller = state
            .verify(token, &["https://storage.azure.com"])
            .expect("verifies");
        assert_eq!((caller.appid.as_str(), caller.tid.as_str()), ("app", "t"));
        assert_eq!(answer["expires_in"], 3599);
    }
}
