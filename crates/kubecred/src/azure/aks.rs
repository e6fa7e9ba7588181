//! AKS remote clusters, as the reference's `NewRESTConfig`: the bearer is an Entra token for
//! the AKS server application (`6dae42f8-4368-4678-94ff-3960e28e3630/.default`), as kubelogin
//! hands kubectl. Only when the caller lacks the address or the CA is ARM asked (with a token
//! for the cloud's ARM scope, `Cloud::arm_scope`):
//!
//! 1. `GET <ARM>/subscriptions/S/resourceGroups/G/providers/Microsoft.ContainerService/managedClusters/N?api-version=2024-05-01`:
//!    the cluster must have Microsoft Entra ID integration (`properties.aadProfile`), else the
//!    reference's explained error (its local accounts would not take an Entra token);
//! 2. `POST …/listClusterUserCredential?api-version=2024-05-01`: base64 kubeconfigs, each read
//!    for its current context's cluster `server` and `certificate-authority-data` (nothing else
//!    of them is kept: a local-account kubeconfig carries secrets). With no address given, the
//!    first wins; with one, the first whose server has the same canonical form
//!    (`https://<lowercase host>:<port, 443 by default>`, the reference's `ParseClusterAddress`).
//!
//! The server is the given address verbatim (not canonicalised), else the kubeconfig's. ARM's
//! base URL is the cloud's, or `KUBECRED_AZURE_ARM_URL` (`super::endpoints`). AKS reports its
//! clusters' addresses, so a tenant's address for the caller's own identity is checked against
//! the first kubeconfig's server by [`crate::cluster`] (`Capabilities::reports_cluster_address`).
//!
//! Hand-written: two ARM calls, where the `azure_mgmt` crates would bring a generated client.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use url::Url;

use super::cluster::{AksCluster, aks_cluster_id};
use super::environment::{self, AKS_SCOPE, Cloud};
use super::{endpoints, wire};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::{Engine, Env, Request, Secret};

/// The ARM API version of the `managedClusters` calls.
pub const API_VERSION: &str = "2024-05-01";
/// The most kubeconfigs read from one answer, and the largest one (decoded).
const MAX_KUBECONFIGS: usize = 16;
const MAX_KUBECONFIG_LEN: usize = 256 * 1024;
const ENTRA_DOCS: &str =
    "https://learn.microsoft.com/en-us/azure/aks/enable-authentication-microsoft-entra-id";

/// The bearer token alone: an Entra token for the AKS server application (kubectl's exec
/// plugin). A cluster id, when given, must be valid; none is needed.
pub(crate) async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    if let Some(id) = cluster.cluster.as_deref() {
        aks_cluster_id(id)?;
    }
    let scoped = Request {
        scopes: vec![AKS_SCOPE.to_owned()],
        ..request.clone()
    };
    let token = engine.access_token(&scoped).await?;
    Ok((token.token, token.expires_at))
}

/// The cluster's server, CA and bearer token.
pub(crate) async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let address = cluster.address.clone().filter(|a| !a.is_empty());
    let ca_data = cluster.ca_data.clone().filter(|c| !c.is_empty());
    // Everything checkable is checked before a token is asked for.
    let lookup = match (&address, &ca_data) {
        (Some(_), Some(_)) => None,
        _ => Some(Lookup::new(engine.env(), cluster, address.as_deref())?),
    };
    let (token, expires_at) = token(engine, cluster, request).await?;
    let (server, ca_data) = match (lookup, address, ca_data) {
        (Some(lookup), address, ca_data) => {
            let scoped = Request {
                scopes: vec![lookup.cloud.arm_scope()],
                ..request.clone()
            };
            let arm_token = engine.access_token(&scoped).await?.token;
            let client = http::client(
                "call ARM",
                Proxy::Request(request.proxy.as_ref()),
                engine.timeouts(),
            )?;
            let found = lookup.run(&client, engine.env(), &arm_token).await?;
            (address.unwrap_or(found.server), ca_data.or(found.ca_data))
        }
        (None, address, ca_data) => (address.unwrap_or_default(), ca_data),
    };
    Ok(ClusterCredentials {
        server,
        ca_data,
        token,
        expires_at,
    })
}

/// What ARM is asked: which cluster, in which cloud, matching which address.
struct Lookup {
    id: String,
    cluster: AksCluster,
    cloud: Cloud,
    /// The address as given, and its canonical form.
    address: Option<(String, String)>,
}

/// What a kubeconfig said.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// The current context's cluster `server`, as written.
    pub server: String,
    /// Its `certificate-authority-data`, decoded.
    pub ca_data: Option<Vec<u8>>,
}

impl Lookup {
    fn new(env: &Env, cluster: &ClusterRef, address: Option<&str>) -> Result<Self> {
        let id = cluster.cluster.as_deref().ok_or_else(|| {
            Error::invalid(
                "an AKS cluster without both address and CA needs its resource id, \
                 /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>",
            )
        })?;
        let parsed = aks_cluster_id(id)?;
        let address = address
            .map(|a| {
                canonical_address(a)
                    .map(|canonical| (a.to_owned(), canonical))
                    .map_err(|why| {
                        Error::invalid(format!(
                            "failed to parse specified cluster address '{}': {why}",
                            shown(a)
                        ))
                    })
            })
            .transpose()?;
        Ok(Lookup {
            id: id.to_owned(),
            cluster: parsed,
            cloud: environment::cloud(env)?,
            address,
        })
    }

    fn url(&self, env: &Env, last: Option<&str>) -> Result<Url> {
        let c = &self.cluster;
        let mut segments = vec![
            "subscriptions",
            &c.subscription,
            "resourceGroups",
            &c.resource_group,
            "providers",
            "Microsoft.ContainerService",
            "managedClusters",
            &c.name,
        ];
        segments.extend(last);
        let mut url = endpoints::arm_url(env, &self.cloud, &segments)?;
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        Ok(url)
    }

    /// Describes the cluster (Entra integration required), then reads its user kubeconfigs.
    async fn run(&self, client: &reqwest::Client, env: &Env, bearer: &Secret) -> Result<Found> {
        let url = self.url(env, None)?;
        tracing::debug!(%url, "ARM get managed cluster");
        let get = client.get(url).bearer_auth(bearer.expose());
        let described: Described = wire::json(get, "failed to describe AKS cluster").await?;
        if described.properties.aad_profile.is_none_or(|p| p.is_null()) {
            return Err(Error::invalid(format!(
                "AKS cluster {} does not have Microsoft Entra ID integration enabled. See docs for enabling: {ENTRA_DOCS}",
                self.id
            )));
        }
        let url = self.url(env, Some("listClusterUserCredential"))?;
        tracing::debug!(%url, "ARM list cluster user credentials");
        let action = format!("list the user credentials of AKS cluster {}", self.id);
        let post = client
            .post(url)
            .bearer_auth(bearer.expose())
            .header("content-length", "0");
        let listed: Listed = wire::json(post, &action).await?;
        self.pick(&listed.kubeconfigs)
    }

    /// The first kubeconfig (no address given) or the first matching the address.
    fn pick(&self, kubeconfigs: &[Kubeconfig]) -> Result<Found> {
        let mut addresses = Vec::new();
        for (i, kubeconfig) in kubeconfigs.iter().take(MAX_KUBECONFIGS).enumerate() {
            let found = read_kubeconfig(&kubeconfig.value).map_err(|why| {
                Error::upstream(format!("failed to parse kubeconfig[{i}]: {why}"))
            })?;
            addresses.push(format!("'{}'", shown(&found.server)));
            let canonical = canonical_address(&found.server).map_err(|why| {
                Error::upstream(format!(
                    "failed to parse address '{}' from kubeconfig[{i}]: {why}",
                    shown(&found.server)
                ))
            })?;
            match &self.address {
                None => return Ok(found),
                Some((_, given)) if *given == canonical => return Ok(found),
                Some(_) => {}
            }
        }
        Err(match &self.address {
            None => Error::upstream(format!("no kubeconfig found for AKS cluster {}", self.id)),
            Some((given, _)) => Error::invalid(format!(
                "no kubeconfig found for AKS cluster {} matching the specified address '{}'. cluster addresses: [{}]",
                self.id,
                shown(given),
                addresses.join(", ")
            )),
        })
    }
}

/// The kubeconfig `listClusterUserCredential`'s answer `body` gives for cluster `id` (checked)
/// and the `address` given, if any: what `credentials` does once ARM has answered, without a
/// call (public for the fuzz targets).
pub fn listed_kubeconfig(id: &str, address: Option<&str>, body: &str) -> Result<Found> {
    let cluster = ClusterRef {
        cluster: Some(id.to_owned()),
        address: address.map(str::to_owned),
        ..ClusterRef::default()
    };
    let lookup = Lookup::new(&Env::from_pairs(&[]), &cluster, address)?;
    let action = format!("list the user credentials of AKS cluster {id}");
    let listed: Listed = wire::parse(body, &action)?;
    lookup.pick(&listed.kubeconfigs)
}

#[derive(Deserialize)]
struct Described {
    #[serde(default)]
    properties: Properties,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    #[serde(default)]
    aad_profile: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Listed {
    #[serde(default)]
    kubeconfigs: Vec<Kubeconfig>,
}

#[derive(Deserialize)]
struct Kubeconfig {
    #[serde(default)]
    value: String,
}

/// The current context's cluster server and CA of a base64 kubeconfig; why not, without
/// quoting it (a local-account kubeconfig holds credentials).
pub fn read_kubeconfig(encoded: &str) -> std::result::Result<Found, String> {
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "not base64".to_owned())?;
    if decoded.len() > MAX_KUBECONFIG_LEN {
        return Err(format!("larger than {MAX_KUBECONFIG_LEN} bytes"));
    }
    let text = Secret::new(String::from_utf8(decoded).map_err(|_| "not UTF-8".to_owned())?);
    let config = kube::config::Kubeconfig::from_yaml(text.expose())
        .map_err(|_| "not a kubeconfig (YAML)".to_owned())?;
    let current = config
        .current_context
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or("no current-context")?;
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .ok_or("the current context is not defined")?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or("the current context's cluster is not defined")?;
    let server = cluster
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or("the cluster has no server")?;
    let ca_data = cluster
        .certificate_authority_data
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| STANDARD.decode(c.trim()))
        .transpose()
        .map_err(|_| "certificate-authority-data is not base64".to_owned())?;
    Ok(Found { server, ca_data })
}

/// The reference's `ParseClusterAddress`: `https://<lowercase host>:<port>` (443 by default),
/// path and query dropped; a bare host gets `https://`. User info is refused here.
pub fn canonical_address(address: &str) -> std::result::Result<String, String> {
    if address.is_empty() {
        return Err("empty address".into());
    }
    let prefixed = match address.starts_with("http") {
        true => address.to_owned(),
        false => format!("https://{address}"),
    };
    // The URL parser drops tabs and newlines silently; Go's refuses them, and so does this.
    if prefixed
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!(
            "failed to parse Kubernetes API server address '{}': a control character or space",
            shown(&prefixed)
        ));
    }
    let url = Url::parse(&prefixed).map_err(|e| {
        format!(
            "failed to parse Kubernetes API server address '{}': {e}",
            shown(&prefixed)
        )
    })?;
    if url.scheme() != "https" {
        return Err(format!(
            "the Kubernetes API server address '{}' must use https scheme",
            shown(&prefixed)
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the Kubernetes API server address must not carry user info".into());
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
        format!(
            "the Kubernetes API server address '{}' has no host",
            shown(&prefixed)
        )
    })?;
    let port = url.port_or_known_default().unwrap_or(443);
    Ok(format!("https://{}:{port}", host.to_ascii_lowercase()))
}

/// Upstream or caller text in a message: escaped and cut.
fn shown(text: &str) -> String {
    text.chars()
        .take(200)
        .collect::<String>()
        .escape_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::wire::stand_in;

    const ID: &str = "/subscriptions/12345678-1234-1234-1234-123456789012/resourceGroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-cluster";
    const FIRST: &str = "https://test-cluster-12345678.hcp.eastus.azmk8s.io:443";
    const SECOND: &str = "https://test-cluster-secondary-87654321.hcp.westus.azmk8s.io:443";
    const CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t";

    fn kubeconfig(server: &str) -> String {
        let yaml = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: ctx\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {CA}\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: local-s3cret\n"
        );
        STANDARD.encode(yaml)
    }

    fn listed(servers: &[&str]) -> String {
        let kubeconfigs: Vec<_> = servers
            .iter()
            .enumerate()
            .map(|(i, s)| serde_json::json!({"name": format!("clusterUser{i}"), "value": kubeconfig(s)}))
            .collect();
        serde_json::json!({ "kubeconfigs": kubeconfigs }).to_string()
    }

    fn io(e: std::io::Error) -> Error {
        Error::invalid(e.to_string())
    }

    fn cluster(id: &str, address: Option<&str>) -> ClusterRef {
        ClusterRef {
            cluster: Some(id.to_owned()),
            address: address.map(str::to_owned),
            ..ClusterRef::default()
        }
    }

    /// An ARM stand-in: the describe answer (with or without `aadProfile`) and the kubeconfigs.
    async fn arm(entra: bool, servers: &'static [&'static str]) -> Result<(Env, stand_in::Log)> {
        let (base, seen) = stand_in::serve(move |request| match request.method.as_str() {
            "GET" => {
                let profile = match entra {
                    true => serde_json::json!({"managed": true}),
                    false => serde_json::Value::Null,
                };
                (
                    200,
                    serde_json::json!({"properties": {"fqdn": "x", "aadProfile": profile}})
                        .to_string(),
                )
            }
            _ => (200, listed(servers)),
        })
        .await
        .map_err(io)?;
        Ok((Env::from_pairs(&[(endpoints::ARM_URL_VAR, &base)]), seen))
    }

    async fn lookup(env: &Env, id: &str, address: Option<&str>) -> Result<Found> {
        let lookup = Lookup::new(env, &cluster(id, address), address)?;
        let client = http::client("t", Proxy::Request(None), &crate::Timeouts::default())?;
        lookup.run(&client, env, &Secret::new("arm-token")).await
    }

    /// §4.3 `NewRESTConfig`: the first kubeconfig without an address; the describe and list
    /// calls as ARM's.
    #[tokio::test]
    async fn the_first_kubeconfig_is_the_cluster() -> Result<()> {
        let (env, seen) = arm(true, &[FIRST, SECOND]).await?;
        let found = lookup(&env, ID, None).await?;
        assert_eq!(
            found,
            Found {
                server: FIRST.into(),
                ca_data: Some(b"-----BEGIN CERTIFICATE-----".to_vec())
            }
        );
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        let path = "/subscriptions/12345678-1234-1234-1234-123456789012/resourceGroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-cluster";
        let calls: Vec<_> = seen
            .iter()
            .map(|s| {
                (
                    s.method.as_str(),
                    s.target.as_str(),
                    s.header("authorization"),
                )
            })
            .collect();
        assert_eq!(
            calls,
            [
                (
                    "GET",
                    format!("{path}?api-version=2024-05-01").as_str(),
                    Some("Bearer arm-token")
                ),
                (
                    "POST",
                    format!("{path}/listClusterUserCredential?api-version=2024-05-01").as_str(),
                    Some("Bearer arm-token")
                ),
            ]
        );
        // Lowercase `resourcegroups` is accepted (case-insensitive ids).
        let (env, _) = arm(true, &[FIRST]).await?;
        let lower = ID.replace("resourceGroups", "resourcegroups");
        assert_eq!(lookup(&env, &lower, None).await?.server, FIRST);
        Ok(())
    }

    /// §4.3: an address picks the kubeconfig with the same canonical form, with or without
    /// `:443`; no match lists the addresses seen.
    #[tokio::test]
    async fn an_address_picks_its_kubeconfig() -> Result<()> {
        for address in [
            SECOND,
            "https://test-cluster-secondary-87654321.hcp.westus.azmk8s.io",
            "TEST-cluster-secondary-87654321.hcp.westus.azmk8s.io",
        ] {
            let (env, _) = arm(true, &[FIRST, SECOND]).await?;
            assert_eq!(
                lookup(&env, ID, Some(address)).await?.server,
                SECOND,
                "{address}"
            );
        }
        let (env, _) = arm(true, &[FIRST]).await?;
        let different = "https://different-cluster.hcp.eastus.azmk8s.io:443";
        let error = lookup(&env, ID, Some(different))
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(format!("no kubeconfig found for AKS cluster {ID} matching the specified address '{different}'. cluster addresses: ['{FIRST}']").as_str())
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_cluster_without_entra_integration_is_refused() -> Result<()> {
        let (env, seen) = arm(false, &[FIRST]).await?;
        let error = lookup(&env, ID, None).await.err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(format!("AKS cluster {ID} does not have Microsoft Entra ID integration enabled. See docs for enabling: https://learn.microsoft.com/en-us/azure/aks/enable-authentication-microsoft-entra-id").as_str())
        );
        assert_eq!(
            seen.lock().map(|s| s.len()).unwrap_or_default(),
            1,
            "no credentials listed"
        );
        Ok(())
    }

    #[tokio::test]
    async fn arm_refusals_are_classified() -> Result<()> {
        let (base, _) = stand_in::serve(|_| {
            (
                403,
                r#"{"error":{"code":"AuthorizationFailed","message":"no read"}}"#.to_owned(),
            )
        })
        .await
        .map_err(io)?;
        let env = Env::from_pairs(&[(endpoints::ARM_URL_VAR, &base)]);
        let error = lookup(&env, ID, None).await.err();
        assert!(error.as_ref().is_some_and(Error::is_denied), "{error:?}");
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("failed to describe AKS cluster: HTTP 403: AuthorizationFailed: no read")
        );
        Ok(())
    }

    #[test]
    fn ids_and_addresses_are_checked_before_any_call() {
        let env = Env::from_pairs(&[]);
        let message = |r: Result<Lookup>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message(Lookup::new(
                &env,
                &cluster("invalid-cluster-id", None),
                None
            ))
            .starts_with("invalid AKS cluster ID: \"invalid-cluster-id\"")
        );
        assert!(
            message(Lookup::new(&env, &ClusterRef::default(), None))
                .contains("needs its resource id")
        );
        let bad = Lookup::new(
            &env,
            &cluster(ID, Some("http://x:443")),
            Some("http://x:443"),
        );
        assert_eq!(
            message(bad),
            "failed to parse specified cluster address 'http://x:443': the Kubernetes API server address 'http://x:443' must use https scheme"
        );
    }

    /// The reference's `ParseClusterAddress` vectors (§4.1).
    #[test]
    fn addresses_are_canonicalised() {
        for (address, canonical) in [
            ("https://example.com:443", "https://example.com:443"),
            ("example.com", "https://example.com:443"),
            ("EXAMPLE.COM:8080", "https://example.com:8080"),
            ("34.44.60.80", "https://34.44.60.80:443"),
            ("https://[::1]/path?q", "https://[::1]:443"),
        ] {
            assert_eq!(
                canonical_address(address).as_deref(),
                Ok(canonical),
                "{address}"
            );
        }
        for (address, why) in [
            ("", "empty address"),
            (
                "------------\t",
                "failed to parse Kubernetes API server address 'https://------------\\t'",
            ),
            ("http://example.com:443", "must use https scheme"),
            ("https://u:p@example.com", "user info"),
            // §6 #13: a bare host starting with "http" is not prefixed, so refused.
            ("httpbin.example", "'httpbin.example'"),
            (
                "https://",
                "failed to parse Kubernetes API server address 'https://'",
            ),
            (
                "example.com:99999",
                "failed to parse Kubernetes API server address",
            ),
            ("exam ple.com", "a control character or space"),
            ("example.com\n", "a control character or space"),
        ] {
            let error = canonical_address(address).err().unwrap_or_default();
            assert!(error.contains(why), "{address:?}: {error}");
        }
    }

    #[test]
    fn kubeconfigs_are_read_without_quoting_them() {
        assert_eq!(
            read_kubeconfig(&kubeconfig(FIRST)),
            Ok(Found {
                server: FIRST.into(),
                ca_data: Some(b"-----BEGIN CERTIFICATE-----".to_vec())
            })
        );
        assert_eq!(
            read_kubeconfig(&format!(" {}\n", kubeconfig(SECOND))).map(|f| f.server),
            Ok(SECOND.into())
        );
        let no_ca = "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://a.example'}\n";
        assert_eq!(
            read_kubeconfig(&STANDARD.encode(no_ca)),
            Ok(Found {
                server: "https://a.example".into(),
                ca_data: None
            })
        );
        let with = |cluster: &str| {
            STANDARD.encode(format!(
                "current-context: x\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\nclusters:\n- name: c\n  cluster: {cluster}\nusers:\n- name: u\n  user: {{token: local-s3cret}}\n"
            ))
        };
        for (value, why) in [
            ("!!".to_owned(), "not base64"),
            (String::new(), "no current-context"),
            (STANDARD.encode([0xff, 0xfe, b'x']), "not UTF-8"),
            (STANDARD.encode("token: local-s3cret\n: ["), "not a kubeconfig"),
            (STANDARD.encode("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"), "no current-context"),
            (STANDARD.encode("current-context: ''\n"), "no current-context"),
            (STANDARD.encode("current-context: x\ncontexts: []\nusers:\n- name: u\n  user: {token: local-s3cret}\n"), "the current context is not defined"),
            (
                STANDARD.encode("current-context: x\ncontexts:\n- name: x\n  context: {cluster: other, user: u}\nclusters: []\nusers:\n- name: u\n  user: {token: local-s3cret}\n"),
                "the current context's cluster is not defined",
            ),
            (with("{}"), "the cluster has no server"),
            (with("{server: ''}"), "the cluster has no server"),
            (
                with("{server: 'https://a.example', certificate-authority-data: '!!local-s3cret'}"),
                "certificate-authority-data is not base64",
            ),
            (STANDARD.encode(vec![b'#'; MAX_KUBECONFIG_LEN + 1]), "larger than"),
        ] {
            let error = read_kubeconfig(&value).err().unwrap_or_default();
            assert!(error.contains(why) && !error.contains("s3cret"), "{error}");
        }
    }

    /// §4.3 `NewRESTConfig` on ARM's answer: the first kubeconfig, or the one matching the
    /// address (with or without `:443`); every way the answer can be wrong, named by index.
    #[test]
    fn listed_kubeconfigs_are_picked_by_address() {
        let two = listed(&[FIRST, SECOND]);
        let pick = |address: Option<&str>, body: &str| {
            listed_kubeconfig(ID, address, body).map_err(|e| e.to_string())
        };
        for (address, server) in [
            (None, FIRST),
            (Some(FIRST), FIRST),
            (Some(SECOND), SECOND),
            (
                Some("https://test-cluster-secondary-87654321.hcp.westus.azmk8s.io"),
                SECOND,
            ),
            (
                Some("TEST-CLUSTER-SECONDARY-87654321.hcp.westus.azmk8s.io:443/ignored"),
                SECOND,
            ),
        ] {
            assert_eq!(
                pick(address, &two).map(|f| f.server).as_deref(),
                Ok(server),
                "{address:?}"
            );
        }
        let lower = ID.replace("resourceGroups", "resourcegroups");
        assert!(listed_kubeconfig(&lower, None, &two).is_ok());
        let bad = |value: &str| {
            serde_json::json!({"kubeconfigs": [{"name": "clusterUser", "value": value}]})
                .to_string()
        };
        let different = "https://different-cluster.hcp.eastus.azmk8s.io:443";
        for (address, body, expected) in [
            (
                Some(different),
                listed(&[FIRST]),
                format!("no kubeconfig found for AKS cluster {ID} matching the specified address '{different}'. cluster addresses: ['{FIRST}']"),
            ),
            (
                Some("https://test-cluster-12345678.hcp.eastus.azmk8s.io:6443"),
                two.clone(),
                format!("cluster addresses: ['{FIRST}', '{SECOND}']"),
            ),
            (None, r#"{"kubeconfigs":[]}"#.to_owned(), format!("no kubeconfig found for AKS cluster {ID}")),
            (None, "{}".to_owned(), format!("no kubeconfig found for AKS cluster {ID}")),
            (
                None,
                r#"{"kubeconfigs":{"value":"local-s3cret"}}"#.to_owned(),
                format!("list the user credentials of AKS cluster {ID}: unexpected answer (Data error"),
            ),
            (None, "local-s3cret".to_owned(), "unexpected answer (Syntax error".to_owned()),
            (None, bad("local-s3cret!"), "failed to parse kubeconfig[0]: not base64".to_owned()),
            (
                None,
                listed(&["http://test-cluster.example"]),
                "failed to parse address 'http://test-cluster.example' from kubeconfig[0]: the Kubernetes API server address 'http://test-cluster.example' must use https scheme".to_owned(),
            ),
            (
                Some(FIRST),
                serde_json::json!({"kubeconfigs": [{"value": kubeconfig(SECOND)}, {"value": "!!"}]}).to_string(),
                "failed to parse kubeconfig[1]: not base64".to_owned(),
            ),
            (Some("http://x"), two.clone(), "failed to parse specified cluster address 'http://x'".to_owned()),
            (Some(""), two.clone(), "failed to parse specified cluster address '': empty address".to_owned()),
        ] {
            let error = pick(address, &body).err().unwrap_or_default();
            assert!(error.contains(&expected), "{address:?} {body}: {error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
        // At most 16 kubeconfigs are read: a match past them is not found.
        let many: Vec<&str> = std::iter::repeat_n(FIRST, MAX_KUBECONFIGS)
            .chain([SECOND])
            .collect();
        assert!(
            pick(Some(SECOND), &listed(&many))
                .err()
                .is_some_and(|e| e.starts_with("no kubeconfig found"))
        );
        assert!(
            pick(None, &listed(&[FIRST])).is_ok_and(
                |f| f.ca_data.as_deref() == Some(b"-----BEGIN CERTIFICATE-----".as_slice())
            )
        );
        let error = listed_kubeconfig("invalid-cluster-id", None, &two)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("invalid AKS cluster ID: \"invalid-cluster-id\""),
            "{error}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_address_is_canonical_or_refused(address in "\\PC{0,200}") {
            if let Ok(canonical) = canonical_address(&address) {
                proptest::prop_assert!(canonical.starts_with("https://"));
                proptest::prop_assert!(canonical.matches('/').count() == 2 && !canonical.contains(['@', '?', '#']));
            }
        }

        #[test]
        fn any_kubeconfig_is_read_or_refused(text in "\\PC{0,400}") {
            let _ = read_kubeconfig(&STANDARD.encode(text));
        }
    }
}
