//! `kubecred policy`: flags to a [`kubecred::policy::PolicyRequest`], the policy printed.

use kubecred::issuer::AzureIdentity;
use kubecred::policy::{self, AwsTrust, CloudOptions, GcpFederation, PolicyRequest, Purpose};

use crate::UsageError;
use crate::args::{PolicyArgs, PolicyAwsTrust, PolicyOutput, PolicyPurpose, SetupCloud};

fn purpose(p: PolicyPurpose) -> Purpose {
    match p {
        PolicyPurpose::Registry => Purpose::Registry,
        PolicyPurpose::Bucket => Purpose::Bucket,
        PolicyPurpose::Kms => Purpose::Kms,
        PolicyPurpose::Cluster => Purpose::Cluster,
        PolicyPurpose::Pubsub => Purpose::Pubsub,
        PolicyPurpose::Eventhub => Purpose::Eventhub,
        PolicyPurpose::Git => Purpose::Git,
        PolicyPurpose::Sqs => Purpose::Sqs,
    }
}

fn cloud(args: &PolicyArgs) -> Result<CloudOptions, UsageError> {
    Ok(match args.provider {
        SetupCloud::Aws => CloudOptions::Aws {
            account_id: args.account_id.clone().unwrap_or_default(),
            role_name: args.role_name.clone().unwrap_or_default(),
            trust: match args.trust {
                PolicyAwsTrust::Oidc => AwsTrust::Oidc,
                PolicyAwsTrust::PodIdentity => AwsTrust::PodIdentity,
            },
        },
        SetupCloud::Gcp => {
            let federation = match (&args.gke_project, &args.pool, &args.pool_provider) {
                (Some(project_id), None, None) => GcpFederation::Gke {
                    project_id: project_id.clone(),
                },
                (None, Some(pool), Some(provider)) => GcpFederation::Pool {
                    pool: pool.clone(),
                    provider: provider.clone(),
                },
                _ => {
                    return Err(UsageError(
                        "gcp: give --gke-project (GKE's identity namespace) or --pool and \
                         --pool-provider (a workload identity pool provider)"
                            .into(),
                    ));
                }
            };
            CloudOptions::Gcp {
                project_number: args.project_number.clone().unwrap_or_default(),
                federation,
                service_account: args.gcp_service_account.clone(),
            }
        }
        SetupCloud::Azure => {
            let identity = match (&args.identity_name, &args.resource_group, &args.app_id) {
                (Some(identity_name), Some(resource_group), None) => AzureIdentity::Managed {
                    identity_name: identity_name.clone(),
                    resource_group: resource_group.clone(),
                },
                (None, None, Some(app_id)) => AzureIdentity::App {
                    app_id: app_id.clone(),
                },
                _ => {
                    return Err(UsageError(
                        "azure: give --identity-name and --resource-group (a managed identity) \
                         or --app-id (an app registration)"
                            .into(),
                    ));
                }
            };
            CloudOptions::Azure {
                identity,
                principal_id: args.principal_id.clone().unwrap_or_default(),
                client_id: args.client_id.clone().unwrap_or_default(),
                tenant_id: args.tenant_id.clone().unwrap_or_default(),
            }
        }
    })
}

pub fn run(args: PolicyArgs) -> anyhow::Result<()> {
    let request = PolicyRequest {
        purpose: purpose(args.purpose),
        resource: args.resource.clone(),
        service_account: args.service_account.clone(),
        issuer: args.issuer.clone(),
        cloud: cloud(&args)?,
    };
    let policy = policy::policy(&request).map_err(|e| UsageError(e.to_string()))?;
    match args.output {
        PolicyOutput::Json => println!("{}", serde_json::to_string_pretty(&policy.json())?),
        PolicyOutput::Commands => print!("{}", policy.commands_text()),
        PolicyOutput::Terraform => println!("{}", policy.terraform_text()),
    }
    Ok(())
}
