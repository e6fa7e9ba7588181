//! `kubecred` with the `aws` provider, run as a child process with a controlled environment:
//! controller-level sources (env keys, profile), the output formats, secret-level keys from the
//! sandbox, and an AWS CLI profile whose `credential_process` is kubecred, listing a moto bucket.

use std::path::Path;
use std::process::Output;

mod support;
use support::moto::Moto;
use support::{
    BIN, SandboxProcess, TestResult, assert_exit, isolated, kubecred, stderr, stdout, success_json,
};

const ENV_KEYS: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "env/secret'with-quote"),
    ("AWS_SESSION_TOKEN", "env-session-token"),
    ("AWS_REGION", "eu-west-1"),
];

#[test]
fn controller_level_env_keys_in_every_output_format() -> TestResult {
    let home = tempfile::tempdir()?;
    let json = kubecred(
        home.path(),
        &ENV_KEYS,
        &["token", "--provider", "aws", "--output", "json"],
    )?;
    let value = success_json(&json)?;
    assert_eq!(value["kind"], "CloudKeys");
    assert_eq!(value["accessKeyId"], "AKIAENVEXAMPLE");
    assert_eq!(value["sessionToken"], "env-session-token");

    let process = kubecred(
        home.path(),
        &ENV_KEYS,
        &[
            "token",
            "--provider",
            "aws",
            "--output",
            "credential-process",
        ],
    )?;
    let value: serde_json::Value = serde_json::from_str(&stdout(&process))?;
    assert_eq!(
        (value["Version"].as_i64(), value["SecretAccessKey"].as_str()),
        (Some(1), Some("env/secret'with-quote"))
    );

    // `env` output survives a shell's eval, quotes included.
    let script = format!(
        "eval \"$('{BIN}' token --provider aws --output env)\" && printf '%s|%s' \"$AWS_SECRET_ACCESS_KEY\" \"$AWS_SESSION_TOKEN\""
    );
    let shell = isolated("sh", home.path())
        .envs(ENV_KEYS)
        .args(["-c", &script])
        .output()?;
    assert_eq!(
        stdout(&shell),
        "env/secret'with-quote|env-session-token",
        "{}",
        stderr(&shell)
    );
    Ok(())
}

#[test]
fn controller_level_shared_profile() -> TestResult {
    let home = tempfile::tempdir()?;
    let credentials = home.path().join("credentials");
    std::fs::write(
        &credentials,
        "[dev]\naws_access_key_id = AKIAPROFILEEXAMPLE\naws_secret_access_key = profile-secret\n",
    )?;
    let config = home.path().join("config");
    std::fs::write(&config, "[profile dev]\nregion = us-west-2\n")?;
    let env = [
        ("AWS_PROFILE", "dev"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            credentials.to_str().unwrap_or_default(),
        ),
        ("AWS_CONFIG_FILE", config.to_str().unwrap_or_default()),
    ];
    let output = kubecred(
        home.path(),
        &env,
        &[
            "token",
            "--provider",
            "aws",
            "--region",
            "us-west-2",
            "--output",
            "json",
        ],
    )?;
    let value = success_json(&output)?;
    assert_eq!(value["accessKeyId"], "AKIAPROFILEEXAMPLE");
    assert_eq!(value["sessionToken"], serde_json::Value::Null);
    Ok(())
}

#[test]
fn controller_level_without_region_or_credentials_is_explained() -> TestResult {
    let home = tempfile::tempdir()?;
    let no_region = kubecred(home.path(), &ENV_KEYS[..3], &["token", "--provider", "aws"])?;
    assert_exit(
        &no_region,
        1,
        &["AWS_REGION environment variable is not set"],
    );

    let nothing = kubecred(
        home.path(),
        &[("AWS_REGION", "us-east-1")],
        &["token", "--provider", "aws"],
    )?;
    assert_exit(&nothing, 1, &["no AWS credentials found"]);

    let generic_env = kubecred(
        home.path(),
        &[],
        &["token", "--provider", "generic", "--output", "env"],
    )?;
    assert_exit(&generic_env, 2, &[]);
    Ok(())
}

/// `kubecred token --provider aws --namespace NAMESPACE ARGS` with these variables.
fn aws_token(
    home: &Path,
    env: &[(&str, &str)],
    namespace: &str,
    args: &[&str],
) -> std::io::Result<Output> {
    let base = ["token", "--provider", "aws", "--namespace", namespace];
    kubecred(home, env, &[&base[..], args].concat())
}

fn secret_manifest(
    name: &str,
    access_key: &str,
    secret_key: &str,
    session_token: Option<&str>,
) -> String {
    // JSON strings are YAML double-quoted scalars: keys may hold `/`, `+` and other indicators.
    let quoted = |value: &str| serde_json::Value::from(value).to_string();
    let token = session_token
        .map(|t| format!("  sessiontoken: {}\n", quoted(t)))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: team-a}}\nstringData:\n  accesskey: {}\n  secretkey: {}\n{token}---\n",
        quoted(access_key),
        quoted(secret_key)
    )
}

#[test]
fn secret_level_keys_with_and_without_session_token() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifests = secret_manifest("static", "AKIASTATIC", "static-secret", None)
        + &secret_manifest("temporary", "ASIATEMP", "temp-secret", Some("temp-token"));
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let kubeconfig = sandbox.kubeconfig.to_str().unwrap_or_default().to_owned();
    let env = [("KUBECONFIG", kubeconfig.as_str())];
    let token = |secret: &str, extra: &[&str]| {
        let args = [&["--secret", secret][..], extra].concat();
        aws_token(home.path(), &env, "team-a", &args)
    };
    for (secret, key, token_value) in [
        ("static", "AKIASTATIC", serde_json::Value::Null),
        ("temporary", "ASIATEMP", "temp-token".into()),
    ] {
        let value = success_json(&token(secret, &["--output", "json"])?)?;
        assert_eq!(
            (&value["accessKeyId"], &value["sessionToken"]),
            (&key.into(), &token_value)
        );
    }
    assert_exit(&token("nope", &[])?, 1, &["secret team-a/nope"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_credential_process_lists_a_moto_bucket() -> TestResult {
    let Some(moto) = Moto::start().await? else {
        return Ok(());
    };
    let keys = moto.user("lister", "s3:ListBucket", "*").await?;
    moto.bucket("kubecred-bucket").await?;
    moto.object("kubecred-bucket", "hello.txt").await?;

    let home = tempfile::tempdir()?;
    let manifests = secret_manifest(
        "moto-keys",
        &keys.access_key_id,
        keys.secret_access_key.expose(),
        None,
    );
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let config = home.path().join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = us-east-1\ncredential_process = {BIN} token --provider aws --namespace team-a --secret moto-keys --kubeconfig {} --output credential-process\n",
            sandbox.kubeconfig.display()
        ),
    )?;
    let direct = aws_token(
        home.path(),
        &[],
        "team-a",
        &[
            "--secret",
            "moto-keys",
            "--kubeconfig",
            sandbox.kubeconfig.to_str().unwrap_or_default(),
            "--output",
            "credential-process",
        ],
    )?;
    let value: serde_json::Value = serde_json::from_str(&stdout(&direct))?;
    assert_eq!(
        value["AccessKeyId"].as_str(),
        Some(keys.access_key_id.as_str()),
        "{}",
        stderr(&direct)
    );
    assert!(
        value["SecretAccessKey"].as_str() == Some(keys.secret_access_key.expose()),
        "the secret key changed on its way"
    );
    moto.verify_signatures().await?; // from now on only the user's real keys work

    let list = |config: &Path| {
        isolated("aws", home.path())
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            // `s3api list-objects-v2` rather than `s3 ls`: moto's SigV4 check rejects botocore's
            // `s3 ls` requests (their delimiter query) whatever the keys.
            .args([
                "--endpoint-url",
                &moto.endpoint,
                "s3api",
                "list-objects-v2",
                "--bucket",
                "kubecred-bucket",
            ])
            .output()
    };
    let output = list(&config)?;
    assert!(
        output.status.success(),
        "aws s3api list-objects-v2 failed: {}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("hello.txt"), "{}", stdout(&output));

    // The same profile with keys moto does not know is refused: the listing above used kubecred's.
    let wrong = home.path().join("aws-config-wrong");
    std::fs::write(
        &wrong,
        "[default]\nregion = us-east-1\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong\n",
    )?;
    assert!(!list(&wrong)?.status.success());
    Ok(())
}

#[test]
fn object_level_through_the_sandbox_sts_as_its_banner_says() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let sts = sandbox
        .exported("AWS_ENDPOINT_URL_STS")
        .ok_or("the sandbox printed no AWS_ENDPOINT_URL_STS")?;
    let kubeconfig = sandbox.kubeconfig.to_string_lossy().into_owned();
    let env = [
        ("KUBECONFIG", kubeconfig.as_str()),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
    ];
    // A ServiceAccount's token exchanged at the sandbox's STS.
    let token = |namespace: &str, extra: &[&str]| {
        let service_account = ["--service-account", "app", "--region", "us-east-1"];
        aws_token(
            home.path(),
            &env,
            namespace,
            &[&service_account[..], extra].concat(),
        )
    };
    let value = success_json(&token("team-a", &["--output", "json"])?)?;
    assert!(
        value["accessKeyId"]
            .as_str()
            .is_some_and(|k| k.starts_with("ASIA")),
        "{value}"
    );

    let wrong_audience = token(
        "team-a",
        &["--output", "json", "--audience", "https://not-sts.example"],
    )?;
    assert_exit(&wrong_audience, 1, &["InvalidIdentityToken"]);

    // team-b/app carries no role annotation.
    let unannotated = token("team-b", &[])?;
    assert_exit(
        &unannotated,
        1,
        &["no eks.amazonaws.com/role-arn annotation"],
    );
    Ok(())
}

/// Counts the connections a loopback listener receives (each closed at once), until dropped.
struct Listener {
    port: u16,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Listener {
    fn start() -> std::io::Result<Listener> {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, stopped) = (connections.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok(_) => {
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        });
        Ok(Listener {
            port,
            connections,
            stop,
        })
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The STS endpoint check used to match `(.+\.)?sts...amazonaws.com` against the whole URL, so a
/// path or user info carried the suffix while the host was any listener: the ServiceAccount's
/// token went there. Now only the host is matched, and nothing is sent.
#[test]
fn sts_endpoints_with_the_suffix_outside_the_host_are_refused_before_any_call() -> TestResult {
    let home = tempfile::tempdir()?;
    let manifests = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox.yaml"),
    )?;
    let sandbox = SandboxProcess::start(home.path(), &manifests, 0)?;
    let kubeconfig = sandbox.kubeconfig.to_string_lossy().into_owned();
    let listener = Listener::start()?;
    let port = listener.port;
    for (endpoint, why) in [
        (
            format!("https://127.0.0.1:{port}/x.sts.amazonaws.com"),
            "it names a port other than 443",
        ),
        (
            format!("https://kubecred@127.0.0.1:{port}/x.sts.amazonaws.com"),
            "it has user info",
        ),
    ] {
        let output = aws_token(
            home.path(),
            &[("KUBECONFIG", kubeconfig.as_str())],
            "team-a",
            &[
                "--service-account",
                "app",
                "--region",
                "us-east-1",
                "--sts-endpoint",
                &endpoint,
            ],
        )?;
        assert_exit(
            &output,
            1,
            &[&format!("invalid STS endpoint: '{endpoint}': {why}")],
        );
    }
    assert_eq!(listener.connections(), 0, "nothing may reach the listener");
    Ok(())
}
