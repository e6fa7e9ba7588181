//! Running the `kubecred` binary (and the AWS CLI) as a child process with a controlled
//! environment: nothing of this machine's but PATH, and no route to a real instance metadata
//! service; and the worlds those children talk to (the sandbox's Kubernetes API and AWS
//! stand-ins).

#![allow(dead_code)] // each test file uses part of it

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kubecred_sandbox::aws::{AwsConfig, AwsRole, AwsStandIns, AwsUser, PodIdentity, Trust};
use kubecred_sandbox::{Sandbox, SandboxConfig};

/// moto, the AWS emulator: shared with the library's tests.
#[path = "../../../kubecred/tests/support/moto.rs"]
pub mod moto;

/// Azure worlds: the sandbox and the Azure stand-ins in this process.
pub mod azure;

/// `kubecred sandbox`'s Azure configuration, shared with the Azure worlds.
#[path = "../../src/sandbox_azure.rs"]
pub mod sandbox_azure;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_kubecred");

/// A command with a cleared environment: PATH, HOME, no kubeconfig, IMDS disabled (AWS's, and
/// Azure's managed identity endpoint pointed at a closed loopback port).
pub fn isolated(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("KUBECRED_AZURE_IMDS_URL", "http://127.0.0.1:9")
        .stdin(Stdio::null());
    command
}

/// Runs `kubecred ARGS` with these extra variables.
pub fn kubecred(home: &Path, env: &[(&str, &str)], args: &[&str]) -> std::io::Result<Output> {
    isolated(BIN, home)
        .envs(env.iter().copied())
        .args(args)
        .output()
}

/// Runs `command` with `input` on stdin, collecting stdout and stderr.
pub fn run_with_stdin(command: Command, input: &str) -> std::io::Result<Output> {
    spawn_with_stdin(command, input)?.wait_with_output()
}

/// [`run_with_stdin`] that kills the child and fails when it has not finished within `limit`:
/// a regression that hangs fails the test instead of hanging it.
pub fn run_with_stdin_within(
    command: Command,
    input: &str,
    limit: Duration,
) -> Result<Output, BoxError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let child = spawn_with_stdin(command, input)?;
    let (sender, receiver) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(limit) {
        Ok(output) => Ok(output?),
        Err(_) => {
            // The waiting thread reaps it once it is killed.
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            Err(format!("{program} did not finish within {limit:?}").into())
        }
    }
}

/// `command` started with piped stdio, `input` written to its stdin (then closed).
fn spawn_with_stdin(mut command: Command, input: &str) -> std::io::Result<std::process::Child> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin pipe"))?
        .write_all(input.as_bytes())?;
    Ok(child)
}

/// Borrowed `(name, value)` pairs of an environment whose values are owned.
pub fn env_refs<'a>(env: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `env` and then `extra`.
pub fn env_plus<'a>(
    env: &[(&'a str, &'a str)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    [env, extra].concat()
}

/// Asserts the run exited with `code` and its stderr contains each of `parts`.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32, parts: &[&str]) {
    assert_exit_for("kubecred", output, code, parts);
}

/// [`assert_exit`] for one of several runs, named `what` in the failure message.
#[track_caller]
pub fn assert_exit_for(what: &str, output: &Output, code: i32, parts: &[&str]) {
    let message = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{what}: {message}");
    for part in parts {
        assert!(message.contains(part), "{what}: no {part:?} in: {message}");
    }
}

/// Asserts the run succeeded (with its stderr as the message when not).
#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(output.status.success(), "{}", stderr(output));
}

/// Asserts the run succeeded and returns its standard output as JSON.
#[track_caller]
pub fn success_json(output: &Output) -> Result<serde_json::Value, String> {
    assert_success(output);
    json(output)
}

/// A `bin` directory in `home` holding `name`, a symlink to the binary under test (the way git
/// and docker find helpers), and a PATH with that directory first.
pub fn helper_on_path(home: &Path, name: &str) -> Result<(PathBuf, OsString), BoxError> {
    let bin = home.join("bin");
    std::fs::create_dir(&bin)?;
    std::os::unix::fs::symlink(BIN, bin.join(name))?;
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(bin.clone()).chain(std::env::split_paths(&inherited));
    let path = std::env::join_paths(dirs)?;
    Ok((bin, path))
}

/// Standard output, trimmed.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Standard error.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as JSON, with stderr in the error when it is not.
pub fn json(output: &Output) -> Result<serde_json::Value, String> {
    serde_json::from_str(&stdout(output)).map_err(|e| {
        format!(
            "{e}: stdout {:?}, stderr {}",
            stdout(output),
            stderr(output)
        )
    })
}

/// A `kubecred sandbox` child process (cleared environment), stopped on drop.
pub struct SandboxProcess {
    child: std::process::Child,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The kubeconfig it wrote (admin user, its CA).
    pub kubeconfig: std::path::PathBuf,
    /// Its CA certificate, PEM, written next to the kubeconfig.
    pub ca: std::path::PathBuf,
    /// What it printed before "Press Ctrl-C to stop."
    pub banner: Vec<String>,
    /// From spawning to its first line ("ready").
    pub startup: std::time::Duration,
}

/// A boxed error for test helpers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a test returns.
pub type TestResult = Result<(), BoxError>;

impl SandboxProcess {
    /// Starts the sandbox with these manifests in `dir`, on `port` (0: any).
    pub fn start(dir: &Path, manifests: &str, port: u16) -> Result<SandboxProcess, BoxError> {
        SandboxProcess::start_with(dir, manifests, port, &[])
    }

    /// [`SandboxProcess::start`] with extra arguments (`--source`, `--controller`).
    pub fn start_with(
        dir: &Path,
        manifests: &str,
        port: u16,
        extra: &[&str],
    ) -> Result<SandboxProcess, BoxError> {
        use std::io::BufRead;
        let file = dir.join("sandbox-manifests.yaml");
        std::fs::write(&file, manifests)?;
        let kubeconfig = dir.join("sandbox-kubeconfig");
        #[allow(clippy::disallowed_methods)] // a wall-clock readiness figure
        let started = std::time::Instant::now();
        let mut child = isolated(BIN, dir)
            .args(["sandbox", "--port", &port.to_string(), "--manifests"])
            .arg(&file)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().ok_or("the sandbox printed nothing")??;
        let startup = started.elapsed();
        let url = first
            .strip_prefix("kubecred sandbox ready at ")
            .ok_or(format!("unexpected first line: {first}"))?
            .to_owned();
        let mut banner = vec![first];
        for line in lines.by_ref() {
            let line = line?;
            if line.starts_with("Press Ctrl-C") {
                break;
            }
            banner.push(line);
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let ca = dir.join("sandbox-ca.pem");
        std::fs::write(&ca, ca_of(&kubeconfig)?)?;
        Ok(SandboxProcess {
            child,
            url,
            kubeconfig,
            ca,
            banner,
            startup,
        })
    }

    /// The value of an `export NAME=value` line it printed.
    pub fn exported(&self, name: &str) -> Option<String> {
        let prefix = format!("  export {name}=");
        self.banner
            .iter()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
    }

    /// Its CA certificate, PEM.
    pub fn ca_pem(&self) -> Result<String, BoxError> {
        Ok(std::fs::read_to_string(&self.ca)?)
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CA (`certificate-authority-data`) of a kubeconfig, PEM.
fn ca_of(kubeconfig: &Path) -> Result<String, BoxError> {
    use base64::Engine as _;
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(kubeconfig)?)?;
    let data = config["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .ok_or("the kubeconfig has no certificate-authority-data")?;
    Ok(String::from_utf8(
        base64::engine::general_purpose::STANDARD.decode(data)?,
    )?)
}

/// The account of every stand-in world.
pub const ACCOUNT: &str = "123456789012";

/// What the AWS stand-ins know: roles (trusting a sandbox ServiceAccount, a principal, or no
/// one), users with keys, the node role and the Pod Identity association. Started with the
/// sandbox's Kubernetes API as the trusted issuer ([`AwsWorldBuilder::start`]) or alone
/// ([`AwsWorldBuilder::start_aws`]). Made by [`aws_world`].
pub struct AwsWorldBuilder {
    /// Role ARN and the `namespace:name` of the ServiceAccount whose sandbox tokens (audience
    /// `sts.amazonaws.com`) it trusts.
    web_identity_roles: Vec<(String, String)>,
    config: AwsConfig,
}

/// Stand-ins for account [`ACCOUNT`] with no roles and no users yet.
pub fn aws_world() -> AwsWorldBuilder {
    AwsWorldBuilder {
        web_identity_roles: Vec::new(),
        config: AwsConfig {
            account_id: ACCOUNT.into(),
            ..AwsConfig::default()
        },
    }
}

impl AwsWorldBuilder {
    /// A role trusting the sandbox's tokens of ServiceAccount `namespace:name` for audience
    /// `sts.amazonaws.com`.
    pub fn web_identity_role(mut self, arn: &str, service_account: &str) -> AwsWorldBuilder {
        self.web_identity_roles
            .push((arn.into(), service_account.into()));
        self
    }

    /// A role that `principal` may assume.
    pub fn role_for(mut self, arn: &str, principal: &str) -> AwsWorldBuilder {
        self.config.roles.push(AwsRole {
            arn: arn.into(),
            trust: vec![Trust::Principal {
                arn: principal.into(),
                external_id: None,
            }],
        });
        self
    }

    /// A role trusting no one (for the node and Pod Identity, which need no trust).
    pub fn role(mut self, arn: &str) -> AwsWorldBuilder {
        self.config.roles.push(AwsRole {
            arn: arn.into(),
            trust: vec![],
        });
        self
    }

    /// An IAM user with these keys.
    pub fn user(
        mut self,
        arn: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> AwsWorldBuilder {
        self.config.users.push(AwsUser {
            arn: arn.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
        });
        self
    }

    /// The instance profile's role, served by IMDS.
    pub fn node_role(mut self, arn: &str) -> AwsWorldBuilder {
        self.config.node_role = Some(arn.into());
        self
    }

    /// The EKS Pod Identity association: `token` gets `role_arn`.
    pub fn pod_identity(mut self, token: &str, role_arn: &str) -> AwsWorldBuilder {
        self.config.pod_identity = Some(PodIdentity {
            token: token.into(),
            role_arn: role_arn.into(),
        });
        self
    }

    /// The stand-ins alone (no web identity roles: there is no issuer to trust).
    pub async fn start_aws(self) -> Result<AwsStandIns, BoxError> {
        if !self.web_identity_roles.is_empty() {
            return Err("web identity roles need the sandbox: use start()".into());
        }
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Ok(AwsStandIns::start(self.config).await?)
    }

    /// The sandbox, the stand-ins trusting its issuer, and an empty home directory.
    pub async fn start(mut self) -> Result<AwsWorld, BoxError> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let sandbox = Sandbox::start(SandboxConfig::default()).await?;
        let trusted = self
            .web_identity_roles
            .iter()
            .map(|(arn, service_account)| AwsRole {
                arn: arn.clone(),
                trust: vec![Trust::WebIdentity {
                    issuer: sandbox.issuer(),
                    audience: STS_AUDIENCE.into(),
                    subject: Some(format!("system:serviceaccount:{service_account}")),
                }],
            });
        self.config.roles = trusted.chain(self.config.roles).collect();
        self.config.oidc_providers.push(sandbox.verifier().await?);
        let aws = AwsStandIns::start(self.config).await?;
        Ok(AwsWorld {
            sandbox,
            aws,
            home: tempfile::tempdir()?,
        })
    }
}

/// The audience STS requires of web identity tokens.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// The sandbox's Kubernetes API, the AWS stand-ins trusting it, and a home directory for the
/// `kubecred` children.
pub struct AwsWorld {
    pub sandbox: Sandbox,
    pub aws: AwsStandIns,
    pub home: tempfile::TempDir,
}

impl AwsWorld {
    /// The children's home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// A ServiceAccount token from the sandbox's issuer, valid for an hour.
    pub fn pod_token(&self, namespace: &str, name: &str, audience: &str) -> String {
        let audiences = [audience.to_owned()];
        self.sandbox
            .issue_token(namespace, name, &audiences, Duration::from_secs(3600))
    }

    /// `kubecred ARGS` in the home directory with these extra variables.
    pub fn kubecred(&self, env: &[(&str, &str)], args: &[&str]) -> std::io::Result<Output> {
        kubecred(self.home(), env, args)
    }

    /// `kubecred` as on a node: the instance metadata service is the IMDS stand-in.
    pub fn on_the_node(&self) -> Command {
        let mut command = isolated(BIN, self.home());
        command
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.aws.imds_url());
        command
    }
}

/// Whether `kubectl` runs here; when not, the missing peer is reported (a failure under CI).
pub fn have_kubectl() -> bool {
    match Command::new("kubectl")
        .args(["version", "--client"])
        .output()
    {
        Ok(_) => true,
        Err(e) => {
            kubecred_sandbox::peers::missing("kubectl", "install kubectl", &e);
            false
        }
    }
}
