//! `--allow-shell-out`: at controller level, when no environment credential, workload identity
//! or managed identity is there, the Azure CLI's login answers (`az account get-access-token`,
//! run by `azure_identity`'s `AzureCliCredential`). Without the flag kubecred never runs `az`,
//! and says what each step of the chain was missing.
#![cfg(feature = "azure")]

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;

use support::{BoxError, assert_exit, json, kubecred, stderr};

const SCOPE: &str = "https://storage.azure.com/.default";

/// A fake `az` on `PATH` that records its arguments and prints what the real one prints for
/// `account get-access-token --output json`.
fn fake_az(dir: &std::path::Path, expires_on: u64) -> Result<String, BoxError> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin)?;
    let log = dir.join("az.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{log}'\n\
         printf '{{\"accessToken\":\"az-cli-token\",\"expiresOn\":\"2030-01-01 00:00:00.000000\",\
         \"expires_on\":{expires_on},\"subscription\":\"s\",\"tenant\":\"t\",\"tokenType\":\"Bearer\"}}\\n'\n",
        log = log.display()
    );
    let az = bin.join("az");
    std::fs::write(&az, script)?;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755))?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Ok(path)
}

/// An IMDS address where nothing listens (the managed identity is not there).
fn closed_port() -> Result<String, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(format!("http://127.0.0.1:{port}"))
}

#[test]
fn the_azure_cli_answers_only_when_allowed() -> Result<(), BoxError> {
    let home = tempfile::tempdir()?;
    let path = fake_az(home.path(), 1_900_000_000)?;
    let imds = closed_port()?;
    let env = [
        ("PATH", path.as_str()),
        ("KUBECRED_AZURE_IMDS_URL", imds.as_str()),
    ];
    let args = [
        "token",
        "--provider",
        "azure",
        "--scope",
        SCOPE,
        "-o",
        "json",
    ];

    let refused = kubecred(home.path(), &env, &args)?;
    assert_exit(
        &refused,
        1,
        &[
            "no Azure credential at controller level",
            "EnvironmentCredential: missing AZURE_TENANT_ID, AZURE_CLIENT_ID",
            "Workload Identity: missing environment variables",
            "ManagedIdentity:",
        ],
    );
    assert!(
        !home.path().join("az.log").exists(),
        "az ran without --allow-shell-out"
    );

    let mut allowed_args = args.to_vec();
    allowed_args.push("--allow-shell-out");
    let allowed = kubecred(home.path(), &env, &allowed_args)?;
    let answer = json(&allowed)?;
    assert_eq!(answer["token"], "az-cli-token", "{}", stderr(&allowed));
    assert_eq!(answer["expiresAt"], "2030-03-17T17:46:40Z");
    let calls = std::fs::read_to_string(home.path().join("az.log"))?;
    assert!(
        calls.contains("account get-access-token")
            && calls.contains("--scope https://storage.azure.com/.default"),
        "{calls}"
    );
    Ok(())
}
