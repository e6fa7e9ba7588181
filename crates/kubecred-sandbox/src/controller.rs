//! What a controller's pod is given to reach a target cloud at controller level, as each
//! cloud's webhook (or the operator following its docs, off that cloud) sets it up: a projected
//! ServiceAccount token file for the target's audience and the environment that points the
//! cloud's credential chain at it.
//!
//! - AWS: IRSA's `AWS_ROLE_ARN` (the ServiceAccount's `eks.amazonaws.com/role-arn`),
//!   `AWS_WEB_IDENTITY_TOKEN_FILE` (audience `sts.amazonaws.com`), `AWS_STS_REGIONAL_ENDPOINTS`,
//!   `AWS_REGION` and `AWS_DEFAULT_REGION` (an EKS cluster's region, else `us-east-1`);
//! - Azure: workload identity's `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` (the ServiceAccount's
//!   annotations), `AZURE_FEDERATED_TOKEN_FILE` (audience `api://AzureADTokenExchange`),
//!   `AZURE_AUTHORITY_HOST`;
//! - GCP: `GOOGLE_APPLICATION_CREDENTIALS`, an `external_account` file for the pool provider the
//!   ServiceAccount's `gcp.auth.fluxcd.io/workload-identity-provider` names (token file of
//!   that audience), impersonating its `iam.gke.io/gcp-service-account` if annotated. (On GKE
//!   the metadata server does this exchange for the pod; the file form works from every source,
//!   a GKE cluster registered as a pool provider included.)
//!
//! The sandbox writes no files: the caller writes [`ControllerSetup::files`] into the directory
//! it passed.

use std::path::Path;
use std::time::Duration;

use crate::Sandbox;

/// A target cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetCloud {
    /// AWS (STS `AssumeRoleWithWebIdentity`).
    Aws,
    /// Azure (Entra client assertion).
    Azure,
    /// GCP (STS token exchange).
    Gcp,
}

/// The stand-ins' addresses a controller's environment names.
#[derive(Clone, Debug, Default)]
pub struct ControllerEndpoints {
    /// Entra's authority host (`AZURE_AUTHORITY_HOST`).
    pub azure_authority_host: String,
    /// Google STS's token URL (the external account's `token_url`).
    pub gcp_sts_url: String,
    /// IAM Credentials' `generateAccessToken` URL of a service account, with `{email}` for it.
    pub gcp_impersonation_url: String,
}

/// Files to write (name in the directory, contents) and variables to set.
#[derive(Clone, Debug, Default)]
pub struct ControllerSetup {
    /// File name (in the directory given) and contents.
    pub files: Vec<(String, String)>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
}

/// Lifetime of the projected tokens (the kubelet's default is an hour, refreshed at 80 %).
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

impl Sandbox {
    /// What a controller running as ServiceAccount `namespace/name` gets to reach `target` at
    /// controller level, with its files in `dir`. Errors name the missing annotation.
    pub fn controller_setup(
        &self,
        target: TargetCloud,
        namespace: &str,
        name: &str,
        dir: &Path,
        endpoints: &ControllerEndpoints,
    ) -> Result<ControllerSetup, String> {
        let account = self
            .state
            .store
            .service_account(namespace, name)
            .ok_or_else(|| format!("no ServiceAccount {namespace}/{name} in the sandbox"))?;
        let annotation =
            |key: &str| {
                account.meta.annotations.get(key).cloned().ok_or_else(|| {
                    format!("ServiceAccount {namespace}/{name} has no annotation {key}")
                })
            };
        let path = |file: &str| dir.join(file).display().to_string();
        let token = |audience: &str| {
            self.issue_token(namespace, name, &[audience.to_owned()], TOKEN_LIFETIME)
        };
        let setup = match target {
            TargetCloud::Aws => {
                let file = "aws-web-identity-token";
                // EKS's webhook injects the cluster's region; off EKS the operator sets one.
                let region = match self.source() {
                    crate::SourceCluster::Eks { region, .. } => region.clone(),
                    _ => "us-east-1".to_owned(),
                };
                ControllerSetup {
                    env: vec![
                        ("AWS_REGION".into(), region.clone()),
                        ("AWS_DEFAULT_REGION".into(), region),
                        (
                            "AWS_ROLE_ARN".into(),
                            annotation("eks.amazonaws.com/role-arn")?,
                        ),
                        ("AWS_WEB_IDENTITY_TOKEN_FILE".into(), path(file)),
                        ("AWS_STS_REGIONAL_ENDPOINTS".into(), "regional".into()),
                    ],
                    files: vec![(file.into(), token("sts.amazonaws.com"))],
                }
            }
            TargetCloud::Azure => {
                let file = "azure-identity-token";
                ControllerSetup {
                    env: vec![
                        (
                            "AZURE_CLIENT_ID".into(),
                            annotation("azure.workload.identity/client-id")?,
                        ),
                        (
                            "AZURE_TENANT_ID".into(),
                            annotation("azure.workload.identity/tenant-id")?,
                        ),
                        ("AZURE_FEDERATED_TOKEN_FILE".into(), path(file)),
                        (
                            "AZURE_AUTHORITY_HOST".into(),
                            endpoints.azure_authority_host.clone(),
                        ),
                    ],
                    files: vec![(file.into(), token(crate::azure::TOKEN_EXCHANGE_AUDIENCE))],
                }
            }
            TargetCloud::Gcp => {
                let provider = annotation("gcp.auth.fluxcd.io/workload-identity-provider")?;
                let audience = format!("//iam.googleapis.com/{provider}");
                let token_file = "gcp-identity-token";
                let mut credentials = serde_json::json!({
                    "type": "external_account",
                    "audience": audience,
                    "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                    "token_url": endpoints.gcp_sts_url,
                    "credential_source": {"file": path(token_file)},
                });
                if let Ok(email) = annotation("iam.gke.io/gcp-service-account") {
                    credentials["service_account_impersonation_url"] = endpoints
                        .gcp_impersonation_url
                        .replace("{email}", &email)
                        .into();
                }
                let file = "gcp-credentials.json";
                ControllerSetup {
                    env: vec![("GOOGLE_APPLICATION_CREDENTIALS".into(), path(file))],
                    files: vec![
                        (token_file.into(), token(&audience)),
                        (file.into(), credentials.to_string()),
                    ],
                }
            }
        };
        Ok(setup)
    }
}
