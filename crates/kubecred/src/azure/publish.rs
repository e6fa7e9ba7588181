//! `kubecred issuer publish azblob://ACCOUNT/$web`: Blob `Put Blob` of each issuer document
//! (`PUT <account>/<container>/<key>`, `x-ms-blob-type: BlockBlob`, `x-ms-version`,
//! `Content-Type` and `x-ms-blob-content-type: application/json`; data action
//! `Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write`), with an Entra token of
//! the resolved identity for the Storage scope. `$web` is the container a storage account's static
//! website serves (`https://ACCOUNT.z<N>.web.core.windows.net/`), which is the issuer to register.
//! Base URL: the cloud's Blob suffix or `KUBECRED_AZURE_BLOB_URL`, as for the container check
//! (`checks.rs`).

use super::checks::BLOB_VERSION;
use super::environment::{self, BLOB_SCOPE, Service};
use super::{endpoints, wire};
use crate::error::Result;
use crate::http::{self, Proxy};
use crate::issuer::{CONTENT_TYPE, Object};
use crate::{Engine, Request};

/// Uploads `objects` to `account`/`container` with the Storage token `request` resolves to.
pub(crate) async fn upload(
    engine: &Engine,
    account: &str,
    container: &str,
    objects: &[Object],
    request: &Request,
) -> Result<()> {
    let cloud = environment::cloud(engine.env())?;
    let scoped = Request {
        scopes: vec![BLOB_SCOPE.to_owned()],
        ..request.clone()
    };
    let token = engine.access_token(&scoped).await?.token;
    let shown = format!("azblob://{account}/{container}");
    let client = http::client(
        &format!("upload to {shown}"),
        Proxy::Request(request.proxy.as_ref()),
        engine.timeouts(),
    )?;
    for object in objects {
        let mut path = vec![container];
        path.extend(object.key.split('/'));
        let url = endpoints::service_url(engine.env(), &cloud, Service::Blob, account, &path)?;
        tracing::debug!(%url, "Azure Put Blob");
        let put = client
            .put(url)
            .bearer_auth(token.expose())
            .header("x-ms-version", BLOB_VERSION)
            .header("x-ms-blob-type", "BlockBlob")
            .header("x-ms-blob-content-type", CONTENT_TYPE)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(object.body.clone());
        let action = format!("upload {shown}/{} (Put Blob)", object.key);
        wire::text(put, &action).await?;
    }
    Ok(())
}
