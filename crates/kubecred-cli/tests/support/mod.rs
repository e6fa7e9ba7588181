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
