//! The sandbox's Kubernetes API subset, driven over HTTPS with reqwest.

mod common;

use std::time::Duration;

use kubecred_sandbox::{Grant, JwtVerifier, Sandbox, SandboxConfig, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MANIFESTS: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: team
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/app
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: controller
  namespace: team
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: team
stringData:
  password: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: team
data:
  region: eu-west-1
"#;

async fn start(users: Vec<User>, grants: Vec<Grant>) -> Sandbox {
    common::start(MANIFESTS, users, grants).await
}

async fn get(sandbox: &Sandbox, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = common::client(sandbox).get(format!("{}{path}", sandbox.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

async fn post_token(
    sandbox: &Sandbox,
    path: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = common::client(sandbox)
        .post(format!("{}{path}", sandbox.url()))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

const SA_PATH: &str = "/api/v1/namespaces/team/serviceaccounts/app";
const TOKEN_PATH: &str = "/api/v1/namespaces/team/serviceaccounts/app/token";

fn token_request(audiences: &[&str], seconds: Option<i64>) -> Value {
    let mut spec = json!({"audiences": audiences});
    if let Some(seconds) = seconds {
        spec["expirationSeconds"] = json!(seconds);
    }
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
}

#[tokio::test]
async fn service_account_get_found_and_not_found() {
    let sandbox = start(vec![], vec![]).await;
    let (status, body) = get(&sandbox, SA_PATH, Some(sandbox.admin_token())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["kind"].as_str(), body["apiVersion"].as_str()),
        (Some("ServiceAccount"), Some("v1"))
    );
    assert_eq!(body["metadata"]["namespace"], "team");
    assert_eq!(
        body["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/app"
    );
    let path = "/api/v1/namespaces/team/serviceaccounts/ghost";
    let (status, body) = get(&sandbox, path, Some(sandbox.admin_token())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["message"], "serviceaccounts \"ghost\" not found");
    assert_eq!(body["reason"], "NotFound");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn secrets_configmaps_and_version() {
    let sandbox = start(vec![], vec![]).await;
    let admin = Some(sandbox.admin_token());
    let (status, secret) = get(&sandbox, "/api/v1/namespaces/team/secrets/creds", admin).await;
    assert_eq!(
        (status, &secret["data"]["password"]),
        (StatusCode::OK, &json!("aHVudGVyMg=="))
    );
    let (status, config_map) = get(
        &sandbox,
        "/api/v1/namespaces/team/configmaps/settings",
        admin,
    )
    .await;
    assert_eq!(
        (status, &config_map["data"]["region"]),
        (StatusCode::OK, &json!("eu-west-1"))
    );
    let (status, _) = get(
        &sandbox,
        "/api/v1/namespaces/other/configmaps/settings",
        admin,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, version) = get(&sandbox, "/version", admin).await;
    assert_eq!(
        (status, &version["gitVersion"]),
        (StatusCode::OK, &json!("v1.33.0-kubecred-sandbox"))
    );
    let (status, _) = get(&sandbox, "/version", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = get(&sandbox, "/apis/apps/v1/deployments", admin).await;
    assert_eq!(
        (status, &body["reason"]),
        (StatusCode::NOT_FOUND, &json!("NotFound"))
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn token_request_issues_a_verifiable_token() {
    let sandbox = start(vec![], vec![]).await;
    let body = token_request(&["sts.amazonaws.com"], Some(900));
    let (status, response) = post_token(&sandbox, TOKEN_PATH, sandbox.admin_token(), body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(response["kind"], "TokenRequest");
    assert_eq!(response["spec"]["audiences"], json!(["sts.amazonaws.com"]));
    assert_eq!(response["spec"]["expirationSeconds"], 900);
    let token = response["status"]["token"].as_str().expect("token");
    let verifier = sandbox.verifier().await.expect("discovery");
    let claims = verifier
        .verify(token, "sts.amazonaws.com")
        .expect("token verifies");
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(claims.sub, "system:serviceaccount:team:app");
    assert_eq!(claims.iss, sandbox.url());
    let (_, sa) = get(&sandbox, SA_PATH, Some(sandbox.admin_token())).await;
    assert_eq!(
        claims.kubernetes.serviceaccount.uid,
        sa["metadata"]["uid"].as_str().unwrap_or("?")
    );
    let expiry = response["status"]["expirationTimestamp"]
        .as_str()
        .unwrap_or_default();
    let expected = jiff::Timestamp::from_second(claims.exp)
        .map(|t| t.to_string())
        .ok();
    assert_eq!(Some(expiry.to_string()), expected);
    assert!(expiry.ends_with('Z') && !expiry.contains('.'), "{expiry}");
    assert_eq!(sandbox.token_requests(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn token_request_defaults_and_refusals() {
    let sandbox = start(vec![], vec![]).await;
    let admin = sandbox.admin_token().to_string();
    let (status, response) = post_token(&sandbox, TOKEN_PATH, &admin, json!({"spec": {}})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(response["spec"]["audiences"], json!([sandbox.issuer()]));
    assert_eq!(response["spec"]["expirationSeconds"], 3600);
    let (status, refused) =
        post_token(&sandbox, TOKEN_PATH, &admin, token_request(&[], Some(599))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused["reason"], "Invalid");
    assert!(refused["message"].as_str().unwrap_or_default().contains(
        "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
    ));
    let ghost = "/api/v1/namespaces/team/serviceaccounts/ghost/token";
    let (status, missing) = post_token(&sandbox, ghost, &admin, token_request(&["a"], None)).await;
    assert_eq!(
        (status, &missing["message"]),
        (
            StatusCode::NOT_FOUND,
            &json!("serviceaccounts \"ghost\" not found")
        )
    );
    assert_eq!(
        sandbox.token_requests(),
        1,
        "only the successful request counts"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_and_unknown_tokens_get_401() {
    let sandbox = start(vec![], vec![]).await;
    let (status, body) = get(&sandbox, SA_PATH, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (body["kind"].as_str(), body["reason"].as_str()),
        (Some("Status"), Some("Unauthorized"))
    );
    let (status, _) = get(&sandbox, SA_PATH, Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn users_need_a_grant() {
    let users = vec![
        User {
            name: "alice".into(),
            token: "alice-token".into(),
        },
        User {
            name: "bob".into(),
            token: "bob-token".into(),
        },
    ];
    let grants = vec![Grant {
        subject: "alice".into(),
        verbs: vec!["get".into()],
        resources: vec!["serviceaccounts".into()],
        namespaces: vec!["team".into()],
    }];
    let sandbox = start(users, grants).await;
    let (status, _) = get(&sandbox, SA_PATH, Some("alice-token")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&sandbox, SA_PATH, Some("bob-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "serviceaccounts \"app\" is forbidden: User \"bob\" cannot get resource \"serviceaccounts\" in API group \"\" in the namespace \"team\""
    );
    let (status, _) = post_token(
        &sandbox,
        TOKEN_PATH,
        "alice-token",
        token_request(&["a"], None),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "get does not imply create serviceaccounts/token"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn service_account_tokens_authenticate_as_the_service_account() {
    let grants = vec![Grant {
        subject: "system:serviceaccount:team:controller".into(),
        verbs: vec!["create".into()],
        resources: vec!["serviceaccounts/token".into()],
        namespaces: vec!["team".into()],
    }];
    let sandbox = start(vec![], grants).await;
    let hour = Duration::from_secs(3600);
    let controller = sandbox.issue_token("team", "controller", &["anything".into()], hour);
    let (status, _) = post_token(
        &sandbox,
        TOKEN_PATH,
        &controller,
        token_request(&["x"], None),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = get(&sandbox, SA_PATH, Some(&controller)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap_or_default().contains(
        "User \"system:serviceaccount:team:controller\" cannot get resource \"serviceaccounts\""
    ));
    let unknown = sandbox.issue_token("team", "ghost", &["x".into()], hour);
    let (status, _) = get(&sandbox, SA_PATH, Some(&unknown)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "tokens of missing ServiceAccounts are refused"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn discovery_documents_and_other_issuers() {
    let sandbox = start(vec![], vec![]).await;
    let (status, config) = get(&sandbox, "/.well-known/openid-configuration", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["issuer"], sandbox.issuer());
    assert_eq!(
        config["jwks_uri"],
        format!("{}/openid/v1/jwks", sandbox.issuer())
    );
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let (_, jwks) = get(&sandbox, "/openid/v1/jwks", None).await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    let other = start(vec![], vec![]).await;
    let foreign = other.issue_token("team", "app", &["a".into()], Duration::from_secs(600));
    let verifier = sandbox.verifier().await.expect("discovery");
    assert!(
        verifier.verify(&foreign, "a").is_err(),
        "another sandbox's key is unknown"
    );
    let err = JwtVerifier::discover_with_ca(&format!("{}/", sandbox.issuer()), sandbox.ca_pem())
        .await
        .expect_err("issuer mismatch");
    assert!(err.to_string().contains("advertises issuer"), "{err}");
    other.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn kubeconfig_points_at_the_sandbox() {
    let sandbox = start(vec![], vec![]).await;
    let text = sandbox.kubeconfig_file();
    let config: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(config["kind"], "Config");
    assert_eq!(config["current-context"], "kubecred-sandbox");
    assert_eq!(config["clusters"][0]["cluster"]["server"], sandbox.url());
    let ca = config["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .expect("certificate-authority-data");
    let ca =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, ca).expect("base64");
    assert_eq!(
        String::from_utf8(ca).ok().as_deref(),
        Some(sandbox.ca_pem())
    );
    assert_eq!(config["users"][0]["user"]["token"], sandbox.admin_token());
    assert_eq!(config["contexts"][0]["context"]["namespace"], "default");
    assert_eq!(
        sandbox.kubeconfig("team")["contexts"][0]["context"]["namespace"],
        "team"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn starts_and_port_conflicts_are_named() {
    let sandbox = start(vec![], vec![]).await;
    let port = sandbox
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let clash = Sandbox::start(SandboxConfig {
        port,
        ..SandboxConfig::default()
    })
    .await;
    let message = clash.expect_err("port in use").to_string();
    assert!(
        message.starts_with(&format!("cannot listen on 127.0.0.1:{port}: ")),
        "{message}"
    );
    sandbox.shutdown().await;
}
