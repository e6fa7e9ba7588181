//! `kubecred cluster credentials`: an ExecCredential for kubectl's exec credential plugin.

use anyhow::Context;
use kubecred::Provider;
use kubecred::cluster::{self, ClusterRef};
use serde_json::json;

use std::time::SystemTime;

use kubecred::CacheKey;

use crate::UsageError;
use crate::disk_cache::{self, DiskCache, Entry};

/// The entries of this front door in the disk cache.
const CACHE_KIND: &str = "cluster";

/// Every input: the command line (it names provider, cluster and identity), what the kubeconfig
/// resolves to when the credential depends on it, and the environment.
fn cache_key(identity: &IdentityArgs, provider: Provider) -> CacheKey {
    let cluster = disk_cache::identity_cluster_parts(identity, provider);
    let parts = std::iter::once(disk_cache::argv_key_part()).chain(cluster);
    disk_cache::key("cluster-credentials/1", parts)
}
use crate::args::{ClusterCredentialsArgs, ExecApiVersion, IdentityArgs};
use crate::request::prepare;
use crate::token::rfc3339;

pub async fn credentials(args: ClusterCredentialsArgs) -> anyhow::Result<()> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    let ca_data = match &args.ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading the CA file {}", path.display()))?,
        ),
        None => None,
    };
    let cluster = ClusterRef {
        cluster: args.cluster.clone(),
        address: args.address.clone(),
        ca_data,
        ..ClusterRef::default()
    };
    let cache = DiskCache::open_default(CACHE_KIND, args.no_cache);
    // Keyed only when there is a cache: the key reads the environment, stats profile files and
    // may read the kubeconfig.
    let cache = cache.map(|cache| (cache, cache_key(&args.identity, provider)));
    let now = SystemTime::now();
    let (token, expires_at) = match cache.as_ref().and_then(|(cache, key)| cache.get(key, now)) {
        Some(hit) => (hit.secret, hit.expires_at),
        None => {
            let (engine, request) = prepare(&args.identity, provider).await?;
            let (token, expires_at) = cluster::token(&engine, &cluster, &request)
                .await
                .context("getting cluster credentials")?;
            if let Some((cache, key)) = &cache {
                let label = args
                    .cluster
                    .clone()
                    .or(args.address.clone())
                    .unwrap_or_default();
                cache.put(
                    key,
                    &Entry {
                        label,
                        username: String::new(),
                        secret: token.clone(),
                        expires_at,
                    },
                    now,
                );
            }
            (token, expires_at)
        }
    };
    let api_version = match args.api_version {
        ExecApiVersion::V1 => "client.authentication.k8s.io/v1",
        ExecApiVersion::V1beta1 => "client.authentication.k8s.io/v1beta1",
    };
    let output = json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "status": {
            "token": token.expose(),
            "expirationTimestamp": rfc3339(expires_at)?,
        },
    });
    println!("{output}");
    Ok(())
}
