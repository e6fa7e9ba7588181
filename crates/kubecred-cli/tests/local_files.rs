//! The files kubecred keeps on this machine, against two `kubecred sandbox` children: the
//! kubeconfig `cluster kubeconfig -o` writes (never through a planted temporary file), and the
//! disk cache of `cluster credentials`, keyed on the cluster its kubeconfig points at rather than
//! on the kubeconfig's path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

mod support;
use support::{BoxError, SandboxProcess, TestResult, assert_success, isolated, json};

/// The example manifests (ServiceAccount `team-a/app` among them), on any port.
fn start(dir: &Path) -> Result<SandboxProcess, BoxError> {
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    SandboxProcess::start(dir, &manifests, 0)
}

/// Two sandboxes, each with a folder of its own under `home`.
fn two_sandboxes(home: &Path) -> Result<(SandboxProcess, SandboxProcess), BoxError> {
    let (a, b) = (home.join("a"), home.join("b"));
    std::fs::create_dir(&a)?;
    std::fs::create_dir(&b)?;
    Ok((start(&a)?, start(&b)?))
}

/// `kubecred ARGS` in `dir` with `home` as HOME.
fn kubecred_in(home: &Path, dir: &Path, args: &[&str]) -> std::io::Result<Output> {
    isolated(support::BIN, home)
        .current_dir(dir)
        .args(args)
        .output()
}

/// `cluster credentials` for ServiceAccount team-a/app (generic provider) with `kubeconfig`: the
/// token's issuer (the sandbox that minted it).
fn issuer_of_credentials(home: &Path, dir: &Path, kubeconfig: &str) -> Result<String, BoxError> {
    let args = [
        "cluster",
        "credentials",
        "--provider",
        "generic",
        "--address",
        "https://remote.example",
        "-n",
        "team-a",
        "--service-account",
        "app",
        "--kubeconfig",
        kubeconfig,
    ];
    issuer_of(&kubecred_in(home, dir, &args)?)
}

/// The issuer of the token in an ExecCredential that `cluster credentials` printed.
fn issuer_of(output: &Output) -> Result<String, BoxError> {
    let token = json(output)?["status"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let payload = token.split('.').nth(1).ok_or("not a JWT")?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    Ok(claims["iss"].as_str().unwrap_or_default().to_owned())
}

/// One kubeconfig with context `a` and `b` for the two sandboxes' kubeconfigs, `current` first.
fn two_contexts(a: &SandboxProcess, b: &SandboxProcess, current: &str) -> Result<String, BoxError> {
    let read = |sandbox: &SandboxProcess| -> Result<serde_json::Value, BoxError> {
        Ok(serde_json::from_str(&std::fs::read_to_string(
            &sandbox.kubeconfig,
        )?)?)
    };
    let (a, b) = (read(a)?, read(b)?);
    let named = |name: &str, config: &serde_json::Value| {
        (
            serde_json::json!({"name": name, "cluster": config["clusters"][0]["cluster"]}),
            serde_json::json!({"name": name, "user": config["users"][0]["user"]}),
            serde_json::json!({"name": name, "context": {"cluster": name, "user": name}}),
        )
    };
    let ((cluster_a, user_a, context_a), (cluster_b, user_b, context_b)) =
        (named("a", &a), named("b", &b));
    Ok(serde_json::json!({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [cluster_a, cluster_b],
        "users": [user_a, user_b],
        "contexts": [context_a, context_b],
    })
    .to_string())
}

#[test]
fn switching_the_current_context_never_serves_the_other_clusters_token() -> TestResult {
    let home = tempfile::tempdir()?;
    let (a, b) = two_sandboxes(home.path())?;
    let kubeconfig = home.path().join("kubeconfig");
    let path = kubeconfig.display().to_string();
    std::fs::write(&kubeconfig, two_contexts(&a, &b, "a")?)?;
    let issuer_a = issuer_of_credentials(home.path(), home.path(), &path)?;
    assert!(issuer_a.starts_with(&a.url), "{issuer_a} is not {}", a.url);
    // Cached: the same cluster is served from the disk cache.
    assert_eq!(
        issuer_of_credentials(home.path(), home.path(), &path)?,
        issuer_a
    );
    std::fs::write(&kubeconfig, two_contexts(&a, &b, "b")?)?;
    let issuer_b = issuer_of_credentials(home.path(), home.path(), &path)?;
    assert!(issuer_b.starts_with(&b.url), "{issuer_b} is not {}", b.url);
    Ok(())
}

/// `--context` without `--kubeconfig` selects that context of `KUBECONFIG`, as kubectl does,
/// and the disk cache keys on it.
#[test]
fn a_context_of_the_kubeconfig_variable_is_used_and_keyed() -> TestResult {
    let home = tempfile::tempdir()?;
    let (a, b) = two_sandboxes(home.path())?;
    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, two_contexts(&a, &b, "a")?)?;
    let issuer = |context: &[&str]| -> Result<String, BoxError> {
        let args = [
            &["cluster", "credentials", "--provider", "generic"][..],
            &["--address", "https://remote.example", "-n", "team-a"],
            &["--service-account", "app"],
            context,
        ]
        .concat();
        let output = isolated(support::BIN, home.path())
            .env("KUBECONFIG", &kubeconfig)
            .args(&args)
            .output()?;
        issuer_of(&output)
    };
    assert!(issuer(&["--context", "b"])?.starts_with(&b.url));
    assert!(
        issuer(&[])?.starts_with(&a.url),
        "the cache served context b's token"
    );
    assert!(issuer(&["--context", "b"])?.starts_with(&b.url));
    Ok(())
}

#[test]
fn a_relative_kubeconfig_path_is_keyed_by_the_file_it_names() -> TestResult {
    let home = tempfile::tempdir()?;
    let (a, b) = two_sandboxes(home.path())?;
    // The same relative name in two folders: each sandbox's own kubeconfig.
    for sandbox in [&a, &b] {
        let folder = sandbox.kubeconfig.parent().ok_or("no folder")?;
        std::fs::copy(&sandbox.kubeconfig, folder.join("config"))?;
    }
    let in_folder = |sandbox: &SandboxProcess| -> Result<String, BoxError> {
        let folder = sandbox.kubeconfig.parent().ok_or("no folder")?;
        issuer_of_credentials(home.path(), folder, "config")
    };
    assert!(in_folder(&a)?.starts_with(&a.url));
    assert!(in_folder(&b)?.starts_with(&b.url));
    Ok(())
}

/// `cluster kubeconfig -o OUT` for the sandbox: the run.
fn write_kubeconfig(home: &Path, sandbox: &SandboxProcess, out: &Path) -> std::io::Result<Output> {
    let (source, ca) = (
        sandbox.kubeconfig.display().to_string(),
        sandbox.ca.display().to_string(),
    );
    let args = [
        "cluster",
        "kubeconfig",
        "--kubeconfig",
        &source,
        "--provider",
        "generic",
        "--address",
        &sandbox.url,
        "-n",
        "team-a",
        "--service-account",
        "app",
        "--ca-file",
        &ca,
        "-o",
    ];
    isolated(support::BIN, home).args(args).arg(out).output()
}

#[test]
fn a_planted_temporary_file_is_never_written_through() -> TestResult {
    let home = tempfile::tempdir()?;
    let sandbox = start(home.path())?;
    let out = home.path().join("remote-kubeconfig");
    // The name the writer once used for its temporary file, opened with create + truncate.
    let planted = out.with_extension("kubecred-tmp");

    // A symlink there: its target was overwritten with the kubeconfig.
    let victim = home.path().join("victim");
    std::fs::write(&victim, "precious")?;
    std::os::unix::fs::symlink(&victim, &planted)?;
    assert_success(&write_kubeconfig(home.path(), &sandbox, &out)?);
    assert_eq!(std::fs::read_to_string(&victim)?, "precious");
    let written = std::fs::symlink_metadata(&out)?;
    assert!(written.is_file(), "the kubeconfig is a file of its own");
    assert_eq!(written.permissions().mode() & 0o777, 0o600);
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out)?)?;
    assert_eq!(
        config["clusters"][0]["cluster"]["server"],
        sandbox.url.as_str()
    );

    // A world-writable file there: the kubeconfig was left 0666.
    std::fs::remove_file(&planted)?;
    std::fs::remove_file(&out)?;
    std::fs::write(&planted, "")?;
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666))?;
    assert_success(&write_kubeconfig(home.path(), &sandbox, &out)?);
    let mode = std::fs::symlink_metadata(&out)?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the kubeconfig is private");
    Ok(())
}
