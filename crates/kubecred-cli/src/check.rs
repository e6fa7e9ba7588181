//! `kubecred check s3://BUCKET | kms://KEY-ARN`: do the resolved credentials reach the resource?

use anyhow::Context;
use kubecred::aws::Transport;
use kubecred::aws::checks;
use kubecred::aws::sdk::AwsEnv;
use kubecred::{Provider, Request};

use crate::UsageError;
use crate::args::CheckArgs;
use crate::token::prepare;

pub async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let (engine, mut request) = prepare(&args.identity, Provider::Aws).await?;
    let env = AwsEnv::default();
    if let Some(bucket) = args.target.strip_prefix("s3://") {
        let bucket = bucket.trim_end_matches('/');
        let region = request
            .region
            .clone()
            .or_else(|| env.region())
            .ok_or_else(|| {
                UsageError("checking an S3 bucket needs its region: --region or AWS_REGION".into())
            })?;
        request.region = Some(region.clone());
        let keys = engine
            .aws_keys(&request)
            .await
            .context("getting credentials")?;
        let transport = transport(&request);
        let result = checks::s3_bucket(bucket, &region, &keys, &env, transport)
            .await
            .with_context(|| format!("checking s3://{bucket}"))?;
        println!("s3://{bucket}: ok ({result:?})");
        return Ok(());
    }
    if let Some(key) = args.target.strip_prefix("kms://") {
        if request.region.is_none() {
            request.region = key
                .split(':')
                .nth(3)
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
        }
        let keys = engine
            .aws_keys(&request)
            .await
            .context("getting credentials")?;
        let result = checks::kms_key(key, &keys, &env, transport(&request))
            .await
            .with_context(|| format!("checking kms://{key}"))?;
        println!("kms://{key}: ok ({result:?})");
        return Ok(());
    }
    Err(UsageError(format!(
        "'{}': expected s3://BUCKET or kms://KEY-ARN",
        args.target
    ))
    .into())
}

/// The request's proxy and this run's timeouts.
fn transport(request: &Request) -> Transport<'_> {
    Transport {
        proxy: request.proxy.as_ref(),
        timeouts: crate::timeouts(),
    }
}
