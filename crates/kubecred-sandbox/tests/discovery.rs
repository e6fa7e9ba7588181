//! What kubectl reads besides objects: API discovery (`/api`, `/api/v1`,
//! `/apis`), Namespaces, lists, and TokenRequests in protobuf.

mod common;

use kubecred_sandbox::{Grant, Sandbox, User};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team, labels: {tier: web}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: other, namespace: team}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: app, namespace: implied}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: team}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: team}
data: {region: eu-west-1}
"#;

async fn get(sandbox: &Sandbox, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = common::client(sandbox).get(format!("{}{path}", sandbox.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

fn names(list: &Value) -> Vec<&str> {
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect()
}

#[tokio::test]
async fn api_discovery_documents() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let admin = Some(sandbox.admin_token());
    let (status, api) = get(&sandbox, "/api", admin).await;
    assert_eq!(
        (status, &api["kind"]),
        (StatusCode::OK, &json!("APIVersions"))
    );
    assert_eq!(api["versions"], json!(["v1"]));
    let (status, groups) = get(&sandbox, "/apis", admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        groups,
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
    );
    let (status, core) = get(&sandbox, "/api/v1", admin).await;
    assert_eq!(
        (status, &core["groupVersion"]),
        (StatusCode::OK, &json!("v1"))
    );
    let resources = core["resources"].as_array().expect("resources");
    let listed: Vec<&str> = resources
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        listed,
        [
            "configmaps",
            "namespaces",
            "secrets",
            "serviceaccounts",
            "serviceaccounts/token"
        ]
    );
    let token = &resources[4];
    assert_eq!(
        (&token["kind"], &token["group"], &token["verbs"]),
        (
            &json!("TokenRequest"),
            &json!("authentication.k8s.io"),
            &json!(["create"])
        )
    );
    assert_eq!(resources[3]["shortNames"], json!(["sa"]));
    let (status, _) = get(&sandbox, "/api/v1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn namespaces_that_exist_are_served() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let admin = Some(sandbox.admin_token());
    let (status, team) = get(&sandbox, "/api/v1/namespaces/team", admin).await;
    assert_eq!(
        (status, &team["kind"]),
        (StatusCode::OK, &json!("Namespace"))
    );
    assert_eq!(team["metadata"]["labels"]["tier"], "web");
    assert_eq!(team["status"]["phase"], "Active");
    for implied in ["implied", "default"] {
        let path = format!("/api/v1/namespaces/{implied}");
        let (status, namespace) = get(&sandbox, &path, admin).await;
        assert_eq!(
            (status, &namespace["metadata"]["name"]),
            (StatusCode::OK, &json!(implied))
        );
        let (_, again) = get(&sandbox, &path, admin).await;
        assert_eq!(
            again["metadata"]["uid"], namespace["metadata"]["uid"],
            "stable uid"
        );
    }
    let (status, missing) = get(&sandbox, "/api/v1/namespaces/ghost", admin).await;
    assert_eq!(
        (status, &missing["message"]),
        (
            StatusCode::NOT_FOUND,
            &json!("namespaces \"ghost\" not found")
        )
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn lists_hold_one_namespace_and_need_the_list_verb() {
    let users = vec![User {
        name: "alice".into(),
        token: "alice-token".into(),
    }];
    let grants = vec![Grant {
        subject: "alice".into(),
        verbs: vec!["get".into()],
        resources: vec!["*".into()],
        namespaces: vec!["team".into()],
    }];
    let sandbox = common::start(MANIFESTS, users, grants).await;
    let admin = Some(sandbox.admin_token());
    let base = "/api/v1/namespaces/team";
    let (status, accounts) = get(&sandbox, &format!("{base}/serviceaccounts"), admin).await;
    assert_eq!(
        (status, &accounts["kind"]),
        (StatusCode::OK, &json!("ServiceAccountList"))
    );
    assert_eq!(names(&accounts), ["app", "other"]);
    let (_, secrets) = get(&sandbox, &format!("{base}/secrets"), admin).await;
    assert_eq!(names(&secrets), ["creds"]);
    assert_eq!(secrets["items"][0]["data"]["password"], "aHVudGVyMg==");
    let (_, config_maps) = get(&sandbox, &format!("{base}/configmaps"), admin).await;
    assert_eq!(names(&config_maps), ["settings"]);
    let (_, empty) = get(&sandbox, "/api/v1/namespaces/implied/secrets", admin).await;
    assert_eq!(
        (&empty["kind"], names(&empty).len()),
        (&json!("SecretList"), 0)
    );
    let alice = Some("alice-token");
    let (status, body) = get(&sandbox, &format!("{base}/secrets"), alice).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team\""
    );
    let (status, _) = get(&sandbox, &format!("{base}/secrets/creds"), alice).await;
    assert_eq!(status, StatusCode::OK);
    sandbox.shutdown().await;
}

/// `kubectl create token app --audience https://x --duration 20m`, as
/// kubectl encodes it.
const PROTOBUF_TOKEN_REQUEST: &[u8] = b"k8s\x00\x0a\x28\x0a\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x18\x0a\x00\x12\x0e\x0a\x09https://x\x20\xb0\x09\x1a\x04\x0a\x00\x12\x00\x1a\x00\x22\x00";

#[tokio::test]
async fn token_requests_in_protobuf_are_read() {
    let sandbox = common::start(MANIFESTS, vec![], vec![]).await;
    let url = format!(
        "{}/api/v1/namespaces/team/serviceaccounts/app/token",
        sandbox.url()
    );
    let send = |body: &'static [u8]| {
        common::client(&sandbox)
            .post(&url)
            .bearer_auth(sandbox.admin_token())
            .header("Content-Type", "application/vnd.kubernetes.protobuf")
            .body(body)
            .send()
    };
    let response = send(PROTOBUF_TOKEN_REQUEST).await.expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("JSON answer");
    assert_eq!(created["spec"]["audiences"], json!(["https://x"]));
    assert_eq!(created["spec"]["expirationSeconds"], 1200);
    let token = created["status"]["token"].as_str().expect("token");
    let verifier = sandbox.verifier().await.expect("verifier");
    let claims = verifier.verify(token, "https://x").expect("verifies");
    assert_eq!(claims.exp - claims.iat, 1200);
    let response = send(b"k8s\x00\x0a\x7f").await.expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let refused: Value = response.json().await.expect("Status");
    assert_eq!(
        refused["message"],
        "the request body is not a protobuf TokenRequest: field of 127 bytes runs past the end"
    );
    sandbox.shutdown().await;
}
