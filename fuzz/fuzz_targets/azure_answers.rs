//! What Azure answers, on arbitrary bytes: IMDS token answers and refusals, the error answers of
//! ARM, ACR, Key Vault, Storage and Service Bus, a JSON success body, ACR refresh tokens (their
//! `exp`), Entra tokens' holders, and AKS `listClusterUserCredential` answers (base64
//! kubeconfigs, picked by address). The first two bytes are the HTTP status, the rest the body;
//! a first line of the body is also tried as the address. An error is fine, a panic is a bug,
//! and no error shows a token or a kubeconfig's credentials.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kubecred::Secret;
use kubecred::azure::{acr, aks, managed_identity, wire};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "fuzz-secret-marker";
const ID: &str = "/subscriptions/12345678-1234-1234-1234-123456789012/resourceGroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-cluster";

fn hidden(result: Result<impl Sized, kubecred::Error>) {
    if let Err(error) = result {
        let shown = error.to_string();
        assert!(!shown.contains(MARKER), "{shown}");
    }
}

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) % 700, rest),
        _ => (200, data),
    };
    let text = String::from_utf8_lossy(body);
    let marked = text.contains(MARKER);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    // IMDS.
    if let Ok((token, expires_at)) = managed_identity::answer(status, body, now, "x") {
        assert!((200..300).contains(&status) && expires_at > now);
        let _ = token;
    }
    let _ = managed_identity::answer(status, body, SystemTime::now(), "x");
    let _ = managed_identity::resource(&text);
    let expires_in = serde_json::to_string(&text).unwrap_or_default();
    for expires_in in [expires_in.as_str(), text.as_ref()] {
        let answer = format!(r#"{{"access_token":"{MARKER}","expires_in":{expires_in}}}"#);
        let read = managed_identity::answer(status, answer.as_bytes(), now, "x");
        if !marked {
            hidden(read);
        }
    }

    // Azure's refusals and success bodies.
    let refusal = wire::refusal(status, &text, "x").to_string();
    assert!(!refusal.chars().any(char::is_control), "{refusal}");
    assert!(refusal.chars().count() < 500 * 12 + 40, "{refusal}");
    let _ = wire::parse::<serde_json::Value>(&text, "x");
    let wrapped = format!(r#"{{"refresh_token":"{MARKER}",{text}"#);
    hidden(wire::parse::<serde_json::Value>(&wrapped, "x"));
    for token in [
        text.to_string(),
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(body)),
    ] {
        if let Some(holder) = wire::token_holder(&Secret::new(token.as_str())) {
            assert!(
                holder
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" -()".contains(&b)),
                "{holder}"
            );
        }
        let _ = acr::expiry(&Secret::new(token), "x");
    }

    // ACR refresh tokens: the claims are the body; the signature is a secret never shown.
    let token = format!("e30.{}.{MARKER}", URL_SAFE_NO_PAD.encode(body));
    hidden(acr::expiry(&Secret::new(token), "x"));

    // AKS: the body as a kubeconfig (with a local account's token) and as ARM's whole answer.
    let (address, rest) = text.split_once('\n').unwrap_or(("", &text));
    let kubeconfig = format!("{text}\nusers:\n- name: u\n  user:\n    token: {MARKER}\n");
    let encoded = STANDARD.encode(&kubeconfig);
    if !marked {
        let read = aks::read_kubeconfig(&encoded);
        if let Err(why) = &read {
            assert!(!why.contains(MARKER), "{why}");
        }
        let answer =
            serde_json::json!({"kubeconfigs": [{"name": "clusterUser", "value": encoded}]});
        for address in [None, Some(address)] {
            hidden(aks::listed_kubeconfig(ID, address, &answer.to_string()));
        }
    }
    let _ = aks::read_kubeconfig(&text);
    let _ = aks::read_kubeconfig(&STANDARD.encode(body));
    for address in [None, Some(address)] {
        let _ = aks::listed_kubeconfig(ID, address, rest);
        let _ = aks::listed_kubeconfig(rest, address, "{\"kubeconfigs\":[]}");
    }
});
