//! A kubeconfig pointing at a sandbox, and writing it safely to disk.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::access::ADMIN_USER;
use crate::random;
use crate::sandbox::Sandbox;

/// The cluster and context name in sandbox kubeconfigs.
const CONTEXT: &str = "kubecred-sandbox";

impl Sandbox {
    /// A kubeconfig (`apiVersion: v1, kind: Config`) whose current context
    /// `kubecred-sandbox` uses this sandbox as the admin, in `namespace`. The
    /// cluster trusts the sandbox's CA (`certificate-authority-data`).
    pub fn kubeconfig(&self, namespace: &str) -> Value {
        let cluster = json!({
            "server": self.url(),
            "certificate-authority-data": STANDARD.encode(self.ca_pem()),
        });
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": ADMIN_USER, "user": {"token": self.admin_token()}}],
            "contexts": [{
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": ADMIN_USER, "namespace": namespace},
            }],
            "current-context": CONTEXT,
            "preferences": {},
        })
    }

    /// Writes [`Sandbox::kubeconfig`] for namespace `default` as JSON (which
    /// is valid YAML) to `path`, mode 0600, atomically: a temporary file in
    /// the same directory is renamed over `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(&self.kubeconfig("default"))?;
        write_private_atomically(path, &text)
    }
}

/// Writes `contents` to a private (0600) temporary sibling of `path`, then
/// renames it over `path`. The temporary file is removed on failure.
fn write_private_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        let message = format!("{} does not name a file", path.display());
        std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
    })?;
    let temp_name = format!(".{}.{}.tmp", file_name.to_string_lossy(), random::uuid());
    let temp = path.with_file_name(temp_name);
    let result = write_new_private(&temp, contents).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_existing_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config");
        std::fs::write(&path, "old").expect("seed");
        write_private_atomically(&path, b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("new"));
        let entries = std::fs::read_dir(dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(entries, 1);
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing-dir").join("config");
        let err = write_private_atomically(&path, b"x").expect_err("no directory");
        assert!(err.to_string().contains("missing-dir/config"), "{err}");
    }
}
