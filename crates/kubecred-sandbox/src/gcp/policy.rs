//! Loading a GCP policy (the JSON object `kubecred policy --provider gcp --output json` writes)
//! into the stand-ins' configuration, so that they enforce exactly what it grants:
//!
//! - `gcp_workload_identity_pool_provider {projectNumber, pool, provider, issuerUri,
//!   attributeMapping, allowedAudiences?}`: an OIDC provider of that pool, trusting the issuer
//!   (its documents fetched as the [`DiscoveryOptions`] say, before each exchange);
//! - `gcp_iam_member {resource, role, member}` on `projects/P/serviceAccounts/EMAIL` (`P` may
//!   be `-`): a [`Binding`] of that service account (IAM Credentials enforces
//!   `roles/iam.workloadIdentityUser`);
//! - `gcp_iam_member` on any other resource: a [`ResourceBinding`] on what the stand-ins check,
//!   `projects/_/buckets/B` → `gs://B`, `projects/P/locations/L/keyRings/R/cryptoKeys/K` →
//!   `gcpkms://projects/P/…/cryptoKeys/K`, `projects/P/topics/T` → `pubsub://projects/P/topics/T`,
//!   `projects/P` → `projects/P` (`clusters.get`), and
//!   `projects/P/locations/L/repositories/R` → `gar://L-docker.pkg.dev/P/R` (Artifact
//!   Registry's `testIamPermissions`).
//!
//! The sandbox does not depend on kubecred: the shape is read here, strictly. Unknown kinds,
//! fields and resources are errors naming them.

use serde_json::{Map, Value};

use super::config::{Binding, GcpConfig, GcpServiceAccount, OidcProvider, WorkloadIdentityPool};
use super::grants::ResourceBinding;
use crate::verify::{DiscoveryOptions, JwtVerifier};

const POOL_PROVIDER: &str = "gcp_workload_identity_pool_provider";
const IAM_MEMBER: &str = "gcp_iam_member";
use crate::policy_fields::TOP_LEVEL;
/// The one attribute mapping the STS stand-in implements.
const SUBJECT_MAPPING: (&str, &str) = ("google.subject", "assertion.sub");

/// Why a policy cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("GCP policy: {0}")]
pub struct PolicyError(String);

fn error(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

/// A workload identity pool provider a policy creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyProvider {
    /// The project number the pool belongs to.
    pub project_number: String,
    /// The pool id.
    pub pool: String,
    /// The provider id.
    pub provider: String,
    /// The issuer it trusts.
    pub issuer_uri: String,
    /// Its allowed audiences (empty: Google's default).
    pub allowed_audiences: Vec<String>,
}

/// What a GCP policy gives the stand-ins, read from its JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcpPolicy {
    /// Pool providers, in the order given.
    pub providers: Vec<PolicyProvider>,
    /// Bindings on service accounts: the email and the binding.
    pub service_account_bindings: Vec<(String, Binding)>,
    /// Bindings on the checked resources, named as the stand-ins check them.
    pub resource_bindings: Vec<ResourceBinding>,
}

impl GcpPolicy {
    /// Reads a policy object (`provider` `gcp`): its `trust` and `permissions` documents.
    pub fn parse(policy: &Value) -> Result<GcpPolicy, PolicyError> {
        let object = policy
            .as_object()
            .ok_or_else(|| error("the policy is not a JSON object"))?;
        if let Some(unknown) = object.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
            return Err(error(format!("unknown field '{unknown}' in the policy")));
        }
        match object.get("provider").and_then(Value::as_str) {
            Some("gcp") => {}
            other => {
                return Err(error(format!(
                    "provider is {other:?}, not \"gcp\": load it into that cloud's stand-ins"
                )));
            }
        }
        let mut loaded = GcpPolicy::default();
        for list in ["trust", "permissions"] {
            let documents = match object.get(list) {
                None => continue,
                Some(Value::Array(documents)) => documents,
                Some(_) => return Err(error(format!("'{list}' is not a list of documents"))),
            };
            for (index, document) in documents.iter().enumerate() {
                let at = format!("{list}[{index}]");
                loaded
                    .add(document)
                    .map_err(|PolicyError(why)| error(format!("{at}: {why}")))?;
            }
        }
        Ok(loaded)
    }

    fn add(&mut self, document: &Value) -> Result<(), PolicyError> {
        let fields = document
            .as_object()
            .ok_or_else(|| error("a document is not a JSON object"))?;
        let kind = string(fields, "kind")?;
        match kind {
            POOL_PROVIDER => {
                only(
                    fields,
                    &[
                        "kind",
                        "projectNumber",
                        "pool",
                        "provider",
                        "issuerUri",
                        "attributeMapping",
                        "allowedAudiences",
                    ],
                    kind,
                )?;
                let mapping = fields
                    .get("attributeMapping")
                    .and_then(Value::as_object)
                    .ok_or_else(|| error("attributeMapping is missing or not an object"))?;
                let expected = mapping.len() == 1
                    && mapping.get(SUBJECT_MAPPING.0).and_then(Value::as_str)
                        == Some(SUBJECT_MAPPING.1);
                if !expected {
                    return Err(error(format!(
                        "attributeMapping {} is not supported: the STS stand-in maps {} = {} only",
                        Value::Object(mapping.clone()),
                        SUBJECT_MAPPING.0,
                        SUBJECT_MAPPING.1
                    )));
                }
                let allowed_audiences = match fields.get("allowedAudiences") {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|a| {
                            a.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| error("allowedAudiences holds a non-string"))
                        })
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err(error("allowedAudiences is not a list")),
                };
                self.providers.push(PolicyProvider {
                    project_number: string(fields, "projectNumber")?.to_owned(),
                    pool: string(fields, "pool")?.to_owned(),
                    provider: string(fields, "provider")?.to_owned(),
                    issuer_uri: string(fields, "issuerUri")?.to_owned(),
                    allowed_audiences,
                });
            }
            IAM_MEMBER => {
                only(fields, &["kind", "resource", "role", "member"], kind)?;
                let resource = string(fields, "resource")?;
                let role = string(fields, "role")?.to_owned();
                let member = string(fields, "member")?.to_owned();
                match checked(resource)? {
                    Checked::ServiceAccount(email) => self
                        .service_account_bindings
                        .push((email, Binding { role, member })),
                    Checked::Resource(resource) => {
                        self.resource_bindings.push(ResourceBinding {
                            resource,
                            role,
                            member,
                        });
                    }
                }
            }
            other => return Err(error(format!("unknown document kind '{other}'"))),
        }
        Ok(())
    }

    /// Adds the policy to `config`: each provider to its pool (created if new; a provider of the
    /// same id replaced), trusting its issuer as `discovery` says; each service-account binding
    /// to its account (created if new); each resource binding. Turns on
    /// [`GcpConfig::enforce_project_bindings`]. A provider of another project is an error.
    pub fn apply(
        &self,
        config: &mut GcpConfig,
        discovery: &DiscoveryOptions,
    ) -> Result<(), PolicyError> {
        for p in &self.providers {
            if p.project_number != config.project_number {
                return Err(error(format!(
                    "pool provider {}/{} is in project number {}, the stand-ins play {}",
                    p.pool, p.provider, p.project_number, config.project_number
                )));
            }
            let verifier = JwtVerifier::trusting(&p.issuer_uri, discovery)
                .map_err(|e| error(format!("issuer {}: {e}", p.issuer_uri)))?;
            let provider = OidcProvider {
                id: p.provider.clone(),
                verifier,
                allowed_audiences: p.allowed_audiences.clone(),
            };
            let pool = match config.pools.iter().position(|pool| pool.id == p.pool) {
                Some(index) => &mut config.pools[index],
                None => {
                    config.pools.push(WorkloadIdentityPool {
                        id: p.pool.clone(),
                        providers: Vec::new(),
                    });
                    let last = config.pools.len() - 1;
                    &mut config.pools[last]
                }
            };
            pool.providers.retain(|existing| existing.id != provider.id);
            pool.providers.push(provider);
        }
        for (email, binding) in &self.service_account_bindings {
            match config
                .service_accounts
                .iter_mut()
                .find(|a| &a.email == email)
            {
                Some(account) => account.bindings.push(binding.clone()),
                None => config.service_accounts.push(GcpServiceAccount {
                    email: email.clone(),
                    bindings: vec![binding.clone()],
                }),
            }
        }
        config
            .resource_bindings
            .extend(self.resource_bindings.iter().cloned());
        config.enforce_project_bindings = true;
        Ok(())
    }
}

/// Reads `policy` and adds it to `config` ([`GcpPolicy::parse`], [`GcpPolicy::apply`]).
pub fn load_policy(
    config: &mut GcpConfig,
    policy: &Value,
    discovery: &DiscoveryOptions,
) -> Result<(), PolicyError> {
    GcpPolicy::parse(policy)?.apply(config, discovery)
}

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, PolicyError> {
    match fields.get(name) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text),
        Some(_) => Err(error(format!("'{name}' is not a non-empty string"))),
        None => Err(error(format!("'{name}' is missing"))),
    }
}

/// Every field of `fields` is one of `known`.
fn only(fields: &Map<String, Value>, known: &[&str], kind: &str) -> Result<(), PolicyError> {
    match fields.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(error(format!("unknown field '{unknown}' in a {kind}"))),
        None => Ok(()),
    }
}

/// What a binding's resource is to the stand-ins.
#[derive(Debug, PartialEq, Eq)]
enum Checked {
    ServiceAccount(String),
    Resource(String),
}

/// The resource as the stand-ins name it; each id a plain path segment.
fn checked(resource: &str) -> Result<Checked, PolicyError> {
    let parts: Vec<&str> = resource.split('/').collect();
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"?#%\\".contains(&b))
    };
    if !parts.iter().all(|p| plain(p)) {
        return Err(error(format!(
            "resource '{}' is not a resource name",
            resource.escape_default()
        )));
    }
    let named = match parts[..] {
        ["projects", _, "serviceAccounts", email] if email.contains('@') => {
            return Ok(Checked::ServiceAccount(email.to_owned()));
        }
        ["projects", "_", "buckets", bucket] => format!("gs://{bucket}"),
        [
            "projects",
            _,
            "locations",
            _,
            "keyRings",
            _,
            "cryptoKeys",
            _,
        ] => format!("gcpkms://{resource}"),
        ["projects", _, "topics", _] => format!("pubsub://{resource}"),
        [
            "projects",
            project,
            "locations",
            location,
            "repositories",
            repository,
        ] => {
            format!("gar://{location}-docker.pkg.dev/{project}/{repository}")
        }
        ["projects", project] if project != "_" && project != "-" => resource.to_owned(),
        _ => {
            return Err(error(format!(
                "unknown resource '{resource}': expected a service account, bucket, KMS key, \
                 topic, Artifact Registry repository or project"
            )));
        }
    };
    Ok(Checked::Resource(named))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcp::grants::{KMS_DECRYPTER, STORAGE_OBJECT_VIEWER};
    use serde_json::json;

    const PRINCIPAL: &str = "principal://iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool-a/subject/system:serviceaccount:ns:app";
    const SA: &str = "app@proj.iam.gserviceaccount.com";

    fn policy(trust: Value, permissions: Value) -> Value {
        json!({
            "provider": "gcp", "for": "bucket", "resource": "gs://b-1", "serviceAccount": "ns/app",
            "identity": {"principal": PRINCIPAL, "serviceAccount": SA},
            "trust": trust, "permissions": permissions,
            "annotations": {}, "commands": [], "notes": [],
        })
    }

    fn provider_document() -> Value {
        json!({
            "kind": POOL_PROVIDER, "projectNumber": "42", "pool": "pool-a", "provider": "prov-a",
            "issuerUri": "https://issuer.example", "attributeMapping": {"google.subject": "assertion.sub"},
            "allowedAudiences": ["//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool-a/providers/prov-a"],
        })
    }

    fn member(resource: &str, role: &str, member: &str) -> Value {
        json!({"kind": IAM_MEMBER, "resource": resource, "role": role, "member": member})
    }

    #[test]
    fn documents_become_providers_and_bindings_on_what_the_stand_ins_check() {
        let sa_member = format!("serviceAccount:{SA}");
        let loaded = GcpPolicy::parse(&policy(
            json!([
                provider_document(),
                member(
                    &format!("projects/-/serviceAccounts/{SA}"),
                    "roles/iam.workloadIdentityUser",
                    PRINCIPAL
                ),
            ]),
            json!([
                member("projects/_/buckets/b-1", STORAGE_OBJECT_VIEWER, &sa_member),
                member(
                    "projects/p/locations/l/keyRings/r/cryptoKeys/k",
                    KMS_DECRYPTER,
                    &sa_member
                ),
                member("projects/p/topics/t", "roles/pubsub.publisher", &sa_member),
                member(
                    "projects/p/locations/europe-west1/repositories/r",
                    "roles/artifactregistry.reader",
                    &sa_member
                ),
                member("projects/p", "roles/container.clusterViewer", &sa_member),
            ]),
        ));
        let loaded = loaded.expect("loads");
        assert_eq!(
            loaded.providers,
            [PolicyProvider {
                project_number: "42".into(),
                pool: "pool-a".into(),
                provider: "prov-a".into(),
                issuer_uri: "https://issuer.example".into(),
                allowed_audiences: vec!["//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/pool-a/providers/prov-a".into()],
            }]
        );
        assert_eq!(
            loaded.service_account_bindings,
            [(SA.to_owned(), Binding::workload_identity_user(PRINCIPAL))]
        );
        let resources: Vec<&str> = loaded
            .resource_bindings
            .iter()
            .map(|b| b.resource.as_str())
            .collect();
        assert_eq!(
            resources,
            [
                "gs://b-1",
                "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
                "pubsub://projects/p/topics/t",
                "gar://europe-west1-docker.pkg.dev/p/r",
                "projects/p",
            ]
        );
        assert!(
            loaded
                .resource_bindings
                .iter()
                .all(|b| b.member == sa_member)
        );

        let mut config = GcpConfig {
            project_number: "42".into(),
            ..GcpConfig::default()
        };
        loaded
            .apply(&mut config, &DiscoveryOptions::default())
            .expect("applies");
        loaded
            .apply(&mut config, &DiscoveryOptions::default())
            .expect("applies twice");
        assert_eq!(config.pools.len(), 1);
        assert_eq!(config.pools[0].providers.len(), 1, "a provider is replaced");
        assert_eq!(
            config.pools[0].providers[0].verifier.issuer(),
            "https://issuer.example"
        );
        assert_eq!(config.service_accounts.len(), 1);
        assert_eq!(config.service_accounts[0].bindings.len(), 2);
        assert_eq!(config.resource_bindings.len(), 10);
        assert!(config.enforce_project_bindings);

        config.project_number = "43".into();
        let other = loaded.apply(&mut config, &DiscoveryOptions::default());
        assert!(
            other.is_err_and(|e| e.to_string().contains("project number 42")),
            "another project"
        );
    }

    #[test]
    fn unknown_kinds_fields_and_resources_are_named() {
        let refused = |policy: Value| {
            GcpPolicy::parse(&policy)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let mut extra = provider_document();
        extra["thumbprint"] = json!("x");
        let mut mapping = provider_document();
        mapping["attributeMapping"] = json!({"google.subject": "assertion.email"});
        let mut top = policy(json!([]), json!([]));
        top["terraform"] = json!({});
        let mut azure = policy(json!([]), json!([]));
        azure["provider"] = json!("azure");
        let mut missing = provider_document();
        missing
            .as_object_mut()
            .map(|o| o.remove("issuerUri"))
            .expect("an object");
        for (policy, expected) in [
            (
                policy(
                    json!([{"kind": "aws_iam_role", "roleName": "r"}]),
                    json!([]),
                ),
                "trust[0]: unknown document kind 'aws_iam_role'",
            ),
            (
                policy(json!([]), json!([extra])),
                "permissions[0]: unknown field 'thumbprint' in a gcp_workload_identity_pool_provider",
            ),
            (
                policy(json!([mapping]), json!([])),
                "attributeMapping {\"google.subject\":\"assertion.email\"} is not supported",
            ),
            (
                policy(json!([missing]), json!([])),
                "'issuerUri' is missing",
            ),
            (
                policy(
                    json!([]),
                    json!([{"kind": IAM_MEMBER, "resource": "projects/p", "role": "r", "member": "m", "condition": {}}]),
                ),
                "unknown field 'condition' in a gcp_iam_member",
            ),
            (
                policy(json!([]), json!([member("organizations/1", "r", "m")])),
                "unknown resource 'organizations/1'",
            ),
            (
                policy(
                    json!([]),
                    json!([member("projects/_/buckets/../x", "r", "m")]),
                ),
                "is not a resource name",
            ),
            (
                policy(
                    json!([]),
                    json!([member("projects/p/topics/t\n", "r", "m")]),
                ),
                "is not a resource name",
            ),
            (
                policy(json!([]), json!([member("projects/p/topics/t", "", "m")])),
                "'role' is not a non-empty string",
            ),
            (top, "unknown field 'terraform' in the policy"),
            (azure, "provider is Some(\"azure\")"),
            (json!([]), "not a JSON object"),
        ] {
            let message = refused(policy);
            assert!(message.contains(expected), "{message}");
        }
    }
}
