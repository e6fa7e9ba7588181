//! `kubecred check TARGET`: do the resolved credentials reach the resource? The target names its
//! cloud (`s3://BUCKET`, `kms://KEY-ARN`, ...); the library runs the check.

use anyhow::Context;

use crate::UsageError;
use crate::args::CheckArgs;
use crate::request::prepare;

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let Some(provider) = kubecred::check::provider_for_target(&args.target) else {
        return Err(UsageError(format!(
            "'{}': expected {}",
            args.target,
            crate::help::check_targets()
        ))
        .into());
    };
    let (engine, request) = prepare(&args.identity, provider).await?;
    let report = kubecred::check::run(&engine, &args.target, &request)
        .await
        .with_context(|| format!("checking {}", args.target))?;
    println!("{report}");
    Ok(())
}
