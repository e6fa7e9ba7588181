//! `kubecred explain`: the identity flags of `kubecred token`, each step of the exchange explained.

use kubecred::Provider;
use kubecred::explain::{self, Explanation};

use crate::UsageError;
use crate::args::{ExplainArgs, ReportOutput};
use crate::request::prepare;

pub async fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let provider: Provider = args
        .provider
        .parse()
        .map_err(|e: kubecred::Error| UsageError(e.to_string()))?;
    let explanation = match prepare(&args.identity, provider).await {
        Ok((engine, request)) => explain::explain(&engine, &request, args.dry_run).await,
        // The policy itself is refused (a default ServiceAccount with the gate off): that is
        // the identity-level step failing.
        Err(error) => match error.downcast_ref::<kubecred::Error>() {
            Some(refused) => explain::refused_policy(provider, refused),
            None => return Err(error),
        },
    };
    match args.output {
        ReportOutput::Json => println!("{}", serde_json::to_string_pretty(&explanation.json())?),
        ReportOutput::Text => print!("{}", explanation.text()),
    }
    match explanation.verdict() {
        "failed" => Err(Failed(explanation).into()),
        _ => Ok(()),
    }
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
