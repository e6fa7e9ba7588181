//! Every command and front door against a silent server: a loopback listener that accepts TCP
//! connections and never answers, standing in for the Kubernetes API server (a kubeconfig whose
//! server it is) and for the AWS endpoints (`AWS_ENDPOINT_URL_*`). Each run must fail with a
//! transient error naming the timeout (exit status 1) once the deadline set by
//! `--request-timeout` or `KUBECRED_REQUEST_TIMEOUT` has passed: not at once (the silent server
//! was reached and waited for) and well before ten times the deadline. Without deadlines these
//! runs hang until the watchdog kills them.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;
use support::{BoxError, TestResult, helper_on_path, isolated};

/// The deadline every run is given.
const DEADLINE: Duration = Duration::from_secs(2);
/// The deadline as the flag and the variable take it.
const DEADLINE_TEXT: &str = "2s";
/// A run still going after this is hanging: it is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(60);
const ROLE: &str = "arn:aws:iam::123456789012:role/deadline";
const PRIVATE_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const CLUSTER_ARN: &str = "arn:aws:eks:us-east-1:123456789012:cluster/demo";

/// Accepts connections on 127.0.0.1 and holds them open without reading or writing.
struct SilentServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl SilentServer {
    fn start() -> Result<SilentServer, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let count = Arc::clone(&accepted);
        // Runs until the test process ends; the connections it holds never see a byte.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut streams) = held.lock() {
                    streams.push(stream);
                }
            }
        });
        Ok(SilentServer { port, accepted })
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A home directory, the silent server, and a kubeconfig pointing at it.
struct World {
    home: tempfile::TempDir,
    silent: SilentServer,
}

impl World {
    fn new() -> Result<World, BoxError> {
        let world = World {
            home: tempfile::tempdir()?,
            silent: SilentServer::start()?,
        };
        std::fs::write(world.kubeconfig(), world.kubeconfig_text())?;
        Ok(world)
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.home().join("silent-kubeconfig.yaml")
    }

    /// The Kubernetes API over HTTPS: the TLS handshake itself never completes.
    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: {}\n    \
             insecure-skip-tls-verify: true\nusers:\n- name: me\n  user:\n    token: not-a-secret\n\
             contexts:\n- name: silent\n  context:\n    cluster: silent\n    user: me\n    namespace: team-a\n\
             current-context: silent\n",
            self.silent.url("https")
        )
    }

    /// Keys in the environment, and every AWS endpoint at the silent server.
    fn aws_env(&self) -> Vec<(&'static str, String)> {
        let url = self.silent.url("http");
        vec![
            ("AWS_ACCESS_KEY_ID", "AKIADEADLINEEXAMPLE".into()),
            ("AWS_SECRET_ACCESS_KEY", "deadline-secret-example".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL_STS", url.clone()),
            ("AWS_ENDPOINT_URL_ECR", url.clone()),
            ("AWS_ENDPOINT_URL_ECR_PUBLIC", url.clone()),
            ("AWS_ENDPOINT_URL_EKS", url),
            ("KUBECRED_NO_CACHE", "1".into()),
        ]
    }

    /// `kubecred ARGS --request-timeout 2s` with the AWS environment.
    fn kubecred(&self, args: &[&str]) -> std::io::Result<Command> {
        let mut command = isolated(support::BIN, self.home());
        command
            .envs(self.aws_env())
            .args(args)
            .args(["--request-timeout", DEADLINE_TEXT]);
        Ok(command)
    }

    /// A front door that takes no flags: `KUBECRED_REQUEST_TIMEOUT` sets its deadline.
    fn helper(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = isolated(&program.to_string_lossy(), self.home());
        command
            .envs(self.aws_env())
            .env("KUBECRED_REQUEST_TIMEOUT", DEADLINE_TEXT)
            .args(args);
        command
    }

    fn kubeconfig_arg(&self) -> String {
        self.kubeconfig().to_string_lossy().into_owned()
    }
}

/// What a run did: its output and how long it took.
struct Run {
    output: Output,
    elapsed: Duration,
}

/// Runs `command` with `stdin`; kills it (and fails) when it outlives [`WATCHDOG`].
fn run(mut command: Command, stdin: &str) -> Result<Run, BoxError> {
    use std::io::Write;
    #[allow(clippy::disallowed_methods)] // a wall-clock measure of a child process
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut input = child.stdin.take().ok_or("no stdin pipe")?;
    input.write_all(stdin.as_bytes())?;
    drop(input);
    while child.try_wait()?.is_none() {
        if started.elapsed() > WATCHDOG {
            child.kill()?;
            child.wait()?;
            return Err(format!("still running after {WATCHDOG:?}: it hangs").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    Ok(Run {
        output,
        elapsed: started.elapsed(),
    })
}

/// The run failed with exit status 1 and a message naming the timeout, after the silent
/// server was reached, no sooner than most of the deadline and well before ten times it.
#[track_caller]
fn assert_timed_out(world: &World, what: &str, run: &Run) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.output.stdout),
        String::from_utf8_lossy(&run.output.stderr)
    );
    assert_eq!(run.output.status.code(), Some(1), "{what}: {text}");
    assert!(
        text.contains("timed out"),
        "{what}: no timeout named in: {text}"
    );
    assert!(
        world.silent.accepted() > 0,
        "{what}: the silent server was never reached: {text}"
    );
    assert!(
        run.elapsed >= DEADLINE * 3 / 4,
        "{what}: failed after {:?}, before the deadline: {text}",
        run.elapsed
    );
    assert!(
        run.elapsed < DEADLINE * 5,
        "{what}: took {:?} with a deadline of {DEADLINE:?}: {text}",
        run.elapsed
    );
}

#[test]
fn token_generic_against_a_silent_kubernetes_api() -> TestResult {
    let world = World::new()?;
    let kubeconfig = world.kubeconfig_arg();
    let args = ["token", "--provider", "generic", "--service-account", "app"];
    let command = world.kubecred(&[&args[..], &["--kubeconfig", &kubeconfig]].concat())?;
    assert_timed_out(&world, "token --provider generic", &run(command, "")?);
    Ok(())
}

#[test]
fn token_aws_against_a_silent_kubernetes_api() -> TestResult {
    let world = World::new()?;
    let kubeconfig = world.kubeconfig_arg();
    let args = ["token", "--provider", "aws", "--service-account", "app"];
    let command = world.kubecred(&[&args[..], &["--kubeconfig", &kubeconfig]].concat())?;
    assert_timed_out(
        &world,
        "token --provider aws (Kubernetes)",
        &run(command, "")?,
    );
    Ok(())
}

#[test]
fn token_aws_against_a_silent_sts() -> TestResult {
    let world = World::new()?;
    let command = world.kubecred(&["token", "--provider", "aws", "--assume-role", ROLE])?;
    assert_timed_out(&world, "token --provider aws (STS)", &run(command, "")?);
    Ok(())
}

#[test]
fn the_environment_variable_sets_the_deadline_of_token_too() -> TestResult {
    let world = World::new()?;
    let program = Path::new(support::BIN);
    let command = world.helper(
        program,
        &["token", "--provider", "aws", "--assume-role", ROLE],
    );
    assert_timed_out(&world, "KUBECRED_REQUEST_TIMEOUT", &run(command, "")?);
    Ok(())
}

#[test]
fn registry_login_against_a_silent_ecr() -> TestResult {
    let world = World::new()?;
    let command = world.kubecred(&["registry", "login", PRIVATE_HOST])?;
    assert_timed_out(&world, "registry login", &run(command, "")?);
    Ok(())
}

#[test]
fn cluster_credentials_aws_against_a_silent_sts() -> TestResult {
    let world = World::new()?;
    let args = [
        "cluster",
        "credentials",
        "--provider",
        "aws",
        "--cluster",
        CLUSTER_ARN,
    ];
    let command = world.kubecred(&[&args[..], &["--assume-role", ROLE]].concat())?;
    assert_timed_out(
        &world,
        "cluster credentials --provider aws",
        &run(command, "")?,
    );
    Ok(())
}

#[test]
fn cluster_credentials_generic_against_a_silent_kubernetes_api() -> TestResult {
    let world = World::new()?;
    let kubeconfig = world.kubeconfig_arg();
    let args = ["cluster", "credentials", "--provider", "generic"];
    let more = [
        "--address",
        "https://remote.example",
        "--service-account",
        "app",
    ];
    let command = world.kubecred(&[&args[..], &more, &["--kubeconfig", &kubeconfig]].concat())?;
    assert_timed_out(
        &world,
        "cluster credentials --provider generic",
        &run(command, "")?,
    );
    Ok(())
}

#[test]
fn docker_helper_against_a_silent_ecr_public() -> TestResult {
    let world = World::new()?;
    let (bin, path) = helper_on_path(world.home(), "docker-credential-kubecred")?;
    let mut command = world.helper(&bin.join("docker-credential-kubecred"), &["get"]);
    // The warm path runs first (an empty cache), then the full path.
    command.env("PATH", path).env_remove("KUBECRED_NO_CACHE");
    assert_timed_out(
        &world,
        "docker-credential-kubecred get",
        &run(command, "public.ecr.aws\n")?,
    );
    Ok(())
}

#[test]
fn git_helper_against_a_silent_sts() -> TestResult {
    let world = World::new()?;
    let (bin, path) = helper_on_path(world.home(), "git-credential-kubecred")?;
    let program = bin.join("git-credential-kubecred");
    let mut command = world.helper(&program, &["--assume-role", ROLE, "get"]);
    command.env("PATH", path);
    let input =
        "protocol=https\nhost=git-codecommit.us-east-1.amazonaws.com\npath=v1/repos/demo\n\n";
    assert_timed_out(&world, "git-credential-kubecred get", &run(command, input)?);
    Ok(())
}

#[test]
fn kubelet_provider_with_a_pod_token_against_a_silent_sts() -> TestResult {
    let world = World::new()?;
    let program = Path::new(support::BIN);
    let command = world.helper(program, &["kubelet-credential-provider"]);
    let mut request = kubelet_request();
    request["serviceAccountToken"] = pod_token()?.into();
    request["serviceAccountAnnotations"] =
        serde_json::json!({ "eks.amazonaws.com/role-arn": ROLE });
    let run = run(command, &request.to_string())?;
    assert_timed_out(&world, "kubelet-credential-provider (pod token)", &run);
    Ok(())
}

#[test]
fn kubelet_provider_with_its_own_identity_against_a_silent_ecr() -> TestResult {
    let world = World::new()?;
    let program = Path::new(support::BIN);
    let args = ["kubelet-credential-provider", "--identity", "controller"];
    let command = world.helper(program, &args);
    let run = run(command, &kubelet_request().to_string())?;
    assert_timed_out(&world, "kubelet-credential-provider (controller)", &run);
    Ok(())
}

/// A request as the kubelet writes it, for an image of the private registry.
fn kubelet_request() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": format!("{PRIVATE_HOST}/app:1.0"),
    })
}

/// A ServiceAccount token as the kubelet hands it over (unsigned here: only STS would verify
/// it, and STS is silent).
fn pod_token() -> Result<String, BoxError> {
    use base64::Engine as _;
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 3600;
    let header = encode(serde_json::json!({ "alg": "RS256", "typ": "JWT" }));
    let claims = encode(serde_json::json!({
        "sub": "system:serviceaccount:team-a:app",
        "aud": ["sts.amazonaws.com"],
        "exp": expires,
    }));
    Ok(format!("{header}.{claims}.c2lnbmF0dXJl"))
}
