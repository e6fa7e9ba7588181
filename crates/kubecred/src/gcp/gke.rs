//! GKE remote clusters: the API server address and CA from `clusters.get` (unless the caller
//! gives both), and the resolved identity's Google access token as the bearer, as
//! `gke-gcloud-auth-plugin` hands kubectl. Hand-written for the reasons given in `sts.rs`.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use url::Url;

use super::cluster::{GkeCluster, gke_cluster_id};
use super::{endpoints, wire};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::{Engine, Request, Secret};

const ACTION: &str = "get the GKE cluster (clusters.get)";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    master_auth: MasterAuth,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MasterAuth {
    #[serde(default)]
    cluster_ca_certificate: String,
}

/// The bearer token alone: the access token of the resolved identity (kubectl's exec plugin).
pub(crate) async fn token(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<(Secret, SystemTime)> {
    cluster_id(cluster)?;
    let token = engine.access_token(request).await?;
    Ok((token.token, token.expires_at))
}

/// The cluster's server, CA and bearer token.
pub(crate) async fn credentials(
    engine: &Engine,
    cluster: &ClusterRef,
    request: &Request,
) -> Result<ClusterCredentials> {
    let id = cluster_id(cluster)?;
    let url = endpoints::cluster_url(engine.env(), &id)?;
    let token = engine.access_token(request).await?;
    let address = cluster.address.clone().filter(|a| !a.is_empty());
    let ca_data = cluster.ca_data.clone().filter(|c| !c.is_empty());
    let (server, ca_data) = match (address, ca_data) {
        (Some(address), Some(ca)) => (address, Some(ca)),
        (address, ca_data) => {
            let (endpoint, ca) = get_cluster(engine, request, &url, &token.token).await?;
            (address.unwrap_or(endpoint), ca_data.or(ca))
        }
    };
    Ok(ClusterCredentials {
        server,
        ca_data,
        token: token.token,
        expires_at: token.expires_at,
    })
}

/// The request's cluster id, checked.
fn cluster_id(cluster: &ClusterRef) -> Result<GkeCluster> {
    match cluster.cluster.as_deref() {
        Some(id) => gke_cluster_id(id),
        None => Err(Error::invalid(
            "a GKE cluster needs its id, projects/<project>/locations/<location>/clusters/<name>",
        )),
    }
}

/// `clusters.get`: the server URL and the CA, if reported.
async fn get_cluster(
    engine: &Engine,
    request: &Request,
    url: &Url,
    bearer: &Secret,
) -> Result<(String, Option<Vec<u8>>)> {
    let client = http::client(
        ACTION,
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    tracing::debug!(%url, "GKE clusters.get");
    let get = client.get(url.clone()).bearer_auth(bearer.expose());
    let answer: Answer = wire::json(get, ACTION).await?;
    let server = server(&answer.endpoint)?;
    Ok((server, ca(&answer.master_auth.cluster_ca_certificate)?))
}

/// `https://<endpoint>` for the reported endpoint, a host (name or IP) with an optional port.
fn server(endpoint: &str) -> Result<String> {
    let bad = || {
        Error::upstream(format!(
            "{ACTION}: the answer's endpoint '{}' is not a host with an optional port",
            endpoint
                .chars()
                .take(100)
                .collect::<String>()
                .escape_default()
        ))
    };
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b".-:[]".contains(&b);
    if endpoint.is_empty() || !endpoint.bytes().all(allowed) {
        return Err(bad());
    }
    let server = format!("https://{endpoint}");
    let url = Url::parse(&server).map_err(|_| bad())?;
    match url.host().is_some() && url.path() == "/" {
        true => Ok(server),
        false => Err(bad()),
    }
}

/// The PEM of the reported `clusterCaCertificate` (base64); none when empty.
fn ca(encoded: &str) -> Result<Option<Vec<u8>>> {
    if encoded.is_empty() {
        return Ok(None);
    }
    STANDARD.decode(encoded).map(Some).map_err(|_| {
        Error::upstream(format!(
            "{ACTION}: the answer's masterAuth.clusterCaCertificate is not base64"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_https_servers() {
        for (endpoint, server) in [
            ("34.1.2.3", "https://34.1.2.3"),
            ("127.0.0.1:6443", "https://127.0.0.1:6443"),
            (
                "gke-1.europe-west1.gke.goog",
                "https://gke-1.europe-west1.gke.goog",
            ),
            ("[2001:db8::1]", "https://[2001:db8::1]"),
        ] {
            assert_eq!(super::server(endpoint).ok().as_deref(), Some(server));
        }
        for bad in ["", "https://x", "x/y", "u@x", "x?y", "x y", "x\n", ":443"] {
            let error = super::server(bad).err().map(|e| e.to_string());
            assert!(
                error.is_some_and(|e| e.contains("is not a host with an optional port")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_ca_is_decoded() {
        assert_eq!(ca("").ok(), Some(None));
        assert_eq!(ca("UEVN").ok(), Some(Some(b"PEM".to_vec())));
        assert!(ca("not base64!").is_err());
    }

    #[test]
    fn a_cluster_id_is_required_and_checked() {
        let id = |value: Option<&str>| ClusterRef {
            cluster: value.map(str::to_owned),
            ..ClusterRef::default()
        };
        let message = |r: Result<GkeCluster>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message(cluster_id(&id(None))).contains("needs its id"));
        assert!(
            message(cluster_id(&id(Some("arn:aws:eks:x")))).starts_with("invalid GKE cluster ID")
        );
        let good = "projects/p-1234/locations/us-central1/clusters/c";
        assert_eq!(
            cluster_id(&id(Some(good))).map(|c| c.id()).ok().as_deref(),
            Some(good)
        );
    }
}
