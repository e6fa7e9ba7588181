//! GCP's access checks, with the resolved identity's access token as the bearer:
//!
//! - `gs://BUCKET`: the bucket's objects can be listed (Cloud Storage JSON API
//!   `GET /storage/v1/b/BUCKET/o?maxResults=1`, permission `storage.objects.list`);
//! - `gcpkms://…/cryptoKeys/K`: the key may decrypt (Cloud KMS `testIamPermissions` with
//!   `cloudkms.cryptoKeyVersions.useToDecrypt`);
//! - `pubsub://projects/P/topics/T`: the topic may be published to (Pub/Sub
//!   `testIamPermissions` with `pubsub.topics.publish`);
//! - `gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`: the repository may be pulled from
//!   (Artifact Registry `testIamPermissions` on `projects/P/locations/L/repositories/R` with
//!   `artifactregistry.repositories.downloadArtifacts`, what a pull needs; the registry login
//!   itself only mints the token, which any identity may do).
//!
//! `testIamPermissions` answers the subset of the asked permissions the caller holds; an
//! empty subset is a denial naming the permission. Each service's base URL is Google's, or
//! the one documented override read from the engine's environment (an operator setting, for
//! the sandbox's stand-ins and emulators): `KUBECRED_GCP_STORAGE_URL`, `KUBECRED_GCP_KMS_URL`,
//! `KUBECRED_GCP_PUBSUB_URL`, `KUBECRED_GCP_ARTIFACTREGISTRY_URL`. An override is Google's own base URL, or a loopback listener
//! over `http` or `https`, with no user info, path, query or fragment.
//!
//! Small calls sent with reqwest (see [`crate::http`]: the request's proxy, the engine's
//! timeouts) rather than Google's storage, KMS, Pub/Sub and Artifact Registry client crates: each is one request
//! whose shape is stable, and those crates would add their gRPC / generated stacks for it.

use serde::Deserialize;
use url::Url;

use super::check_targets::{self, CheckTarget};
use super::urls::is_loopback;
use super::wire;
use crate::error::{Error, Result};
use crate::http::{self, Proxy, shown_override as shown};
use crate::{Engine, Env, Request, Secret};

/// A Google API whose base URL a check uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Storage,
    Kms,
    PubSub,
    ArtifactRegistry,
}

impl Api {
    /// The variable overriding the base URL.
    pub(crate) fn var(self) -> &'static str {
        match self {
            Api::Storage => "KUBECRED_GCP_STORAGE_URL",
            Api::Kms => "KUBECRED_GCP_KMS_URL",
            Api::PubSub => "KUBECRED_GCP_PUBSUB_URL",
            Api::ArtifactRegistry => "KUBECRED_GCP_ARTIFACTREGISTRY_URL",
        }
    }

    /// Google's base URL.
    pub(crate) fn google(self) -> &'static str {
        match self {
            Api::Storage => "https://storage.googleapis.com",
            Api::Kms => "https://cloudkms.googleapis.com",
            Api::PubSub => "https://pubsub.googleapis.com",
            Api::ArtifactRegistry => "https://artifactregistry.googleapis.com",
        }
    }
}

/// The base URL of `api`: Google's, else the override (checked), without a trailing `/`.
pub(crate) fn base_url(env: &Env, api: Api) -> Result<String> {
    let Some(value) = env.var(api.var()) else {
        return Ok(api.google().to_owned());
    };
    override_problem(&value, api)
        .map(|why| {
            Err(Error::invalid(format!(
                "{} '{}': {why}; expected {} or a loopback URL such as http://127.0.0.1:8080",
                api.var(),
                shown(&value),
                api.google()
            )))
        })
        .unwrap_or_else(|| Ok(value.trim_end_matches('/').to_owned()))
}

/// Why `value` is not an acceptable base URL of `api`, if it is not.
fn override_problem(value: &str, api: Api) -> Option<&'static str> {
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Some("only printable ASCII without %-escapes is accepted");
    }
    let Ok(url) = Url::parse(value) else {
        return Some("not a URL");
    };
    let google = value.trim_end_matches('/') == api.google();
    let loopback = is_loopback(&url) && matches!(url.scheme(), "http" | "https");
    let bare = url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    match (google || loopback, bare) {
        (false, _) => Some("neither Google's base URL nor a loopback listener"),
        (true, false) => Some("a base URL has no user info, path, query or fragment"),
        (true, true) => None,
    }
}

/// Runs the check `target` for `request`: the summary line, or why it failed.
pub(crate) async fn run(engine: &Engine, target: &str, request: &Request) -> Result<String> {
    let parsed = check_targets::parse(target)?;
    let api = match &parsed {
        CheckTarget::Bucket(_) => Api::Storage,
        CheckTarget::CryptoKey(_) => Api::Kms,
        CheckTarget::Topic(_) => Api::PubSub,
        CheckTarget::Repository(_) => Api::ArtifactRegistry,
    };
    let base = base_url(engine.env(), api)?;
    let token = engine.access_token(request).await?.token;
    let call = Call {
        base: &base,
        bearer: &token,
        request,
        engine,
    };
    match parsed {
        CheckTarget::Bucket(bucket) => call.bucket(&bucket).await,
        CheckTarget::CryptoKey(name) => {
            let shown = format!("{}{name}", check_targets::KMS_SCHEME);
            call.permission(&shown, &name, KMS_DECRYPT).await
        }
        CheckTarget::Topic(name) => {
            let shown = format!("{}{name}", check_targets::PUBSUB_SCHEME);
            call.permission(&shown, &name, PUBSUB_PUBLISH).await
        }
        CheckTarget::Repository(repository) => {
            let name = repository.resource_name();
            call.permission(&repository.to_string(), &name, GAR_DOWNLOAD)
                .await
        }
    }
}

/// The permission the KMS check tests.
pub const KMS_DECRYPT: &str = "cloudkms.cryptoKeyVersions.useToDecrypt";
/// The permission the Pub/Sub check tests.
pub const PUBSUB_PUBLISH: &str = "pubsub.topics.publish";
/// The permission the Artifact Registry check tests (what a pull needs).
pub const GAR_DOWNLOAD: &str = "artifactregistry.repositories.downloadArtifacts";
/// The permission the bucket listing needs.
pub const STORAGE_LIST: &str = "storage.objects.list";

struct Call<'a> {
    base: &'a str,
    bearer: &'a Secret,
    request: &'a Request,
    engine: &'a Engine,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    items: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Permissions {
    #[serde(default)]
    permissions: Vec<String>,
}

impl Call<'_> {
    fn client(&self, action: &str) -> Result<reqwest::Client> {
        let proxy = Proxy::Request(self.request.proxy.as_ref());
        http::client(action, proxy, self.engine.timeouts())
    }

    /// `gs://BUCKET`: one object listed (permission `storage.objects.list`).
    async fn bucket(&self, bucket: &str) -> Result<String> {
        let action = format!("list objects of GCS bucket '{bucket}' ({STORAGE_LIST})");
        let url = format!("{}/storage/v1/b/{bucket}/o?maxResults=1", self.base);
        tracing::debug!(%url, "GCS bucket check");
        let request = self
            .client(&action)?
            .get(url)
            .bearer_auth(self.bearer.expose());
        let listing: Listing = wire::json(request, &action).await?;
        Ok(format!(
            "gs://{bucket}: ok (allowed: {STORAGE_LIST}; objects listed: {})",
            listing.items.len()
        ))
    }

    /// `testIamPermissions` on resource `name` (the target `shown`) for `permission`: allowed,
    /// or denied naming it.
    async fn permission(&self, shown: &str, name: &str, permission: &str) -> Result<String> {
        let action = format!("test {permission} on {shown} (testIamPermissions)");
        let url = format!("{}/v1/{name}:testIamPermissions", self.base);
        tracing::debug!(%url, "GCP permission check");
        let body = serde_json::json!({ "permissions": [permission] });
        let request = self
            .client(&action)?
            .post(url)
            .bearer_auth(self.bearer.expose())
            .json(&body);
        let answer: Permissions = wire::json(request, &action).await?;
        match answer.permissions.iter().any(|p| p == permission) {
            true => Ok(format!("{shown}: ok (allowed: {permission})")),
            false => Err(Error::denied(format!(
                "{shown}: denied: the credentials lack {permission}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(pairs: &[(&str, &str)], api: Api) -> String {
        base_url(&Env::from_pairs(pairs), api).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn bases_are_googles_by_default() {
        assert_eq!(base(&[], Api::Storage), "https://storage.googleapis.com");
        assert_eq!(base(&[], Api::Kms), "https://cloudkms.googleapis.com");
        assert_eq!(base(&[], Api::PubSub), "https://pubsub.googleapis.com");
        assert_eq!(
            base(&[], Api::ArtifactRegistry),
            "https://artifactregistry.googleapis.com"
        );
    }

    #[test]
    fn loopback_overrides_are_taken() {
        let pairs = [("KUBECRED_GCP_KMS_URL", "http://127.0.0.1:8085/")];
        assert_eq!(base(&pairs, Api::Kms), "http://127.0.0.1:8085");
        let pairs = [("KUBECRED_GCP_PUBSUB_URL", "https://pubsub.googleapis.com/")];
        assert_eq!(base(&pairs, Api::PubSub), "https://pubsub.googleapis.com");
        let pairs = [("KUBECRED_GCP_STORAGE_URL", "http://[::1]:4443")];
        assert_eq!(base(&pairs, Api::Storage), "http://[::1]:4443");
        let pairs = [("KUBECRED_GCP_ARTIFACTREGISTRY_URL", "http://127.0.0.1:8086")];
        assert_eq!(base(&pairs, Api::ArtifactRegistry), "http://127.0.0.1:8086");
        let pairs = [(
            "KUBECRED_GCP_ARTIFACTREGISTRY_URL",
            "https://artifactregistry.googleapis.com/",
        )];
        assert_eq!(
            base(&pairs, Api::ArtifactRegistry),
            "https://artifactregistry.googleapis.com"
        );
        // Another API's Google host is not this API's base.
        let pairs = [(
            "KUBECRED_GCP_ARTIFACTREGISTRY_URL",
            "https://pubsub.googleapis.com",
        )];
        assert!(base(&pairs, Api::ArtifactRegistry).contains("neither"));
    }

    #[test]
    fn other_overrides_are_refused() {
        for (value, why) in [
            ("http://storage.googleapis.com", "neither"),
            ("https://storage.example.com", "neither"),
            ("http://10.0.0.1:4443", "neither"),
            ("ftp://127.0.0.1", "neither"),
            ("http://127.0.0.1:1/storage", "no user info, path"),
            ("http://u:s3cret@127.0.0.1:1", "no user info, path"),
            ("http://127.0.0.1:1/?x", "no user info, path"),
            ("http://127.0.0.1%2e", "printable ASCII"),
            ("not a url", "printable ASCII"),
        ] {
            let error = base(&[("KUBECRED_GCP_STORAGE_URL", value)], Api::Storage);
            assert!(
                error.starts_with("KUBECRED_GCP_STORAGE_URL '")
                    && error.contains(why)
                    && !error.contains("s3cret"),
                "{value}: {error}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_override_is_taken_or_refused_without_panicking(value in "\\PC{0,200}") {
            let env = Env::from_pairs(&[("KUBECRED_GCP_PUBSUB_URL", &value)]);
            if let Ok(base) = base_url(&env, Api::PubSub) {
                proptest::prop_assert!(!base.contains(['?', '#', '@']));
            }
        }
    }
}
