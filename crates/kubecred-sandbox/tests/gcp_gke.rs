//! GKE in the GCP stand-ins: `clusters.get` reports the sandbox's own API server and CA to a
//! token the stand-ins issued (Google's error shape otherwise), that API server takes such
//! tokens as GKE's takes Google's, and Google's own `gke-gcloud-auth-plugin` with
//! `--use_application_default_credentials` and an `external_account` ADC at the stand-ins
//! yields an ExecCredential whose token the sandbox accepts.

mod gcp_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gcp_support::*;

/// An access token of `APP_SA` (federated, then impersonated), as google-auth would get it.
async fn app_sa_token(env: &Env) -> String {
    let sts = reqwest::Client::new()
        .post(env.gcp.sts_token_url())
        .json(&serde_json::json!({
            "grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": provider_audience(PROVIDER),
            "scope": CLOUD_PLATFORM,
            "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
            "subjectToken": env.app_token(),
            "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt",
        }));
    let federated: serde_json::Value = sts.send().await.expect("STS").json().await.expect("JSON");
    let federated = federated["access_token"].as_str().expect("federated token");
    let impersonated: serde_json::Value = reqwest::Client::new()
        .post(env.gcp.impersonation_url(APP_SA))
        .bearer_auth(federated)
        .json(&serde_json::json!({"scope": [CLOUD_PLATFORM]}))
        .send()
        .await
        .expect("IAM Credentials")
        .json()
        .await
        .expect("JSON");
    impersonated["accessToken"]
        .as_str()
        .expect("token")
        .to_owned()
}

async fn clusters_get(env: &Env, path: &str, bearer: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(format!("{}{path}", env.gcp.container_url()));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the GKE API answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The status of `GET /version` on the sandbox's API server with `token`.
async fn api_status(env: &Env, token: &str) -> (u16, String) {
    let roots = reqwest::Certificate::from_pem_bundle(env.sandbox.ca_pem().as_bytes())
        .expect("the sandbox's CA is PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only(roots)
        .build()
        .expect("HTTPS client");
    let response = client
        .get(format!("{}/version", env.sandbox.url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the API server answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn clusters_get_reports_the_sandbox_to_an_issued_token() {
    let env = start().await;
    let path = format!("/v1/projects/{PROJECT_ID}/locations/{LOCATION}/clusters/{CLUSTER}");
    let token = app_sa_token(&env).await;
    let (status, cluster) = clusters_get(&env, &path, Some(&token)).await;
    assert_eq!(status, 200, "{cluster}");
    assert_eq!(
        format!(
            "https://{}",
            cluster["endpoint"].as_str().unwrap_or_default()
        ),
        env.sandbox.url()
    );
    let ca = STANDARD
        .decode(
            cluster["masterAuth"]["clusterCaCertificate"]
                .as_str()
                .unwrap_or_default(),
        )
        .expect("base64");
    assert_eq!(ca, env.sandbox.ca_pem().as_bytes());
    assert_eq!(env.gcp.calls("container.clusters.get"), 1);

    let (status, body) = clusters_get(&env, &path, None).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    let other = format!("/v1/projects/{PROJECT_ID}/locations/{LOCATION}/clusters/other");
    let (status, body) = clusters_get(&env, &other, Some(&token)).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let foreign = format!("/v1/projects/other-project/locations/{LOCATION}/clusters/{CLUSTER}");
    let (status, body) = clusters_get(&env, &foreign, Some(&token)).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    assert_eq!(env.gcp.calls("container.clusters.get"), 1);
    env.shutdown().await;
}

#[tokio::test]
async fn the_api_server_takes_issued_access_tokens_only() {
    let env = start().await;
    let token = app_sa_token(&env).await;
    let (status, body) = api_status(&env, &token).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("kubecred-sandbox"), "{body}");
    let (status, _) = api_status(&env, "ya29.not-issued").await;
    assert_eq!(status, 401);
    env.shutdown().await;
}

/// Whether `gke-gcloud-auth-plugin` runs; reports it missing otherwise (a failure under CI).
fn plugin_available() -> bool {
    let probe = std::process::Command::new(PLUGIN).arg("--version").output();
    match probe {
        Ok(output) if output.status.success() => true,
        other => {
            let why = match other {
                Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            };
            kubecred_sandbox::peers::missing(
                PLUGIN,
                "apt-get install google-cloud-cli-gke-gcloud-auth-plugin",
                &why,
            );
            false
        }
    }
}

const PLUGIN: &str = "gke-gcloud-auth-plugin";

/// Google's plugin, with Application Default Credentials an `external_account` file at the
/// stand-ins (a ServiceAccount token as the file source, impersonating `APP_SA`): its
/// ExecCredential carries an access token of that service account, and the sandbox's API
/// server takes it.
#[tokio::test]
async fn gke_gcloud_auth_plugin_with_adc_at_the_stand_ins_yields_an_accepted_token() {
    if !plugin_available() {
        return;
    }
    let env = start().await;
    let home = tempfile::tempdir().expect("temp HOME");
    let file = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(PROVIDER),
        Some(APP_SA),
    );
    let adc = [(
        "GOOGLE_APPLICATION_CREDENTIALS",
        file.to_str().expect("UTF-8"),
    )];
    let args = ["--use_application_default_credentials"];
    let output = run(PLUGIN, &args, &adc, home.path()).await;
    assert!(output.success, "{}", output.stderr);
    let credential: serde_json::Value =
        serde_json::from_str(&output.stdout).expect("an ExecCredential (JSON)");
    assert_eq!(credential["kind"], "ExecCredential", "{credential}");
    assert!(
        credential["status"]["expirationTimestamp"].is_string(),
        "{credential}"
    );
    let token = credential["status"]["token"].as_str().expect("a token");
    let info = env.gcp.token_info(token).expect("the stand-ins issued it");
    assert_eq!(info.service_account.as_deref(), Some(APP_SA));
    assert_eq!(env.gcp.calls("iamcredentials.generateAccessToken"), 1);
    let (status, body) = api_status(&env, token).await;
    assert_eq!(status, 200, "{body}");

    // Without a binding, no token.
    let unbound = external_account_file(
        &env,
        home.path(),
        &env.app_token(),
        &provider_audience(PROVIDER),
        Some(OTHER_SA),
    );
    let adc = [(
        "GOOGLE_APPLICATION_CREDENTIALS",
        unbound.to_str().expect("UTF-8"),
    )];
    let refused = run(PLUGIN, &args, &adc, home.path()).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("PERMISSION_DENIED") || refused.stderr.contains("403"),
        "{}",
        refused.stderr
    );
    env.shutdown().await;
}
