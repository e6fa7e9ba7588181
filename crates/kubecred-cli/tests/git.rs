//! The git credential helper: real `git` with `credential.helper = kubecred` (the binary on PATH
//! as `git-credential-kubecred`) against the sandbox's CodeCommit stand-in, which verifies the
//! SigV4 git credentials on its own; and the helper protocol spoken directly.
//!
//! Every child runs with a cleared environment (`support::isolated`), no system git config and
//! no terminal prompt; the CodeCommit host name resolves to 127.0.0.1 through
//! `http.curloptResolve`, so nothing leaves loopback.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Output;

use kubecred_sandbox::aws::{AwsStandIns, CodeCommitStandIn};

mod support;
use support::{
    BIN, BoxError, TestResult, assert_exit, assert_success, aws_world, helper_on_path, isolated,
    run_with_stdin, stderr, stdout,
};

const HOST: &str = "git-codecommit.us-east-1.amazonaws.com";
const USER_ARN: &str = "arn:aws:iam::123456789012:user/git-user";
const USER_KEY: &str = "AKIAGITUSEREXAMPLE01";
const USER_SECRET: &str = "git-user-secret-key-example";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/git-reader";
const USER_ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", USER_KEY),
    ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
];

struct World {
    aws: AwsStandIns,
    codecommit: CodeCommitStandIn,
    home: tempfile::TempDir,
    /// PATH for git: a directory with `git-credential-kubecred`, then the test's PATH.
    path: std::ffi::OsString,
}

async fn world() -> Result<World, BoxError> {
    let aws = aws_world()
        .role_for(ROLE_ARN, USER_ARN)
        .user(USER_ARN, USER_KEY, USER_SECRET)
        .start_aws()
        .await?;
    let codecommit = aws.start_codecommit(HOST, "demo").await?;
    let home = tempfile::tempdir()?;
    let (_, path) = helper_on_path(home.path(), "git-credential-kubecred")?;
    Ok(World {
        aws,
        codecommit,
        home,
        path,
    })
}

impl World {
    /// `git ARGS` in the isolated environment plus `env`.
    fn git(&self, env: &[(&str, &str)], args: &[&str]) -> std::io::Result<Output> {
        isolated("git", self.home.path())
            .env("PATH", &self.path)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(env.iter().copied())
            .args(args)
            .output()
    }

    /// The global git configuration a CodeCommit user of kubecred writes, with the stand-in's
    /// CA and the host name resolved to loopback.
    fn configure(&self, helper: &str) -> TestResult {
        let ca = self.home.path().join("codecommit-ca.pem");
        std::fs::write(&ca, self.codecommit.ca_pem())?;
        let resolve = format!("{HOST}:{}:127.0.0.1", self.codecommit.port());
        let ca = ca.to_string_lossy();
        for (key, value) in [
            ("credential.helper", helper),
            ("credential.useHttpPath", "true"),
            ("http.sslCAInfo", ca.as_ref()),
            ("http.curloptResolve", resolve.as_str()),
        ] {
            let output = self.git(&[], &["config", "--global", key, value])?;
            assert!(output.status.success(), "git config: {}", stderr(&output));
        }
        Ok(())
    }

    fn ls_remote(&self, env: &[(&str, &str)]) -> std::io::Result<Output> {
        self.git(env, &["ls-remote", &self.codecommit.repository_url()])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_ls_remote_with_an_iam_users_keys() -> TestResult {
    let w = world().await?;
    w.configure("kubecred")?;
    let output = w.ls_remote(&USER_ENV)?;
    assert_success(&output);
    assert_eq!(w.codecommit.authenticated(), 1);
    assert_eq!(w.codecommit.refused(), 0);
    assert_eq!(w.codecommit.callers(), vec![USER_ARN.to_owned()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_ls_remote_with_a_session_from_sts() -> TestResult {
    let w = world().await?;
    // git runs `git credential-kubecred --assume-role ROLE get`.
    w.configure(&format!("kubecred --assume-role {ROLE_ARN}"))?;
    let sts = w.aws.sts_url();
    let env = [
        USER_ENV[0],
        USER_ENV[1],
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    let output = w.ls_remote(&env)?;
    assert_success(&output);
    assert_eq!(w.aws.calls("AssumeRole"), 1);
    assert_eq!(w.codecommit.refused(), 0);
    let callers = w.codecommit.callers();
    assert_eq!(callers.len(), 1, "{callers:?}");
    assert!(
        callers[0].starts_with("arn:aws:sts::123456789012:assumed-role/git-reader/"),
        "{callers:?}"
    );

    // The next git command is answered from the disk cache (a 0600 file): no STS call.
    let again = w.ls_remote(&env)?;
    assert_success(&again);
    assert_eq!(w.aws.calls("AssumeRole"), 1);
    assert_eq!(w.codecommit.authenticated(), 2);
    let cache = w.home.path().join(".cache").join("kubecred");
    let files: Vec<PathBuf> = std::fs::read_dir(&cache)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    assert_eq!(files.len(), 1, "{files:?}");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&files[0])?.permissions());
    assert_eq!(mode & 0o777, 0o600);
    // Without the cache, the role is assumed again.
    let uncached = [env[0], env[1], env[2], ("KUBECRED_NO_CACHE", "1")];
    assert_success(&w.ls_remote(&uncached)?);
    assert_eq!(w.aws.calls("AssumeRole"), 2);
    assert_eq!(w.codecommit.refused(), 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_fails_with_a_wrong_secret_and_the_stand_in_refuses() -> TestResult {
    let w = world().await?;
    w.configure("kubecred")?;
    let env = [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ];
    let output = w.ls_remote(&env)?;
    assert!(!output.status.success(), "git ls-remote succeeded");
    assert_eq!(w.codecommit.authenticated(), 0);
    assert_eq!(w.codecommit.refused(), 1);
    assert!(!stderr(&output).contains("not-the-secret"));
    Ok(())
}

/// `kubecred ARGS` (or the helper name, when `program` is a symlink) with `input` on stdin.
fn helper(
    program: &Path,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    input: &str,
) -> std::io::Result<Output> {
    let mut command = isolated(&program.to_string_lossy(), home);
    command.envs(env.iter().copied()).args(args);
    run_with_stdin(command, input)
}

/// `kubecred git-credential OPERATION` with `input` on stdin, no AWS settings, in a fresh home.
fn git_credential(operation: &str, input: &str) -> Result<Output, BoxError> {
    let home = tempfile::tempdir()?;
    let args = ["git-credential", operation];
    Ok(helper(Path::new(BIN), home.path(), &[], &args, input)?)
}

/// Asserts the helper's `operation` answered nothing, successfully.
#[track_caller]
fn assert_silent_success(operation: &str, output: &Output) {
    assert!(output.status.success(), "{operation}: {}", stderr(output));
    assert_eq!(
        (stdout(output), stderr(output)),
        (String::new(), String::new()),
        "{operation}"
    );
}

#[test]
fn hosts_kubecred_does_not_serve_get_an_empty_answer() -> TestResult {
    let output = git_credential(
        "get",
        "protocol=https\nhost=github.com\npath=org/repo\nwwwauth[]=Basic realm=\"GitHub\"\n\n",
    )?;
    assert_silent_success("get", &output);
    Ok(())
}

/// CodeCommit look-alikes, user info in the host, or an extra label inside `amazonaws.com` are
/// not CodeCommit: git gets the empty answer and asks its next helper.
#[test]
fn codecommit_look_alikes_get_an_empty_answer() -> TestResult {
    for host in [
        format!("{HOST}nc.cc"),
        format!("{HOST}.evil.example"),
        format!("{HOST}:"),
        format!("a@{HOST}"),
        "git-codecommit.us-east-1.evil.amazonaws.com".to_owned(),
    ] {
        let output = git_credential(
            "get",
            &format!("protocol=https\nhost={host}\npath=v1/repos/demo\n\n"),
        )?;
        assert_silent_success(&host, &output);
        if host.contains('@') || host.ends_with(':') {
            continue; // in a URL, `a@` is user info and an empty port is none: the host is HOST
        }
        let url = git_credential("get", &format!("url=https://{host}/v1/repos/demo\n\n"))?;
        assert_silent_success(&host, &url);
    }
    Ok(())
}

#[test]
fn codecommit_over_http_or_without_a_path_is_an_error() -> TestResult {
    let http = git_credential(
        "get",
        &format!("protocol=http\nhost={HOST}\npath=v1/repos/demo\n\n"),
    )?;
    assert_exit(&http, 1, &["requires HTTPS"]);
    assert_eq!(stdout(&http), "");
    let no_path = git_credential("get", &format!("protocol=https\nhost={HOST}\n\n"))?;
    assert_exit(&no_path, 1, &["credential.useHttpPath true"]);
    Ok(())
}

/// Azure DevOps is served by the azure provider (tests/azure_git.rs); with no identity here,
/// the managed identity's endpoint (unreachable in the isolated environment) is named.
#[test]
fn azure_devops_is_served_by_the_azure_provider() -> TestResult {
    let output = git_credential(
        "get",
        "protocol=https\nhost=dev.azure.com\npath=org/project/_git/repo\n\n",
    )?;
    assert_exit(
        &output,
        1,
        &[
            "git credentials for dev.azure.com",
            "azure",
            "managed identity",
        ],
    );
    let http = git_credential("get", "protocol=http\nhost=dev.azure.com\n\n")?;
    assert_exit(&http, 1, &["Azure DevOps authentication requires HTTPS"]);
    Ok(())
}

#[test]
fn malformed_input_is_a_clear_error() -> TestResult {
    let output = git_credential("get", "protocol=https\npassword hunter2\n\n")?;
    assert_exit(&output, 1, &["line 2"]);
    assert!(!stderr(&output).contains("hunter2"));
    Ok(())
}

#[test]
fn store_erase_and_unknown_operations_do_nothing() -> TestResult {
    let input =
        format!("protocol=https\nhost={HOST}\npath=v1/repos/demo\nusername=AKIA%\npassword=x\n\n");
    for operation in ["store", "erase", "future-operation"] {
        let output = git_credential(operation, &input)?;
        assert_silent_success(operation, &output);
    }
    Ok(())
}

/// Invoked as `git-credential-kubecred get`, with an IAM user's keys: no network needed.
#[test]
fn argv_zero_helper_answers_codecommit_with_signed_credentials() -> TestResult {
    let home = tempfile::tempdir()?;
    let program: PathBuf = home.path().join("git-credential-kubecred");
    std::os::unix::fs::symlink(BIN, &program)?;
    let output = helper(
        &program,
        home.path(),
        &USER_ENV,
        &["get"],
        &format!("capability[]=authtype\nprotocol=https\nhost={HOST}:8443\npath=v1/repos/demo\n\n"),
    )?;
    assert_success(&output);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.ends_with("\n\n"), "{text:?}");
    let lines: Vec<(&str, &str)> = text
        .lines()
        .filter(|line| !line.is_empty())
        .filter_map(|line| line.split_once('='))
        .collect();
    let keys: Vec<&str> = lines.iter().map(|(key, _)| *key).collect();
    assert_eq!(keys, ["username", "password", "password_expiry_utc"]);
    assert_eq!(lines[0].1, format!("{USER_KEY}%"));
    let password = lines[1].1;
    assert!(
        password.len() == 16 + 64 && password.as_bytes()[15] == b'Z',
        "{password}"
    );
    let expiry: u64 = lines[2].1.parse()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    assert!(
        (now + 14 * 60..=now + 15 * 60 + 5).contains(&expiry),
        "{expiry} vs {now}"
    );
    assert!(!stderr(&output).contains(USER_SECRET));
    Ok(())
}
