//! The keys of the disk cache: every input that changes a credential, including what the
//! kubeconfig resolves to (a kubeconfig path says nothing about the cluster it points at once
//! its `current-context` changes).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig};
use kubecred::{CacheKey, Provider};
use serde_json::json;

use crate::args::IdentityArgs;

/// Environment variables whose values are secrets: never part of the cache key.
const SECRET_VARIABLES: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
];
/// Prefixes of the variables that change a credential (cloud SDK settings, endpoints).
/// (GCP: `GCE_METADATA_HOST`, `GOOGLE_APPLICATION_CREDENTIALS`, the `KUBECRED_GCP_*` endpoints;
/// Azure: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_AUTHORITY_HOST`, … and the
/// `KUBECRED_AZURE_*` endpoints.)
const KEYED_PREFIXES: &[&str] = &[
    "AWS_",
    "KUBECONFIG",
    "GCE_",
    "GOOGLE_",
    "KUBECRED_GCP_",
    "AZURE_",
    "KUBECRED_AZURE_",
];
/// Where a pod's in-cluster configuration lives (as kube reads it).
const IN_CLUSTER_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The key of an entry: the front door's format tag, its own inputs and the environment's
/// ([`environment_key_parts`]), as one JSON array of `[name, value]` pairs, so that every value
/// stays unambiguous whatever separators it holds.
pub fn key(format: &str, parts: impl IntoIterator<Item = (String, String)>) -> CacheKey {
    let pairs: Vec<serde_json::Value> = [("format".to_owned(), format.to_owned())]
        .into_iter()
        .chain(parts)
        .chain(environment_key_parts())
        .map(|(name, value)| json!([name, value]))
        .collect();
    CacheKey::from_parts(&[serde_json::Value::from(pairs).to_string()])
}

/// The command line after the program name, without `--no-cache`: for front doors whose
/// arguments name everything that decides the credential (provider, cluster, identity flags).
pub fn argv_key_part() -> (String, String) {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--no-cache")
        .collect();
    ("argv".to_owned(), serde_json::Value::from(argv).to_string())
}

/// What, beyond a command's own arguments, changes the credential it gets: the environment the
/// SDKs read (secret values left out: they never leave memory) and the AWS profile files' state.
pub fn environment_key_parts() -> Vec<(String, String)> {
    let mut parts = keyed_environment();
    parts.extend(keyed_files());
    parts
}

/// The environment variables that name an identity or endpoint, sorted, secrets left out.
fn keyed_environment() -> Vec<(String, String)> {
    keyed_variables(std::env::vars_os().filter_map(|(name, value)| {
        Some((
            name.into_string().ok()?,
            value.to_string_lossy().into_owned(),
        ))
    }))
}

/// Of `variables`, those [`keyed_environment`] keeps, as key parts.
fn keyed_variables(variables: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = variables
        .filter(|(name, _)| KEYED_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter(|(name, _)| !SECRET_VARIABLES.contains(&name.as_str()))
        .map(|(name, value)| (format!("env:{name}"), value))
        .collect();
    kept.sort();
    kept
}

/// The AWS shared config and credentials files, by size and modification time: an edited
/// profile is another identity. (Their content is never read here.)
fn keyed_files() -> Vec<(String, String)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |variable: &str, default: &str| {
        std::env::var_os(variable)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|home| home.join(".aws").join(default)))
    };
    [
        file("AWS_CONFIG_FILE", "config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        let stamp = std::fs::metadata(&path)
            .map(|m| format!("{}:{}.{}", m.len(), m.mtime(), m.mtime_nsec()))
            .unwrap_or_else(|_| "absent".into());
        (format!("file:{}", absolute(&path).display()), stamp)
    })
    .collect()
}

/// Whether a credential depends on the cluster the Kubernetes connection reaches: a
/// ServiceAccount or Secret is read there (object level, or a lockdown default), and the generic
/// provider's controller level is a TokenRequest there. The AWS controller and node levels use
/// the environment and the instance metadata service only.
pub fn depends_on_cluster(provider: Provider, object_level: bool) -> bool {
    object_level || provider == Provider::Generic
}

/// [`cluster_key_parts`] for the identity flags, when the credential depends on the cluster.
pub fn identity_cluster_parts(
    identity: &IdentityArgs,
    provider: Provider,
) -> Vec<(String, String)> {
    let object_level = [
        &identity.service_account,
        &identity.secret,
        &identity.default_service_account,
        &identity.default_kubeconfig_service_account,
        &identity.default_decryption_service_account,
    ]
    .iter()
    .any(|name| name.is_some());
    if !depends_on_cluster(provider, object_level) {
        return Vec::new();
    }
    cluster_key_parts(identity.kubeconfig.as_deref(), identity.context.as_deref())
}

/// What the Kubernetes connection resolves to, as `request::connect` makes it: the kubeconfig
/// `path` with `context`, or else the `KUBECONFIG` files or `~/.kube/config` with `context` (or
/// their current context, falling back to the in-cluster configuration). Parts: context, namespace,
/// server, CA, TLS settings, and the user's name and non-secret identity (a token, password or
/// key is never part of a key).
pub fn cluster_key_parts(path: Option<&Path>, context: Option<&str>) -> Vec<(String, String)> {
    let resolved = match path {
        Some(path) => Kubeconfig::read_from(absolute(path))
            .map_err(|e| e.to_string())
            .and_then(|config| resolve(&config, context)),
        // A named context must be in those files (no in-cluster fallback), as `connect` says.
        None => match (Kubeconfig::read().map_err(|e| e.to_string()), context) {
            (Ok(config), Some(_)) => resolve(&config, context),
            (Ok(config), None) => resolve(&config, None).or_else(|_| Ok(in_cluster())),
            (Err(error), Some(_)) => Err(error),
            (Err(_), None) => Ok(in_cluster()),
        },
    };
    // An unusable kubeconfig fails the call itself; its error keys the (unused) entry.
    resolved.unwrap_or_else(|error| vec![part("kube:error", error)])
}

/// The context's cluster and user, as kube selects them.
fn resolve(config: &Kubeconfig, context: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let name = context
        .or(config.current_context.as_deref())
        .ok_or("no current context")?;
    let selected: &Context = config
        .contexts
        .iter()
        .find(|named| named.name == name)
        .and_then(|named| named.context.as_ref())
        .ok_or_else(|| format!("no context {name}"))?;
    let cluster = config
        .clusters
        .iter()
        .find(|named| named.name == selected.cluster)
        .and_then(|named| named.cluster.as_ref())
        .ok_or_else(|| format!("no cluster {}", selected.cluster))?;
    let user_name = selected.user.clone().unwrap_or_default();
    let user = config
        .auth_infos
        .iter()
        .find(|named| named.name == user_name)
        .and_then(|named| named.auth_info.as_ref());
    let mut parts = vec![
        part("kube:context", name),
        part(
            "kube:namespace",
            selected.namespace.as_deref().unwrap_or(""),
        ),
        part("kube:user", &user_name),
        part(
            "kube:user-identity",
            user.map(user_identity).unwrap_or_default(),
        ),
    ];
    parts.extend(cluster_parts(cluster));
    Ok(parts)
}

/// The server and how it is trusted and reached.
fn cluster_parts(cluster: &Cluster) -> Vec<(String, String)> {
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => data.clone(),
        (None, Some(file)) => file_content(Path::new(file)),
        (None, None) => String::new(),
    };
    let settings = json!({
        "insecure": cluster.insecure_skip_tls_verify,
        "tlsServerName": cluster.tls_server_name,
        "proxyUrl": cluster.proxy_url,
    });
    vec![
        part("kube:server", cluster.server.as_deref().unwrap_or("")),
        part("kube:ca", ca),
        part("kube:tls", settings.to_string()),
    ]
}

/// Who the user is, without its secrets: names, files, certificates, exec command and
/// impersonation.
fn user_identity(user: &AuthInfo) -> String {
    let certificate = match (&user.client_certificate_data, &user.client_certificate) {
        (Some(data), _) => data.clone(),
        (None, Some(file)) => file_content(Path::new(file)),
        (None, None) => String::new(),
    };
    let exec = user
        .exec
        .as_ref()
        .map(|exec| json!([exec.command, exec.args]));
    json!({
        "username": user.username,
        "tokenFile": user.token_file,
        "certificate": certificate,
        "exec": exec,
        "authProvider": user.auth_provider.as_ref().map(|p| &p.name),
        "impersonate": user.impersonate,
        "impersonateGroups": user.impersonate_groups,
    })
    .to_string()
}

/// The in-cluster API server (environment) and its CA and namespace (files).
fn in_cluster() -> Vec<(String, String)> {
    let variable = |name: &str| std::env::var(name).unwrap_or_default();
    let server = format!(
        "{}:{}",
        variable("KUBERNETES_SERVICE_HOST"),
        variable("KUBERNETES_SERVICE_PORT")
    );
    let dir = Path::new(IN_CLUSTER_DIR);
    vec![
        part("kube:in-cluster-server", server),
        part("kube:ca", file_content(&dir.join("ca.crt"))),
        part("kube:namespace", file_content(&dir.join("namespace"))),
    ]
}

/// A file's content (base64), or why it could not be read: a CA or certificate, never a secret.
fn file_content(path: &Path) -> String {
    std::fs::read(path).map_or_else(
        |e| format!("unreadable: {e}"),
        |bytes| STANDARD.encode(bytes),
    )
}

/// `path` made absolute against the current directory (the same relative path names another
/// file elsewhere).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn part(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
