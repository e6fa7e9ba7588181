//! An [`Engine`] for the sandbox's cluster, as the tests of each cloud build it: the sandbox's
//! kubeconfig written as `kubeconfig` in a temporary directory (keep the returned guard while the engine is
//! used), the ObjectLevelWorkloadIdentity feature gate on, and the variables of `env`.

use kubecred::{Engine, Env, Kubernetes, PolicyConfig};
use kubecred_sandbox::Sandbox;

/// The engine and the directory holding its kubeconfig (kubecred's errors as `io::Error`s, so
/// that `?` converts them into any test's error type).
pub async fn sandbox_engine(
    sandbox: &Sandbox,
    env: Env,
) -> std::io::Result<(Engine, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    let other = std::io::Error::other;
    kubecred::fs::write_private(&kubeconfig, sandbox.kubeconfig_file().as_bytes())
        .map_err(other)?;
    let policy = PolicyConfig {
        object_level_workload_identity: true,
        ..PolicyConfig::default()
    }
    .build()
    .map_err(other)?;
    let kubernetes = Kubernetes::from_kubeconfig(&kubeconfig, None)
        .await
        .map_err(other)?;
    let engine = Engine::new(policy)
        .with_kubernetes(kubernetes)
        .with_env(env);
    Ok((engine, dir))
}
