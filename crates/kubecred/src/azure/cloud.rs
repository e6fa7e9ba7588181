//! Azure's side of the cloud seam ([`crate::cloud::Cloud`]): object level (the ServiceAccount's
//! token as the client assertion of the Entra app or managed identity its workload identity
//! annotations name), controller level (`controller`: environment credentials, workload
//! identity, managed identity), node level (the node's managed identity through IMDS) and
//! secret level (`secret`: an app's client secret or certificate); ACR login (`acr`: the Entra
//! token exchanged for an ACR refresh token), AKS clusters (`aks`), Azure DevOps git (`devops`)
//! and access checks (`checks`: `azblob://`, `azkv://`, `eventhub://`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use url::Url;

use super::authority;
use super::controller::{self, CLIENT_ID_VAR};
use super::entra::{self, App, Proof};
use super::secret::{self, Credentials};
use super::{
    AUDIENCE, acr, aks, annotations, check_targets, checks, devops, endpoints, environment, hosts,
    managed_identity,
};
use crate::account::ServiceAccountInfo;
use crate::cloud::{Capabilities, Cloud, Operation, Presented};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{Credential, KubernetesToken, RegistryCredentials};
use crate::error::Result;
use crate::git::GitCredentials;
use crate::{Engine, Request, Secret};

/// Azure.
pub(crate) struct Azure;

impl Cloud for Azure {
    const CAPABILITIES: Capabilities = Capabilities {
        levels: &[
            Operation::ControllerLevel,
            Operation::ObjectLevel,
            Operation::NodeLevel,
            Operation::SecretLevel,
        ],
        registries: Some("ACR"),
        clusters: Some("AKS"),
        reports_cluster_address: true,
        git: Some("Azure DevOps"),
        checks: Some(check_targets::TARGETS),
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
        let scopes = scopes(engine, request)?;
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
        let scopes = scopes(engine, request)?;
        controller::access_token(engine, request, &scopes)
            .await
            .map(Credential::AccessToken)
    }

    async fn node_level(engine: &Engine, request: &Request) -> Result<Credential> {
        let scopes = scopes(engine, request)?;
        let scope = controller::one_scope(&scopes, "node level (the node's managed identity)")?;
        let env = engine.env();
        let client = env.var(CLIENT_ID_VAR).filter(|v| !v.is_empty());
        if let Some(id) = &client {
            authority::client_id(id, CLIENT_ID_VAR)?;
        }
        let url = endpoints::imds_token_url(env)?;
        managed_identity::token(env, engine.timeouts(), &url, client.as_deref(), scope)
            .await
            .map(Credential::AccessToken)
    }

    async fn secret_level(
        engine: &Engine,
        request: &Request,
        data: &BTreeMap<String, Secret>,
    ) -> Result<Credential> {
        let scopes = scopes(engine, request)?;
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

    fn owns_registry(host: &str) -> bool {
        hosts::registry(host).is_ok()
    }

    async fn registry_login(
        engine: &Engine,
        host: &str,
        request: &Request,
        presented: Option<Presented<'_>>,
    ) -> Result<RegistryCredentials> {
        let env = engine.env();
        let registry = environment::registry(env, host)?;
        let scoped = Request {
            scopes: vec![acr::scope(env, &registry)?],
            ..request.clone()
        };
        let token = match presented {
            None => engine.access_token(&scoped).await?,
            Some(Presented { account, token }) => engine
                .exchange_presented_token(&scoped, account, token)
                .await?
                .into_access_token()?,
        };
        acr::exchange(engine, request, &registry, &token.token).await
    }

    async fn cluster_credentials(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<ClusterCredentials> {
        aks::credentials(engine, cluster, request).await
    }

    async fn cluster_token(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<(Secret, SystemTime)> {
        aks::token(engine, cluster, request).await
    }

    fn owns_git_host(host: &str) -> bool {
        hosts::git_host(host)
    }

    async fn git_credentials(
        engine: &Engine,
        url: &Url,
        request: &Request,
    ) -> Result<GitCredentials> {
        devops::git_credentials(engine, url, request).await
    }

    fn git_refs_url(engine: &Engine, url: &Url) -> Result<Url> {
        super::endpoints::devops_refs_url(engine.env(), url)
    }

    fn owns_check(target: &str) -> bool {
        check_targets::owns(target)
    }

    async fn check(engine: &Engine, target: &str, request: &Request) -> Result<String> {
        checks::run(engine, target, request).await
    }
}

/// The scopes of the access token: the request's (`--scope`), else the cloud's Resource
/// Manager scope (what `az account get-access-token` gives).
fn scopes(engine: &Engine, request: &Request) -> Result<Vec<String>> {
    let arm = environment::cloud(engine.env())?.arm_scope();
    request.checked_scopes(&[arm.as_str()], environment::BLOB_SCOPE)
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
