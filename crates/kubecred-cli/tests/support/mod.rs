//! Running the `kubecred` binary (and the AWS CLI) as a child process with a controlled
//! environment: nothing of this machine's but PATH, and no route to a real instance metadata
//! service.

#![allow(dead_code)] // each test file uses part of it

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_kubecred");

/// A command with a cleared environment: PATH, HOME, no kubeconfig, IMDS disabled.
pub fn isolated(program: &str, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
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

impl SandboxProcess {
    /// Starts the sandbox with these manifests in `dir`, on `port` (0: any).
    pub fn start(dir: &Path, manifests: &str, port: u16) -> Result<SandboxProcess, BoxError> {
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
