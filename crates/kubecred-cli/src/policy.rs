//! `kubecred policy`: flags to a [`kubecred::policy::PolicyRequest`], the policy printed.

use kubecred::policy::{self, AwsTrust, CloudOptions, GcpFederation, PolicyRequest};

use crate::UsageError;
use crate::args::{PolicyArgs, PolicyAwsTrust, PolicyOutput, SetupCloud};

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
            let identity = crate::issuer::azure_identity(&args.azure)?;
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
        purpose: args.purpose,
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
