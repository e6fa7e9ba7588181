//! `kubecred check` with the `azure` provider: a Blob container (listed through the
//! grant-checking Blob stand-in in front of Azurite, which takes the stand-ins' Storage tokens
//! with `--oauth basic`), a Key Vault key and an Event Hub, allowed by the
//! `sandbox.kubecred.io/azure-grants` annotation of team-a/app and denied to team-a/other,
//! whose app has no role.

mod support;

use support::azure::{AzureWorld, TENANT, azure_world, manifests};
use support::{TestResult, assert_exit, assert_success, stdout};

const BLOB: &str = "azblob://devstoreaccount1/flux-artifacts";
const KEY: &str = "azkv://kubecred-sandbox/keys/sops";
const HUB: &str = "eventhub://kubecred-sandbox/flux-events";
const OTHER_APP: &str = "00000000-0000-0000-0000-0000000000ab";

fn check(w: &AzureWorld, target: &str, account: &str) -> std::io::Result<std::process::Output> {
    let args = [
        "check",
        target,
        "-n",
        "team-a",
        "--service-account",
        account,
    ];
    w.kubecred(&[], &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_are_allowed_by_the_grants_and_denied_without() -> TestResult {
    let other = format!(
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: other\n  namespace: team-a\n  annotations:\n    \
         azure.workload.identity/client-id: {OTHER_APP}\n    azure.workload.identity/tenant-id: {TENANT}\n"
    );
    let grants = format!("{BLOB} {KEY} {HUB}");
    let w = azure_world(&(manifests(&grants) + &other), 0, |_| {}).await?;
    if w.azure.azurite().is_none() {
        let hint = "npm ci --prefix conformance/azure";
        kubecred_sandbox::peers::missing("azurite", hint, &"it did not start");
        return Ok(());
    }

    let blob = check(&w, BLOB, "app")?;
    assert_success(&blob);
    assert!(
        stdout(&blob).starts_with(&format!("{BLOB}: ok")),
        "{}",
        stdout(&blob)
    );
    let key = check(&w, KEY, "app")?;
    assert_success(&key);
    assert!(
        stdout(&key).starts_with(&format!("{KEY}: ok")),
        "{}",
        stdout(&key)
    );
    let hub = check(&w, HUB, "app")?;
    assert_success(&hub);
    assert!(
        stdout(&hub).starts_with(&format!("{HUB}: ok")),
        "{}",
        stdout(&hub)
    );
    assert_eq!(w.azure.calls("blob.request"), 1);
    assert_eq!(w.azure.calls("keyvault.keys.get"), 1);
    assert_eq!(w.azure.calls("eventhubs.send"), 1);

    for target in [BLOB, KEY, HUB] {
        let denied = check(&w, target, "other")?;
        assert_exit(&denied, 1, &[target, "denied"]);
    }
    assert_eq!(w.azure.calls("blob.request"), 1);
    assert_eq!(w.azure.calls("eventhubs.send"), 1);

    let bad = check(&w, "azblob://Devstore/x", "app")?;
    assert_exit(&bad, 1, &["azblob://Devstore/x"]);
    Ok(())
}
