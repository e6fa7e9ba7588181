//! The least-privilege cloud configuration an integration needs, written for a person to apply:
//! the identity a ServiceAccount maps to, the trust that lets its tokens become that identity
//! (AWS role trust policy and IAM OIDC provider or EKS Pod Identity; Entra federated identity
//! credential; GCP workload identity pool provider or GKE's identity namespace, and
//! `roles/iam.workloadIdentityUser` for impersonation), and the permissions on exactly the
//! resource named (AWS IAM policy, GCP role bindings, Azure role assignments), never `*` where
//! the cloud allows a narrower scope. Nothing is called.
//!
//! Output: [`Policy`] as JSON (the documents, each with a `kind`: the shape the sandbox loads to
//! enforce it), as the cloud CLI's commands (each argument shell-quoted), and as Terraform in its
//! JSON syntax ([`Policy::terraform`], a `.tf.json` file: written with serde, so no value can
//! break out of its string).
//!
//! Every input is hostile until checked: the resource by the anchored pattern of its cloud
//! (registry hosts with the look-alike rules of [`crate::hosts`]), the ServiceAccount as
//! Kubernetes names it, the issuer by [`crate::issuer::Issuer::parse`], account ids, project
//! numbers, GUIDs and names by their clouds' rules. Errors name the field and what it must be.

mod aws;
mod azure;
mod gcp;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// What the identity is for: the `--for` of `kubecred policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Pull from a container registry (ECR, Artifact Registry, ACR).
    Registry,
    /// Read a bucket (S3, GCS, Blob container).
    Bucket,
    /// Decrypt with a key (AWS KMS, Cloud KMS, Key Vault).
    Kms,
    /// Get credentials of a remote cluster (EKS, GKE, AKS).
    Cluster,
    /// Publish to a Pub/Sub topic (GCP).
    Pubsub,
    /// Send to an Event Hub (Azure).
    Eventhub,
    /// Pull a git repository (CodeCommit, Azure DevOps).
    Git,
    /// Receive from an SQS queue (AWS; TriggerMesh's SQS source).
    Sqs,
}

impl Purpose {
    /// Every purpose, in `--for`'s order.
    pub const ALL: [Purpose; 8] = [
        Purpose::Registry,
        Purpose::Bucket,
        Purpose::Kms,
        Purpose::Cluster,
        Purpose::Pubsub,
        Purpose::Eventhub,
        Purpose::Git,
        Purpose::Sqs,
    ];

    /// The `--for` name.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Registry => "registry",
            Purpose::Bucket => "bucket",
            Purpose::Kms => "kms",
            Purpose::Cluster => "cluster",
            Purpose::Pubsub => "pubsub",
            Purpose::Eventhub => "eventhub",
            Purpose::Git => "git",
            Purpose::Sqs => "sqs",
        }
    }

    /// Parses a `--for` name.
    pub fn parse(text: &str) -> Result<Purpose> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Purpose::ALL.iter().map(|p| p.name()).collect();
                Error::invalid(format!(
                    "unknown purpose {}: expected one of {}",
                    shown(text),
                    names.join(", ")
                ))
            })
    }
}

/// How an AWS role trusts the ServiceAccount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsTrust {
    /// `sts:AssumeRoleWithWebIdentity` from the cluster's issuer (IRSA on EKS, or any cluster
    /// whose issuer is registered as an IAM OIDC provider): needs the issuer.
    Oidc,
    /// EKS Pod Identity (`pods.eks.amazonaws.com`, `sts:AssumeRole` and `sts:TagSession`) with a
    /// pod identity association for the ServiceAccount.
    PodIdentity,
}

/// Who a GCP ServiceAccount is at Google.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcpFederation {
    /// GKE's own identity namespace `<project>.svc.id.goog` (no issuer needed).
    Gke {
        /// The project id of the cluster.
        project_id: String,
    },
    /// A workload identity pool provider trusting the cluster's issuer.
    Pool {
        /// The pool id.
        pool: String,
        /// The provider id.
        provider: String,
    },
}

/// The cloud's side of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloudOptions {
    /// An IAM role in an account.
    Aws {
        /// The 12-digit account id.
        account_id: String,
        /// The role's name.
        role_name: String,
        /// How the role trusts the ServiceAccount.
        trust: AwsTrust,
    },
    /// A Google principal, and optionally the service account it impersonates.
    Gcp {
        /// The project number (principal identifiers use it).
        project_number: String,
        /// GKE's identity namespace or a pool provider.
        federation: GcpFederation,
        /// The Google service account impersonated (`iam.gke.io/gcp-service-account`); the
        /// resource role is then granted to it, and the principal gets
        /// `roles/iam.workloadIdentityUser` on it. `None`: the principal gets the role directly.
        service_account: Option<String>,
    },
    /// An Entra identity (managed identity or app) with a federated credential.
    Azure {
        /// Which identity gets the federated credential.
        identity: crate::issuer::AzureIdentity,
        /// Its principal (object) id, the assignee of role assignments.
        principal_id: String,
        /// Its client id, for the ServiceAccount annotation.
        client_id: String,
        /// The tenant id, for the ServiceAccount annotation.
        tenant_id: String,
    },
}

/// What to write a policy for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRequest {
    /// What the identity is for.
    pub purpose: Purpose,
    /// The resource, in the form `kubecred check` or the front doors take it (see
    /// `kubecred policy --help`): a registry host and repository, `s3://B`, `gs://B`,
    /// `azblob://ACCOUNT/CONTAINER`, a KMS key ARN or name, a cluster ARN or resource id, ...
    pub resource: String,
    /// `NAMESPACE/NAME`.
    pub service_account: String,
    /// The cluster's issuer, exactly as its tokens carry it (needed for OIDC trust).
    pub issuer: Option<String>,
    /// The cloud's side.
    pub cloud: CloudOptions,
}

/// One document to create, with the `kind` that says what it is (e.g. `aws_iam_role`,
/// `gcp_iam_member`, `azure_role_assignment`) and its fields.
pub type Document = BTreeMap<String, Value>;

/// The identity, trust and permissions an integration needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// `aws`, `azure` or `gcp`.
    pub provider: &'static str,
    /// What it is for.
    #[serde(rename = "for")]
    pub purpose: Purpose,
    /// The resource, as given (checked).
    pub resource: String,
    /// `NAMESPACE/NAME`.
    pub service_account: String,
    /// The cloud identity the ServiceAccount becomes (role ARN, principal, client id, ...).
    pub identity: Value,
    /// What lets the ServiceAccount's tokens become the identity, in creation order.
    pub trust: Vec<Document>,
    /// The grants on the resource, in creation order.
    pub permissions: Vec<Document>,
    /// The annotations to set on the ServiceAccount.
    pub annotations: BTreeMap<String, String>,
    /// The cloud CLI's commands, each a shell-quoted line, in order.
    pub commands: Vec<String>,
    /// Terraform, JSON syntax (`policy.tf.json`).
    #[serde(skip)]
    pub terraform: Value,
    /// What to know before applying.
    pub notes: Vec<String>,
}

impl Policy {
    /// The policy as one JSON object (without the Terraform).
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The commands, one per line.
    pub fn commands_text(&self) -> String {
        let mut out = String::new();
        for note in &self.notes {
            out.push_str("# ");
            out.push_str(note);
            out.push('\n');
        }
        for command in &self.commands {
            out.push_str(command);
            out.push('\n');
        }
        out
    }

    /// The Terraform configuration, JSON syntax, pretty-printed.
    pub fn terraform_text(&self) -> String {
        serde_json::to_string_pretty(&self.terraform).unwrap_or_default()
    }
}

/// Writes the policy `request` asks for. Errors name the invalid field, or say that the cloud
/// has no such integration (`--for pubsub` on AWS) and which cloud does.
pub fn policy(request: &PolicyRequest) -> Result<Policy> {
    match &request.cloud {
        CloudOptions::Aws { .. } => aws::policy(request),
        CloudOptions::Gcp { .. } => gcp::policy(request),
        CloudOptions::Azure { .. } => azure::policy(request),
    }
}

/// `purpose` is not one `provider` serves.
fn unsupported(provider: &str, purpose: Purpose, instead: &str) -> Error {
    Error::invalid(format!(
        "{provider} has no '{}' integration ({instead})",
        purpose.name()
    ))
}

// Shared with `issuer setup`, which writes the trust half of what a policy holds.
#[allow(unused_imports)] // each cloud's module uses them
use crate::issuer::setup::{command, service_account_ref, value as shown};

/// One document of `kind` with these fields.
fn document(kind: &str, fields: Value) -> Document {
    let mut document = Document::new();
    if let Value::Object(map) = fields {
        document.extend(map);
    }
    document.insert("kind".into(), Value::String(kind.into()));
    document
}

#[cfg(test)]
mod tests;
