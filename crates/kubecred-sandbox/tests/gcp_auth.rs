//! Conformance with Google's own client: the `google-auth` Python library, given an
//! `external_account` file, a service-account key or `GCE_METADATA_HOST` pointing at the
//! stand-ins, obtains tokens the stand-ins recognize, and reports their refusals (wrong
//! audience, wrong issuer, missing binding, wrong key) in Google's error shapes.

mod gcp_support;

use std::time::Duration;

use gcp_support::*;

/// A temporary HOME, or `None` (skip) when google-auth is missing outside CI.
async fn home() -> Option<tempfile::TempDir> {
    let home = tempfile::tempdir().expect("temp HOME");
    google_auth_available(home.path()).await.then_some(home)
}

async fn with_file(env: &Env, path: &std::path::Path, home: &std::path::Path) -> serde_json::Value {
    let path = path.to_str().expect("UTF-8 path");
    google_auth(env, &["file", path, CLOUD_PLATFORM], &[], home).await
}

fn token_of(result: &serde_json::Value) -> &str {
    assert_eq!(result["ok"], true, "{result}");
    result["token"].as_str().expect("a token")
}

#[tokio::test]
async fn an_external_account_file_obtains_a_federated_token_directly() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(PROVIDER),
        None,
    );
    let result = with_file(&env, &file, home.path()).await;
    let info = env
        .gcp
        .token_info(token_of(&result))
        .expect("the stand-in issued it");
    assert_eq!(info.principal, principal("app"));
    assert_eq!(info.service_account, None);
    assert_eq!(info.scopes, [CLOUD_PLATFORM]);
    assert_eq!(result["class"], "google.auth.identity_pool.Credentials");
    assert_eq!(result["tokeninfo"]["sub"], principal("app").as_str());
    assert_eq!(env.gcp.calls("sts.token"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn an_external_account_file_impersonates_a_bound_service_account() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(PROVIDER),
        Some(APP_SA),
    );
    let result = with_file(&env, &file, home.path()).await;
    let info = env
        .gcp
        .token_info(token_of(&result))
        .expect("the stand-in issued it");
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    assert_eq!(result["tokeninfo"]["email"], APP_SA);
    assert_eq!(env.gcp.calls("iamcredentials.generateAccessToken"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn a_gke_identity_namespace_token_is_exchanged_and_impersonates() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let namespace = format!("{PROJECT_ID}.svc.id.goog");
    let token = env.token("app", &[&namespace], Duration::from_secs(600));
    let file = external_account_file(&env, home.path(), &token, &gke_audience(), Some(APP_SA));
    let result = with_file(&env, &file, home.path()).await;
    let info = env
        .gcp
        .token_info(token_of(&result))
        .expect("the stand-in issued it");
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    env.shutdown().await;
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_as_invalid_grant() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let token = env.token(
        "app",
        &["https://elsewhere.example"],
        Duration::from_secs(600),
    );
    let file = external_account_file(
        &env,
        home.path(),
        &token,
        &provider_audience(PROVIDER),
        None,
    );
    let result = with_file(&env, &file, home.path()).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["type"], "OAuthError");
    let message = result["args"][0].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Error code invalid_grant: The audience in ID Token [https://elsewhere.example] does not match"),
        "{result}"
    );
    assert_eq!(quoted_body(&result, 1)["error"], "invalid_grant");
    assert_eq!(env.gcp.calls("sts.token"), 0);

    // The custom provider allows exactly its configured audience, not the default one.
    let custom = env.token("app", &[CUSTOM_AUDIENCE], Duration::from_secs(600));
    let file = external_account_file(
        &env,
        home.path(),
        &custom,
        &provider_audience(CUSTOM_PROVIDER),
        None,
    );
    token_of(&with_file(&env, &file, home.path()).await);
    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(CUSTOM_PROVIDER),
        None,
    );
    assert_eq!(with_file(&env, &file, home.path()).await["ok"], false);
    env.shutdown().await;
}

#[tokio::test]
async fn a_token_of_another_issuer_or_an_unknown_provider_is_refused() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let stranger = kubecred_sandbox::Sandbox::start(kubecred_sandbox::SandboxConfig::default())
        .await
        .expect("second sandbox");
    let audience = format!("https:{}", provider_audience(PROVIDER));
    let foreign = stranger.issue_token("team", "app", &[audience], Duration::from_secs(600));
    let file = external_account_file(
        &env,
        home.path(),
        &foreign,
        &provider_audience(PROVIDER),
        None,
    );
    let result = with_file(&env, &file, home.path()).await;
    let message = result["args"][0].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "Error code invalid_grant: The issuer in ID Token {} does not match",
            stranger.issuer()
        )),
        "{result}"
    );

    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience("no-such-provider"),
        None,
    );
    let result = with_file(&env, &file, home.path()).await;
    assert_eq!(
        quoted_body(&result, 1)["error"],
        "invalid_target",
        "{result}"
    );
    stranger.shutdown().await;
    env.shutdown().await;
}

#[tokio::test]
async fn impersonation_without_a_binding_is_permission_denied() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(PROVIDER),
        Some(OTHER_SA),
    );
    let result = with_file(&env, &file, home.path()).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["type"], "RefreshError");
    let body = quoted_body(&result, 1);
    assert_eq!(body["error"]["code"], 403, "{result}");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
    assert_eq!(
        body["error"]["details"][0]["metadata"]["permission"],
        "iam.serviceAccounts.getAccessToken"
    );
    assert_eq!(env.gcp.calls("sts.token"), 1);
    assert_eq!(env.gcp.calls("iamcredentials.generateAccessToken"), 0);
    env.shutdown().await;
}

#[tokio::test]
async fn a_service_account_key_file_is_granted_a_token_and_a_foreign_key_is_not() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let key = env.gcp.create_key(APP_SA).expect("key");
    let path = home.path().join("key.json");
    std::fs::write(&path, key.json()).expect("key file");
    let result = with_file(&env, &path, home.path()).await;
    assert_eq!(result["class"], "google.oauth2.service_account.Credentials");
    let info = env
        .gcp
        .token_info(token_of(&result))
        .expect("the stand-in issued it");
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    assert_eq!(env.gcp.calls("oauth2.token"), 1);

    // Same key id, another private key: the signature does not verify.
    let other = env.gcp.create_key(CHAINED_SA).expect("other key");
    let mut forged: serde_json::Value = serde_json::from_str(key.json()).expect("JSON");
    let other: serde_json::Value = serde_json::from_str(other.json()).expect("JSON");
    forged["private_key"] = other["private_key"].clone();
    std::fs::write(&path, forged.to_string()).expect("key file");
    let result = with_file(&env, &path, home.path()).await;
    assert_eq!(result["type"], "RefreshError", "{result}");
    assert!(
        result["args"][0]
            .as_str()
            .unwrap_or_default()
            .contains("invalid_grant: Invalid JWT Signature."),
        "{result}"
    );
    assert_eq!(env.gcp.calls("oauth2.token"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn compute_engine_credentials_read_the_metadata_server() {
    let Some(home) = home().await else { return };
    let env = start().await;
    let host = env.gcp.metadata_host();
    let result = google_auth(
        &env,
        &["metadata", "-"],
        &[("GCE_METADATA_HOST", &host)],
        home.path(),
    )
    .await;
    let info = env
        .gcp
        .token_info(token_of(&result))
        .expect("the stand-in issued it");
    assert_eq!(info.service_account.as_deref(), Some(NODE_SA));
    assert_eq!(result["email"], NODE_SA);
    assert_eq!(result["project"], PROJECT_ID);
    assert_eq!(result["cluster"], CLUSTER);
    assert_eq!(result["location"], LOCATION);
    assert_eq!(env.gcp.calls("metadata.token"), 1);
    env.shutdown().await;
}
