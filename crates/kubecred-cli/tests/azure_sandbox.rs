//! `kubecred sandbox`'s Azure stand-ins, reached as its banner says: with the exported
//! variables (`SSL_CERT_FILE` naming the CA file it wrote), `kubecred token --provider azure`
//! for the example manifests' team-a/app is the annotated app's Entra token, the printed ACR
//! login works, and the granted Blob container is served by Azurite.

mod support;

use std::path::Path;

use support::azure::claims;
use support::{SandboxProcess, TestResult, isolated, stdout, success_json};

const BANNER_VARS: [&str; 10] = [
    "AZURE_AUTHORITY_HOST",
    "AZURE_TENANT_ID",
    "KUBECRED_AZURE_IMDS_URL",
    "KUBECRED_AZURE_ACR_URL",
    "KUBECRED_AZURE_ARM_URL",
    "KUBECRED_AZURE_BLOB_URL",
    "KUBECRED_AZURE_KEYVAULT_URL",
    "KUBECRED_AZURE_EVENTHUBS_URL",
    "KUBECRED_AZURE_DEVOPS_URL",
    "SSL_CERT_FILE",
];

#[test]
fn the_banner_points_a_shell_at_the_azure_stand_ins() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let mut env = vec![("KUBECONFIG", sandbox.kubeconfig.display().to_string())];
    for name in BANNER_VARS {
        let value = sandbox.exported(name).ok_or(format!(
            "the banner exports no {name}: {:?}",
            sandbox.banner
        ))?;
        env.push((name, value));
    }
    let run = |line: &str| {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        isolated(support::BIN, home.path())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .output()
    };
    // The banner's own example commands, as printed.
    let examples: Vec<&String> = sandbox
        .banner
        .iter()
        .filter(|line| line.contains("--provider azure") || line.contains("azurecr.io --namespace"))
        .collect();
    assert_eq!(examples.len(), 2, "{:?}", sandbox.banner);
    let token = success_json(&run(examples[0].trim())?)?;
    let claims = claims(token["token"].as_str().ok_or("no token")?)?;
    assert_eq!(
        claims["appid"], "00000000-0000-0000-0000-00000000000a",
        "{claims}"
    );
    assert_eq!(
        claims["tid"], "00000000-0000-0000-0000-000000000001",
        "{claims}"
    );
    let login = success_json(&run(examples[1].trim())?)?;
    assert_eq!(
        login["username"], "00000000-0000-0000-0000-000000000000",
        "{login}"
    );

    // examples/sandbox.yaml grants team-a/app its Blob container (served by Azurite, if
    // installed) and a Key Vault key.
    if sandbox
        .banner
        .iter()
        .any(|l| l.contains("Blob storage (Azurite at"))
    {
        let check = run(
            "kubecred check azblob://devstoreaccount1/flux-artifacts -n team-a --service-account app",
        )?;
        assert!(check.status.success(), "{}", support::stderr(&check));
    } else {
        let hint = "npm ci --prefix conformance/azure";
        kubecred_sandbox::peers::missing("azurite", hint, &"the sandbox started none");
    }
    let check =
        run("kubecred check azkv://kubecred-sandbox/keys/sops -n team-a --service-account app")?;
    assert!(
        stdout(&check).contains(": ok"),
        "{}",
        support::stderr(&check)
    );
    Ok(())
}
