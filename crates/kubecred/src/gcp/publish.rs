//! `kubecred issuer publish gs://BUCKET`: a Cloud Storage media upload of each issuer document
//! (`POST <storage>/upload/storage/v1/b/BUCKET/o?uploadType=media&name=KEY`,
//! `Content-Type: application/json`; permission `storage.objects.create`, and
//! `storage.objects.delete` to replace an object), with the resolved identity's access token as
//! the bearer. The base URL is Google's or `KUBECRED_GCP_STORAGE_URL`, as for the bucket check
//! (`checks.rs`); the request's proxy and the engine's timeouts apply.

use serde::Deserialize;
use url::Url;

use super::checks::{Api, base_url};
use super::wire;
use crate::error::{Error, Result};
use crate::http::{self, Proxy};
use crate::issuer::{CONTENT_TYPE, Object};
use crate::{Engine, Request, Secret};

/// The permission an upload needs.
pub const STORAGE_CREATE: &str = "storage.objects.create";

#[derive(Deserialize)]
struct Uploaded {
    #[serde(default)]
    name: String,
}

/// Uploads `objects` to `bucket` with the access token `request` resolves to.
pub(crate) async fn upload(
    engine: &Engine,
    bucket: &str,
    objects: &[Object],
    request: &Request,
) -> Result<()> {
    let base = base_url(engine.env(), Api::Storage)?;
    let token = engine.access_token(request).await?.token;
    let client = http::client(
        &format!("upload to gs://{bucket}"),
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    for object in objects {
        upload_object(&client, &base, bucket, object, &token).await?;
    }
    Ok(())
}

/// The media upload of `object` to `bucket` at `base` (Google's or an emulator's).
pub async fn upload_object(
    client: &reqwest::Client,
    base: &str,
    bucket: &str,
    object: &Object,
    bearer: &Secret,
) -> Result<()> {
    let action = format!("upload gs://{bucket}/{} ({STORAGE_CREATE})", object.key);
    let mut url = Url::parse(base)
        .map_err(|_| Error::invalid(format!("{action}: invalid storage base URL")))?;
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty()
            .extend(["upload", "storage", "v1", "b", bucket, "o"]);
    }
    url.query_pairs_mut()
        .append_pair("uploadType", "media")
        .append_pair("name", &object.key);
    tracing::debug!(%url, "GCS upload");
    let post = client
        .post(url)
        .bearer_auth(bearer.expose())
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .body(object.body.clone());
    let uploaded: Uploaded = wire::json(post, &action).await?;
    match uploaded.name == object.key {
        true => Ok(()),
        false => Err(Error::upstream(format!(
            "{action}: the answer names object '{}'",
            uploaded.name.chars().take(200).collect::<String>()
        ))),
    }
}
