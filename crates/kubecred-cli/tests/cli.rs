//! The `kubecred` binary end to end: `kubecred sandbox` runs as a child process and
//! `kubecred token` talks to it through the kubeconfig it writes, as a person would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubecred_sandbox::JwtVerifier;

type TestResult = Result<(), Box<dyn std::error::Error>>;

mod support;
use support::{
    BIN, SandboxProcess, assert_exit, assert_exit_for, isolated, kubecred, stderr, stdout,
    success_json,
};
const AUDIENCE: &str = "https://example.test";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml")
}

/// A `kubecred sandbox` child process and the home directory its clients run in.
struct RunningSandbox {
    process: SandboxProcess,
    dir: tempfile::TempDir,
}

impl RunningSandbox {
    fn start(manifests: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let process = SandboxProcess::start(dir.path(), &std::fs::read_to_string(manifests)?, 0)
            .map_err(|e| e.to_string())?;
        Ok(RunningSandbox { process, dir })
    }

    /// A verifier for the sandbox's tokens, discovered over HTTPS trusting its CA.
    fn verifier(&self) -> Result<JwtVerifier, Box<dyn std::error::Error>> {
        let ca_pem = self.process.ca_pem().map_err(|e| e.to_string())?;
        Ok(runtime()?.block_on(JwtVerifier::discover_with_ca(&self.process.url, &ca_pem))?)
    }

    fn kubecred(&self, args: &[&str]) -> Result<Output, std::io::Error> {
        isolated(BIN, self.dir.path())
            .env("KUBECONFIG", &self.process.kubeconfig)
            .args(args)
            .output()
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// `token --provider PROVIDER ARGS`.
fn token<'a>(provider: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    [&["token", "--provider", provider][..], args].concat()
}

/// `token --provider generic ARGS`.
fn generic<'a>(args: &[&'a str]) -> Vec<&'a str> {
    token("generic", args)
}

/// [`generic`] for team-a/app's token with the audience [`AUDIENCE`], printed as `output`.
fn app_token<'a>(output: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let app = [
        "--namespace",
        "team-a",
        "--service-account",
        "app",
        "--audience",
        AUDIENCE,
        "--output",
        output,
    ];
    generic(&[&app[..], extra].concat())
}

#[test]
fn sandbox_is_ready_and_token_prints_a_verifiable_jwt() -> TestResult {
    // Start-up time is a benchmark's business, not a test's (it varies with the machine's load).
    let sandbox = RunningSandbox::start(&examples())?;

    let output = sandbox.kubecred(&app_token("json", &[]))?;
    let json = success_json(&output)?;
    assert_eq!(json["kind"], "KubernetesToken");
    let token = json["token"].as_str().ok_or("no token")?;

    let verifier = sandbox.verifier()?;
    let claims = verifier.verify(token, AUDIENCE)?;
    assert_eq!(claims.aud, vec![AUDIENCE.to_string()]);
    assert_eq!(claims.sub, "system:serviceaccount:team-a:app");
    let expires: jiff::Timestamp = json["expiresAt"].as_str().ok_or("no expiresAt")?.parse()?;
    assert_eq!(expires.as_second(), claims.exp);
    assert!(!stderr(&output).contains(token));
    Ok(())
}

#[test]
fn text_output_is_the_token_alone() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    let output = sandbox.kubecred(&app_token("text", &[]))?;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.split('.').count(), 3, "{text}");
    assert!(!text.contains(char::is_whitespace));
    Ok(())
}

#[test]
fn the_feature_gate_off_exits_1_naming_the_gate() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    let output = sandbox.kubecred(&app_token(
        "json",
        &["--feature-gates", "ObjectLevelWorkloadIdentity=false"],
    ))?;
    assert_exit(
        &output,
        1,
        &["ObjectLevelWorkloadIdentity feature gate is not enabled"],
    );
    assert!(stdout(&output).is_empty());
    Ok(())
}

#[test]
fn a_service_account_of_another_namespace_is_refused() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    let output = sandbox.kubecred(&generic(&[
        "--namespace",
        "team-a",
        "--service-account",
        "team-b/app",
    ]))?;
    assert_exit(
        &output,
        2,
        &["names namespace 'team-b' but --namespace is 'team-a'"],
    );

    // NS/NAME alone sets the namespace.
    let output = sandbox.kubecred(&generic(&[
        "--service-account",
        "team-b/app",
        "--output",
        "json",
    ]))?;
    assert!(output.status.success(), "{}", stderr(&output));
    Ok(())
}

#[test]
fn the_default_service_account_locks_objects_down_to_their_namespace() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    let lockdown = |namespace: &str| {
        sandbox.kubecred(&generic(&[
            "--namespace",
            namespace,
            "--audience",
            AUDIENCE,
            "--default-service-account",
            "tenant-default",
            "--output",
            "json",
        ]))
    };
    let json = success_json(&lockdown("team-a")?)?;
    let verifier = sandbox.verifier()?;
    let claims = verifier.verify(json["token"].as_str().ok_or("no token")?, AUDIENCE)?;
    assert_eq!(claims.sub, "system:serviceaccount:team-a:tenant-default");

    assert_exit(
        &lockdown("team-b")?,
        1,
        &["team-b/tenant-default", "workload identity lockdown"],
    );
    Ok(())
}

#[test]
fn usage_errors_exit_2() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    for (args, expected) in [
        (
            vec!["token", "--provider", "AWS"],
            "valid providers are aws, azure, gcp, generic",
        ),
        (
            generic(&["--feature-gates", "Bogus=true"]),
            "unknown feature gate 'Bogus'",
        ),
        (
            generic(&["--feature-gates", "ObjectLevelWorkloadIdentity=maybe"]),
            "not true or false",
        ),
        (
            generic(&["--service-account", "a/b/c"]),
            "expected NAME or NAMESPACE/NAME",
        ),
        (vec!["token"], "--provider"),
    ] {
        let output = sandbox.kubecred(&args)?;
        assert_exit_for(&format!("{args:?}"), &output, 2, &[expected]);
    }
    Ok(())
}

#[test]
fn credential_errors_exit_1_with_a_clear_message() -> TestResult {
    let sandbox = RunningSandbox::start(&examples())?;
    for (args, expected) in [
        (
            generic(&["-n", "team-a", "--service-account", "ghost"]),
            "service account team-a/ghost: read service account",
        ),
        (
            token(
                "azure",
                &["-n", "team-a", "--service-account", "tenant-default"],
            ),
            "azure tenant ID is not set in the service account annotation",
        ),
        (
            token("aws", &["-n", "team-a", "--service-account", "app"]),
            "an AWS region is required for authenticating with a service account",
        ),
        (
            generic(&[
                "--default-service-account",
                "x",
                "-n",
                "team-a",
                "--feature-gates",
                "ObjectLevelWorkloadIdentity=false",
            ]),
            "cannot set default service accounts",
        ),
        (generic(&[]), "cannot read the pod's ServiceAccount token"),
    ] {
        let output = sandbox.kubecred(&args)?;
        assert_exit_for(&format!("{args:?}"), &output, 1, &[expected]);
    }
    Ok(())
}

#[test]
fn without_any_kubeconfig_the_error_says_so() -> TestResult {
    let dir = tempfile::tempdir()?;
    // The isolated environment's KUBECONFIG names a missing file; it has no
    // KUBERNETES_SERVICE_HOST.
    let output = kubecred(
        dir.path(),
        &[],
        &generic(&["-n", "team-a", "--service-account", "app"]),
    )?;
    assert_exit(&output, 1, &["no Kubernetes access configured"]);
    Ok(())
}

#[test]
fn bad_manifests_are_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
    )?;
    let manifests = path.to_string_lossy();
    let output = kubecred(dir.path(), &[], &["sandbox", "--manifests", &manifests])?;
    assert_exit(&output, 1, &["document 2", "Deployment"]);
    Ok(())
}

#[test]
fn the_demo_runs_to_the_end() -> TestResult {
    let output = Command::new(BIN).arg("demo").output()?;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("sub=system:serviceaccount:team-a:app") && text.ends_with("demo passed"),
        "{text}"
    );
    assert!(
        text.contains("8. gcp: team-a/app's token exchanged at STS and impersonating team-a-app@"),
        "{text}"
    );
    Ok(())
}

/// A reader that has gone away (`| head` after its line) ends the command quietly, never with a
/// panic: stdout is a pipe whose reading end is closed before the command starts, so its first
/// write fails.
#[test]
fn a_closed_stdout_is_not_a_panic() -> TestResult {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    let output = std::process::Command::new(support::BIN)
        .args([
            "policy",
            "--provider",
            "aws",
            "--for",
            "bucket",
            "--resource",
            "s3://flux-bucket",
            "--service-account",
            "a/b",
            "--account-id",
            "123456789012",
            "--role-name",
            "r",
            "--trust",
            "pod-identity",
        ])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
    Ok(())
}
