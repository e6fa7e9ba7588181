//! What a target cloud needs to trust an issuer for one ServiceAccount: AWS's IAM OIDC provider
//! and role trust policy, Entra's federated identity credential, GCP's workload identity pool
//! provider and principal; each as JSON, as the cloud CLI's commands (every argument quoted for a
//! POSIX shell) and as the ServiceAccount annotations kubecred then reads. Nothing is called:
//! the output is printed for a person to paste.
//!
//! Every value is checked before it reaches a document or a command (they come from a command
//! line and end in a shell): the issuer by [`Issuer::parse`], the ServiceAccount as Kubernetes
//! names it, and each cloud's identifiers by that cloud's rules.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Value, json};

use super::url::{Issuer, shown};

/// `text` for an error: escaped and cut (it may be hostile).
pub(crate) fn value(text: &str) -> String {
    let cut: String = text.chars().take(100).collect();
    format!("'{}'", cut.escape_default())
}
use crate::error::{Error, Result};

/// The audience of a token for AWS STS (`AssumeRoleWithWebIdentity`).
pub const AWS_AUDIENCE: &str = "sts.amazonaws.com";
/// The audience of a token for Entra's token exchange.
pub const AZURE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The ServiceAccount annotation naming the IAM role (`eks.amazonaws.com/role-arn`).
pub const AWS_ROLE_ARN_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// The ServiceAccount annotation naming the Entra client (`azure.workload.identity/client-id`).
pub const AZURE_CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// The ServiceAccount annotation naming the Entra tenant (`azure.workload.identity/tenant-id`).
pub const AZURE_TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";
/// The ServiceAccount annotation naming the GCP provider
/// (`gcp.auth.fluxcd.io/workload-identity-provider`).
pub const GCP_PROVIDER_ANNOTATION: &str = crate::gcp::annotations::WORKLOAD_IDENTITY_PROVIDER;
/// The longest `google.subject` GCP accepts, in bytes.
pub const GCP_MAX_SUBJECT: usize = 127;

/// What the target cloud identifies: its account and the identity to trust the issuer for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupTarget {
    /// An IAM role in an AWS account.
    Aws {
        /// The 12-digit account ID.
        account_id: String,
        /// The role's name.
        role_name: String,
    },
    /// An Entra managed identity or application.
    Azure {
        /// Which identity gets the federated credential.
        identity: AzureIdentity,
        /// The federated credential's name (default `kubecred-NAMESPACE-NAME`).
        credential_name: Option<String>,
        /// The identity's client ID, for the annotation (an application's is its app ID).
        client_id: Option<String>,
        /// The tenant ID, for the annotation.
        tenant_id: Option<String>,
    },
    /// A GCP workload identity pool provider.
    Gcp {
        /// The project's number (not its ID).
        project_number: String,
        /// The pool's ID.
        pool: String,
        /// The provider's ID.
        provider: String,
    },
}

/// The Entra identity a federated credential is added to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AzureIdentity {
    /// A user-assigned managed identity.
    Managed {
        /// Its name.
        identity_name: String,
        /// Its resource group.
        resource_group: String,
    },
    /// An app registration, by its application (client) ID.
    App {
        /// The application ID (a GUID).
        app_id: String,
    },
}

/// What to create at the target: documents, commands, annotations and notes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setup {
    /// `aws`, `azure` or `gcp`.
    pub target: &'static str,
    /// The issuer, exactly as given.
    pub issuer: String,
    /// The token's `sub`: `system:serviceaccount:NAMESPACE:NAME`.
    pub subject: String,
    /// The documents to create, by name (e.g. `trust_policy`).
    pub documents: BTreeMap<&'static str, Value>,
    /// The annotations to set on the ServiceAccount.
    pub service_account_annotations: BTreeMap<&'static str, String>,
    /// The cloud CLI's commands, each one shell-quoted line, in order.
    pub commands: Vec<String>,
    /// What to know before pasting.
    pub notes: Vec<String>,
}

impl Setup {
    /// The setup as one JSON object.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The setup for a person: each document, the annotations, the commands, the notes.
    pub fn text(&self) -> String {
        let mut out = format!(
            "# {}: trust issuer {} for {}\n",
            self.target, self.issuer, self.subject
        );
        for (name, document) in &self.documents {
            let pretty = serde_json::to_string_pretty(document).unwrap_or_default();
            out.push_str(&format!("\n## {name}\n{pretty}\n"));
        }
        out.push_str("\n## ServiceAccount annotations\n");
        for (key, value) in &self.service_account_annotations {
            let pair = serde_json::to_string(value).unwrap_or_default();
            out.push_str(&format!("{key}: {pair}\n"));
        }
        out.push_str("\n## commands\n");
        for command in &self.commands {
            out.push_str(command);
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push_str("\n## notes\n");
            for note in &self.notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
        out
    }
}

/// What `target` needs to trust `issuer` for the ServiceAccount `service_account`
/// (`NAMESPACE/NAME`). Every input is checked; errors say which and why.
pub fn setup(issuer: &str, service_account: &str, target: &SetupTarget) -> Result<Setup> {
    let issuer = Issuer::parse(issuer)?;
    let (namespace, name) = service_account_ref(service_account)?;
    let subject = format!("system:serviceaccount:{namespace}:{name}");
    match target {
        SetupTarget::Aws {
            account_id,
            role_name,
        } => aws(&issuer, subject, account_id, role_name),
        SetupTarget::Azure {
            identity,
            credential_name,
            client_id,
            tenant_id,
        } => {
            let credential_name = match credential_name {
                Some(given) => given.clone(),
                None => default_credential_name(namespace, name),
            };
            let ids = AzureIds {
                client_id: client_id.as_deref(),
                tenant_id: tenant_id.as_deref(),
            };
            azure(&issuer, subject, identity, &credential_name, ids)
        }
        SetupTarget::Gcp {
            project_number,
            pool,
            provider,
        } => gcp(&issuer, subject, project_number, pool, provider),
    }
}

/// `NAMESPACE/NAME`, both checked as Kubernetes names.
pub(crate) fn service_account_ref(text: &str) -> Result<(&str, &str)> {
    let Some((namespace, name)) = text.split_once('/') else {
        return Err(Error::invalid(format!(
            "service account {} is not NAMESPACE/NAME",
            value(text)
        )));
    };
    crate::names::namespace(namespace)?;
    crate::names::object_name("service account name", name)?;
    Ok((namespace, name))
}

/// Checks `value` against `pattern`, or says what `field` must be.
pub(crate) fn check(field: &str, text: &str, pattern: &Regex, rule: &str) -> Result<()> {
    match pattern.is_match(text) {
        true => Ok(()),
        false => Err(Error::invalid(format!(
            "{field} {} is not valid: {rule}",
            value(text)
        ))),
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

pub(crate) static AWS_ACCOUNT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{12}$"));
/// IAM's role name: 1 to 64 of letters, digits and `+=,.@_-`.
pub(crate) static AWS_ROLE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9+=,.@_-]{1,64}$"));
pub(crate) static GUID: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
});
/// A user-assigned managed identity's name: 3 to 128, alphanumeric first, then `-` and `_`.
pub(crate) static AZURE_IDENTITY: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,127}$"));
/// A resource group (ASCII): 1 to 90 of letters, digits, `_().-`, not ending in `.`.
pub(crate) static AZURE_GROUP: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]$"));
/// A federated credential's name: 3 to 120, alphanumeric first, then `-` and `_`.
pub(crate) static AZURE_CREDENTIAL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$"));
/// The project number, as kubecred's provider annotation takes it.
pub(crate) static GCP_PROJECT_NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{1,30}$"));
/// Pool and provider IDs: 4 to 32 lowercase letters, digits and `-`.
pub(crate) static GCP_ID: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z0-9-]{4,32}$"));

/// An AWS account ID and IAM role name, checked.
pub(crate) fn check_aws_role(account_id: &str, role_name: &str) -> Result<()> {
    check("AWS account ID", account_id, &AWS_ACCOUNT, "12 digits")?;
    check(
        "IAM role name",
        role_name,
        &AWS_ROLE,
        "1 to 64 letters, digits and +=,.@_-",
    )
}

/// A GCP project number, checked.
pub(crate) fn check_gcp_project_number(project_number: &str) -> Result<()> {
    check(
        "GCP project number",
        project_number,
        &GCP_PROJECT_NUMBER,
        "digits only (the project number, not its ID)",
    )
}

/// A command line: each argument quoted for a POSIX shell where it needs it.
pub(crate) fn command(argv: &[&str]) -> Result<String> {
    shlex::try_join(argv.iter().copied())
        .map_err(|e| Error::invalid(format!("a value cannot be quoted for a shell: {e}")))
}

fn aws(issuer: &Issuer, subject: String, account_id: &str, role_name: &str) -> Result<Setup> {
    check_aws_role(account_id, role_name)?;
    if issuer.url().port().is_some() {
        return Err(Error::invalid(format!(
            "issuer {} has a port: IAM OIDC providers take a URL without one",
            shown(issuer.as_str())
        )));
    }
    // IAM names the provider by the URL without its scheme (and without a trailing slash).
    let provider = issuer.base().trim_start_matches("https://").to_owned();
    let provider_arn = format!("arn:aws:iam::{account_id}:oidc-provider/{provider}");
    let role_arn = format!("arn:aws:iam::{account_id}:role/{role_name}");
    let trust_policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider_arn },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{provider}:aud"): AWS_AUDIENCE,
                    format!("{provider}:sub"): subject,
                }
            }
        }]
    });
    let oidc_provider = json!({
        "Url": issuer.as_str(),
        "ClientIDList": [AWS_AUDIENCE],
        "Arn": provider_arn,
    });
    let policy = serde_json::to_string(&trust_policy)
        .map_err(|e| Error::invalid(format!("trust policy: {e}")))?;
    let commands = vec![
        command(&[
            "aws",
            "iam",
            "create-open-id-connect-provider",
            "--url",
            issuer.as_str(),
            "--client-id-list",
            AWS_AUDIENCE,
        ])?,
        command(&[
            "aws",
            "iam",
            "create-role",
            "--role-name",
            role_name,
            "--assume-role-policy-document",
            &policy,
        ])?,
    ];
    Ok(Setup {
        target: "aws",
        issuer: issuer.as_str().to_owned(),
        subject,
        documents: BTreeMap::from([
            ("oidc_provider", oidc_provider),
            ("trust_policy", trust_policy),
        ]),
        service_account_annotations: BTreeMap::from([(AWS_ROLE_ARN_ANNOTATION, role_arn)]),
        commands,
        notes: vec![
            "thumbprint: none needed when the issuer's certificate chains to a CA AWS trusts \
             (IAM then ignores it); otherwise add --thumbprint-list with the SHA-1 of the top \
             intermediate CA of the issuer's TLS certificate"
                .into(),
            "one OIDC provider per issuer and account: skip the first command if it exists \
             (aws iam list-open-id-connect-providers); the role's permissions are attached \
             separately (aws iam attach-role-policy)"
                .into(),
            format!(
                "tokens for AWS carry aud {AWS_AUDIENCE}; the aws partition is assumed \
                 (arn:aws-cn / arn:aws-us-gov elsewhere)"
            ),
        ],
    })
}

/// The Entra IDs for the annotations, as given.
#[derive(Clone, Copy)]
struct AzureIds<'a> {
    client_id: Option<&'a str>,
    tenant_id: Option<&'a str>,
}

/// `kubecred-NAMESPACE-NAME`, with dots (not allowed in a credential's name) as `-`, at most 120.
fn default_credential_name(namespace: &str, name: &str) -> String {
    let mut text = format!("kubecred-{namespace}-{name}").replace('.', "-");
    text.truncate(120);
    text
}

fn azure(
    issuer: &Issuer,
    subject: String,
    identity: &AzureIdentity,
    credential_name: &str,
    ids: AzureIds<'_>,
) -> Result<Setup> {
    check(
        "federated credential name",
        credential_name,
        &AZURE_CREDENTIAL,
        "3 to 120 letters, digits, '-' and '_', starting with a letter or digit",
    )?;
    for (field, id) in [("client ID", ids.client_id), ("tenant ID", ids.tenant_id)] {
        if let Some(id) = id {
            check(field, id, &GUID, "a GUID (8-4-4-4-12 hexadecimal digits)")?;
        }
    }
    let credential = json!({
        "name": credential_name,
        "issuer": issuer.as_str(),
        "subject": subject,
        "audiences": [AZURE_AUDIENCE],
    });
    let mut notes = Vec::new();
    let (command_line, client_id) = match identity {
        AzureIdentity::Managed {
            identity_name,
            resource_group,
        } => {
            check(
                "managed identity name",
                identity_name,
                &AZURE_IDENTITY,
                "3 to 128 letters, digits, '-' and '_', starting with a letter or digit",
            )?;
            check(
                "resource group",
                resource_group,
                &AZURE_GROUP,
                "1 to 90 letters, digits and _().-, not ending in '.'",
            )?;
            let line = command(&[
                "az",
                "identity",
                "federated-credential",
                "create",
                "--name",
                credential_name,
                "--identity-name",
                identity_name,
                "--resource-group",
                resource_group,
                "--issuer",
                issuer.as_str(),
                "--subject",
                &subject,
                "--audiences",
                AZURE_AUDIENCE,
            ])?;
            if ids.client_id.is_none() {
                let lookup = command(&[
                    "az",
                    "identity",
                    "show",
                    "--name",
                    identity_name,
                    "--resource-group",
                    resource_group,
                    "--query",
                    "clientId",
                    "-o",
                    "tsv",
                ])?;
                notes.push(format!("CLIENT_ID: {lookup} (or give --client-id)"));
            }
            (line, ids.client_id.map(str::to_owned))
        }
        AzureIdentity::App { app_id } => {
            check(
                "application ID",
                app_id,
                &GUID,
                "a GUID (8-4-4-4-12 hexadecimal digits)",
            )?;
            let parameters = serde_json::to_string(&credential)
                .map_err(|e| Error::invalid(format!("federated credential: {e}")))?;
            let line = command(&[
                "az",
                "ad",
                "app",
                "federated-credential",
                "create",
                "--id",
                app_id,
                "--parameters",
                &parameters,
            ])?;
            let client_id = ids.client_id.unwrap_or(app_id).to_owned();
            (line, Some(client_id))
        }
    };
    if ids.tenant_id.is_none() {
        notes.push(
            "TENANT_ID: az account show --query tenantId -o tsv (or give --tenant-id)".into(),
        );
    }
    notes.push(format!(
        "tokens for Entra carry aud {AZURE_AUDIENCE}; the credential matches issuer and subject \
         exactly (a trailing slash counts); grant the identity its roles separately"
    ));
    let annotations = BTreeMap::from([
        (
            AZURE_CLIENT_ID_ANNOTATION,
            client_id.unwrap_or_else(|| "CLIENT_ID".into()),
        ),
        (
            AZURE_TENANT_ID_ANNOTATION,
            ids.tenant_id.unwrap_or("TENANT_ID").to_owned(),
        ),
    ]);
    Ok(Setup {
        target: "azure",
        issuer: issuer.as_str().to_owned(),
        subject,
        documents: BTreeMap::from([("federated_credential", credential)]),
        service_account_annotations: annotations,
        commands: vec![command_line],
        notes,
    })
}

fn gcp(
    issuer: &Issuer,
    subject: String,
    project_number: &str,
    pool: &str,
    provider: &str,
) -> Result<Setup> {
    check_gcp_project_number(project_number)?;
    let rule = "4 to 32 lowercase letters, digits and '-'";
    check("workload identity pool ID", pool, &GCP_ID, rule)?;
    check(
        "workload identity pool provider ID",
        provider,
        &GCP_ID,
        rule,
    )?;
    if subject.len() > GCP_MAX_SUBJECT {
        return Err(Error::invalid(format!(
            "subject {} is longer than the {GCP_MAX_SUBJECT} bytes GCP takes as google.subject: \
             use a shorter namespace or ServiceAccount name",
            value(&subject)
        )));
    }
    let pool_name =
        format!("projects/{project_number}/locations/global/workloadIdentityPools/{pool}");
    let provider_name = format!("{pool_name}/providers/{provider}");
    // The audience kubecred requests its token for (`gcp::audience`): the provider's full name.
    let audience = format!("//iam.googleapis.com/{provider_name}");
    let principal = format!("principal://iam.googleapis.com/{pool_name}/subject/{subject}");
    let document = json!({
        "name": provider_name,
        "attributeMapping": { "google.subject": "assertion.sub" },
        "oidc": {
            "issuerUri": issuer.as_str(),
            "allowedAudiences": [audience],
        },
    });
    let commands = vec![
        command(&[
            "gcloud",
            "iam",
            "workload-identity-pools",
            "create",
            pool,
            "--project",
            project_number,
            "--location",
            "global",
        ])?,
        command(&[
            "gcloud",
            "iam",
            "workload-identity-pools",
            "providers",
            "create-oidc",
            provider,
            "--project",
            project_number,
            "--location",
            "global",
            "--workload-identity-pool",
            pool,
            "--issuer-uri",
            issuer.as_str(),
            "--attribute-mapping",
            "google.subject=assertion.sub",
            "--allowed-audiences",
            &audience,
        ])?,
    ];
    Ok(Setup {
        target: "gcp",
        issuer: issuer.as_str().to_owned(),
        subject,
        documents: BTreeMap::from([
            ("workload_identity_pool_provider", document),
            ("principal", Value::String(principal.clone())),
        ]),
        service_account_annotations: BTreeMap::from([(GCP_PROVIDER_ANNOTATION, provider_name)]),
        commands,
        notes: vec![
            "skip the pool's creation if it exists".into(),
            format!(
                "grant roles to the principal directly (e.g. gcloud projects \
                 add-iam-policy-binding PROJECT_ID --member={principal} --role=ROLE), or let it \
                 impersonate a GCP service account (roles/iam.workloadIdentityUser on that \
                 account, and annotate iam.gke.io/gcp-service-account)"
            ),
            format!(
                "tokens for GCP carry aud {audience} (the provider's full name, as kubecred \
                 requests them)"
            ),
        ],
    })
}

#[cfg(test)]
#[path = "setup_tests.rs"]
mod tests;
