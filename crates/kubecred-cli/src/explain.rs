//! `kubecred explain`: the identity flags of `kubecred token`, each step of the exchange explained;
//! or, with `-f`, each Flux object of a manifest as its controller would ask.

use kubecred::Provider;
use kubecred::explain::{self, Explanation, flux};

use crate::UsageError;
use crate::args::{ExplainArgs, ReportOutput};
use crate::request::prepare;

pub async fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let provider: Option<Provider> = args
        .provider
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    let explanations = match &args.filename {
        Some(file) => manifest(&args, file, provider).await?,
        None => vec![one(&args, provider.unwrap_or(Provider::Generic)).await?],
    };
    match args.output {
        ReportOutput::Json => {
            let values: Vec<serde_json::Value> = explanations.iter().map(|e| e.json()).collect();
            let value = match (args.filename.is_some(), values.as_slice()) {
                (false, [one]) => one.clone(),
                _ => serde_json::Value::Array(values),
            };
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        ReportOutput::Text => {
            for explanation in &explanations {
                print!("{}", explanation.text());
            }
        }
    }
    match explanations.iter().find(|e| e.verdict() == "failed") {
        Some(failed) => Err(Failed(failed.clone()).into()),
        None => Ok(()),
    }
}

/// The request the flags describe, explained.
async fn one(args: &ExplainArgs, provider: Provider) -> anyhow::Result<Explanation> {
    Ok(match prepare(&args.identity, provider).await {
        Ok((engine, request)) => {
            let cluster = args
                .cluster
                .as_ref()
                .map(|id| kubecred::cluster::ClusterRef {
                    cluster: Some(id.clone()),
                    ..Default::default()
                });
            let access = match (&args.check, &args.registry, &args.git, &cluster) {
                (Some(target), ..) => Some(explain::Access::Check(target)),
                (None, Some(host), ..) => Some(explain::Access::Registry(host)),
                (None, None, Some(url), _) => Some(explain::Access::Git(url)),
                (None, None, None, Some(cluster)) => Some(explain::Access::Cluster(cluster)),
                (None, None, None, None) => None,
            };
            match access {
                Some(access) => {
                    explain::explain_access(&engine, &request, access, args.dry_run).await
                }
                None => explain::explain(&engine, &request, args.dry_run).await,
            }
        }
        // The policy itself is refused (a default ServiceAccount with the gate off): that is
        // the identity-level step failing.
        Err(error) => match error.downcast_ref::<kubecred::Error>() {
            Some(refused) => explain::refused_policy(provider, refused),
            None => return Err(error),
        },
    })
}

/// Each Flux object of `file`, explained with the flags' policy and cluster.
async fn manifest(
    args: &ExplainArgs,
    file: &std::path::Path,
    provider: Option<Provider>,
) -> anyhow::Result<Vec<Explanation>> {
    let objects = flux::objects_in_file(file, provider)
        .await
        .map_err(|e| UsageError(e.to_string()))?;
    let (engine, _) = match prepare(&args.identity, Provider::Generic).await {
        Ok(prepared) => prepared,
        Err(error) => match error.downcast_ref::<kubecred::Error>() {
            Some(refused) => {
                return Ok(vec![explain::refused_policy(
                    provider.unwrap_or(Provider::Generic),
                    refused,
                )]);
            }
            None => return Err(error),
        },
    };
    let mut explanations = Vec::new();
    for object in objects {
        let explained = match (&object.request, &object.config_map) {
            (Some(request), _) => Some(explain::explain(&engine, request, args.dry_run).await),
            (None, Some((namespace, name))) => {
                let region = args.identity.region.clone();
                let explanation = explain::explain_config_map_cluster(
                    &engine,
                    namespace,
                    name,
                    region,
                    args.dry_run,
                );
                Some(explanation.await)
            }
            (None, None) => None,
        };
        let explanation = match explained {
            Some(mut explanation) => {
                explanation.identity = format!("{} ({})", object.object, explanation.identity);
                // What the request assumes (a ConfigMap's object says where it comes from).
                if let (Some(note), Some(_)) = (&object.note, &object.request) {
                    explanation.identity.push_str(&format!("; {note}"));
                }
                explanation
            }
            None => explain::not_served(&object.object, object.note.as_deref().unwrap_or("")),
        };
        explanations.push(explanation);
    }
    Ok(explanations)
}

/// A failed explanation: printed already; exit status 1 without another message.
#[derive(Debug)]
pub struct Failed(Explanation);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.cause().unwrap_or("a step failed"))
    }
}

impl std::error::Error for Failed {}
