//! A kubeconfig pointing at a sandbox.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::access::ADMIN_USER;
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

    /// The text of a kubeconfig file for namespace `default`: [`Sandbox::kubeconfig`] as JSON
    /// (which is valid YAML). The sandbox writes no files: callers write it where they need it
    /// (kubecred with `kubecred::fs::write_private`, mode 0600: it holds the admin token).
    pub fn kubeconfig_file(&self) -> String {
        format!("{:#}", self.kubeconfig("default"))
    }
}
