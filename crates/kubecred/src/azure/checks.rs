//! Azure's access checks, with an Entra token of the resolved identity for the service's scope
//! as the bearer:
//!
//! - `azblob://ACCOUNT/CONTAINER`: the container's blobs can be listed (List Blobs,
//!   `GET <container>?restype=container&comp=list&maxresults=1`, `x-ms-version: 2021-08-06`;
//!   scope `https://storage.azure.com/.default`; data action
//!   `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read`);
//! - `azkv://VAULT/keys/KEY`: the key is usable: Get Key (`GET <vault>/keys/KEY?api-version=7.4`,
//!   permission `keys/get`) answers, the key is enabled, and its `key_ops` are reported;
//! - `eventhub://NAMESPACE/HUB`: events may be sent (the `Send` claim). Event Hubs' REST API has
//!   no call that tests a permission: reading the hub's description needs `Manage`, and only a
//!   send proves `Send`. The least intrusive send is chosen: an *empty batch* (`POST
//!   <namespace>/HUB/messages?api-version=2014-01&timeout=60`, content type
//!   `application/vnd.microsoft.servicebus.json`, body `[]`), which the service authorises like
//!   any send (401 without `Send`) and which carries no event to the hub's consumers. A 201
//!   proves the permission; a 401 or 403 is the denial. A 400 (a service that would refuse an
//!   empty batch after authorising it) is reported as inconclusive, not as allowed.
//!
//! A denial names the target, what was denied and for whom (the token's client and object
//! ids). Base URLs: the cloud's DNS suffixes ([`super::environment::Cloud::suffix`]), or the
//! operator's `KUBECRED_AZURE_BLOB_URL`, `KUBECRED_AZURE_KEYVAULT_URL`,
//! `KUBECRED_AZURE_EVENTHUBS_URL` ([`super::endpoints`], path-style names).
//!
//! Hand-written calls through [`crate::http`] (the request's proxy, the engine's timeouts): one
//! GET or POST each, where the `azure_storage_blob`, `azure_security_keyvault_keys` and Event
//! Hubs (AMQP) crates would bring their pipelines and, for Event Hubs, a second protocol.

use serde::Deserialize;
use url::Url;

use super::check_targets::{self, CheckTarget};
use super::environment::{self, BLOB_SCOPE, Cloud, EVENT_HUBS_SCOPE, Service};
use super::{endpoints, wire};
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::{Engine, Env, Request, Secret};

/// The Blob service version sent.
pub const BLOB_VERSION: &str = "2021-08-06";
/// The Key Vault API version.
pub const KEY_VAULT_API_VERSION: &str = "7.4";
/// The Event Hubs runtime API version.
pub const EVENT_HUBS_API_VERSION: &str = "2014-01";

/// Runs the check `target` for `request`: the summary line, or why it failed.
pub(crate) async fn run(engine: &Engine, target: &str, request: &Request) -> Result<String> {
    let parsed = check_targets::parse(target)?;
    let cloud = environment::cloud(engine.env())?;
    let (scope, url) = planned(engine.env(), &cloud, &parsed)?;
    let scoped = Request {
        scopes: vec![scope],
        ..request.clone()
    };
    let token = engine.access_token(&scoped).await?.token;
    let client = http::client(
        &format!("check {}", parsed.shown()),
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    check(&client, &parsed, url, &token).await
}

/// The scope of the check's token and the URL it calls.
fn planned(env: &Env, cloud: &Cloud, target: &CheckTarget) -> Result<(String, Url)> {
    match target {
        CheckTarget::Container { account, container } => {
            let mut url = endpoints::service_url(env, cloud, Service::Blob, account, &[container])?;
            url.query_pairs_mut()
                .append_pair("restype", "container")
                .append_pair("comp", "list")
                .append_pair("maxresults", "1");
            Ok((BLOB_SCOPE.to_owned(), url))
        }
        CheckTarget::Key { vault, key } => {
            let mut url =
                endpoints::service_url(env, cloud, Service::KeyVault, vault, &["keys", key])?;
            url.query_pairs_mut()
                .append_pair("api-version", KEY_VAULT_API_VERSION);
            Ok((cloud.key_vault_scope()?.to_owned(), url))
        }
        CheckTarget::EventHub { namespace, hub } => {
            let mut url = endpoints::service_url(
                env,
                cloud,
                Service::EventHubs,
                namespace,
                &[hub, "messages"],
            )?;
            url.query_pairs_mut()
                .append_pair("api-version", EVENT_HUBS_API_VERSION)
                .append_pair("timeout", "60");
            Ok((EVENT_HUBS_SCOPE.to_owned(), url))
        }
    }
}

/// Calls `url` for `target` with `bearer`; the summary, or the denial naming the holder.
async fn check(
    client: &reqwest::Client,
    target: &CheckTarget,
    url: Url,
    bearer: &Secret,
) -> Result<String> {
    let shown = target.shown();
    let (what, result) = match target {
        CheckTarget::Container { .. } => {
            ("list blobs", list_blobs(client, url, bearer, &shown).await)
        }
        CheckTarget::Key { .. } => ("get the key", get_key(client, url, bearer, &shown).await),
        CheckTarget::EventHub { .. } => ("send events", send(client, url, bearer, &shown).await),
    };
    result.map_err(|e| match e.is_denied() {
        true => {
            let holder =
                wire::token_holder(bearer).unwrap_or_else(|| "the resolved identity".to_owned());
            Error::denied(format!("{shown}: denied: {holder} may not {what}: {e}"))
        }
        false => e,
    })
}

/// List Blobs, one at most: allowed when it answers.
async fn list_blobs(
    client: &reqwest::Client,
    url: Url,
    bearer: &Secret,
    shown: &str,
) -> Result<String> {
    tracing::debug!(%url, "Azure blob container check");
    let get = client
        .get(url)
        .bearer_auth(bearer.expose())
        .header("x-ms-version", BLOB_VERSION);
    let listing = wire::text(get, &format!("list blobs of {shown}")).await?;
    let blobs = listing.matches("<Blob>").count();
    Ok(format!(
        "{shown}: ok (allowed: list blobs; blobs listed: {blobs})"
    ))
}

#[derive(Deserialize)]
struct KeyBundle {
    key: JsonWebKey,
    #[serde(default)]
    attributes: KeyAttributes,
}

#[derive(Deserialize)]
struct JsonWebKey {
    #[serde(default)]
    kty: String,
    #[serde(default)]
    key_ops: Vec<String>,
}

#[derive(Deserialize)]
struct KeyAttributes {
    #[serde(default = "enabled")]
    enabled: bool,
}

impl Default for KeyAttributes {
    fn default() -> Self {
        KeyAttributes { enabled: true }
    }
}

fn enabled() -> bool {
    true
}

/// Get Key: usable when it answers, is enabled and allows operations; its `key_ops` reported.
async fn get_key(
    client: &reqwest::Client,
    url: Url,
    bearer: &Secret,
    shown: &str,
) -> Result<String> {
    tracing::debug!(%url, "Azure Key Vault key check");
    let get = client.get(url).bearer_auth(bearer.expose());
    let bundle: KeyBundle = wire::json(get, &format!("get key {shown}")).await?;
    let printable = |s: &String| {
        s.chars()
            .take(40)
            .collect::<String>()
            .escape_default()
            .to_string()
    };
    let ops: Vec<String> = bundle.key.key_ops.iter().take(16).map(printable).collect();
    if !bundle.attributes.enabled {
        return Err(Error::invalid(format!("{shown}: the key is disabled")));
    }
    if ops.is_empty() {
        return Err(Error::invalid(format!(
            "{shown}: the key allows no operation (key_ops is empty)"
        )));
    }
    Ok(format!(
        "{shown}: ok (allowed: get key; type {}; key_ops: {})",
        printable(&bundle.key.kty),
        ops.join(", ")
    ))
}

/// An empty batch sent: `Send` proven by a 201 (see the module docs).
async fn send(client: &reqwest::Client, url: Url, bearer: &Secret, shown: &str) -> Result<String> {
    tracing::debug!(%url, "Azure Event Hubs send check (empty batch)");
    let post = client
        .post(url)
        .bearer_auth(bearer.expose())
        .header("content-type", "application/vnd.microsoft.servicebus.json")
        .body("[]");
    let action = format!("send an empty batch to {shown}");
    match wire::text(post, &action).await {
        Ok(_) => Ok(format!(
            "{shown}: ok (allowed: send; an empty batch was accepted, no event sent)"
        )),
        Err(e) if !e.is_denied() && !e.is_transient() && !e.is_not_found() => {
            Err(Error::upstream(format!(
                "{shown}: inconclusive: the service refused the empty batch without saying whether sending is allowed ({e})"
            )))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::azure::wire::stand_in;

    const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
    const OBJECT: &str = "66666666-7777-8888-9999-000000000000";

    fn bearer() -> Secret {
        let claims = serde_json::json!({"appid": CLIENT, "oid": OBJECT, "aud": "x"}).to_string();
        Secret::new(format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims)))
    }

    fn io(e: std::io::Error) -> Error {
        Error::invalid(e.to_string())
    }

    /// A stand-in answering every call with `status` and `body`; the check's outcome and the
    /// requests seen.
    async fn checked(
        target: &str,
        var: &str,
        status: u16,
        body: &'static str,
    ) -> Result<(Result<String>, Vec<stand_in::Seen>)> {
        let (base, seen) = stand_in::serve(move |_| (status, body.to_owned()))
            .await
            .map_err(io)?;
        let env = Env::from_pairs(&[(var, &base)]);
        let target = check_targets::parse(target)?;
        let (_, url) = planned(&env, &Cloud::Public, &target)?;
        let client = http::client("t", Proxy::Request(None), &crate::Timeouts::default())?;
        let outcome = check(&client, &target, url, &bearer()).await;
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        Ok((outcome, seen))
    }

    #[test]
    fn each_target_has_its_scope_and_url() -> Result<()> {
        let env = Env::from_pairs(&[]);
        let plan = |target: &str, cloud: &Cloud| -> Result<(String, String)> {
            planned(&env, cloud, &check_targets::parse(target)?).map(|(s, u)| (s, u.to_string()))
        };
        assert_eq!(
            plan("azblob://acct123/flux", &Cloud::Public)?,
            (
                "https://storage.azure.com/.default".into(),
                "https://acct123.blob.core.windows.net/flux?restype=container&comp=list&maxresults=1".into()
            )
        );
        assert_eq!(
            plan("azkv://sops-vault/keys/k1", &Cloud::China)?,
            (
                "https://vault.azure.cn/.default".into(),
                "https://sops-vault.vault.azure.cn/keys/k1?api-version=7.4".into()
            )
        );
        assert_eq!(
            plan("eventhub://flux-ns/alerts", &Cloud::Government)?,
            (
                "https://eventhubs.azure.net//.default".into(),
                "https://flux-ns.servicebus.usgovcloudapi.net/alerts/messages?api-version=2014-01&timeout=60".into()
            )
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_listable_container_is_allowed() -> Result<()> {
        let body = "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs></EnumerationResults>";
        let (outcome, seen) = checked(
            "azblob://devstoreaccount1/flux",
            endpoints::BLOB_URL_VAR,
            200,
            body,
        )
        .await?;
        assert_eq!(
            outcome?,
            "azblob://devstoreaccount1/flux: ok (allowed: list blobs; blobs listed: 1)"
        );
        assert_eq!(
            seen[0].target,
            "/devstoreaccount1/flux?restype=container&comp=list&maxresults=1"
        );
        assert_eq!(seen[0].header("x-ms-version"), Some("2021-08-06"));
        assert!(
            seen[0]
                .header("authorization")
                .is_some_and(|a| a.starts_with("Bearer e30."))
        );
        Ok(())
    }

    #[tokio::test]
    async fn denials_name_the_target_the_action_and_the_holder() -> Result<()> {
        let body = "<Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.</Message></Error>";
        let (outcome, _) =
            checked("azblob://acct123/flux", endpoints::BLOB_URL_VAR, 403, body).await?;
        let error = outcome.err().ok_or_else(|| Error::invalid("allowed"))?;
        assert!(error.is_denied());
        assert_eq!(
            error.to_string(),
            format!(
                "azblob://acct123/flux: denied: client {CLIENT} (object {OBJECT}) may not list blobs: list blobs of azblob://acct123/flux: HTTP 403: AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission."
            )
        );
        let body = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.","innererror":{"code":"ForbiddenByRbac"}}}"#;
        let (outcome, _) = checked(
            "azkv://sops-vault/keys/k1",
            endpoints::KEYVAULT_URL_VAR,
            403,
            body,
        )
        .await?;
        let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with(&format!("azkv://sops-vault/keys/k1: denied: client {CLIENT} (object {OBJECT}) may not get the key: ")), "{error}");
        let body =
            "<Error><Code>401</Code><Detail>Unauthorized. Claim 'Send' required.</Detail></Error>";
        let (outcome, _) = checked(
            "eventhub://flux-ns/alerts",
            endpoints::EVENTHUBS_URL_VAR,
            401,
            body,
        )
        .await?;
        let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.starts_with(&format!("eventhub://flux-ns/alerts: denied: client {CLIENT} (object {OBJECT}) may not send events: "))
                && error.ends_with("Claim 'Send' required."),
            "{error}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_usable_key_reports_its_operations() -> Result<()> {
        let body = r#"{"key":{"kid":"https://sops-vault.vault.azure.net/keys/k1/abc","kty":"RSA","key_ops":["encrypt","decrypt","wrapKey","unwrapKey"],"n":"x","e":"AQAB"},"attributes":{"enabled":true}}"#;
        let (outcome, seen) = checked(
            "azkv://sops-vault/keys/k1",
            endpoints::KEYVAULT_URL_VAR,
            200,
            body,
        )
        .await?;
        assert_eq!(
            outcome?,
            "azkv://sops-vault/keys/k1: ok (allowed: get key; type RSA; key_ops: encrypt, decrypt, wrapKey, unwrapKey)"
        );
        assert_eq!(
            (seen[0].method.as_str(), seen[0].target.as_str()),
            ("GET", "/sops-vault/keys/k1?api-version=7.4")
        );
        let disabled =
            r#"{"key":{"kty":"RSA","key_ops":["decrypt"]},"attributes":{"enabled":false}}"#;
        let (outcome, _) = checked(
            "azkv://sops-vault/keys/k1",
            endpoints::KEYVAULT_URL_VAR,
            200,
            disabled,
        )
        .await?;
        assert!(
            outcome
                .err()
                .is_some_and(|e| e.to_string().ends_with("the key is disabled"))
        );
        Ok(())
    }

    #[tokio::test]
    async fn an_accepted_empty_batch_proves_send() -> Result<()> {
        let (outcome, seen) = checked(
            "eventhub://flux-ns/alerts",
            endpoints::EVENTHUBS_URL_VAR,
            201,
            "",
        )
        .await?;
        assert_eq!(
            outcome?,
            "eventhub://flux-ns/alerts: ok (allowed: send; an empty batch was accepted, no event sent)"
        );
        assert_eq!(seen[0].method, "POST");
        assert_eq!(
            seen[0].target,
            "/flux-ns/alerts/messages?api-version=2014-01&timeout=60"
        );
        assert_eq!(
            seen[0].header("content-type"),
            Some("application/vnd.microsoft.servicebus.json")
        );
        assert_eq!(seen[0].body, "[]");
        let (outcome, _) = checked(
            "eventhub://flux-ns/alerts",
            endpoints::EVENTHUBS_URL_VAR,
            400,
            "",
        )
        .await?;
        let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("inconclusive"), "{error}");
        let (outcome, _) = checked(
            "eventhub://flux-ns/alerts",
            endpoints::EVENTHUBS_URL_VAR,
            503,
            "",
        )
        .await?;
        assert!(outcome.err().is_some_and(|e| e.is_transient()));
        Ok(())
    }
}
