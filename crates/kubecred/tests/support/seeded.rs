//! What the seeded-misconfiguration tests of `kubecred::explain` share (one file per cloud):
//! the sandbox's kubeconfig and engines built on it with each case's policy, the feature gate
//! on, the failed step of an explanation, and the check that each case fails at its own step
//! with its expected cause and that the causes are pairwise distinct.

use kubecred::explain::{Explanation, Status, StepName};
use kubecred::{Engine, Env, Kubernetes, PolicyConfig};

/// The sandbox's kubeconfig, written once for the engines of a test world.
pub struct SandboxKubeconfig {
    dir: tempfile::TempDir,
}

impl SandboxKubeconfig {
    /// Writes `sandbox`'s kubeconfig to a temporary directory.
    pub fn write(sandbox: &kubecred_sandbox::Sandbox) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        kubecred::fs::write_private(
            &dir.path().join("config"),
            sandbox.kubeconfig_file().as_bytes(),
        )?;
        Ok(SandboxKubeconfig { dir })
    }

    /// An engine for the sandbox's cluster under `policy`, with the variables of `env`.
    pub async fn engine(
        &self,
        policy: PolicyConfig,
        env: Env,
    ) -> Result<Engine, Box<dyn std::error::Error>> {
        let kubernetes = Kubernetes::from_kubeconfig(&self.dir.path().join("config"), None).await?;
        Ok(Engine::new(policy.build()?)
            .with_kubernetes(kubernetes)
            .with_env(env))
    }
}

/// The ObjectLevelWorkloadIdentity feature gate on, nothing else.
pub fn gate_on() -> PolicyConfig {
    PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
}

/// The failed step and its cause.
pub fn failure(explanation: &Explanation) -> (StepName, String) {
    let step = explanation
        .steps
        .iter()
        .find(|s| s.status == Status::Failed)
        .unwrap_or_else(|| panic!("nothing failed: {}", explanation.text()));
    (step.step, step.cause.clone().unwrap_or_default())
}

/// Each `(what, explanation, step, expected)` failed at `step` with a cause containing
/// `expected` (verdict `failed`, in the text and the JSON), and no two causes are the same.
pub fn assert_distinct_failures(cases: &[(&str, Explanation, StepName, &str)]) {
    let mut causes = std::collections::BTreeSet::new();
    for (what, explanation, step, expected) in cases {
        let (failed, cause) = failure(explanation);
        assert_eq!(failed, *step, "{what}: {}", explanation.text());
        assert!(cause.contains(expected), "{what}: {cause}");
        assert_eq!(explanation.verdict(), "failed");
        assert_eq!(explanation.json()["verdict"], "failed");
        causes.insert(cause);
    }
    assert_eq!(
        causes.len(),
        cases.len(),
        "causes are not distinct: {causes:#?}"
    );
}
