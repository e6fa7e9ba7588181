//! GCP's side of `kubecred policy`: the principal a ServiceAccount is at Google (GKE's identity
//! namespace `<project>.svc.id.goog`, or a workload identity pool provider trusting the cluster's
//! issuer, written by `issuer setup`), `roles/iam.workloadIdentityUser` on the Google service
//! account it impersonates (if any), and one role binding on exactly the resource named:
//!
//! | `--for`    | resource given                                   | binding on                                       | role                               |
//! |------------|--------------------------------------------------|--------------------------------------------------|------------------------------------|
//! | `registry` | `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`     | `projects/P/locations/L/repositories/R`          | `roles/artifactregistry.reader`    |
//! | `bucket`   | `gs://BUCKET`                                    | `projects/_/buckets/B`                           | `roles/storage.objectViewer`       |
//! | `kms`      | `[gcpkms://]projects/P/locations/L/keyRings/R/cryptoKeys/K` | the key                               | `roles/cloudkms.cryptoKeyDecrypter`|
//! | `cluster`  | `projects/P/locations/L/clusters/C`              | `projects/P` (GKE has no narrower scope)         | `roles/container.clusterViewer`    |
//! | `pubsub`   | `[pubsub://]projects/P/topics/T`                 | the topic                                        | `roles/pubsub.publisher`           |
//!
//! The resources are parsed by the parsers kubecred itself uses for them (`gcp::hosts`,
//! `gcp::check_targets`, whose Artifact Registry repository id rule the `gar://` check uses
//! too, `gcp::cluster`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    CloudOptions, Document, GcpFederation, Policy, PolicyRequest, Purpose, command, document,
    service_account_ref, shown, unsupported,
};
use crate::error::{Error, Result};
use crate::gcp::check_targets::{self, CheckTarget, KMS_SCHEME, PUBSUB_SCHEME};
use crate::gcp::cluster::{self, PROJECT_ID_RULE};
use crate::gcp::hosts::{self, GcpRegistry};
use crate::gcp::{annotations, parse};
use crate::issuer::setup::{self, SetupTarget, check_gcp_project_number};

/// The kind of a role binding (trust on a service account, or a permission on a resource).
pub(crate) const IAM_MEMBER: &str = "gcp_iam_member";
/// The kind of a workload identity pool provider.
pub(crate) const POOL_PROVIDER: &str = "gcp_workload_identity_pool_provider";
/// Lets a principal impersonate a service account.
pub(crate) const WORKLOAD_IDENTITY_USER: &str = "roles/iam.workloadIdentityUser";
/// Pulls from an Artifact Registry repository.
pub(crate) const ARTIFACT_REGISTRY_READER: &str = "roles/artifactregistry.reader";
/// Lists and reads a bucket's objects.
pub(crate) const STORAGE_OBJECT_VIEWER: &str = "roles/storage.objectViewer";
/// Decrypts with a key.
pub(crate) const KMS_DECRYPTER: &str = "roles/cloudkms.cryptoKeyDecrypter";
/// Gets a project's GKE clusters (`container.clusters.get`).
pub(crate) const CLUSTER_VIEWER: &str = "roles/container.clusterViewer";
/// Publishes to a topic.
pub(crate) const PUBSUB_PUBLISHER: &str = "roles/pubsub.publisher";

/// Terraform's name of every resource written (one of each type).
const TF_NAME: &str = "kubecred";

const REGISTRY_FORM: &str = "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY";

/// A resource of a purpose, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// An Artifact Registry repository.
    Repository {
        project: String,
        location: String,
        repository: String,
    },
    /// A Cloud Storage bucket.
    Bucket { bucket: String },
    /// A Cloud KMS key.
    CryptoKey {
        project: String,
        location: String,
        key_ring: String,
        key: String,
    },
    /// The project of a GKE cluster.
    Project { project: String },
    /// A Pub/Sub topic.
    Topic { project: String, topic: String },
}

impl Resource {
    /// Parses `text` as `purpose`'s resource (the purposes GCP serves).
    pub(crate) fn parse(purpose: Purpose, text: &str) -> Result<Resource> {
        match purpose {
            Purpose::Registry => repository(text),
            Purpose::Bucket => match target("bucket", text, "")? {
                CheckTarget::Bucket(bucket) => Ok(Resource::Bucket { bucket }),
                _ => Err(expected("bucket", text, "gs://BUCKET")),
            },
            Purpose::Kms => match target("KMS key", text, KMS_SCHEME)? {
                CheckTarget::CryptoKey(name) => match name.split('/').collect::<Vec<_>>()[..] {
                    [_, project, _, location, _, key_ring, _, key] => Ok(Resource::CryptoKey {
                        project: project.into(),
                        location: location.into(),
                        key_ring: key_ring.into(),
                        key: key.into(),
                    }),
                    _ => Err(expected("KMS key", text, KMS_FORM)),
                },
                _ => Err(expected("KMS key", text, KMS_FORM)),
            },
            Purpose::Cluster => cluster::gke_cluster_id(text).map(|c| Resource::Project {
                project: c.project().to_owned(),
            }),
            Purpose::Pubsub => match target("Pub/Sub topic", text, PUBSUB_SCHEME)? {
                CheckTarget::Topic(name) => match name.split('/').collect::<Vec<_>>()[..] {
                    [_, project, _, topic] => Ok(Resource::Topic {
                        project: project.into(),
                        topic: topic.into(),
                    }),
                    _ => Err(expected("Pub/Sub topic", text, TOPIC_FORM)),
                },
                _ => Err(expected("Pub/Sub topic", text, TOPIC_FORM)),
            },
            Purpose::Eventhub | Purpose::Git | Purpose::Sqs => {
                Err(unsupported("gcp", purpose, "see kubecred policy --help"))
            }
        }
    }

    /// The IAM resource name the binding is on.
    pub(crate) fn name(&self) -> String {
        match self {
            Resource::Repository {
                project,
                location,
                repository,
            } => format!("projects/{project}/locations/{location}/repositories/{repository}"),
            Resource::Bucket { bucket } => format!("projects/_/buckets/{bucket}"),
            Resource::CryptoKey {
                project,
                location,
                key_ring,
                key,
            } => format!(
                "projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys/{key}"
            ),
            Resource::Project { project } => format!("projects/{project}"),
            Resource::Topic { project, topic } => format!("projects/{project}/topics/{topic}"),
        }
    }

    /// The least role kubecred's (and Flux's) calls need on it.
    pub(crate) fn role(&self) -> &'static str {
        match self {
            Resource::Repository { .. } => ARTIFACT_REGISTRY_READER,
            Resource::Bucket { .. } => STORAGE_OBJECT_VIEWER,
            Resource::CryptoKey { .. } => KMS_DECRYPTER,
            Resource::Project { .. } => CLUSTER_VIEWER,
            Resource::Topic { .. } => PUBSUB_PUBLISHER,
        }
    }

    /// `gcloud … add-iam-policy-binding` granting the role to `member`.
    fn command(&self, member: &str) -> Result<String> {
        let role = self.role();
        let tail = ["--member", member, "--role", role];
        match self {
            Resource::Repository {
                project,
                location,
                repository,
            } => {
                let head = [
                    "gcloud",
                    "artifacts",
                    "repositories",
                    "add-iam-policy-binding",
                ];
                let place = [repository, "--project", project, "--location", location];
                command(&[&head[..], &place[..], &tail[..]].concat())
            }
            Resource::Bucket { bucket } => {
                let url = format!("gs://{bucket}");
                let head = [
                    "gcloud",
                    "storage",
                    "buckets",
                    "add-iam-policy-binding",
                    &url,
                ];
                command(&[&head[..], &tail[..]].concat())
            }
            Resource::CryptoKey {
                project,
                location,
                key_ring,
                key,
            } => {
                let head = ["gcloud", "kms", "keys", "add-iam-policy-binding", key];
                let place = [
                    "--keyring",
                    key_ring,
                    "--location",
                    location,
                    "--project",
                    project,
                ];
                command(&[&head[..], &place[..], &tail[..]].concat())
            }
            Resource::Project { project } => {
                let head = ["gcloud", "projects", "add-iam-policy-binding", project];
                command(&[&head[..], &tail[..]].concat())
            }
            Resource::Topic { project, topic } => {
                let head = [
                    "gcloud",
                    "pubsub",
                    "topics",
                    "add-iam-policy-binding",
                    topic,
                ];
                command(&[&head[..], &["--project", project][..], &tail[..]].concat())
            }
        }
    }

    /// The Terraform resource type and body granting the role to `member`.
    fn terraform(&self, member: &str) -> (&'static str, Value) {
        let role = self.role();
        match self {
            Resource::Repository {
                project,
                location,
                repository,
            } => (
                "google_artifact_registry_repository_iam_member",
                json!({"project": project, "location": location, "repository": repository, "role": role, "member": member}),
            ),
            Resource::Bucket { bucket } => (
                "google_storage_bucket_iam_member",
                json!({"bucket": bucket, "role": role, "member": member}),
            ),
            Resource::CryptoKey { .. } => (
                "google_kms_crypto_key_iam_member",
                json!({"crypto_key_id": self.name(), "role": role, "member": member}),
            ),
            Resource::Project { project } => (
                "google_project_iam_member",
                json!({"project": project, "role": role, "member": member}),
            ),
            Resource::Topic { project, topic } => (
                "google_pubsub_topic_iam_member",
                json!({"project": project, "topic": topic, "role": role, "member": member}),
            ),
        }
    }
}

const KMS_FORM: &str = "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K";
const TOPIC_FORM: &str = "pubsub://projects/P/topics/T";

fn expected(field: &str, text: &str, form: &str) -> Error {
    Error::invalid(format!(
        "{field} {} is not valid: expected {form}",
        shown(text)
    ))
}

/// `text` as a check target of kubecred's own parser, with `scheme` added when it has none.
fn target(field: &str, text: &str, scheme: &str) -> Result<CheckTarget> {
    let with_scheme = match scheme.is_empty() || text.starts_with(scheme) {
        true => text.to_owned(),
        false => format!("{scheme}{text}"),
    };
    check_targets::parse(&with_scheme).map_err(|e| Error::invalid(format!("{field}: {e}")))
}

/// `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`, the host by kubecred's registry host rules.
fn repository(text: &str) -> Result<Resource> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "registry repository {} is not valid: {why}; expected {REGISTRY_FORM}",
            shown(text)
        ))
    };
    let [host, project, repository] = text.split('/').collect::<Vec<_>>()[..] else {
        return Err(invalid(
            "not a host, a project and a repository separated by '/'",
        ));
    };
    let location = match hosts::registry(host) {
        Ok(GcpRegistry::ArtifactRegistry { location }) => location,
        Ok(_) => {
            return Err(invalid(
                "Container Registry and S3NS hosts are not Artifact Registry repositories: name the repository's LOCATION-docker.pkg.dev",
            ));
        }
        Err(_) => return Err(invalid("the host is not LOCATION-docker.pkg.dev")),
    };
    if !cluster::is_project_id(project) {
        return Err(invalid(PROJECT_ID_RULE));
    }
    if !check_targets::is_repository_id(repository) {
        return Err(invalid(check_targets::REPOSITORY_RULE));
    }
    Ok(Resource::Repository {
        project: project.into(),
        location,
        repository: repository.into(),
    })
}

/// Who the ServiceAccount is at Google, and what lets it be: the principal, the trust
/// documents, and their commands, Terraform, annotations and notes.
#[derive(Default)]
struct Parts {
    trust: Vec<Document>,
    commands: Vec<String>,
    terraform: Vec<(&'static str, Value)>,
    annotations: BTreeMap<String, String>,
    notes: Vec<String>,
}

pub(super) fn policy(request: &PolicyRequest) -> Result<Policy> {
    let CloudOptions::Gcp {
        project_number,
        federation,
        service_account,
    } = &request.cloud
    else {
        return Err(Error::invalid("not a GCP request"));
    };
    let purpose = request.purpose;
    match purpose {
        Purpose::Git => {
            return Err(unsupported(
                "gcp",
                purpose,
                "git with a cloud identity is AWS CodeCommit (--provider aws) or Azure DevOps (--provider azure)",
            ));
        }
        Purpose::Eventhub => {
            return Err(unsupported(
                "gcp",
                purpose,
                "Event Hubs are Azure's (--provider azure); GCP's counterpart is --for pubsub",
            ));
        }
        Purpose::Sqs => {
            return Err(unsupported(
                "gcp",
                purpose,
                "SQS is AWS's (--provider aws); GCP's counterpart is --for pubsub",
            ));
        }
        _ => {}
    }
    let resource = Resource::parse(purpose, &request.resource)?;
    let (namespace, name) = service_account_ref(&request.service_account)?;
    check_gcp_project_number(project_number)?;
    let email = service_account
        .as_deref()
        .map(parse::service_account_email)
        .transpose()?;
    let mut parts = Parts::default();
    let principal = match federation {
        GcpFederation::Gke { project_id } => {
            let pool = cluster::gke_workload_pool(project_id)?;
            parts.notes.push(format!(
                "GKE: Workload Identity Federation for GKE on the cluster (workload pool {pool}) \
                 and its node pools; no other trust is needed. The principal names project \
                 number {project_number}: that of {project_id} (gcloud projects describe \
                 {project_id} --format='value(projectNumber)')"
            ));
            format!(
                "principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool}/subject/ns/{namespace}/sa/{name}"
            )
        }
        GcpFederation::Pool { pool, provider } => {
            pool_trust(request, project_number, pool, provider, &mut parts)?
        }
    };
    let member = match &email {
        Some(email) => {
            impersonation(email, &principal, &mut parts)?;
            format!("serviceAccount:{}", email.as_str())
        }
        None => principal.clone(),
    };
    let permission = document(
        IAM_MEMBER,
        json!({"resource": resource.name(), "role": resource.role(), "member": member}),
    );
    parts.commands.push(resource.command(&member)?);
    parts.terraform.push(resource.terraform(&member));
    parts.notes.extend(resource_notes(&resource, &member));
    let mut identity = json!({ "principal": principal });
    if let Some(email) = &email {
        identity["serviceAccount"] = Value::String(email.as_str().to_owned());
    }
    Ok(Policy {
        provider: "gcp",
        purpose,
        resource: request.resource.clone(),
        service_account: request.service_account.clone(),
        identity,
        trust: parts.trust,
        permissions: vec![permission],
        annotations: parts.annotations,
        commands: parts.commands,
        terraform: terraform(parts.terraform),
        notes: parts.notes,
    })
}

/// The pool provider trusting the issuer (`issuer setup`'s document), its commands, Terraform,
/// annotation and notes; returns the principal.
fn pool_trust(
    request: &PolicyRequest,
    project_number: &str,
    pool: &str,
    provider: &str,
    parts: &mut Parts,
) -> Result<String> {
    let issuer = request.issuer.as_deref().ok_or_else(|| {
        Error::invalid(
            "issuer is required for a workload identity pool provider: the iss of the \
             cluster's ServiceAccount tokens (kubecred issuer show)",
        )
    })?;
    let target = SetupTarget::Gcp {
        project_number: project_number.to_owned(),
        pool: pool.to_owned(),
        provider: provider.to_owned(),
    };
    let setup = setup::setup(issuer, &request.service_account, &target)?;
    let provider_document = setup
        .documents
        .get("workload_identity_pool_provider")
        .cloned()
        .unwrap_or_default();
    let principal = setup
        .documents
        .get("principal")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let oidc = &provider_document["oidc"];
    let attribute_mapping = provider_document["attributeMapping"].clone();
    let allowed_audiences = oidc["allowedAudiences"].clone();
    parts.trust.push(document(
        POOL_PROVIDER,
        json!({
            "projectNumber": project_number,
            "pool": pool,
            "provider": provider,
            "issuerUri": oidc["issuerUri"],
            "attributeMapping": attribute_mapping,
            "allowedAudiences": allowed_audiences,
        }),
    ));
    parts.commands.extend(setup.commands);
    parts.terraform.push((
        "google_iam_workload_identity_pool",
        json!({"project": project_number, "workload_identity_pool_id": pool}),
    ));
    parts.terraform.push((
        "google_iam_workload_identity_pool_provider",
        json!({
            "project": project_number,
            "workload_identity_pool_id": pool,
            "workload_identity_pool_provider_id": provider,
            "attribute_mapping": attribute_mapping,
            "oidc": {"issuer_uri": oidc["issuerUri"], "allowed_audiences": allowed_audiences},
        }),
    ));
    for (key, value) in setup.service_account_annotations {
        parts.annotations.insert(key.to_owned(), value);
    }
    parts.notes.push(
        "skip the pool's creation if it exists (in Terraform: drop \
         google_iam_workload_identity_pool, or import it)"
            .into(),
    );
    parts.notes.extend(setup.notes.into_iter().skip(2));
    Ok(principal)
}

/// `roles/iam.workloadIdentityUser` on `email` for `principal`, and the annotation.
fn impersonation(
    email: &parse::ServiceAccountEmail,
    principal: &str,
    parts: &mut Parts,
) -> Result<()> {
    let email = email.as_str();
    parts.trust.push(document(
        IAM_MEMBER,
        json!({
            "resource": format!("projects/-/serviceAccounts/{email}"),
            "role": WORKLOAD_IDENTITY_USER,
            "member": principal,
        }),
    ));
    parts.commands.push(command(&[
        "gcloud",
        "iam",
        "service-accounts",
        "add-iam-policy-binding",
        email,
        "--member",
        principal,
        "--role",
        WORKLOAD_IDENTITY_USER,
    ])?);
    // The email's project: `<name>@<project>.iam.gserviceaccount.com` (checked).
    let project = email
        .split_once('@')
        .and_then(|(_, domain)| domain.split_once('.'))
        .map_or("-", |(project, _)| project);
    parts.terraform.push((
        "google_service_account_iam_member",
        json!({
            "service_account_id": format!("projects/{project}/serviceAccounts/{email}"),
            "role": WORKLOAD_IDENTITY_USER,
            "member": principal,
        }),
    ));
    parts
        .annotations
        .insert(annotations::SERVICE_ACCOUNT.to_owned(), email.to_owned());
    parts.notes.push(format!(
        "the role on the resource goes to {email}, which the principal may impersonate \
         (roles/iam.workloadIdentityUser on that service account only); without a service \
         account the principal is granted the role itself"
    ));
    Ok(())
}

/// What to know about the grant on `resource`.
fn resource_notes(resource: &Resource, member: &str) -> Vec<String> {
    match resource {
        Resource::Repository { .. } => vec![
            "granted on the repository only (not the project): pulls from other repositories \
             are refused"
                .into(),
        ],
        Resource::Bucket { bucket } => vec![format!(
            "roles/storage.objectViewer lists and reads the objects of gs://{bucket}; Flux's \
             Bucket source also gets the bucket itself (storage.buckets.get, in \
             roles/storage.bucketViewer), which kubecred check does not need"
        )],
        Resource::CryptoKey { .. } => {
            vec!["granted on the key, not its key ring: other keys of the ring are refused".into()]
        }
        Resource::Project { project } => vec![
            format!(
                "GKE's clusters.get has no narrower scope than the project: \
                 roles/container.clusterViewer on {project} lets the identity get every \
                 cluster of the project"
            ),
            format!(
                "permissions inside the cluster are separate: bind Kubernetes RBAC to the user \
                 {}",
                member.strip_prefix("serviceAccount:").unwrap_or(member)
            ),
        ],
        Resource::Topic { .. } => {
            vec!["granted on the topic only: other topics of the project are refused".into()]
        }
    }
}

/// `{"resource": {TYPE: {"kubecred": BODY}}}`, every string a literal (Terraform's `${` and
/// `%{` escaped), the pool provider depending on the pool.
fn terraform(resources: Vec<(&'static str, Value)>) -> Value {
    let mut types = Map::new();
    for (kind, body) in resources {
        let mut body = literal(body);
        if kind == "google_iam_workload_identity_pool_provider" {
            body["depends_on"] = json!([format!("google_iam_workload_identity_pool.{TF_NAME}")]);
        }
        types.insert(kind.to_owned(), json!({ TF_NAME: body }));
    }
    json!({ "resource": types })
}

/// `value` with every string a Terraform literal: `${` as `$${`, `%{` as `%%{`.
pub(crate) fn literal(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace("${", "$${").replace("%{", "%%{")),
        Value::Array(items) => Value::Array(items.into_iter().map(literal).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, literal(value)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
#[path = "gcp_tests.rs"]
mod tests;
