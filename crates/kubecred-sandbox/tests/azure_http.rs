//! The Azure stand-ins on the wire: IMDS's header rule and identity choice, ACR's exchange, ARM's
//! AKS reads and error shapes, Key Vault's and Event Hubs' grants, DevOps git's credentials and
//! the AKS authenticator.

use base64::Engine as _;
use kubecred_sandbox::azure::{
    ACR_AUDIENCE, AKS_AUDIENCE, ARM_AUDIENCE, AksCluster, AzureConfig, AzureStandIns,
    DEVOPS_AUDIENCE, EVENT_HUBS_AUDIENCE, EVENT_HUBS_DATA_SENDER, EntraApp, KEY_VAULT_AUDIENCE,
    KEY_VAULT_CRYPTO_USER, ManagedIdentity, NodeIdentities, RoleGrant, STORAGE_AUDIENCE,
};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const APP: &str = "11111111-1111-4111-8111-111111111111";
const STRANGER: &str = "99999999-9999-4999-8999-999999999999";
const SUBSCRIPTION: &str = "12345678-1234-1234-1234-123456789012";

async fn start() -> AzureStandIns {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cluster = |name: &str, entra: bool| AksCluster {
        subscription_id: SUBSCRIPTION.into(),
        resource_group: "rg".into(),
        name: name.into(),
        location: "westeurope".into(),
        server: "https://127.0.0.1:6443".into(),
        ca_pem: "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into(),
        entra_integration: entra,
        readers: Vec::new(),
    };
    let config = AzureConfig {
        tenant_id: TENANT.into(),
        apps: vec![EntraApp {
            secrets: vec!["s".into()],
            ..EntraApp::new(APP)
        }],
        node: NodeIdentities {
            system_assigned: Some(ManagedIdentity::new("aaaaaaaa-0000-4000-8000-000000000001")),
            user_assigned: vec![ManagedIdentity::new("bbbbbbbb-0000-4000-8000-000000000002")],
        },
        registries: vec!["sandbox.azurecr.io".into()],
        clusters: vec![cluster("aks", true), cluster("plain", false)],
        grants: vec![
            RoleGrant::new("azkv://vault/keys/k", KEY_VAULT_CRYPTO_USER, APP),
            RoleGrant::new("eventhub://ns", EVENT_HUBS_DATA_SENDER, APP),
        ],
        devops_repositories: vec!["org/proj/repo".into()],
        ..AzureConfig::default()
    };
    AzureStandIns::start(config).await.expect("stand-ins start")
}

fn client(azure: &AzureStandIns) -> reqwest::Client {
    let roots = reqwest::Certificate::from_pem_bundle(azure.ca_pem().as_bytes()).expect("CA");
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(roots)
        .resolve(
            "dev.azure.com",
            ([127, 0, 0, 1], azure.devops_port()).into(),
        )
        .build()
        .expect("client")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_default()
}

#[tokio::test]
async fn imds_needs_the_metadata_header_and_picks_identities() {
    let azure = start().await;
    let client = client(&azure);
    let url = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://containerregistry.azure.net",
        azure.imds_url()
    );
    let bare = client.get(&url).send().await.expect("IMDS answers");
    assert_eq!(bare.status().as_u16(), 400);
    let body: serde_json::Value = bare.json().await.expect("json");
    assert_eq!(
        body["error_description"],
        "Required metadata header not specified"
    );
    for (query, client_id) in [
        ("", "aaaaaaaa-0000-4000-8000-000000000001"),
        (
            "&client_id=bbbbbbbb-0000-4000-8000-000000000002",
            "bbbbbbbb-0000-4000-8000-000000000002",
        ),
    ] {
        let answer: serde_json::Value = client
            .get(format!("{url}{query}"))
            .header("Metadata", "true")
            .send()
            .await
            .expect("IMDS answers")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["client_id"], client_id, "{answer}");
        assert!(answer["expires_on"].is_string(), "{answer}");
        assert_eq!(
            claims(answer["access_token"].as_str().unwrap_or_default())["aud"],
            ACR_AUDIENCE
        );
    }
    let unknown = client
        .get(format!("{url}&client_id={STRANGER}"))
        .header("Metadata", "true")
        .send()
        .await
        .expect("IMDS answers");
    assert_eq!(unknown.status().as_u16(), 400);
    assert_eq!(azure.calls("imds.token"), 2);
    azure.shutdown().await;
}

#[tokio::test]
async fn acr_exchanges_entra_tokens_for_refresh_tokens() {
    let azure = start().await;
    let client = client(&azure);
    let exchange = |token: String| {
        client
            .post(format!("{}/oauth2/exchange", azure.acr_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=access_token&service=sandbox.azurecr.io&access_token={token}"
            ))
            .send()
    };
    let token = azure
        .access_token(APP, ACR_AUDIENCE, now(), 600)
        .expect("token");
    let answer: serde_json::Value = exchange(token)
        .await
        .expect("ACR answers")
        .json()
        .await
        .expect("json");
    let refresh = claims(answer["refresh_token"].as_str().unwrap_or_default());
    assert!(
        refresh["exp"].as_i64().unwrap_or_default() > now(),
        "{answer}"
    );
    let arm = azure
        .access_token(APP, ARM_AUDIENCE, now(), 600)
        .expect("token");
    assert_eq!(exchange(arm).await.expect("answers").status().as_u16(), 200);
    let storage = azure
        .access_token(APP, STORAGE_AUDIENCE, now(), 600)
        .expect("token");
    let refused = exchange(storage).await.expect("answers");
    assert_eq!(refused.status().as_u16(), 401);
    let body: serde_json::Value = refused.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    assert_eq!(azure.calls("acr.exchange"), 2);
    azure.shutdown().await;
}

#[tokio::test]
async fn arm_describes_aks_clusters_and_lists_credentials() {
    let azure = start().await;
    let client = client(&azure);
    let token = azure
        .access_token(APP, ARM_AUDIENCE, now(), 600)
        .expect("token");
    let cluster = |name: &str| {
        format!(
            "{}/subscriptions/{SUBSCRIPTION}/resourcegroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}",
            azure.arm_url()
        )
    };
    let described: serde_json::Value = client
        .get(format!("{}?api-version=2024-05-01", cluster("aks")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ARM answers")
        .json()
        .await
        .expect("json");
    assert_eq!(
        described["properties"]["aadProfile"]["managed"], true,
        "{described}"
    );
    assert_eq!(described["properties"]["fqdn"], "127.0.0.1");
    let plain: serde_json::Value = client
        .get(format!("{}?api-version=2024-05-01", cluster("plain")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ARM answers")
        .json()
        .await
        .expect("json");
    assert!(plain["properties"].get("aadProfile").is_none(), "{plain}");
    let listed: serde_json::Value = client
        .post(format!(
            "{}/listClusterUserCredential?api-version=2024-05-01",
            cluster("aks")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ARM answers")
        .json()
        .await
        .expect("json");
    let kubeconfig = base64::engine::general_purpose::STANDARD
        .decode(
            listed["kubeconfigs"][0]["value"]
                .as_str()
                .unwrap_or_default(),
        )
        .expect("base64");
    assert!(String::from_utf8_lossy(&kubeconfig).contains("server: https://127.0.0.1:6443"));
    let missing = client
        .get(format!("{}?api-version=2024-05-01", cluster("nope")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("ARM answers");
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "ResourceNotFound");
    let storage = azure
        .access_token(APP, STORAGE_AUDIENCE, now(), 600)
        .expect("token");
    let wrong: serde_json::Value = client
        .get(format!("{}?api-version=2024-05-01", cluster("aks")))
        .bearer_auth(storage)
        .send()
        .await
        .expect("ARM answers")
        .json()
        .await
        .expect("json");
    assert_eq!(wrong["error"]["code"], "InvalidAuthenticationTokenAudience");
    let aks = azure
        .access_token(APP, AKS_AUDIENCE, now(), 600)
        .expect("token");
    let authenticator = azure.aks_authenticator();
    assert_eq!(authenticator(&aks), Some(EntraApp::new(APP).principal_id()));
    assert_eq!(authenticator(&token), None);
    azure.shutdown().await;
}

#[tokio::test]
async fn key_vault_and_event_hubs_enforce_grants() {
    let azure = start().await;
    let client = client(&azure);
    let vault = azure
        .access_token(APP, KEY_VAULT_AUDIENCE, now(), 600)
        .expect("token");
    let stranger = azure
        .access_token(STRANGER, KEY_VAULT_AUDIENCE, now(), 600)
        .expect("token");
    let key = format!("{}/vault/keys/k?api-version=7.4", azure.keyvault_url());
    let allowed: serde_json::Value = client
        .get(&key)
        .bearer_auth(&vault)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert!(allowed["key"]["key_ops"].is_array(), "{allowed}");
    let denied = client
        .get(&key)
        .bearer_auth(&stranger)
        .send()
        .await
        .expect("answers");
    assert_eq!(denied.status().as_u16(), 403);
    let body: serde_json::Value = denied.json().await.expect("json");
    assert_eq!(body["error"]["innererror"]["code"], "ForbiddenByRbac");
    let anonymous = client.get(&key).send().await.expect("answers");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));

    let hubs = azure
        .access_token(APP, EVENT_HUBS_AUDIENCE, now(), 600)
        .expect("token");
    let send = format!(
        "{}/ns/hub/messages?api-version=2014-01",
        azure.eventhubs_url()
    );
    let sent = client
        .post(&send)
        .bearer_auth(&hubs)
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(sent.status().as_u16(), 201);
    let other = azure
        .access_token(STRANGER, EVENT_HUBS_AUDIENCE, now(), 600)
        .expect("token");
    let refused = client
        .post(&send)
        .bearer_auth(&other)
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status().as_u16(), 401);
    assert!(
        refused
            .text()
            .await
            .unwrap_or_default()
            .contains("'Send' claim(s) are required")
    );
    assert_eq!(azure.calls("keyvault.keys.get"), 1);
    assert_eq!(azure.calls("eventhubs.send"), 1);
    azure.shutdown().await;
}

#[tokio::test]
async fn devops_git_takes_entra_tokens_as_basic_or_bearer() {
    let azure = start().await;
    let client = client(&azure);
    let refs = format!(
        "https://dev.azure.com:{}/org/proj/_git/repo/info/refs?service=git-upload-pack",
        azure.devops_port()
    );
    let challenge = client.get(&refs).send().await.expect("answers");
    assert_eq!(challenge.status().as_u16(), 401);
    assert_eq!(
        challenge
            .headers()
            .get_all("www-authenticate")
            .iter()
            .count(),
        2
    );
    let token = azure
        .access_token(APP, DEVOPS_AUDIENCE, now(), 600)
        .expect("token");
    let basic = client
        .get(&refs)
        .basic_auth("anyone", Some(&token))
        .send()
        .await
        .expect("answers");
    assert_eq!(basic.status().as_u16(), 200);
    let bearer = client
        .get(&refs)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers");
    assert_eq!(bearer.status().as_u16(), 200);
    assert!(
        bearer
            .text()
            .await
            .unwrap_or_default()
            .starts_with("001e# service=git-upload-pack\n0000")
    );
    let storage = azure
        .access_token(APP, STORAGE_AUDIENCE, now(), 600)
        .expect("token");
    let wrong = client
        .get(&refs)
        .bearer_auth(storage)
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(azure.calls("devops.info_refs"), 2);
    assert_eq!(azure.calls("devops.refused"), 1);
    azure.shutdown().await;
}
