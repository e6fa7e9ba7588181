//! The Kubernetes layer: turns "ServiceAccount ns/name" into a token and "Secret ns/name" into
//! secret material. It knows nothing of clouds.
//!
//! Every read happens in the namespace of the object asking; namespaces and names that are not
//! Kubernetes names (DNS-1123) are refused before any call. The RBAC the caller needs:
//!
//! | verb | resource | for |
//! |---|---|---|
//! | `get` | `serviceaccounts` | object level (annotations) |
//! | `create` | `serviceaccounts/token` | object level and the `generic` provider |
//! | `get` | `secrets` | secret level |
//! | `get` | `configmaps` | remote-cluster ConfigMaps |
//!
//! ```no_run
//! # async fn example() -> kubecred::Result<()> {
//! let kubernetes = kubecred::Kubernetes::infer().await?; // KUBECONFIG, ~/.kube/config or in-cluster
//! let token = kubernetes.create_token("team-a", "app", &["sts.amazonaws.com".into()], None).await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use http_body_util::{BodyExt as _, Limited};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret as SecretObject, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::Secret;
use crate::account::ServiceAccountInfo;
use crate::credential::KubernetesToken;
use crate::error::{Error, Result};
use crate::names;
use crate::retry::{self, Backoff};
use crate::timeouts::{Deadline, Timeouts};

/// Largest answer [`Kubernetes::get_path`] reads (a discovery document or a JWKS is a few KiB;
/// the clouds' fetchers stop far below this too).
const MAX_PATH_ANSWER: usize = 256 * 1024;

/// A namespaced resource: its URL path segment and how its name is called in errors.
struct Resource {
    path: &'static str,
    field: &'static str,
}

const SERVICE_ACCOUNTS: Resource = Resource {
    path: "serviceaccounts",
    field: "service account name",
};
const SECRETS: Resource = Resource {
    path: "secrets",
    field: "secret name",
};
const CONFIG_MAPS: Resource = Resource {
    path: "configmaps",
    field: "config map name",
};

/// Access to one Kubernetes API server.
#[derive(Clone)]
pub struct Kubernetes {
    client: kube::Client,
    /// `overall` bounds each call with its retries; connect and read are the client's.
    timeouts: Timeouts,
}

impl Kubernetes {
    /// Wraps a kube client: its own connect and read timeouts apply, and each call with its
    /// retries is bounded by the default overall deadline ([`Timeouts::default`]).
    pub fn new(client: kube::Client) -> Self {
        Kubernetes {
            client,
            timeouts: Timeouts::default(),
        }
    }

    /// Connects the way kubectl does: `KUBECONFIG`, `~/.kube/config`, then in-cluster, with the
    /// default [`Timeouts`].
    pub async fn infer() -> Result<Self> {
        Self::infer_with_timeouts(Timeouts::default()).await
    }

    /// [`Kubernetes::infer`] with these timeouts.
    pub async fn infer_with_timeouts(timeouts: Timeouts) -> Result<Self> {
        let config = kube::Config::infer().await.map_err(|e| {
            Error::not_configured(
                "no Kubernetes configuration found (KUBECONFIG, ~/.kube/config or in-cluster)",
            )
            .with_source(e)
        })?;
        Self::from_config(config, timeouts)
    }

    /// [`Kubernetes::infer_with_timeouts`], in `context` of the `KUBECONFIG` files or
    /// `~/.kube/config` when one is named (as `kubectl --context`; no in-cluster fallback then).
    pub async fn infer_in_context(context: Option<&str>, timeouts: Timeouts) -> Result<Self> {
        let Some(context) = context else {
            return Self::infer_with_timeouts(timeouts).await;
        };
        let options = KubeConfigOptions {
            context: Some(context.to_owned()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_kubeconfig(&options).await.map_err(|e| {
            Error::invalid(format!(
                "cannot use context '{context}' of KUBECONFIG or ~/.kube/config"
            ))
            .with_source(e)
        })?;
        Self::from_config(config, timeouts)
    }

    /// Connects with a kubeconfig file and optional context, with the default [`Timeouts`].
    pub async fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Self> {
        Self::from_kubeconfig_with_timeouts(path, context, Timeouts::default()).await
    }

    /// [`Kubernetes::from_kubeconfig`] with these timeouts.
    pub async fn from_kubeconfig_with_timeouts(
        path: &Path,
        context: Option<&str>,
        timeouts: Timeouts,
    ) -> Result<Self> {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
            Error::invalid(format!("cannot read kubeconfig {}", path.display())).with_source(e)
        })?;
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                Error::invalid(format!("cannot use kubeconfig {}", path.display())).with_source(e)
            })?;
        Self::from_config(config, timeouts)
    }

    /// A client for `config` with these timeouts (connect; read and write: `read`).
    pub fn from_config(mut config: kube::Config, timeouts: Timeouts) -> Result<Self> {
        config.connect_timeout = Some(timeouts.connect);
        config.read_timeout = Some(timeouts.read);
        config.write_timeout = Some(timeouts.read);
        let client = kube::Client::try_from(config)
            .map_err(|e| Error::invalid("cannot build a Kubernetes client").with_source(e))?;
        Ok(Kubernetes { client, timeouts })
    }

    /// The namespace of the current context (or `default`).
    pub fn default_namespace(&self) -> &str {
        self.client.default_namespace()
    }

    /// Reads a ServiceAccount.
    pub async fn service_account(&self, namespace: &str, name: &str) -> Result<ServiceAccountInfo> {
        let account: ServiceAccount = self.get(namespace, name, &SERVICE_ACCOUNTS).await?;
        Ok(ServiceAccountInfo {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            annotations: account.metadata.annotations.unwrap_or_default(),
        })
    }

    /// Creates a token for a ServiceAccount (TokenRequest) with the given audiences (empty: the
    /// API server's default) and lifetime (none: the API server's default, usually one hour).
    pub async fn create_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[String],
        expiration_seconds: Option<i64>,
    ) -> Result<KubernetesToken> {
        checked(namespace, name, &SERVICE_ACCOUNTS)?;
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.to_vec(),
                expiration_seconds,
                bound_object_ref: None,
            },
            ..TokenRequest::default()
        };
        let object = format!("serviceaccounts/token {namespace}/{name}");
        let deadline = Deadline::after(self.timeouts.overall);
        let step = format!("create {object}");
        let created: TokenRequest =
            retry::transient(Backoff::default(), deadline, &step, || async {
                api.create_subresource("token", name, &PostParams::default(), &request)
                    .await
                    .map_err(|e| api_error(e, "create", &object))
            })
            .await?;
        let status = created.status.ok_or_else(|| {
            Error::upstream(format!(
                "the TokenRequest for {namespace}/{name} came back without a status"
            ))
        })?;
        Ok(KubernetesToken {
            token: Secret::new(status.token),
            expires_at: SystemTime::from(status.expiration_timestamp.0),
        })
    }

    /// Reads a Secret's data (values decoded; each must be UTF-8 text).
    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, Secret>> {
        let object: SecretObject = self.get(namespace, name, &SECRETS).await?;
        let mut data = BTreeMap::new();
        for (key, value) in object.data.unwrap_or_default() {
            let text = String::from_utf8(value.0).map_err(|_| {
                Error::invalid(format!(
                    "secret {namespace}/{name}: key '{key}' is not UTF-8 text"
                ))
            })?;
            data.insert(key, Secret::new(text));
        }
        Ok(data)
    }

    /// Reads a ConfigMap's data.
    pub async fn config_map_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<BTreeMap<String, String>> {
        let object: ConfigMap = self.get(namespace, name, &CONFIG_MAPS).await?;
        Ok(object.data.unwrap_or_default())
    }

    /// GETs a path outside the resource API (e.g. `/.well-known/openid-configuration`) as text,
    /// at most [`MAX_PATH_ANSWER`] bytes, retrying transient failures.
    pub(crate) async fn get_path(&self, path: &'static str) -> Result<String> {
        let deadline = Deadline::after(self.timeouts.overall);
        let step = format!("get {path}");
        retry::transient(Backoff::default(), deadline, &step, || async {
            let request = http::Request::get(path)
                .body(kube::client::Body::from(Vec::new()))
                .map_err(|e| Error::invalid(format!("get {path}")).with_source(e))?;
            let response = self
                .client
                .send(request)
                .await
                .map_err(|e| api_error(e, "get", path))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_PATH_ANSWER)
                .collect()
                .await
                .map_err(|e| {
                    Error::upstream(format!(
                        "get {path}: the answer could not be read within {MAX_PATH_ANSWER} \
                         bytes: {e}"
                    ))
                })?
                .to_bytes();
            let text = String::from_utf8_lossy(&body).into_owned();
            match status {
                200..=299 => Ok(text),
                _ => {
                    let said = format!("HTTP {status}: {}", crate::http::first_line(&text, 200));
                    Err(status_error(status, "get", path, &said))
                }
            }
        })
        .await
    }

    /// GETs a namespaced object, retrying transient failures.
    async fn get<K>(&self, namespace: &str, name: &str, resource: &Resource) -> Result<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        checked(namespace, name, resource)?;
        let api: Api<K> = Api::namespaced(self.client.clone(), namespace);
        let object = format!("{} {namespace}/{name}", resource.path);
        let deadline = Deadline::after(self.timeouts.overall);
        let step = format!("get {object}");
        retry::transient(Backoff::default(), deadline, &step, || async {
            api.get(name)
                .await
                .map_err(|e| api_error(e, "get", &object))
        })
        .await
    }
}

impl std::fmt::Debug for Kubernetes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubernetes")
            .field("default_namespace", &self.default_namespace())
            .finish()
    }
}

/// Refuses a namespace or name that is not a Kubernetes name before it reaches a URL path.
fn checked(namespace: &str, name: &str, resource: &Resource) -> Result<()> {
    names::namespace(namespace)?;
    names::object_name(resource.field, name)
}

/// Classifies a Kubernetes API failure, once, at the edge.
/// The error of the API server's answer `code` to `verb object`, with what it `said`.
fn status_error(code: u16, verb: &str, object: &str, said: &str) -> Error {
    let message = format!("{verb} {object}: {said}");
    match code {
        404 => Error::not_found(message),
        401 => Error::denied(format!(
            "{message} (the Kubernetes credentials were not accepted)"
        )),
        403 => Error::denied(format!(
            "{message} (grant the caller '{verb}' on {})",
            object.split(' ').next().unwrap_or(object)
        )),
        408 | 429 | 500..=599 => Error::transient(message),
        _ => Error::upstream(message),
    }
}

fn api_error(error: kube::Error, verb: &str, object: &str) -> Error {
    let step = format!("{verb} {object}");
    match &error {
        kube::Error::Api(status) => status_error(status.code, verb, object, &status.message),
        kube::Error::HyperError(_) | kube::Error::Service(_) if timed_out(&error) => {
            Error::transient(format!(
                "{step}: timed out: the Kubernetes API server did not answer within the connect or read timeout"
            ))
            .with_source(error)
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            Error::transient(format!("{step}: cannot reach the Kubernetes API server"))
                .with_source(error)
        }
        _ => Error::upstream(format!(
            "{step}: unexpected answer from the Kubernetes API server"
        ))
        .with_source(error),
    }
}

/// Whether a connect, read or write timeout (an `io::ErrorKind::TimedOut` anywhere in the
/// chain) ended the call.
fn timed_out(error: &kube::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        source = current.source();
    }
    false
}
