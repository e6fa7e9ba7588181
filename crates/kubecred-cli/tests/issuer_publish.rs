//! `kubecred issuer publish azblob://devstoreaccount1/issuer/cluster-a` then `kubecred issuer
//! verify`, through the binary. Proven: the upload goes through the grant-checking Blob stand-in
//! to Azurite with the Storage token kubecred resolves for team-a/app (Contributor on the
//! container), stores both blobs as `application/json`, and `verify` (the stand-ins' CA in
//! `SSL_CERT_FILE`) fetches them anonymously from Azurite over HTTPS, as a cloud fetches a
//! public container, and passes; a Reader of `$web` is refused the upload. Not proven: Azure's
//! static website endpoint for `$web` (Azurite has none), so the public container stands in for
//! it, made public by the test (the owner's step, not kubecred's).

mod support;

use kubecred_sandbox::azure::{RoleGrant, STORAGE_BLOB_DATA_CONTRIBUTOR};
use support::azure::{APP, azure_world, manifests, token_of};
use support::{TestResult, assert_exit, assert_success, stdout, success_json};

const WEB: &str = "azblob://devstoreaccount1/$web";
const ISSUER: &str = "azblob://devstoreaccount1/issuer";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_to_azurite_web_then_verify_passes() -> TestResult {
    // Reader on `$web` (the annotation's role; Azurite starts holding it), Contributor on the
    // public container the test creates.
    let w = azure_world(&manifests(WEB), 0, |config| {
        config
            .grants
            .push(RoleGrant::new(ISSUER, STORAGE_BLOB_DATA_CONTRIBUTOR, APP));
    })
    .await?;
    let Some(azurite) = w.azure.azurite() else {
        let hint = "npm ci --prefix conformance/azure";
        kubecred_sandbox::peers::missing("azurite", hint, &"it did not start");
        return Ok(());
    };
    let issuer = format!("{}/devstoreaccount1/issuer/cluster-a", azurite.url());
    let key = w.file("sa.pub", &w.sandbox.signing_key_pem())?;
    let identity = ["-n", "team-a", "--service-account", "app"];

    // The owner's step: anonymous reads of the container's blobs.
    let token = token_of(&w.kubecred(
        &[],
        &[
            "token",
            "--provider",
            "azure",
            "-n",
            "team-a",
            "--service-account",
            "app",
            "--scope",
            "https://storage.azure.com/.default",
            "--output",
            "json",
        ],
    )?)?;
    let roots = reqwest::Certificate::from_pem_bundle(w.azure.ca_pem().as_bytes())?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(roots)
        .build()?;
    // Azurite takes no Set Container ACL with a bearer token: the container the sandbox made is
    // made again, public.
    let container = format!(
        "{}/devstoreaccount1/issuer?restype=container",
        azurite.url()
    );
    client
        .delete(&container)
        .bearer_auth(&token)
        .header("x-ms-version", "2021-08-06")
        .send()
        .await?
        .error_for_status()?;
    client
        .put(&container)
        .bearer_auth(&token)
        .header("x-ms-version", "2021-08-06")
        .header("x-ms-blob-public-access", "blob")
        .send()
        .await?
        .error_for_status()?;

    let target = format!("{ISSUER}/cluster-a");
    let publish = [
        &[
            "issuer",
            "publish",
            &target,
            "--issuer",
            &issuer,
            "--signing-key",
            &key,
        ][..],
        &identity,
    ]
    .concat();
    let published = w.kubecred(&[], &publish)?;
    assert_success(&published);
    let text = stdout(&published);
    assert!(
        text.contains("uploaded azblob://devstoreaccount1/issuer/cluster-a/.well-known/openid-configuration (application/json)"),
        "{text}"
    );
    assert!(text.contains("cluster-a/openid/v1/jwks"), "{text}");

    // Fetched anonymously over HTTPS from Azurite, as a cloud would.
    let stored = client
        .get(format!("{issuer}/openid/v1/jwks"))
        .send()
        .await?
        .error_for_status()?;
    let content_type = stored.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let verify = [
        "issuer",
        "verify",
        &issuer,
        "--signing-key",
        &key,
        "--output",
        "json",
    ];
    let report = success_json(&w.kubecred(&[], &verify)?)?;
    assert_eq!(report["passed"], true, "{report}");

    // A reader of `$web` may not write to it: the Blob stand-in refuses the upload.
    let denied = [
        &[
            "issuer",
            "publish",
            WEB,
            "--issuer",
            &issuer,
            "--signing-key",
            &key,
        ][..],
        &identity,
    ]
    .concat();
    assert_exit(
        &w.kubecred(&[], &denied)?,
        1,
        &["AuthorizationPermissionMismatch"],
    );
    Ok(())
}
