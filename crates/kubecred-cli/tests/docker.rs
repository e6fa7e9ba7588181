//! The docker credential helper, run as docker runs it: the binary under the name
//! `docker-credential-kubecred` (a symlink) with a verb argument and the server URL on stdin, in
//! a cleared environment. ECR against moto, ECR Public against the sandbox's stand-in, the
//! config file with a Secret from a `kubecred sandbox` child, the on-disk cache, and the docker
//! CLI itself (no engine needed for it to consult the helper).

use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use kubecred_sandbox::aws::AwsStandIns;

mod support;
use support::moto::Moto;
use support::{
    BIN, BoxError, SandboxProcess, TestResult, assert_success, aws_world, env_plus, helper_on_path,
    isolated, run_with_stdin, run_with_stdin_within, stderr, stdout,
};

const NOT_FOUND: &str = "credentials not found in native keychain";
const ECR_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const USER_KEY: &str = "AKIADOCKERHELPER0001";
const USER_SECRET: &str = "docker-helper-secret-key-example";

/// A home directory with the helper on a PATH of its own.
struct Helper {
    home: tempfile::TempDir,
    bin: PathBuf,
    /// The helper's directory, then the test's PATH.
    path: OsString,
}

impl Helper {
    fn new() -> Result<Helper, BoxError> {
        let home = tempfile::tempdir()?;
        let (bin, path) = helper_on_path(home.path(), "docker-credential-kubecred")?;
        Ok(Helper { home, bin, path })
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// `$HOME/.cache/kubecred`, the default cache directory.
    fn cache_dir(&self) -> PathBuf {
        self.home().join(".cache").join("kubecred")
    }

    /// Writes `$HOME/.config/kubecred/config.yaml`: its path.
    fn write_config(&self, yaml: &str) -> Result<PathBuf, BoxError> {
        let dir = self.home().join(".config").join("kubecred");
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("config.yaml");
        std::fs::write(&file, yaml)?;
        Ok(file)
    }

    /// The cache's entry files.
    fn cache_files(&self) -> Vec<PathBuf> {
        let Ok(listing) = std::fs::read_dir(self.cache_dir()) else {
            return Vec::new();
        };
        listing.flatten().map(|entry| entry.path()).collect()
    }

    /// `docker-credential-kubecred VERB` with `input` on stdin.
    fn run(&self, env: &[(&str, &str)], verb: &str, input: &str) -> Result<Output, BoxError> {
        let program = self.bin.join("docker-credential-kubecred");
        let mut command = isolated(&program.to_string_lossy(), self.home());
        command.envs(env.iter().copied()).arg(verb);
        Ok(run_with_stdin(command, input)?)
    }

    /// The [`answer`] to `get public.ecr.aws`.
    fn get_public(&self, env: &[(&str, &str)]) -> Result<(String, String, String), BoxError> {
        answer(&self.run(env, "get", "public.ecr.aws")?)
    }

    /// `kubecred docker-credential ARGS...` with `input` on stdin.
    fn run_subcommand(
        &self,
        env: &[(&str, &str)],
        args: &[&str],
        input: &str,
    ) -> Result<Output, BoxError> {
        let mut command = isolated(BIN, self.home());
        command
            .envs(env.iter().copied())
            .arg("docker-credential")
            .args(args);
        Ok(run_with_stdin(command, input)?)
    }
}

/// The `get` answer: (ServerURL, Username, Secret).
fn answer(output: &Output) -> Result<(String, String, String), BoxError> {
    if !output.status.success() {
        return Err(format!("get failed: {} / {}", stdout(output), stderr(output)).into());
    }
    let value: serde_json::Value = serde_json::from_str(&stdout(output))?;
    let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
    Ok((field("ServerURL"), field("Username"), field("Secret")))
}

/// The stand-ins (ECR Public among them) with one user, [`USER_KEY`].
async fn ecr_public() -> Result<AwsStandIns, BoxError> {
    aws_world()
        .user("arn:aws:iam::123456789012:user/ci", USER_KEY, USER_SECRET)
        .start_aws()
        .await
}

/// [`ecr_public`] and a [`Helper`].
async fn ecr_public_and_helper() -> Result<(AwsStandIns, Helper), BoxError> {
    Ok((ecr_public().await?, Helper::new()?))
}

/// The user's keys and the ECR Public stand-in at `endpoint`.
fn user_env(endpoint: &str) -> [(&str, &str); 3] {
    [
        ("AWS_ACCESS_KEY_ID", USER_KEY),
        ("AWS_SECRET_ACCESS_KEY", USER_SECRET),
        ("AWS_ENDPOINT_URL_ECR_PUBLIC", endpoint),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_get_returns_the_password_moto_issued() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let helper = Helper::new()?;
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAMOTOEXAMPLE00001"),
        ("AWS_SECRET_ACCESS_KEY", "moto-secret"),
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
    ];
    for server_url in [ECR_HOST.to_owned(), format!("https://{ECR_HOST}/v2/\n")] {
        let output = helper.run(&env, "get", &server_url)?;
        let (url, username, secret) = answer(&output)?;
        assert_eq!(url, server_url.trim());
        assert_eq!(username, "AWS");
        assert_eq!(secret, "123456789012-auth-token");
        assert!(!stderr(&output).contains(&secret), "{}", stderr(&output));
    }
    // moto's tokens expired in 2015: handed to docker as the API said, but never cached.
    assert_eq!(helper.cache_files(), Vec::<PathBuf>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecr_public_get_is_served_from_the_disk_cache() -> TestResult {
    let (aws, helper) = ecr_public_and_helper().await?;
    let endpoint = aws.ecr_public_url();
    let env = user_env(&endpoint);
    let (url, username, secret) = helper.get_public(&env)?;
    assert_eq!((url.as_str(), username.as_str()), ("public.ecr.aws", "AWS"));
    assert!(aws.ecr_public_password_valid(&secret));
    assert_eq!(aws.calls("GetAuthorizationToken"), 1);

    let files = helper.cache_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let mode = |path: &Path| std::fs::metadata(path).map(|m| m.mode() & 0o777);
    assert_eq!(mode(&files[0])?, 0o600);
    assert_eq!(mode(&helper.cache_dir())?, 0o700);
    let name = files[0].file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(name.len() == 64 + 5 && name.ends_with(".json"), "{name}");

    // The second call never reaches the stand-in, and works with it gone.
    let again = helper.get_public(&env)?;
    assert_eq!(again.2, secret);
    assert_eq!(aws.calls("GetAuthorizationToken"), 1);
    // The same entry through the full path (a log setting turns the early answer off).
    let logged = helper.run(
        &env_plus(&env, &[("KUBECRED_LOG", "debug")]),
        "get",
        "public.ecr.aws",
    )?;
    assert_eq!(answer(&logged)?.2, secret);
    assert!(
        stderr(&logged).contains("served from the disk cache"),
        "{}",
        stderr(&logged)
    );
    assert_eq!(aws.calls("GetAuthorizationToken"), 1);
    // Any other AWS setting is another entry.
    helper.get_public(&env_plus(&env, &[("AWS_REGION", "eu-west-1")]))?;
    assert_eq!(aws.calls("GetAuthorizationToken"), 2);
    aws.shutdown().await;
    let offline = helper.get_public(&env)?;
    assert_eq!(offline.2, secret);

    let down = helper.run(
        &env_plus(&env, &[("KUBECRED_NO_CACHE", "1")]),
        "get",
        "public.ecr.aws",
    )?;
    assert_eq!(
        down.status.code(),
        Some(1),
        "without the cache, the stand-in is needed"
    );
    assert!(
        stdout(&down).contains("public.ecr.aws"),
        "{}",
        stdout(&down)
    );
    assert_eq!(stderr(&down), "", "errors go to stdout only");

    let listed = helper.run(&env, "list", "")?;
    assert_success(&listed);
    assert_eq!(stdout(&listed), r#"{"public.ecr.aws":"AWS"}"#);

    Ok(())
}

/// Makes the cache file at `path` untrustworthy in the way `what` names.
fn tamper(what: &str, path: &Path) -> Result<(), BoxError> {
    match what {
        "corrupt" => std::fs::write(path, "{\"version\": 1, \"secret\"")?,
        "group-writable" => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o620))?,
        // Once panicked on every call (an overflow adding to a time), the file left in place.
        "expires at the end of time" => {
            edit_entry(path, &[("expiresAt", u64::MAX), ("refreshAt", u64::MAX)])?
        }
        // Another entry's file under this entry's name (e.g. another host's).
        "copied from another key" => {
            let mut entry: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
            entry["key"] = "0".repeat(64).into();
            std::fs::write(path, entry.to_string())?;
        }
        // Once hung for good: the file was opened (blocking on the FIFO) before any check.
        "a symlink to a FIFO" => {
            let fifo = path.with_file_name("planted-fifo");
            let _ = std::fs::remove_file(&fifo);
            let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
            assert!(made.success(), "mkfifo failed");
            std::fs::remove_file(path)?;
            std::os::unix::fs::symlink(&fifo, path)?;
        }
        _ => std::os::unix::fs::chown(path, Some(54321), None).or_else(|e| {
            // Not root: another user's file cannot be made; the other cases still run.
            eprintln!("SKIPPED foreign-owned case: {e}");
            std::fs::write(path, "not json")
        })?,
    }
    Ok(())
}

/// Sets these numeric fields of the cache entry at `path`.
fn edit_entry(path: &Path, fields: &[(&str, u64)]) -> Result<(), BoxError> {
    let mut entry: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    for (name, value) in fields {
        entry[*name] = (*value).into();
    }
    std::fs::write(path, entry.to_string())?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_cache_files_are_ignored_with_a_warning_and_replaced() -> TestResult {
    let (aws, helper) = ecr_public_and_helper().await?;
    let endpoint = aws.ecr_public_url();
    let env = user_env(&endpoint);
    helper.get_public(&env)?;
    let file = helper.cache_files().pop().ok_or("no cache file")?;
    let program = helper.bin.join("docker-credential-kubecred");
    for (round, what) in [
        "corrupt",
        "group-writable",
        "foreign",
        "expires at the end of time",
        "copied from another key",
        "a symlink to a FIFO",
    ]
    .into_iter()
    .enumerate()
    {
        tamper(what, &file)?;
        let mut command = isolated(&program.to_string_lossy(), helper.home());
        command.envs(env.iter().copied()).arg("get");
        let limit = std::time::Duration::from_secs(30);
        let output = run_with_stdin_within(command, "public.ecr.aws", limit)?;
        let (_, _, secret) = answer(&output)?;
        assert!(aws.ecr_public_password_valid(&secret), "{what}");
        assert!(
            stderr(&output).contains("warning: kubecred cache: ignoring")
                && stderr(&output).contains(&file.to_string_lossy().into_owned()),
            "{what}: {}",
            stderr(&output)
        );
        assert_eq!(
            aws.calls("GetAuthorizationToken"),
            round as u64 + 2,
            "{what}"
        );
        let metadata = std::fs::symlink_metadata(&file)?;
        assert!(metadata.is_file(), "{what}: replaced by a regular file");
        assert_eq!(metadata.mode() & 0o777, 0o600, "{what}: replaced");
        assert_eq!(
            metadata.uid(),
            std::fs::metadata("/proc/self")?.uid(),
            "{what}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_aws_profile_is_another_cache_entry() -> TestResult {
    let (aws, helper) = ecr_public_and_helper().await?;
    let credentials = helper.home().join(".aws").join("credentials");
    std::fs::create_dir_all(credentials.parent().ok_or("no parent")?)?;
    let profile = format!(
        "[default]\naws_access_key_id = {USER_KEY}\naws_secret_access_key = {USER_SECRET}\n"
    );
    std::fs::write(&credentials, &profile)?;
    let endpoint = aws.ecr_public_url();
    let env = [("AWS_ENDPOINT_URL_ECR_PUBLIC", endpoint.as_str())];
    for _ in 0..2 {
        helper.get_public(&env)?;
    }
    assert_eq!(aws.calls("GetAuthorizationToken"), 1);
    std::fs::write(&credentials, profile + "# edited\n")?;
    helper.get_public(&env)?;
    assert_eq!(aws.calls("GetAuthorizationToken"), 2);
    assert_eq!(helper.cache_files().len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_reads_and_writes_nothing() -> TestResult {
    let (aws, helper) = ecr_public_and_helper().await?;
    let endpoint = aws.ecr_public_url();
    let env = user_env(&endpoint);
    let flag = helper.run_subcommand(&env, &["--no-cache", "get"], "public.ecr.aws")?;
    answer(&flag)?;
    helper.get_public(&env_plus(&env, &[("KUBECRED_NO_CACHE", "1")]))?;
    assert_eq!(aws.calls("GetAuthorizationToken"), 2);
    assert!(!helper.cache_dir().exists(), "{:?}", helper.cache_files());

    // XDG_CACHE_HOME moves the cache.
    let xdg = helper.home().join("xdg-cache");
    let xdg_text = xdg.to_string_lossy().into_owned();
    helper.get_public(&env_plus(&env, &[("XDG_CACHE_HOME", xdg_text.as_str())]))?;
    assert_eq!(std::fs::read_dir(xdg.join("kubecred"))?.count(), 1);
    assert!(!helper.cache_dir().exists());

    // An unusable cache directory: one warning (the miss carries its lookup to the login), and
    // the credentials all the same.
    let blocked = helper.home().join("a-file");
    std::fs::write(&blocked, "")?;
    let blocked_text = blocked.to_string_lossy().into_owned();
    let output = helper.run(
        &env_plus(&env, &[("XDG_CACHE_HOME", blocked_text.as_str())]),
        "get",
        "public.ecr.aws",
    )?;
    answer(&output)?;
    assert_eq!(
        stderr(&output).matches("not using the cache").count(),
        1,
        "{}",
        stderr(&output)
    );
    Ok(())
}

#[test]
fn unknown_hosts_and_the_other_verbs_follow_the_protocol() -> TestResult {
    let helper = Helper::new()?;
    // A plain `get` is answered before the CLI is set up; with a log setting it takes the full
    // path. Both answer alike.
    for env in [&[][..], &[("KUBECRED_LOG", "warn")][..]] {
        for server_url in ["ghcr.io", "https://index.docker.io/v1/", "localhost:5000"] {
            let output = helper.run(env, "get", server_url)?;
            assert_eq!(output.status.code(), Some(1), "{server_url} {env:?}");
            assert_eq!(stdout(&output), NOT_FOUND, "{server_url} {env:?}");
            assert_eq!(
                stderr(&output),
                "",
                "{server_url} {env:?}: docker users would see it"
            );
        }
        let empty = helper.run(env, "get", "\n")?;
        assert_eq!(
            (empty.status.code(), stdout(&empty)),
            (Some(1), "no credentials server URL".to_owned()),
            "{env:?}"
        );
    }

    let stored = r#"{"ServerURL":"public.ecr.aws","Username":"AWS","Secret":"do-not-echo"}"#;
    for verb in ["store", "erase"] {
        let input = if verb == "store" {
            stored
        } else {
            "public.ecr.aws"
        };
        let output = helper.run(&[], verb, input)?;
        assert_eq!(output.status.code(), Some(1), "{verb}");
        let message = stdout(&output);
        assert!(
            message.contains(&format!("does not {verb} credentials"))
                && message.contains("short-lived")
                && !message.contains("do-not-echo"),
            "{verb}: {message}"
        );
    }
    for output in [
        helper.run(&[], "list", "")?,
        helper.run_subcommand(&[], &["list"], "")?,
    ] {
        assert_success(&output);
        assert_eq!(stdout(&output), "{}");
    }
    let unknown = helper.run(&[], "frobnicate", "")?;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stdout(&unknown).contains("frobnicate"));
    Ok(())
}

/// An ECR look-alike (a domain anyone can register; `amazonaws.com[.cn]*` used to match it) gets
/// the protocol's not-found answer, whatever the shape docker hands it in, on the warm path and
/// the full one alike: no AWS credentials are fetched for it.
#[test]
fn ecr_look_alikes_are_not_found() -> TestResult {
    let helper = Helper::new()?;
    let lookalike = format!("{ECR_HOST}nc.cc");
    let inputs = [
        lookalike.clone(),
        format!("https://{lookalike}"),
        format!("https://{lookalike}/v2/"),
        format!("{ECR_HOST}.evil.example"),
        format!("https://a@{ECR_HOST}"),
        format!("https://{ECR_HOST}@{lookalike}"),
        format!("{ECR_HOST}:8443"),
        format!("{ECR_HOST}."),
    ];
    for env in [&[][..], &[("KUBECRED_LOG", "warn")][..]] {
        for server_url in &inputs {
            let output = helper.run(env, "get", server_url)?;
            assert_eq!(
                (output.status.code(), stdout(&output), stderr(&output)),
                (Some(1), NOT_FOUND.to_owned(), String::new()),
                "{server_url} {env:?}"
            );
        }
    }
    assert_eq!(helper.cache_files(), Vec::<PathBuf>::new());
    Ok(())
}

#[test]
fn config_errors_name_the_file_and_the_key() -> TestResult {
    let helper = Helper::new()?;
    let config = helper.write_config(
        "registries:\n  public.ecr.aws:\n    assumeRoles: [arn:aws:iam::1:role/x]\n",
    )?;
    let output = helper.run(&[], "get", "public.ecr.aws")?;
    assert_eq!(output.status.code(), Some(1));
    let message = stdout(&output);
    assert!(
        message.contains(&config.to_string_lossy().into_owned())
            && message.contains("assumeRoles")
            && message.contains("line 3"),
        "{message}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_maps_a_host_to_a_secret_read_through_a_kubeconfig() -> TestResult {
    let (aws, helper) = ecr_public_and_helper().await?;
    let sandbox = SandboxProcess::start(
        helper.home(),
        &format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: team-a}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: keys, namespace: team-a}}\nstringData:\n  accesskey: {USER_KEY}\n  secretkey: {USER_SECRET}\n"
        ),
        0,
    )?;
    let yaml = format!(
        "registries:\n  \"*.example.test\": {{assumeRole: arn:aws:iam::1:role/unused}}\n  public.ecr.aws:\n    secret: team-a/keys\n    kubeconfig: {}\n",
        sandbox.kubeconfig.display()
    );
    let config = helper.write_config(&yaml)?;
    // No AWS keys in the environment: only the Secret's keys can log in.
    let endpoint = aws.ecr_public_url();
    let env = [("AWS_ENDPOINT_URL_ECR_PUBLIC", endpoint.as_str())];
    let output = helper.run(&env, "get", "https://public.ecr.aws")?;
    let (_, username, secret) = answer(&output)?;
    assert_eq!(username, "AWS");
    assert!(aws.ecr_public_password_valid(&secret));

    std::fs::remove_file(config)?;
    let without = helper.run(
        &[env[0], ("KUBECRED_NO_CACHE", "1")],
        "get",
        "public.ecr.aws",
    )?;
    assert_eq!(
        without.status.code(),
        Some(1),
        "the environment has no keys"
    );
    assert!(!stdout(&without).contains(USER_SECRET));
    Ok(())
}

/// The docker CLI consults the helper through `credHelpers` before it needs an engine: `docker
/// login HOST` (non-interactive) first authenticates "with existing credentials", i.e. our
/// answer to `get`, and prints its username. There is no engine here, so the login itself then
/// fails; the registry is never contacted (a closed loopback port is its proxy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_cli_asks_the_helper() -> TestResult {
    if let Err(e) = std::process::Command::new("docker")
        .arg("--version")
        .output()
    {
        kubecred_sandbox::peers::missing("docker (the CLI)", "install docker.io", &e);
        return Ok(());
    }
    let (aws, helper) = ecr_public_and_helper().await?;
    let docker_config = helper.home().join("docker-config");
    std::fs::create_dir(&docker_config)?;
    std::fs::write(
        docker_config.join("config.json"),
        r#"{"credHelpers": {"public.ecr.aws": "kubecred"}}"#,
    )?;
    let endpoint = aws.ecr_public_url();
    let output = isolated("docker", helper.home())
        .env("PATH", &helper.path)
        .env("DOCKER_CONFIG", &docker_config)
        .env(
            "DOCKER_HOST",
            format!("unix://{}", helper.home().join("no-engine.sock").display()),
        )
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1") // the helper's calls to the stand-in
        .env("DOCKER_CLI_HINTS", "false")
        .envs(user_env(&endpoint))
        .args(["login", "public.ecr.aws"])
        .output()?;
    let shown = format!("{}\n{}", stdout(&output), stderr(&output));
    assert!(
        shown.contains("Authenticating with existing credentials... [Username: AWS]"),
        "{shown}"
    );
    assert_eq!(aws.calls("GetAuthorizationToken"), 1, "{shown}");
    assert_eq!(helper.cache_files().len(), 1, "{shown}");
    Ok(())
}
