//! Where Azure calls go: the real endpoints, or the operators' overrides read from the engine's
//! [`Env`] (for the sandbox's stand-ins and private test rigs; operator settings, trusted like
//! `KUBECRED_GCP_*`, never a tenant's):
//!
//! | variable | default | what is appended to an override |
//! |---|---|---|
//! | `KUBECRED_AZURE_IMDS_URL` | `http://169.254.169.254` | `/metadata/identity/oauth2/token` (by the caller) |
//! | `KUBECRED_AZURE_ACR_URL` | `https://<registry host>` | `/oauth2/exchange` |
//! | `KUBECRED_AZURE_ARM_URL` | the cloud's ARM (`https://management.azure.com`, ...) | `/subscriptions/...` |
//! | `KUBECRED_AZURE_BLOB_URL` | `https://<account>.<blob suffix>` | `/<account>/<container>` (path-style, Azurite's) |
//! | `KUBECRED_AZURE_KEYVAULT_URL` | `https://<vault>.<vault suffix>` | `/<vault>/keys/<key>` |
//! | `KUBECRED_AZURE_EVENTHUBS_URL` | `https://<namespace>.<servicebus suffix>` | `/<namespace>/<hub>` |
//! | `KUBECRED_AZURE_DEVOPS_URL` | the repository's own `https://<host>` | the repository's path and `/info/refs` (explain's access step only) |
//!
//! An override is `https`, or plain `http` to a loopback listener (`127.0.0.1`, `[::1]`,
//! `localhost`), with no user info, query or fragment; it may have a path (a prefix), to which
//! the segments are appended. Names put into URLs are validated by their parsers first and
//! appended as path segments (escaped), never spliced as text.

use url::Url;

use super::environment::{Cloud, Service};
use super::hosts::AcrRegistry;
use crate::Env;
use crate::error::{Error, Result};
use crate::http::{is_loopback, shown_override};

/// The variable overriding the managed identity endpoint's base URL.
pub const IMDS_URL_VAR: &str = "KUBECRED_AZURE_IMDS_URL";
/// The variable overriding ACR's base URL (the form's `service` stays the registry host).
pub const ACR_URL_VAR: &str = "KUBECRED_AZURE_ACR_URL";
/// The variable overriding ARM's base URL.
pub const ARM_URL_VAR: &str = "KUBECRED_AZURE_ARM_URL";
/// The variable overriding Blob storage's base URL (path-style accounts).
pub const BLOB_URL_VAR: &str = "KUBECRED_AZURE_BLOB_URL";
/// The variable overriding Key Vault's base URL (path-style vaults).
pub const KEYVAULT_URL_VAR: &str = "KUBECRED_AZURE_KEYVAULT_URL";
/// The variable overriding Event Hubs' base URL (path-style namespaces).
pub const EVENTHUBS_URL_VAR: &str = "KUBECRED_AZURE_EVENTHUBS_URL";

/// The variable overriding Azure DevOps git's base URL (where explain reads a repository's refs).
pub const DEVOPS_URL_VAR: &str = "KUBECRED_AZURE_DEVOPS_URL";

/// The instance metadata service, the default of [`IMDS_URL_VAR`].
pub const IMDS_URL: &str = "http://169.254.169.254";

/// The variable overriding `service`'s base URL.
pub(crate) fn override_var(service: Service) -> &'static str {
    match service {
        Service::Blob => BLOB_URL_VAR,
        Service::KeyVault => KEYVAULT_URL_VAR,
        Service::EventHubs => EVENTHUBS_URL_VAR,
    }
}

/// The managed identity endpoint's base URL (IMDS, else the override); the caller appends
/// `/metadata/identity/oauth2/token`.
pub(crate) fn imds_base(env: &Env) -> Result<Url> {
    match overridden(env, IMDS_URL_VAR)? {
        Some(base) => Ok(base),
        None => parsed(IMDS_URL),
    }
}

/// The managed identity token endpoint: [`imds_base`] and `/metadata/identity/oauth2/token`.
pub(crate) fn imds_token_url(env: &Env) -> Result<Url> {
    imds_base(env).map(|base| joined(base, &["metadata", "identity", "oauth2", "token"]))
}

/// The ACR token exchange URL of `registry`.
pub(crate) fn acr_exchange_url(env: &Env, registry: &AcrRegistry) -> Result<Url> {
    let base = match overridden(env, ACR_URL_VAR)? {
        Some(base) => base,
        None => parsed(&format!("https://{}", registry.host()))?,
    };
    Ok(joined(base, &["oauth2", "exchange"]))
}

/// ARM's base URL in `cloud` (or the override).
pub(crate) fn arm_base(env: &Env, cloud: &Cloud) -> Result<Url> {
    match overridden(env, ARM_URL_VAR)? {
        Some(base) => Ok(base),
        None => parsed(cloud.arm_endpoint()),
    }
}

/// The URL of `segments` under ARM's base.
pub(crate) fn arm_url(env: &Env, cloud: &Cloud, segments: &[&str]) -> Result<Url> {
    arm_base(env, cloud).map(|base| joined(base, segments))
}

/// The URL of `path` (segments) of resource `name` (an account, vault or namespace, already
/// validated) of `service`: `https://<name>.<suffix>/<path>`, or `<override>/<name>/<path>`.
pub(crate) fn service_url(
    env: &Env,
    cloud: &Cloud,
    service: Service,
    name: &str,
    path: &[&str],
) -> Result<Url> {
    match overridden(env, override_var(service))? {
        Some(base) => Ok(joined(joined(base, &[name]), path)),
        None => {
            let host = format!("https://{name}.{}", cloud.suffix(service)?);
            Ok(joined(parsed(&host)?, path))
        }
    }
}

/// The smart-HTTP ref advertisement of git repository `url` (already checked to be an Azure
/// DevOps one): `<base>/<its path>/info/refs?service=git-upload-pack`, the base the repository's
/// own `https://<host>[:port]` or the override.
pub(crate) fn devops_refs_url(env: &Env, url: &Url) -> Result<Url> {
    let Some(mut repository) = overridden(env, DEVOPS_URL_VAR)? else {
        return Ok(crate::git::refs_url(url));
    };
    // The repository's path as given (already escaped), under the override's.
    let path = format!("{}{}", repository.path().trim_end_matches('/'), url.path());
    repository.set_path(&path);
    Ok(crate::git::refs_url(&repository))
}

/// `base` with `segments` appended as path segments (escaped; a trailing `/` is not doubled).
fn joined(mut base: Url, segments: &[&str]) -> Url {
    if let Ok(mut path) = base.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    base
}

/// A built-in or built URL (from validated names).
fn parsed(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|_| {
        Error::invalid(format!(
            "cannot build the URL {:?}",
            url.chars().take(200).collect::<String>()
        ))
    })
}

/// The override in `var`, checked; `None` when unset.
fn overridden(env: &Env, var: &str) -> Result<Option<Url>> {
    let Some(value) = env.var(var) else {
        return Ok(None);
    };
    override_url(&value).map(Some).map_err(|why| {
        Error::invalid(format!(
            "{var} '{}': {why}; expected an https URL, or http://127.0.0.1:PORT (a loopback listener)",
            shown_override(&value)
        ))
    })
}

/// `value` as an override base URL, or why not.
fn override_url(value: &str) -> std::result::Result<Url, &'static str> {
    if !value.bytes().all(|b| b.is_ascii_graphic() && b != b'%') {
        return Err("only printable ASCII without %-escapes is accepted");
    }
    let url = Url::parse(value).map_err(|_| "not a URL")?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    let problem = [
        (
            !scheme_ok,
            "not https (plain http only to a loopback listener)",
        ),
        (url.host().is_none(), "it has no host"),
        (
            !url.username().is_empty() || url.password().is_some(),
            "it has user info",
        ),
        (
            url.query().is_some() || url.fragment().is_some(),
            "it has a query or fragment",
        ),
    ];
    match problem
        .into_iter()
        .find_map(|(bad, why)| bad.then_some(why))
    {
        Some(why) => Err(why),
        None => Ok(url),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn devops_refs_are_read_under_the_repository_or_the_override() -> Result<()> {
        let repo = Url::parse("https://dev.azure.com/org/my%20proj/_git/r")
            .map_err(|e| Error::invalid(e.to_string()))?;
        let refs = |pairs: &[(&str, &str)]| {
            devops_refs_url(&Env::from_pairs(pairs), &repo).map(|u| u.to_string())
        };
        assert_eq!(
            refs(&[])?,
            "https://dev.azure.com/org/my%20proj/_git/r/info/refs?service=git-upload-pack"
        );
        assert_eq!(
            refs(&[(DEVOPS_URL_VAR, "https://127.0.0.1:8443/prefix/")])?,
            "https://127.0.0.1:8443/prefix/org/my%20proj/_git/r/info/refs?service=git-upload-pack"
        );
        assert!(refs(&[(DEVOPS_URL_VAR, "http://example.com")]).is_err());
        Ok(())
    }

    use super::*;
    use crate::azure::hosts::registry;

    fn shown(result: Result<Url>) -> String {
        result.map(String::from).unwrap_or_else(|e| e.to_string())
    }

    fn acr(pairs: &[(&str, &str)]) -> Result<String> {
        let registry = registry("myregistry.azurecr.io")?;
        Ok(shown(acr_exchange_url(&Env::from_pairs(pairs), &registry)))
    }

    #[test]
    fn real_endpoints_by_default() -> Result<()> {
        let env = Env::from_pairs(&[]);
        assert_eq!(shown(imds_base(&env)), "http://169.254.169.254/");
        assert_eq!(
            shown(imds_token_url(&env)),
            "http://169.254.169.254/metadata/identity/oauth2/token"
        );
        assert_eq!(acr(&[])?, "https://myregistry.azurecr.io/oauth2/exchange");
        assert_eq!(
            shown(arm_url(
                &env,
                &Cloud::China,
                &["subscriptions", "s", "resourceGroups", "rg(1)"]
            )),
            "https://management.chinacloudapi.cn/subscriptions/s/resourceGroups/rg(1)"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::Public,
                Service::Blob,
                "account1",
                &["container"]
            )),
            "https://account1.blob.core.windows.net/container"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::Government,
                Service::KeyVault,
                "vault-1",
                &["keys", "k"]
            )),
            "https://vault-1.vault.usgovcloudapi.net/keys/k"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::China,
                Service::EventHubs,
                "ns-123",
                &["hub", "messages"]
            )),
            "https://ns-123.servicebus.chinacloudapi.cn/hub/messages"
        );
        Ok(())
    }

    #[test]
    fn overrides_are_bases_with_path_style_names() -> Result<()> {
        let env = Env::from_pairs(&[
            (IMDS_URL_VAR, "http://127.0.0.1:8080"),
            (ARM_URL_VAR, "https://arm.rig.example/prefix/"),
            (BLOB_URL_VAR, "http://127.0.0.1:10000"),
            (KEYVAULT_URL_VAR, "http://[::1]:1/"),
            (EVENTHUBS_URL_VAR, "http://localhost:5"),
        ]);
        assert_eq!(shown(imds_base(&env)), "http://127.0.0.1:8080/");
        assert_eq!(
            shown(imds_token_url(&env)),
            "http://127.0.0.1:8080/metadata/identity/oauth2/token"
        );
        assert_eq!(
            acr(&[(ACR_URL_VAR, "http://127.0.0.1:9")])?,
            "http://127.0.0.1:9/oauth2/exchange"
        );
        assert_eq!(
            shown(arm_url(&env, &Cloud::Public, &["subscriptions", "s"])),
            "https://arm.rig.example/prefix/subscriptions/s"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::Public,
                Service::Blob,
                "devstoreaccount1",
                &["c"]
            )),
            "http://127.0.0.1:10000/devstoreaccount1/c"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::Public,
                Service::KeyVault,
                "v",
                &["keys", "k"]
            )),
            "http://[::1]:1/v/keys/k"
        );
        assert_eq!(
            shown(service_url(
                &env,
                &Cloud::Public,
                Service::EventHubs,
                "n",
                &["h", "messages"]
            )),
            "http://localhost:5/n/h/messages"
        );
        // A private cloud has no known suffixes; the override serves it.
        let private = Cloud::Private {
            resource_manager_endpoint: "https://arm.private".into(),
            token_audience: "https://arm.private".into(),
        };
        assert_eq!(
            shown(service_url(&env, &private, Service::Blob, "a", &["c"])),
            "http://127.0.0.1:10000/a/c"
        );
        assert!(
            shown(service_url(
                &Env::from_pairs(&[]),
                &private,
                Service::Blob,
                "a",
                &["c"]
            ))
            .contains(BLOB_URL_VAR)
        );
        Ok(())
    }

    #[test]
    fn segments_are_escaped_not_spliced() {
        let env = Env::from_pairs(&[]);
        assert_eq!(
            shown(arm_url(&env, &Cloud::Public, &["a/../b", "c?d#e"])),
            "https://management.azure.com/a%2F..%2Fb/c%3Fd%23e"
        );
    }

    #[test]
    fn other_overrides_are_refused() -> Result<()> {
        for (value, why) in [
            ("http://acr.rig.example", "not https"),
            ("http://10.0.0.1:80", "not https"),
            ("http://169.254.169.254", "not https"),
            ("http://localhost.evil.example", "not https"),
            ("ftp://127.0.0.1", "not https"),
            ("https://u:s3cret@127.0.0.1:1", "user info"),
            ("https://127.0.0.1:1/?x=1", "query or fragment"),
            ("https://127.0.0.1:1/#x", "query or fragment"),
            ("https://127.0.0.1%2e", "printable ASCII"),
            ("not a url", "printable ASCII"),
            ("127.0.0.1:8080", "not a URL"),
            ("unix:/run/x", "not https"),
        ] {
            let error = acr(&[(ACR_URL_VAR, value)])?;
            assert!(
                error.starts_with("KUBECRED_AZURE_ACR_URL '")
                    && error.contains(why)
                    && !error.contains("s3cret"),
                "{value}: {error}"
            );
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn any_override_is_taken_or_refused_without_panicking(value in "\\PC{0,200}") {
            let env = Env::from_pairs(&[(IMDS_URL_VAR, &value)]);
            if let (false, Ok(base)) = (value.is_empty(), imds_base(&env)) {
                proptest::prop_assert!(base.query().is_none() && base.username().is_empty());
                proptest::prop_assert!(base.scheme() == "https" || is_loopback(&base));
            }
        }
    }
}
