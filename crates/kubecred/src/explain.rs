//! Why an identity works or fails, step by step, in the user's terms: which identity level
//! applies and why, the ServiceAccount and the annotations found or missing, the audiences and the
//! cloud identity, the cache key's parts, then the exchange itself (unless a dry run) with a
//! verdict. A failed step names the likely cause from the cloud's error and what kubecred knows
//! of the request ("the role's trust policy does not allow subject
//! system:serviceaccount:team-a:app").
//!
//! The steps walk the same path as [`Engine::token`] (the same resolution, reads and
//! audiences); the exchange *is* [`Engine::token`], so what `explain` runs is what a controller
//! would run. JSON schema of [`Explanation::json`]: `{"provider", "identity", "verdict": "ok" |
//! "failed" | "dry-run" | "not-applicable", "steps": [{"step", "status": "ok" | "failed" | "skipped", "detail",
//! "cause"?}]}`; step names are those of [`StepName`].

pub mod flux;

use serde::Serialize;
use serde_json::Value;

use crate::cache_key::{KeyedIdentity, KeyedServiceAccount, access_token_key_parts};
use crate::cloud;
use crate::cluster::ClusterRef;
use crate::error::Error;
use crate::identity::{LOCKDOWN_NOT_FOUND, Resolved};
use crate::{Engine, Identity, Provider, Request};

/// The steps, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepName {
    /// Which identity level applies, and why.
    IdentityLevel,
    /// The ServiceAccount (or Secret) read from the cluster.
    ServiceAccount,
    /// The annotations the provider reads.
    Annotations,
    /// The audiences of the Kubernetes token and the cloud identity it becomes.
    CloudIdentity,
    /// What the cache keys the credential on.
    CacheKey,
    /// The exchange at the cloud.
    Exchange,
    /// With a check target: whether the credential reaches the resource.
    Access,
    /// A remote cluster's kubeconfig ConfigMap (a Kustomization's `kubeConfig.configMapRef`),
    /// read from the cluster: the provider, cluster and identity it names.
    ConfigMap,
}

/// How a step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Ok,
    /// It failed: see the cause.
    Failed,
    /// Not run (a dry run, or an earlier step failed).
    Skipped,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Which step.
    pub step: StepName,
    /// How it went.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// For a failed step: the likely cause, in the user's terms, and what to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The steps of one explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The provider asked.
    pub provider: String,
    /// The identity asked, as the request names it.
    pub identity: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl Explanation {
    /// `ok`, `failed` or `dry-run`.
    pub fn verdict(&self) -> &'static str {
        if self.steps.iter().any(|s| s.status == Status::Failed) {
            "failed"
        } else if self
            .steps
            .iter()
            .any(|s| s.step == StepName::Exchange && s.status == Status::Ok)
        {
            "ok"
        } else if self.steps.is_empty() {
            "not-applicable"
        } else {
            "dry-run"
        }
    }

    /// The first failed step's cause.
    pub fn cause(&self) -> Option<&str> {
        self.steps.iter().find_map(|s| s.cause.as_deref())
    }

    /// The explanation as one JSON object (schema in the module documentation).
    pub fn json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        value["verdict"] = self.verdict().into();
        value
    }

    /// The explanation for a person: one line per step, the cause under a failed one.
    pub fn text(&self) -> String {
        let mut out = format!("explain {} for {}\n", self.provider, self.identity);
        for step in &self.steps {
            let mark = match step.status {
                Status::Ok => "ok  ",
                Status::Failed => "FAIL",
                Status::Skipped => "skip",
            };
            let name = serde_json::to_value(step.step)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push_str(&format!("[{mark}] {name}: {}\n", step.detail));
            if let Some(cause) = &step.cause {
                out.push_str(&format!("       likely cause: {cause}\n"));
            }
        }
        out.push_str(&format!("verdict: {}\n", self.verdict()));
        out
    }
}

/// A step builder that stops at the first failure.
struct Steps {
    steps: Vec<Step>,
}

impl Steps {
    fn ok(&mut self, step: StepName, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            status: Status::Ok,
            detail: detail.into(),
            cause: None,
        });
    }

    fn failed(&mut self, step: StepName, detail: impl Into<String>, cause: impl Into<String>) {
        self.steps.push(Step {
            step,
            status: Status::Failed,
            detail: detail.into(),
            cause: Some(cause.into()),
        });
    }

    /// Marks the steps after a failure (or a dry run) as skipped.
    fn skip_rest(&mut self, from: &[StepName], why: &str) {
        for &step in from {
            if !self.steps.iter().any(|s| s.step == step) {
                self.steps.push(Step {
                    step,
                    status: Status::Skipped,
                    detail: why.to_owned(),
                    cause: None,
                });
            }
        }
    }
}

const ALL: [StepName; 6] = [
    StepName::IdentityLevel,
    StepName::ServiceAccount,
    StepName::Annotations,
    StepName::CloudIdentity,
    StepName::CacheKey,
    StepName::Exchange,
];

/// Explains `request` under `engine`'s policy: each step, then (unless `dry_run`) the exchange.
pub async fn explain(engine: &Engine, request: &Request, dry_run: bool) -> Explanation {
    let mut steps = Steps { steps: Vec::new() };
    let identity = describe_identity(request);
    let done = walk(engine, request, &mut steps).await;
    if done && !dry_run {
        match engine.token(request).await {
            Ok(credential) => steps.ok(
                StepName::Exchange,
                format!("got {} from {}", credential.kind(), request.provider),
            ),
            Err(error) => {
                let cause = cause(request, &error);
                steps.failed(StepName::Exchange, error.to_string(), cause);
            }
        }
    }
    let why = match (done, dry_run) {
        (true, _) => "dry run: nothing was exchanged",
        (false, _) => "not run: an earlier step failed",
    };
    steps.skip_rest(&ALL, why);
    Explanation {
        provider: request.provider.to_string(),
        identity,
        steps: steps.steps,
    }
}

/// The explanation of a request refused before it started: the policy itself is invalid (a
/// default ServiceAccount while the feature gate is off), which is the identity level failing.
pub fn refused_policy(provider: Provider, error: &Error) -> Explanation {
    let mut steps = Steps { steps: Vec::new() };
    steps.failed(
        StepName::IdentityLevel,
        error.to_string(),
        level_cause(error),
    );
    steps.skip_rest(&ALL, "not run: an earlier step failed");
    Explanation {
        provider: provider.to_string(),
        identity: "the request".into(),
        steps: steps.steps,
    }
}

/// An object of a manifest that asks for no cloud credentials (or cannot be explained alone):
/// no step, and why.
pub fn not_served(object: &str, why: &str) -> Explanation {
    Explanation {
        provider: "-".into(),
        identity: format!("{object}: {why}"),
        steps: Vec::new(),
    }
}

/// What the credential is then used for, in an [`StepName::Access`] step.
#[derive(Clone, Copy, Debug)]
pub enum Access<'a> {
    /// `kubecred check`'s target (`s3://`, `gs://`, `azblob://`, ...).
    Check(&'a str),
    /// A registry login at this host.
    Registry(&'a str),
    /// Credentials for this remote cluster (its cloud resource: an EKS cluster ARN, a GKE
    /// `projects/P/locations/L/clusters/C`, an AKS resource id; or its address).
    Cluster(&'a ClusterRef),
    /// A read of this git repository's refs (HTTPS URL), as `git fetch` begins.
    Git(&'a str),
}

/// [`explain`], then `access` with the credential; a denial names the missing permission and
/// the `kubecred policy` command that writes it.
pub async fn explain_access(
    engine: &Engine,
    request: &Request,
    access: Access<'_>,
    dry_run: bool,
) -> Explanation {
    let mut explanation = explain(engine, request, dry_run).await;
    let step = access_step(engine, request, access, &explanation).await;
    explanation.steps.push(step);
    explanation
}

/// What `access` names, for the step's detail and cause.
fn access_name<'a>(access: Access<'a>) -> &'a str {
    match access {
        Access::Check(name) | Access::Registry(name) | Access::Git(name) => name,
        Access::Cluster(cluster) => cluster_name(cluster),
    }
}

/// A remote cluster as the user named it: its cloud resource, else its address.
fn cluster_name(cluster: &ClusterRef) -> &str {
    cluster
        .cluster
        .as_deref()
        .or(cluster.address.as_deref())
        .unwrap_or("the cluster")
}

/// The access step after `explanation`: `access` run with the credential (skipped when the
/// exchange did not run).
async fn access_step(
    engine: &Engine,
    request: &Request,
    access: Access<'_>,
    explanation: &Explanation,
) -> Step {
    let exchanged = explanation
        .steps
        .iter()
        .any(|s| s.step == StepName::Exchange && s.status == Status::Ok);
    let name = access_name(access);
    if !exchanged {
        return Step {
            step: StepName::Access,
            status: Status::Skipped,
            detail: format!("{name}: not used (no credential)"),
            cause: None,
        };
    }
    let result = match access {
        Access::Check(target) => crate::check::run(engine, target, request).await,
        Access::Git(url) => match url::Url::parse(url) {
            Ok(url) => crate::git::read_refs(engine, &url, request).await,
            Err(_) => Err(Error::invalid(format!("{url:?} is not a URL"))),
        },
        Access::Registry(host) => crate::registry::login(engine, host, request)
            .await
            .map(|login| format!("{host}: logged in as {}", login.username)),
        Access::Cluster(cluster) => crate::cluster::credentials(engine, cluster, request)
            .await
            .map(|c| format!("{name}: a token for {}", c.server)),
    };
    match result {
        Ok(seen) => Step {
            step: StepName::Access,
            status: Status::Ok,
            detail: seen,
            cause: None,
        },
        Err(error) => Step {
            step: StepName::Access,
            status: Status::Failed,
            detail: error.to_string(),
            cause: Some(match access {
                // Git hosts name what is missing in their own terms.
                Access::Git(_) => cause(request, &error),
                _ => access_cause(request.provider, access, &error),
            }),
        },
    }
}

/// A remote cluster described by the kubeconfig ConfigMap `namespace/name` (a Kustomization's
/// `kubeConfig.configMapRef`), as kustomize-controller uses it: the ConfigMap read (a
/// `config-map` step), its provider, `serviceAccountName` (else the controller, or the
/// lockdown's default kubeconfig ServiceAccount) and `audiences` explained as a kubeconfig
/// request, then the cluster's credentials as the access step (a tenant's address is vetted as
/// `cluster credentials` vets it).
pub async fn explain_config_map_cluster(
    engine: &Engine,
    namespace: &str,
    name: &str,
    region: Option<String>,
    dry_run: bool,
) -> Explanation {
    let read = match engine.kubernetes() {
        Ok(kubernetes) => kubernetes.config_map_data(namespace, name).await,
        Err(error) => Err(error),
    };
    let map = match read.and_then(|data| crate::cluster::from_config_map(&data)) {
        Ok(map) => map,
        Err(error) => {
            let mut steps = Steps { steps: Vec::new() };
            let cause = match error.is_not_found() {
                true => format!(
                    "ConfigMap {namespace}/{name} does not exist: the Kustomization's \
                     kubeConfig.configMapRef must name a ConfigMap of its own namespace"
                ),
                false => first_line(&error),
            };
            steps.failed(StepName::ConfigMap, error.to_string(), cause);
            steps.skip_rest(&ALL, "not run: an earlier step failed");
            return Explanation {
                provider: "-".into(),
                identity: format!("ConfigMap {namespace}/{name}"),
                steps: steps.steps,
            };
        }
    };
    let request = Request {
        identity: map
            .service_account_name
            .clone()
            .map_or(Identity::Controller, Identity::ServiceAccount),
        namespace: Some(namespace.to_owned()),
        purpose: crate::identity::Purpose::Kubeconfig,
        audiences: map.audiences.clone().unwrap_or_default(),
        // As kustomize-controller does: an EKS cluster ARN's region when none is given.
        region: region.or_else(|| arn_region(map.cluster.cluster.as_deref()?)),
        ..Request::new(map.provider)
    };
    let shown = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let read = Step {
        step: StepName::ConfigMap,
        status: Status::Ok,
        detail: format!(
            "ConfigMap {namespace}/{name}: provider {}, cluster {}, address {} (the tenant's), \
             serviceAccountName {}",
            map.provider,
            shown(&map.cluster.cluster),
            shown(&map.cluster.address),
            shown(&map.service_account_name),
        ),
        cause: None,
    };
    let mut explanation = explain(engine, &request, dry_run).await;
    explanation.steps.insert(0, read);
    let step = access_step(
        engine,
        &request,
        Access::Cluster(&map.cluster),
        &explanation,
    )
    .await;
    explanation.steps.push(step);
    explanation
}

/// The region field of an ARN (`arn:PARTITION:SERVICE:REGION:...`), when not empty.
fn arn_region(arn: &str) -> Option<String> {
    let mut fields = arn.split(':');
    (fields.next() == Some("arn"))
        .then(|| fields.nth(2))
        .flatten()
        .filter(|region| !region.is_empty())
        .map(str::to_owned)
}

/// Why a check failed: a denial is a missing permission on the target, which `kubecred policy`
/// writes (its `--for` and resource form from the target's scheme).
fn access_cause(provider: Provider, access: Access<'_>, error: &Error) -> String {
    if error.is_not_found() {
        let name = access_name(access);
        return format!(
            "{name} was not found: check its name and where it lives (project, account, region, \
             subscription); some clouds also answer not found for a resource the identity may \
             not see"
        );
    }
    if !error.is_denied() {
        return unreachable_cause(error);
    }
    // AWS names the action it refused ("is not authorized to perform: s3:ListBucket").
    let text = error.to_string();
    let refused = denied_action(&text).filter(|_| provider == Provider::Aws);
    let target = match access {
        Access::Registry(host) => {
            let resource = match provider {
                Provider::Azure => format!("<the ARM resource id of registry {host}>"),
                _ => format!("{host}/<repository>"),
            };
            let lacks = match refused {
                Some(action) => format!("the role lacks {action}: it"),
                None => "the identity".to_owned(),
            };
            return format!(
                "{lacks} may not pull from {host}: kubecred policy --provider {provider} \
                 --for registry --resource {resource} writes the grant"
            );
        }
        Access::Cluster(cluster) => {
            let id = cluster_name(cluster);
            let lacks = match refused {
                Some(action) => format!("the role lacks {action} on"),
                None => "the identity may not read".to_owned(),
            };
            return format!(
                "{lacks} cluster {id}: kubecred policy --provider {provider} --for cluster \
                 --resource {id} writes the grant"
            );
        }
        Access::Check(target) | Access::Git(target) => target,
    };
    let (purpose, resource) = match target.split_once("://") {
        Some(("s3" | "gs" | "azblob", _)) => ("bucket", target.to_owned()),
        Some(("kms", arn)) => ("kms", arn.to_owned()),
        Some(("sqs", arn)) => ("sqs", arn.to_owned()),
        Some(("gcpkms", _) | ("azkv", _)) => ("kms", target.to_owned()),
        Some(("pubsub", _)) => ("pubsub", target.to_owned()),
        Some(("gar", repository)) => ("registry", repository.to_owned()),
        Some(("eventhub", _)) => ("eventhub", target.to_owned()),
        _ => ("?", target.to_owned()),
    };
    let resource = match provider {
        // Azure role assignments are scoped by ARM resource ids.
        Provider::Azure => format!("<the ARM resource id of {resource}>"),
        _ => resource,
    };
    let lacks = match refused {
        Some(action) => format!("the role lacks {action} on"),
        None => "the identity lacks the permission to use".to_owned(),
    };
    format!(
        "{lacks} {target}: kubecred policy --provider {provider} --for {purpose} --resource \
         {resource} writes the grant"
    )
}

fn describe_identity(request: &Request) -> String {
    let namespace = request.namespace.as_deref().unwrap_or("-");
    match &request.identity {
        Identity::ServiceAccount(name) => format!("service account {namespace}/{name}"),
        Identity::Secret(name) => format!("secret {namespace}/{name}"),
        Identity::Controller => "the controller".into(),
        Identity::Node => "the node".into(),
    }
}

/// The steps before the exchange; `false` when one failed.
async fn walk(engine: &Engine, request: &Request, steps: &mut Steps) -> bool {
    let policy = engine.policy();
    let resolved = match policy.resolve(
        &request.identity,
        request.namespace.as_deref(),
        request.purpose,
    ) {
        Ok(resolved) => resolved,
        Err(error) => {
            let cause = level_cause(&error);
            steps.failed(StepName::IdentityLevel, error.to_string(), cause);
            return false;
        }
    };
    let (namespace, name, defaulted) = match resolved {
        Resolved::ServiceAccount {
            namespace,
            name,
            defaulted,
        } => (namespace, name, defaulted),
        Resolved::Controller => {
            steps.ok(
                StepName::IdentityLevel,
                "controller level: the process's own environment (no ServiceAccount or Secret \
                 named, and no default ServiceAccount for this purpose)",
            );
            steps.skip_rest(
                &[StepName::ServiceAccount, StepName::Annotations],
                "controller level reads no ServiceAccount",
            );
            return controller_identity(request, steps);
        }
        Resolved::Node => {
            steps.ok(
                StepName::IdentityLevel,
                "node level: the node's cloud identity",
            );
            return true;
        }
        Resolved::Secret { namespace, name } => {
            steps.ok(
                StepName::IdentityLevel,
                format!("secret level: the keys in Secret {namespace}/{name}"),
            );
            return true;
        }
    };
    let why = match defaulted {
        true => {
            "the object names none and the operator's default ServiceAccount applies \
                 (lockdown)"
        }
        false => "the object names it",
    };
    steps.ok(
        StepName::IdentityLevel,
        format!(
            "object level: impersonate ServiceAccount {namespace}/{name} ({why}; the \
             ObjectLevelWorkloadIdentity feature gate is on)"
        ),
    );
    let Ok(kubernetes) = engine.kubernetes() else {
        steps.failed(
            StepName::ServiceAccount,
            "no Kubernetes client",
            "object level reads the ServiceAccount: give a kubeconfig (--kubeconfig) or run \
             in a cluster",
        );
        return false;
    };
    let account = match kubernetes.service_account(&namespace, &name).await {
        Ok(account) => account,
        Err(error) => {
            let cause = match (defaulted, error.is_not_found()) {
                (true, true) => format!(
                    "the default ServiceAccount {namespace}/{name} does not exist: \
                     {LOCKDOWN_NOT_FOUND}"
                ),
                (false, true) => format!(
                    "ServiceAccount {name} does not exist in namespace {namespace}: create it, \
                     or fix serviceAccountName"
                ),
                _ if error.is_denied() => format!(
                    "kubecred may not read ServiceAccount {namespace}/{name}: grant get on \
                     serviceaccounts and create on serviceaccounts/token (README: RBAC the \
                     caller needs)"
                ),
                _ => unreachable_cause(&error),
            };
            steps.failed(StepName::ServiceAccount, error.to_string(), cause);
            return false;
        }
    };
    steps.ok(
        StepName::ServiceAccount,
        format!("found ServiceAccount {namespace}/{name}"),
    );
    let read = cloud::annotations(request.provider);
    let required = cloud::required_annotations(request.provider);
    let found: Vec<String> = read
        .iter()
        .filter_map(|key| {
            account
                .annotations
                .get(*key)
                .map(|value| format!("{key}={value}"))
        })
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|key| !account.annotations.contains_key(*key))
        .collect();
    let provider_identity = match cloud::identity(request.provider, &account) {
        Ok(identity) => identity,
        Err(error) => {
            let detail = match found.is_empty() {
                true => "no annotation of this provider".to_owned(),
                false => format!("found {}", found.join(", ")),
            };
            let cause = match missing.is_empty() {
                false => format!(
                    "ServiceAccount {namespace}/{name} lacks annotation {}: {}",
                    missing.join(" and "),
                    first_line(&error)
                ),
                true => format!(
                    "an annotation of ServiceAccount {namespace}/{name} is malformed: {}",
                    first_line(&error)
                ),
            };
            steps.failed(StepName::Annotations, detail, cause);
            return false;
        }
    };
    steps.ok(
        StepName::Annotations,
        match found.is_empty() {
            true => "none needed".to_owned(),
            false => format!("found {}", found.join(", ")),
        },
    );
    let audiences = match request.audiences.is_empty() {
        true => match cloud::audiences(engine, request, &account).await {
            Ok(audiences) => audiences,
            Err(error) => {
                let cause = audience_cause(request.provider, &namespace, &name, &error);
                steps.failed(StepName::CloudIdentity, error.to_string(), cause);
                return false;
            }
        },
        false => request.audiences.clone(),
    };
    steps.ok(
        StepName::CloudIdentity,
        format!(
            "a Kubernetes token for audience {} becomes {}",
            audiences.join(", "),
            shown_identity(&provider_identity)
        ),
    );
    let keyed = KeyedServiceAccount {
        provider_identity: &provider_identity,
        namespace: &namespace,
        name: &name,
    };
    let parts = access_token_key_parts(request, &audiences, KeyedIdentity::ServiceAccount(keyed));
    steps.ok(StepName::CacheKey, shown_key(&parts));
    true
}

fn controller_identity(request: &Request, steps: &mut Steps) -> bool {
    match cloud::controller_audiences(request) {
        Ok(audiences) => {
            let detail = match audiences.is_empty() {
                true => "the controller's own credential chain".to_owned(),
                false => format!(
                    "the controller's token for audience {}",
                    audiences.join(", ")
                ),
            };
            steps.ok(StepName::CloudIdentity, detail);
            let parts = access_token_key_parts(request, &audiences, KeyedIdentity::Controller);
            steps.ok(StepName::CacheKey, shown_key(&parts));
            true
        }
        Err(error) => {
            steps.failed(
                StepName::CloudIdentity,
                error.to_string(),
                first_line(&error),
            );
            false
        }
    }
}

/// The key's parts for a person: a proxy's password redacted (the key hashes it; the output must
/// not show it), the CA bundle by its length.
fn shown_key(parts: &[String]) -> String {
    parts
        .iter()
        .map(|part| {
            if let Some(proxy) = part.strip_prefix("proxyURL=") {
                let shown = url::Url::parse(proxy).map_or_else(
                    |_| "<unparsable>".to_owned(),
                    |mut url| {
                        if url.password().is_some() {
                            let _ = url.set_password(Some("REDACTED"));
                        }
                        url.to_string()
                    },
                );
                return format!("proxyURL={shown}");
            }
            if let Some(ca) = part.strip_prefix("caData=") {
                return format!("caData=<{} bytes>", ca.len());
            }
            part.clone()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn shown_identity(identity: &str) -> String {
    match identity.is_empty() {
        true => "the provider's identity for this ServiceAccount".into(),
        false => identity.to_owned(),
    }
}

fn first_line(error: &Error) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Why the identity level is refused.
fn level_cause(error: &Error) -> String {
    let text = error.to_string();
    if text.contains("ObjectLevelWorkloadIdentity") {
        "the ObjectLevelWorkloadIdentity feature gate is off: object-level workload identity \
         (serviceAccountName, or a default ServiceAccount) needs \
         --feature-gates=ObjectLevelWorkloadIdentity=true on the controller"
            .into()
    } else if text.contains("namespace") {
        "the request has no namespace: an object's ServiceAccount or Secret is always in the \
         object's own namespace (--namespace)"
            .into()
    } else {
        text
    }
}

/// GCP's annotation naming the workload identity pool provider; without it the cluster must
/// be GKE, whose audience the metadata server gives.
const GCP_PROVIDER_ANNOTATION: &str = crate::gcp::annotations::WORKLOAD_IDENTITY_PROVIDER;

/// Why the audiences of a ServiceAccount's token could not be learnt. On GCP, a ServiceAccount
/// without the provider annotation federates through GKE, which only the metadata server
/// names: off GKE, the annotation is what is missing.
fn audience_cause(provider: Provider, namespace: &str, name: &str, error: &Error) -> String {
    let text = error.to_string();
    if provider == Provider::Gcp
        && text.contains(&format!("has no {GCP_PROVIDER_ANNOTATION} annotation"))
    {
        let answer = match error.is_transient() {
            true => "did not answer",
            false => "names no GKE cluster",
        };
        return format!(
            "ServiceAccount {namespace}/{name} lacks annotation {GCP_PROVIDER_ANNOTATION}, so \
             kubecred asked the metadata server for this GKE cluster, which {answer}: off GKE, \
             annotate it with the workload identity pool provider \
             (projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER); \
             on GKE, enable Workload Identity on the cluster and its node pool"
        );
    }
    unreachable_cause(error)
}

fn unreachable_cause(error: &Error) -> String {
    match error.is_transient() {
        true => format!(
            "an endpoint did not answer (network, DNS, proxy or a deadline): {}",
            first_line(error)
        ),
        false => first_line(error),
    }
}

/// The likely cause of a failed exchange, in the user's terms, from the cloud's error and what
/// the request says. Each cloud's refusals are matched on their stable codes and texts.
pub(crate) fn cause(request: &Request, error: &Error) -> String {
    let text = error.to_string();
    let subject = match (&request.identity, request.namespace.as_deref()) {
        (Identity::ServiceAccount(name), Some(namespace)) => {
            format!("system:serviceaccount:{namespace}:{name}")
        }
        _ => "the controller's ServiceAccount".to_owned(),
    };
    let has = |part: &str| text.contains(part);
    // Entra's codes are matched whole: AADSTS70021 is a prefix of AADSTS700211 and 700212.
    let aadsts = aadsts_code(&text);
    let entra = |code: u32| aadsts == Some(code);
    let known = match request.provider {
        Provider::Aws if has("No OpenIDConnect provider found") => Some(
            "the cluster's issuer is not registered as an IAM OIDC provider in the role's \
             account (kubecred issuer setup --target aws prints the command)"
                .to_owned(),
        ),
        Provider::Aws if has("Incorrect token audience") => Some(
            "the token's audience is not a client ID of the IAM OIDC provider: it must list \
             sts.amazonaws.com (or the audience you set)"
                .to_owned(),
        ),
        Provider::Aws if has("could not be validated") || has("no key with kid") => Some(
            "AWS cannot verify the token's signature: the issuer's published JWKS lacks the key \
             the cluster signs with (publish it: kubecred issuer publish; check: kubecred \
             issuer verify)"
                .to_owned(),
        ),
        Provider::Aws if has("sts:AssumeRoleWithWebIdentity") => Some(format!(
            "the role's trust policy does not allow subject {subject} (or the role does not \
             exist): its StringEquals <issuer>:sub condition must name it"
        )),
        Provider::Aws if has("is not authorized to perform") => Some(format!(
            "the role lacks a permission: {} (kubecred policy --provider aws writes the policy)",
            denied_action(&text).unwrap_or("see the error")
        )),
        Provider::Azure if entra(700211) => Some(
            "the app has no federated credential for the cluster's issuer: its issuer must be \
             the token's iss exactly (kubecred issuer setup --target azure)"
                .to_owned(),
        ),
        Provider::Azure if entra(700213) || entra(70021) => Some(format!(
            "the app's federated credential does not match subject {subject}: its subject must \
             name this namespace and ServiceAccount exactly"
        )),
        Provider::Azure if entra(700212) => Some(
            "the federated credential's audience is not the token's (api://AzureADTokenExchange)"
                .to_owned(),
        ),
        Provider::Azure if entra(700016) => Some(
            "the client ID names no app in the tenant: check azure.workload.identity/client-id \
             and tenant-id"
                .to_owned(),
        ),
        // 50166 (and its older 90061 and 501661 forms): "Request to External OIDC endpoint
        // failed".
        Provider::Azure if entra(50166) || entra(90061) || entra(501661) => Some(
            "Entra could not fetch the issuer's discovery document or JWKS: the issuer URL must be \
             public (no network rules on its storage) and serve /.well-known/openid-configuration \
             and its jwks_uri (kubecred issuer verify fetches them as Entra does)"
                .to_owned(),
        ),
        Provider::Azure if entra(700027) => Some(
            "Entra cannot verify the token's signature: the issuer's published JWKS lacks the \
             key the cluster signs with"
                .to_owned(),
        ),
        Provider::Azure if has("AuthorizationFailed") || has("AuthorizationPermissionMismatch") => {
            Some(
                "the identity lacks a role assignment on the resource (kubecred policy \
                 --provider azure writes it)"
                    .to_owned(),
            )
        }
        Provider::Azure if has("TF400813") => Some(
            "the service principal is not a user of the Azure DevOps organization: kubecred \
             policy --provider azure --for git writes its entitlement"
                .to_owned(),
        ),
        Provider::Azure if has("TF401019") => Some(
            "the service principal is in no group that reads the repository (Readers) of the \
             Azure DevOps project, or the repository does not exist: kubecred policy --provider \
             azure --for git writes the membership"
                .to_owned(),
        ),
        Provider::Gcp if has("The issuer in ID Token") => Some(
            "the workload identity pool provider (or GKE's identity namespace) does not trust \
             the cluster's issuer: its issuer URI must be the token's iss exactly"
                .to_owned(),
        ),
        Provider::Gcp if has("The audience in ID Token") || (has("audience") && has("invalid_grant")) => Some(
            "the token's audience is not one the pool provider allows (its full resource name, \
             or its allowed audiences)"
                .to_owned(),
        ),
        Provider::Gcp if has("iam.serviceAccounts.getAccessToken") => Some(format!(
            "{subject} may not impersonate the Google service account: grant it \
             roles/iam.workloadIdentityUser on that account, the member naming this namespace \
             and ServiceAccount (principal://iam.googleapis.com/projects/NUMBER/locations/global/\
             workloadIdentityPools/POOL/subject/{subject}; on GKE \
             serviceAccount:PROJECT.svc.id.goog[NAMESPACE/NAME])"
        )),
        Provider::Gcp if has("invalid_target") => Some(
            "the workload identity pool or provider does not exist (check \
             gcp.auth.fluxcd.io/workload-identity-provider)"
                .to_owned(),
        ),
        Provider::Gcp if has("PERMISSION_DENIED") || has("403") => Some(
            "the identity lacks a role on the resource (kubecred policy --provider gcp writes \
             the binding)"
                .to_owned(),
        ),
        _ => None,
    };
    known.unwrap_or_else(|| unreachable_cause(error))
}

/// The first `AADSTS<digits>` code of `text`, whole.
fn aadsts_code(text: &str) -> Option<u32> {
    let rest = text.split("AADSTS").nth(1)?;
    let digits: String = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    digits.parse().ok()
}

/// The action of an AWS "is not authorized to perform: ACTION" text.
fn denied_action(text: &str) -> Option<&str> {
    let rest = text.split("is not authorized to perform: ").nth(1)?;
    rest.split([' ', ',', '(']).next()
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
