//! The GCE/GKE metadata server: the GKE cluster a pod runs in (object level's audiences on GKE)
//! and the node's own access token (node level).
//!
//! Reached at `GCE_METADATA_HOST` (from the engine's [`Env`]; default `169.254.169.254`),
//! under `/computeMetadata/v1/`, with `Metadata-Flavor: Google`, never through a proxy (one
//! elsewhere would answer for its own host). The cluster is read lazily, on first need, in the
//! reference's order (project id, location, name) with its messages; a success is kept for the
//! process (per metadata host), a failure is retried on the next call.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::cluster::GkeCluster;
use super::wire;
use crate::Env;
use crate::credential::AccessToken;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::timeouts::Timeouts;

/// The variable naming the metadata server (`host` or `host:port`), as Google's libraries read it.
pub const METADATA_HOST_VAR: &str = "GCE_METADATA_HOST";
/// The metadata server's address on GCE and GKE.
pub const DEFAULT_METADATA_HOST: &str = "169.254.169.254";

/// The GKE clusters read so far, by metadata host.
static CLUSTERS: LazyLock<Mutex<HashMap<String, GkeCluster>>> = LazyLock::new(Default::default);

/// The metadata server of `env`, checked: a host name or IP address, with an optional port.
fn host(env: &Env) -> Result<String> {
    let value = env.var(METADATA_HOST_VAR);
    let value = value.as_deref().unwrap_or(DEFAULT_METADATA_HOST);
    let url = url::Url::parse(&format!("http://{value}/")).ok();
    let bare = url.as_ref().is_some_and(|u| {
        u.host_str().is_some()
            && u.username().is_empty()
            && u.password().is_none()
            && u.path() == "/"
            && u.query().is_none()
            && u.fragment().is_none()
    });
    match (bare, value.bytes().all(|b| b.is_ascii_graphic())) {
        (true, true) => Ok(value.to_owned()),
        _ => Err(Error::invalid(format!(
            "{METADATA_HOST_VAR} '{}': expected a host or IP address with an optional port",
            value.escape_default()
        ))),
    }
}

/// The GKE cluster this process runs in (kept once read).
pub(crate) async fn gke_cluster(env: &Env, timeouts: &Timeouts) -> Result<GkeCluster> {
    let host = host(env)?;
    if let Some(cluster) = cached(&host) {
        return Ok(cluster);
    }
    let cluster = read_cluster(&host, timeouts).await?;
    if let Ok(mut clusters) = CLUSTERS.lock() {
        clusters.insert(host, cluster.clone());
    }
    Ok(cluster)
}

fn cached(host: &str) -> Option<GkeCluster> {
    CLUSTERS.lock().ok()?.get(host).cloned()
}

async fn read_cluster(host: &str, timeouts: &Timeouts) -> Result<GkeCluster> {
    let client = http::client("read the GKE metadata", Proxy::Never, timeouts)?;
    let project = value(&client, host, "project/project-id", "project ID").await?;
    let location = value(
        &client,
        host,
        "instance/attributes/cluster-location",
        "location",
    )
    .await?;
    let name = value(&client, host, "instance/attributes/cluster-name", "name").await?;
    GkeCluster::from_metadata(&project, &location, &name)
}

/// One value, with the reference's messages (`failed to get GKE cluster <what> from the
/// metadata service: ...`).
async fn value(client: &reqwest::Client, host: &str, path: &str, what: &str) -> Result<String> {
    let action = format!("failed to get GKE cluster {what} from the metadata service");
    let request = client
        .get(format!("http://{host}/computeMetadata/v1/{path}"))
        .header("Metadata-Flavor", "Google");
    let text = wire::text(request, &action).await?;
    let text = text.trim();
    match text.is_empty() {
        true => Err(Error::upstream(format!("{action}: empty value"))),
        false => Ok(text.to_owned()),
    }
}

/// The node's access token (its default service account), for `scopes`.
pub(crate) async fn node_token(
    env: &Env,
    timeouts: &Timeouts,
    scopes: &[String],
) -> Result<AccessToken> {
    let host = host(env)?;
    let action = "get the node's access token from the metadata service";
    let client = http::client(action, Proxy::Never, timeouts)?;
    let query: String = url::form_urlencoded::byte_serialize(scopes.join(",").as_bytes()).collect();
    let request = client
        .get(format!(
            "http://{host}/computeMetadata/v1/instance/service-accounts/default/token?scopes={query}"
        ))
        .header("Metadata-Flavor", "Google");
    let answer: wire::TokenAnswer = wire::json(request, action).await?;
    answer.into_access_token(env.now(), scopes.to_vec(), action)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A metadata server whose project-id answers 503 to the first request, then as GKE's; it
    /// counts the requests it serves.
    async fn flaky_metadata() -> std::io::Result<(String, Arc<AtomicUsize>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let host = listener.local_addr()?.to_string();
        let served = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&served);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = vec![0; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let first = count.fetch_add(1, Ordering::SeqCst) == 0;
                let flavored = request.contains("Metadata-Flavor: Google")
                    || request.contains("metadata-flavor: Google");
                let (status, body) = match request.split_whitespace().nth(1).unwrap_or("") {
                    _ if !flavored => ("403 Forbidden", ""),
                    _ if first => ("503 Service Unavailable", ""),
                    "/computeMetadata/v1/project/project-id" => ("200 OK", "my-project"),
                    "/computeMetadata/v1/instance/attributes/cluster-location" => {
                        ("200 OK", "us-central1")
                    }
                    "/computeMetadata/v1/instance/attributes/cluster-name" => ("200 OK", "c1"),
                    _ => ("404 Not Found", ""),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        Ok((host, served))
    }

    /// The reference's rule: a failure is retried on the next call, a success is kept.
    #[tokio::test]
    async fn the_cluster_is_kept_once_read_and_failures_are_retried() -> std::io::Result<()> {
        let (host, served) = flaky_metadata().await?;
        let env = Env::from_pairs(&[(METADATA_HOST_VAR, &host)]);
        let timeouts = Timeouts::default();
        let failed = gke_cluster(&env, &timeouts)
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            failed.as_deref(),
            Some("failed to get GKE cluster project ID from the metadata service: HTTP 503")
        );
        let cluster = gke_cluster(&env, &timeouts)
            .await
            .map_err(std::io::Error::other)?;
        assert_eq!(
            cluster.id(),
            "projects/my-project/locations/us-central1/clusters/c1"
        );
        assert_eq!(served.load(Ordering::SeqCst), 4);
        let again = gke_cluster(&env, &timeouts)
            .await
            .map_err(std::io::Error::other)?;
        assert_eq!(again, cluster);
        assert_eq!(
            served.load(Ordering::SeqCst),
            4,
            "the second success is the kept one"
        );
        Ok(())
    }

    #[test]
    fn metadata_hosts_are_a_host_and_a_port() {
        let shown = |value: &str| {
            host(&Env::from_pairs(&[(METADATA_HOST_VAR, value)])).unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(
            host(&Env::from_pairs(&[])).ok().as_deref(),
            Some("169.254.169.254")
        );
        assert_eq!(shown("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(
            shown("metadata.google.internal"),
            "metadata.google.internal"
        );
        for bad in [
            "a@evil.example",
            "evil.example/x",
            "h?q",
            "h#f",
            "a b",
            "http://x",
        ] {
            assert!(
                shown(bad).starts_with("GCE_METADATA_HOST '"),
                "{bad}: {}",
                shown(bad)
            );
        }
    }
}
