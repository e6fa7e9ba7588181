//! `kubecred cluster credentials`: an ExecCredential for kubectl's exec credential plugin.

use anyhow::Context;
use kubecred::Provider;
use kubecred::cluster::{self, ClusterRef};
use serde_json::json;

use crate::UsageError;
use crate::args::{ClusterCredentialsArgs, ExecApiVersion};
use crate::token::{prepare, rfc3339};

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
    };
    let (engine, request) = prepare(&args.identity, provider).await?;
    let (token, expires_at) = cluster::token(&engine, &cluster, &request)
        .await
        .context("getting cluster credentials")?;
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
