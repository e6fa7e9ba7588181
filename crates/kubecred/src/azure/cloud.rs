//! Azure's side of the cloud seam ([`crate::cloud::Cloud`]): object level (the ServiceAccount's
//! token as the client assertion of the Entra app or managed identity its workload identity
//! annotations name), controller level (`controller`: environment credentials, workload
//! identity, managed identity), node level (the node's managed identity through IMDS) and
//! secret level (`secret`: an app's client secret or certificate).

use std::collections::BTreeMap;
use std::time::SystemTime;

use url::Url;

use super::authority;
use super::controller::{self, CLIENT_ID_VAR};
use super::entra::{self, App, Proof};
use super::secret::{self, Credentials};
use super::{AUDIENCE, annotations, endpoints, managed_identity};
use crate::account::ServiceAccountInfo;
use crate::cloud::{self, Capabilities, Cloud, Operation, Presented};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{Credential, KubernetesToken, RegistryCredentials};
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Provider, Request, Secret};

/// Azure.
pub(crate) struct Azure;

fn lacks(operation: Operation) -> Error {
    cloud::unsupported(Provider::Azure, operation)
}

/// The scope of a plain token when the request names none: Azure Resource Manager's, as
/// `az account get-access-token` gives.
const DEFAULT_SCOPE: &str = "https://management.core.windows.net//.default";

impl Cloud for Azure {
    const CAPABILITIES: Capabilities = Capabilities {
        levels: &[
            Operation::ControllerLevel,
            Operation::ObjectLevel,
            Operation::NodeLevel,
            Operation::SecretLevel,
        ],
        registries: None,
        clusters: None,
        reports_cluster_address: false,
        git: None,
        checks: None,
    };
    const ANNOTATIONS: &'static [&'static str] = annotations::ALL;
    const REQUIRED_ANNOTATIONS: &'static [&'static str] = annotations::REQUIRED;

    async fn audiences(_: &Engine, _: &Request, _: &ServiceAccountInfo) -> Result<Vec<String>> {
        Ok(vec![AUDIENCE.to_owned()])
    }

    fn controller_audiences(_: &Request) -> Vec<String> {
        Vec::new()
    }

    fn identity(account: &ServiceAccountInfo) -> Result<String> {
        let identity = annotations::read(account)?;
        Ok(format!("{}/{}", identity.tenant_id, identity.client_id))
    }

    async fn object_level(
        engine: &Engine,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        let identity = annotations::read(account)?;
        let scopes = scopes(request)?;
        let authority = authority::from_env(engine.env())?;
        let app = App {
            authority: &authority,
            tenant: &identity.tenant_id,
            client_id: &identity.client_id,
        };
        entra::token(
            engine,
            request,
            &app,
            Proof::Assertion(token.token),
            &scopes,
        )
        .await
        .map(Credential::AccessToken)
    }

    async fn controller_level(engine: &Engine, request: &Request) -> Result<Credential> {
        let scopes = scopes(request)?;
        controller::access_token(engine, request, &scopes)
            .await
            .map(Credential::AccessToken)
    }

    async fn node_level(engine: &Engine, request: &Request) -> Result<Credential> {
        let scopes = scopes(request)?;
        let scope = controller::one_scope(&scopes, "node level (the node's managed identity)")?;
        let env = engine.env();
        let client = env.var(CLIENT_ID_VAR).filter(|v| !v.is_empty());
        if let Some(id) = &client {
            authority::client_id(id, CLIENT_ID_VAR)?;
        }
        let base = endpoints::imds_base(env)?;
        managed_identity::token(env, engine.timeouts(), &base, client.as_deref(), scope)
            .await
            .map(Credential::AccessToken)
    }

    async fn secret_level(
        engine: &Engine,
        request: &Request,
        data: &BTreeMap<String, Secret>,
    ) -> Result<Credential> {
        let scopes = scopes(request)?;
        let env = engine.env();
        let app_secret = secret::app(env, data)?;
        let app = App {
            authority: &app_secret.authority,
            tenant: &app_secret.tenant,
            client_id: &app_secret.client_id,
        };
        let proof = match &app_secret.credentials {
            Credentials::Secret(secret) => Proof::Secret(secret),
            Credentials::Certificate {
                certificate,
                send_chain,
            } => {
                let audience = authority::token_endpoint(&app_secret.authority, &app_secret.tenant);
                Proof::Assertion(certificate.assertion(
                    &app_secret.client_id,
                    &audience,
                    env.now(),
                    *send_chain,
                )?)
            }
        };
        entra::token(engine, request, &app, proof, &scopes)
            .await
            .map(Credential::AccessToken)
    }

    fn owns_registry(_: &str) -> bool {
        false
    }

    async fn registry_login(
        _: &Engine,
        _: &str,
        _: &Request,
        _: Option<Presented<'_>>,
    ) -> Result<RegistryCredentials> {
        Err(lacks(Operation::RegistryLogin))
    }

    async fn cluster_credentials(
        _: &Engine,
        _: &ClusterRef,
        _: &Request,
    ) -> Result<ClusterCredentials> {
        Err(lacks(Operation::ClusterCredentials))
    }

    async fn cluster_token(
        _: &Engine,
        _: &ClusterRef,
        _: &Request,
    ) -> Result<(Secret, SystemTime)> {
        Err(lacks(Operation::ClusterCredentials))
    }

    fn owns_git_host(_: &str) -> bool {
        false
    }

    async fn git_credentials(_: &Engine, _: &Url, _: &Request) -> Result<GitCredentials> {
        Err(lacks(Operation::GitCredentials))
    }

    fn owns_check(_: &str) -> bool {
        false
    }

    async fn check(_: &Engine, _: &str, _: &Request) -> Result<String> {
        Err(lacks(Operation::AccessCheck))
    }
}

/// The scopes of the access token: the request's (`--scope`), else Resource Manager's.
fn scopes(request: &Request) -> Result<Vec<String>> {
    request.checked_scopes(&[DEFAULT_SCOPE], "https://storage.azure.com/.default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_tenant_slash_client() {
        let account = ServiceAccountInfo::annotated(&[
            (
                annotations::TENANT_ID,
                "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
            ),
            (
                annotations::CLIENT_ID,
                "00000000-0000-0000-0000-0000000000aa",
            ),
        ]);
        assert_eq!(
            Azure::identity(&account).ok().as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47/00000000-0000-0000-0000-0000000000aa")
        );
        let missing = Azure::identity(&ServiceAccountInfo::annotated(&[]))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            missing.as_deref(),
            Some(
                "azure tenant ID is not set in the service account annotation \
                 azure.workload.identity/tenant-id"
            )
        );
    }
}
