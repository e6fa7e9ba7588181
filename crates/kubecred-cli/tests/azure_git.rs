//! Azure DevOps git through real `git` with kubecred as its credential helper: `git ls-remote`
//! of the DevOps stand-in's repository (its certificate names `dev.azure.com`, which git
//! resolves to loopback with `http.curloptResolve`), the password an Entra token for Azure
//! DevOps of the ServiceAccount's app; without kubecred, git is refused.

#![cfg(unix)]

mod support;

use std::process::Output;

use support::azure::{AzureWorld, azure_world, manifests};
use support::sandbox_azure::DEVOPS_REPOSITORY;
use support::{BoxError, TestResult, assert_success, helper_on_path, isolated, stderr};

struct World {
    w: AzureWorld,
    /// PATH for git: a directory with `git-credential-kubecred`, then the test's PATH.
    path: std::ffi::OsString,
}

async fn world() -> Result<World, BoxError> {
    let w = azure_world(&manifests(""), 0, |_| {}).await?;
    let (_, path) = helper_on_path(w.home(), "git-credential-kubecred")?;
    Ok(World { w, path })
}

impl World {
    /// `git ARGS` in the isolated environment (with the world's variables, which the helper
    /// reads).
    fn git(&self, args: &[&str]) -> std::io::Result<Output> {
        isolated("git", self.w.home())
            .envs(self.w.env())
            .env("PATH", &self.path)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args)
            .output()
    }

    /// The global git configuration: `helper` (if any), the stand-in's CA, dev.azure.com on
    /// loopback.
    fn configure(&self, helper: Option<&str>) -> TestResult {
        let resolve = format!("dev.azure.com:{}:127.0.0.1", self.w.azure.devops_port());
        let ca = self.w.ca.display().to_string();
        let mut settings = vec![
            ("http.sslCAInfo", ca.as_str()),
            ("http.curloptResolve", resolve.as_str()),
        ];
        if let Some(helper) = helper {
            settings.push(("credential.helper", helper));
        }
        for (key, value) in settings {
            let output = self.git(&["config", "--global", key, value])?;
            assert!(output.status.success(), "git config: {}", stderr(&output));
        }
        Ok(())
    }

    fn ls_remote(&self) -> std::io::Result<Output> {
        let [org, project, repo] = DEVOPS_REPOSITORY;
        let url = self.w.azure.devops_repository_url(org, project, repo);
        self.git(&["ls-remote", &url])
    }
}

fn have_git() -> bool {
    match std::process::Command::new("git").arg("--version").output() {
        Ok(_) => true,
        Err(e) => {
            kubecred_sandbox::peers::missing("git", "install git", &e);
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_ls_remote_of_azure_devops_with_a_service_accounts_token() -> TestResult {
    if !have_git() {
        return Ok(());
    }
    let world = world().await?;
    world.configure(None)?;
    let refused = world.ls_remote()?;
    assert!(!refused.status.success(), "git got in without credentials");
    assert_eq!(world.w.azure.calls("devops.info_refs"), 0);

    // git runs `git credential-kubecred -n team-a --service-account app get`.
    world.configure(Some("kubecred -n team-a --service-account app"))?;
    let output = world.ls_remote()?;
    // The stand-in's repository is empty: git reads its ref advertisement, lists nothing.
    assert_success(&output);
    assert_eq!(world.w.azure.calls("devops.info_refs"), 1);
    assert_eq!(world.w.azure.calls("entra.token"), 1);
    Ok(())
}
