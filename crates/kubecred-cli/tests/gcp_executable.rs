//! Google's own client library (`google-auth`, Python) runs kubecred as the executable of an
//! `external_account` file (`credential_source.executable`): the ServiceAccount token kubecred
//! prints is exchanged at the sandbox's STS stand-in and impersonates the Google service account
//! the ServiceAccount's annotation names. The library is the judge of the answer's format.

mod support;

use std::path::Path;
use std::process::Command;

use support::{BIN, SandboxProcess, TestResult};

const POOL_PROVIDER: &str = "//iam.googleapis.com/projects/123456789000/locations/global/workloadIdentityPools/kubecred-sandbox/providers/sandbox";
const ACCOUNT: &str = "team-a-app@example-project.iam.gserviceaccount.com";

/// Loads the file with google-auth, refreshes, prints `{"ok", "token"}` or the exception.
const SCRIPT: &str = r#"
import json, sys
import google.auth
import google.auth.transport.requests as transport
try:
    creds, _ = google.auth.load_credentials_from_file(sys.argv[1])
    creds = creds.with_scopes(["https://www.googleapis.com/auth/cloud-platform"])
    creds.refresh(transport.Request())
    print(json.dumps({"ok": True, "token": creds.token}))
except Exception as e:
    print(json.dumps({"ok": False, "type": type(e).__name__, "error": str(e)}))
"#;

fn google_auth_installed() -> bool {
    match Command::new("python3")
        .args(["-c", "import google.auth, requests"])
        .output()
    {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            let why = String::from_utf8_lossy(&output.stderr).into_owned();
            kubecred_sandbox::peers::missing(
                "google-auth (Python)",
                "pip install google-auth requests",
                &why,
            );
            false
        }
        Err(e) => {
            kubecred_sandbox::peers::missing("python3", "install python3", &e);
            false
        }
    }
}

/// An `external_account` file whose subject token comes from `kubecred token ... NAMESPACE`.
fn external_account(
    dir: &Path,
    sandbox: &SandboxProcess,
    namespace: &str,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let exported = |name: &str| sandbox.exported(name).ok_or(format!("no {name} exported"));
    let command = format!(
        "{BIN} token --provider generic --kubeconfig {} -n {namespace} --service-account app \
         --output google-executable",
        sandbox.kubeconfig.display()
    );
    let config = serde_json::json!({
        "type": "external_account",
        "audience": POOL_PROVIDER,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": exported("KUBECRED_GCP_STS_URL")?,
        "service_account_impersonation_url": format!(
            "{}/v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken",
            exported("KUBECRED_GCP_IAM_CREDENTIALS_URL")?
        ),
        "credential_source": {"executable": {
            "command": command,
            "timeout_millis": 30000,
            "output_file": dir.join(format!("{namespace}.out.json")),
        }},
    });
    let path = dir.join(format!("{namespace}.json"));
    std::fs::write(&path, config.to_string())?;
    Ok(path)
}

fn google_auth(
    home: &Path,
    file: &Path,
) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
    let output = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(file)
        .env("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")
        .env("HOME", home)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .map_err(|e| format!("{e}: {text} {}", String::from_utf8_lossy(&output.stderr)).into())
}

#[test]
fn google_auth_federates_with_kubecred_as_its_executable_source() -> TestResult {
    if !google_auth_installed() {
        return Ok(());
    }
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;

    // team-a/app is bound to the Google service account: google-auth gets its token.
    let allowed = google_auth(
        home.path(),
        &external_account(home.path(), &sandbox, "team-a")?,
    )?;
    assert_eq!(allowed["ok"], true, "{allowed}");
    let token = allowed["token"].as_str().unwrap_or_default();
    assert!(!token.is_empty(), "{allowed}");
    // The answer is also in the output file the configuration names, private to the user.
    let out = home.path().join("team-a.out.json");
    let cached: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    assert_eq!(cached["success"], true);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out)?.permissions());
    assert_eq!(mode & 0o777, 0o600);

    // team-b/app is not: the same configuration with its token is refused by the stand-in.
    let refused = google_auth(
        home.path(),
        &external_account(home.path(), &sandbox, "team-b")?,
    )?;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("PERMISSION_DENIED")
            || refused["error"]
                .as_str()
                .unwrap_or_default()
                .contains("403"),
        "{refused}"
    );
    Ok(())
}

/// A failure is answered in Google's shape on standard output, with a non-zero exit.
#[test]
fn a_failure_is_answered_in_googles_shape() -> TestResult {
    let home = tempfile::tempdir()?;
    let output = support::isolated(BIN, home.path())
        .args([
            "token",
            "--provider",
            "generic",
            "-n",
            "team-a",
            "--service-account",
            "app",
        ])
        .args(["--output", "google-executable"])
        .output()?;
    assert_eq!(output.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(answer["version"], 1);
    assert_eq!(answer["success"], false);
    assert!(
        answer["code"].is_string() && answer["message"].is_string(),
        "{answer}"
    );
    // Only the generic provider's token is a subject token here.
    let usage = support::isolated(BIN, home.path())
        .args([
            "token",
            "--provider",
            "aws",
            "--output",
            "google-executable",
        ])
        .output()?;
    assert_eq!(usage.status.code(), Some(2));
    Ok(())
}
