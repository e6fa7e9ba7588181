//! The GCP stand-ins on the wire: the metadata server's `Metadata-Flavor` rule, STS's JSON form
//! and GKE principal, refusals of expired and tampered tokens, and IAM Credentials' bearer,
//! token-creator chain and binding checks.

mod gcp_support;

use std::time::Duration;

use gcp_support::*;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

async fn metadata_get(
    env: &Env,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>, String) {
    let mut request =
        reqwest::Client::new().get(format!("http://{}{path}", env.gcp.metadata_host()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("metadata server answers");
    let status = response.status().as_u16();
    let flavor = response
        .headers()
        .get("metadata-flavor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, flavor, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_metadata_server_requires_the_flavor_header_as_gce_does() {
    let env = start().await;
    let path = "/computeMetadata/v1/project/project-id";
    let (status, flavor, body) = metadata_get(&env, path, &[]).await;
    assert_eq!((status, flavor.as_deref()), (403, Some("Google")), "{body}");
    assert!(body.contains("Metadata-Flavor"), "{body}");
    let (status, _, _) = metadata_get(&env, path, &[("Metadata-Flavor", "google-ish")]).await;
    assert_eq!(status, 403);
    let forwarded = [
        ("Metadata-Flavor", "Google"),
        ("X-Forwarded-For", "10.0.0.1"),
    ];
    assert_eq!(metadata_get(&env, path, &forwarded).await.0, 403);

    let flavored = [("Metadata-Flavor", "Google")];
    assert_eq!(
        metadata_get(&env, path, &flavored).await,
        (200, Some("Google".into()), PROJECT_ID.into())
    );
    let number = metadata_get(
        &env,
        "/computeMetadata/v1/project/numeric-project-id",
        &flavored,
    )
    .await;
    assert_eq!(number.2, PROJECT_NUMBER);
    let email = "/computeMetadata/v1/instance/service-accounts/default/email";
    assert_eq!(metadata_get(&env, email, &flavored).await.2, NODE_SA);
    let missing = "/computeMetadata/v1/instance/service-accounts/someone@else/token";
    assert_eq!(metadata_get(&env, missing, &flavored).await.0, 404);
    assert_eq!(env.gcp.calls("metadata.token"), 0);
    env.shutdown().await;
}

async fn sts_json(env: &Env, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(env.gcp.sts_token_url())
        .json(&body)
        .send()
        .await
        .expect("STS answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn exchange(audience: &str, token: &str) -> serde_json::Value {
    serde_json::json!({
        "grantType": TOKEN_EXCHANGE,
        "audience": audience,
        "scope": CLOUD_PLATFORM,
        "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
        "subjectToken": token,
        "subjectTokenType": JWT,
    })
}

#[tokio::test]
async fn sts_takes_json_and_maps_gke_tokens_to_their_principal() {
    let env = start().await;
    let namespace = format!("{PROJECT_ID}.svc.id.goog");
    let token = env.token("app", &[&namespace], Duration::from_secs(600));
    let (status, body) = sts_json(&env, exchange(&gke_audience(), &token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let info = env
        .gcp
        .token_info(body["access_token"].as_str().unwrap_or_default())
        .expect("issued");
    assert_eq!(
        info.principal,
        format!(
            "principal://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{namespace}/subject/ns/team/sa/app"
        )
    );

    // A cluster of another location is another audience.
    let elsewhere = gke_audience().replace(LOCATION, "us-central1");
    let (status, body) = sts_json(&env, exchange(&elsewhere, &token)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    env.shutdown().await;
}

#[tokio::test]
async fn sts_refuses_expired_and_tampered_tokens() {
    let env = start().await;
    let audience = provider_audience(PROVIDER);
    let default_audience = format!("https:{audience}");
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    let stale = env.sandbox.issue_token_at(
        "team",
        "app",
        std::slice::from_ref(&default_audience),
        two_hours_ago,
        Duration::from_secs(600),
    );
    let (status, body) = sts_json(&env, exchange(&audience, &stale)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{body}"
    );

    let good = env.app_token();
    let (head, signature) = good.rsplit_once('.').expect("JWT");
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{head}.{flipped}{}", &signature[1..]);
    let (status, body) = sts_json(&env, exchange(&audience, &tampered)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        !body.to_string().contains(&good[..40]),
        "the token is not echoed"
    );
    assert_eq!(env.gcp.calls("sts.token"), 0);
    env.shutdown().await;
}

async fn generate(env: &Env, bearer: Option<&str>, email: &str) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(env.gcp.impersonation_url(email))
        .json(&serde_json::json!({"scope": [CLOUD_PLATFORM], "lifetime": "600s"}));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("IAM Credentials answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn iam_credentials_checks_the_bearer_and_the_binding() {
    let env = start().await;
    let (status, body) = generate(&env, None, APP_SA).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );

    let (_, federated) = sts_json(
        &env,
        exchange(&provider_audience(PROVIDER), &env.app_token()),
    )
    .await;
    let federated = federated["access_token"]
        .as_str()
        .expect("federated token")
        .to_string();
    let (status, app) = generate(&env, Some(&federated), APP_SA).await;
    assert_eq!(status, 200, "{app}");
    let expire = app["expireTime"].as_str().expect("expireTime");
    assert!(expire.ends_with('Z') && expire.len() == 20, "{expire}");

    // The federated principal holds no role on the chained account; the app's SA creates its tokens.
    let (status, body) = generate(&env, Some(&federated), CHAINED_SA).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let app_token = app["accessToken"].as_str().expect("accessToken");
    let (status, chained) = generate(&env, Some(app_token), CHAINED_SA).await;
    assert_eq!(status, 200, "{chained}");
    let info = env
        .gcp
        .token_info(chained["accessToken"].as_str().unwrap_or_default())
        .expect("issued");
    assert_eq!(info.service_account.as_deref(), Some(CHAINED_SA));
    assert_eq!(env.gcp.calls("iamcredentials.generateAccessToken"), 2);
    env.shutdown().await;
}
