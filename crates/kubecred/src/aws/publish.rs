//! `kubecred issuer publish s3://BUCKET`: S3 `PutObject` of each issuer document
//! (`PUT <bucket URL>/<key>`, `Content-Type: application/json`; action `s3:PutObject`), signed
//! with SigV4 and sent as the S3 check sends ([`super::checks`]: the same addressing style,
//! `AWS_ENDPOINT_URL_S3` override, the request's proxy and the engine's timeouts). The region is
//! the request's, else `AWS_REGION`.

use super::checks::S3Call;
use super::http::Transport;
use super::sdk::AwsVars as _;
use crate::error::{Error, Result};
use crate::issuer::{CONTENT_TYPE, Object};
use crate::{AwsKeys, Engine, Env, Provider, Request};

/// Uploads `objects` to `bucket` with the keys `request` resolves to.
pub(crate) async fn upload(
    engine: &Engine,
    bucket: &str,
    objects: &[Object],
    request: &Request,
) -> Result<()> {
    let region = request
        .region
        .clone()
        .or_else(|| engine.env().region())
        .ok_or_else(|| {
            Error::invalid("publishing to an S3 bucket needs its region: --region or AWS_REGION")
        })?;
    let request = Request {
        region: Some(region.clone()),
        ..request.clone()
    };
    let keys = engine.aws_keys(&request).await?;
    let transport = Transport::of(engine, &request);
    for object in objects {
        put_object(bucket, &region, object, &keys, engine.env(), transport)
            .await
            .map_err(|e| e.for_provider(Provider::Aws))?;
    }
    Ok(())
}

/// `PutObject` of `object` in `bucket` (in `region`) with `keys`.
pub async fn put_object(
    bucket: &str,
    region: &str,
    object: &Object,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<()> {
    let action = format!("upload s3://{bucket}/{} (s3:PutObject)", object.key);
    let upload = S3Call {
        bucket,
        region,
        method: "PUT",
        tail: &format!("/{}", object.key),
        headers: &[("content-type", CONTENT_TYPE)],
        body: &object.body,
    };
    upload.send(keys, env, transport, &action).await?;
    Ok(())
}
