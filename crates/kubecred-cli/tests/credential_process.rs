//! A profile whose `credential_process` runs kubecred, driven by the AWS CLI and by kubecred
//! itself: a loop back into kubecred's own controller chain stops at its first re-entry with an
//! error naming the profile, and a `credential_process` that runs kubecred with an identity of its
//! own still works inside a controller chain.
//!
//! Every run is bounded: the child runs in its own process group, killed whole at the deadline,
//! and each kubecred start is counted (a wrapper script appends the loop marker it saw to a file).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{BIN, BoxError, SandboxProcess, TestResult, env_refs, isolated};

const MARKER: &str = "KUBECRED_AWS_CREDENTIAL_PROCESS_PROFILES";
/// Far beyond a clean failure (an AWS CLI start and two or three kubecred starts).
const DEADLINE: Duration = Duration::from_secs(60);
const CONTROLLER: &str = "token --provider aws --region us-east-1 --output credential-process";

/// What a bounded run left behind.
struct Run {
    code: Option<i32>,
    stderr: String,
    stdout: String,
    /// The marker each kubecred start saw, in order ("" outside any kubecred chain).
    starts: Vec<String>,
    elapsed: Duration,
    timed_out: bool,
}

/// `home/bin/kubecred-counted`: records `$MARKER` in `home/starts`, then runs kubecred.
fn counted_kubecred(home: &Path) -> Result<PathBuf, BoxError> {
    use std::os::unix::fs::PermissionsExt;
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin)?;
    let script = bin.join("kubecred-counted");
    let starts = home.join("starts");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"${{{MARKER}:-}}\" >>'{}'\nexec '{BIN}' \"$@\"\n",
            starts.display()
        ),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    Ok(script)
}

/// Runs `command` in its own process group; at the deadline the whole group is killed.
fn bounded(mut command: Command, home: &Path) -> Result<Run, BoxError> {
    let (out, err) = (home.join("run.out"), home.join("run.err"));
    command
        .process_group(0)
        .stdout(Stdio::from(std::fs::File::create(&out)?))
        .stderr(Stdio::from(std::fs::File::create(&err)?));
    #[allow(clippy::disallowed_methods)] // a wall-clock bound on a child process
    let started = Instant::now();
    let mut child = command.spawn()?;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > DEADLINE {
            timed_out = true;
            let group = format!("-{}", child.id());
            Command::new("kill")
                .args(["-KILL", "--", &group])
                .status()?;
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let starts = std::fs::read_to_string(home.join("starts")).unwrap_or_default();
    Ok(Run {
        code: status.code(),
        stdout: std::fs::read_to_string(out)?,
        stderr: std::fs::read_to_string(err)?,
        starts: starts.lines().map(str::to_owned).collect(),
        elapsed,
        timed_out,
    })
}

/// The AWS CLI asking STS who it is with `profile` of `config`: credentials come first, so a
/// refusal never reaches the (closed) endpoint.
fn aws_cli(home: &Path, config: &str, profile: &str) -> Result<Run, BoxError> {
    let file = home.join("aws-config");
    std::fs::write(&file, config)?;
    let mut command = isolated("aws", home);
    command
        .env("AWS_CONFIG_FILE", &file)
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("none"))
        .env("AWS_PROFILE", profile)
        .args(["sts", "get-caller-identity", "--endpoint-url"])
        .arg("http://127.0.0.1:9");
    bounded(command, home)
}

#[track_caller]
fn assert_stopped(run: &Run, profile: &str, starts: &[&str]) {
    let why = format!(
        "exit {:?} after {:?} (timed out: {}), starts {:?}, stderr: {}",
        run.code, run.elapsed, run.timed_out, run.starts, run.stderr
    );
    assert!(!run.timed_out, "{why}");
    assert_eq!(run.starts, starts, "{why}");
    assert!(run.code.is_some_and(|c| c != 0), "{why}");
    let named = format!("loop at AWS profile \"{profile}\"");
    assert!(run.stderr.contains(&named), "no {named:?}: {why}");
    assert!(run.elapsed < Duration::from_secs(30), "{why}");
}

#[test]
fn a_profile_running_kubecred_through_itself_stops_at_the_first_reentry() -> TestResult {
    let home = tempfile::tempdir()?;
    let kubecred = counted_kubecred(home.path())?;
    let config = format!(
        "[profile loop]\nregion = us-east-1\ncredential_process = {} {CONTROLLER}\n",
        kubecred.display()
    );
    let run = aws_cli(home.path(), &config, "loop")?;
    // The AWS CLI starts kubecred; its chain starts kubecred again, which stops.
    assert_stopped(&run, "loop", &["", "loop"]);
    Ok(())
}

#[test]
fn two_profiles_running_each_other_stop_at_the_first_repeat() -> TestResult {
    let home = tempfile::tempdir()?;
    let kubecred = counted_kubecred(home.path())?.display().to_string();
    let config = format!(
        "[profile one]\ncredential_process = env AWS_PROFILE=two {kubecred} {CONTROLLER}\n\
         [profile two]\ncredential_process = env AWS_PROFILE=one {kubecred} {CONTROLLER}\n"
    );
    let run = aws_cli(home.path(), &config, "one")?;
    assert_stopped(&run, "two", &["", "two", "two,one"]);
    Ok(())
}

#[test]
fn a_source_profile_running_kubecred_through_itself_stops_at_the_first_reentry() -> TestResult {
    let home = tempfile::tempdir()?;
    let kubecred = counted_kubecred(home.path())?;
    // `app` assumes a role with `base`'s keys; `base` runs kubecred, which (AWS_PROFILE=app)
    // comes back to `base`.
    let config = format!(
        "[profile app]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/app\n\
         source_profile = base\n[profile base]\ncredential_process = {} {CONTROLLER}\n",
        kubecred.display()
    );
    let run = aws_cli(home.path(), &config, "app")?;
    assert_stopped(&run, "base", &["", "base"]);
    Ok(())
}

#[test]
fn a_profile_running_kubecred_at_object_level_still_serves_the_controller_chain() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let sts = sandbox
        .exported("AWS_ENDPOINT_URL_STS")
        .ok_or("the sandbox printed no AWS_ENDPOINT_URL_STS")?;
    let kubecred = counted_kubecred(home.path())?;
    let config = home.path().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[profile team]\ncredential_process = {} token --provider aws --namespace team-a \
             --service-account app --region us-east-1 --output credential-process\n",
            kubecred.display()
        ),
    )?;
    let env = [
        ("KUBECONFIG", sandbox.kubeconfig.display().to_string()),
        ("AWS_ENDPOINT_URL_STS", sts),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
        ("AWS_PROFILE", "team".to_owned()),
    ];
    let mut command = isolated(BIN, home.path());
    command
        .envs(env_refs(&env))
        .args(["token", "--provider", "aws", "--region", "us-east-1"])
        .args(["--output", "json"]);
    let run = bounded(command, home.path())?;
    let why = format!("{:?}, starts {:?}: {}", run.code, run.starts, run.stderr);
    assert_eq!(run.code, Some(0), "{why}");
    // The inner kubecred ran under the marker and answered with its ServiceAccount's role.
    assert_eq!(run.starts, ["team"], "{why}");
    let value: serde_json::Value = serde_json::from_str(run.stdout.trim())?;
    assert!(
        value["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{value}"
    );
    Ok(())
}
