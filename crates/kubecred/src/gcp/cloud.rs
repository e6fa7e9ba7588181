//! GCP's side of the cloud seam ([`crate::cloud::Cloud`]): object level (STS exchange, then
//! impersonation when the ServiceAccount names a GCP service account), node level (the
//! metadata server's token), GAR / GCR / S3NS registry login with either, GKE remote
//! clusters (the access token as the bearer), and access checks (`gs://`, `gcpkms://`,
//! `pubsub://`, `gar://`, in [`super::checks`]).
//!
//! Controller level is Application Default Credentials (`controller`), secret level a Secret's
//! service-account key (`secret`).
//!
//! Not yet here (it answers the shared "unsupported" refusal): git.

use std::collections::BTreeMap;
use std::time::SystemTime;

use url::Url;

use super::annotations::{self, GcpAnnotations};
use super::audience::{Federation, IMPERSONATION_STS_SCOPE, REGISTRY_USERNAME, SCOPES};
use super::{check_targets, checks, controller, endpoints, gke, hosts, iam, metadata, secret, sts};
use crate::account::ServiceAccountInfo;
use crate::cloud::{self, Capabilities, Cloud, Operation, Presented};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{AccessToken, Credential, KubernetesToken, RegistryCredentials};
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Provider, Request, Secret};

/// GCP.
pub(crate) struct Gcp;

fn lacks(operation: Operation) -> Error {
    cloud::unsupported(Provider::Gcp, operation)
}

impl Cloud for Gcp {
    const CAPABILITIES: Capabilities = Capabilities {
        levels: &[
            Operation::ControllerLevel,
            Operation::ObjectLevel,
            Operation::NodeLevel,
            Operation::SecretLevel,
        ],
        registries: Some("GAR, GCR, S3NS"),
        clusters: Some("GKE"),
        reports_cluster_address: true,
        git: None,
        checks: Some(check_targets::TARGETS),
    };
    const ANNOTATIONS: &'static [&'static str] = annotations::ALL;
    const REQUIRED_ANNOTATIONS: &'static [&'static str] = annotations::REQUIRED;

    async fn audiences(
        engine: &Engine,
        _: &Request,
        account: &ServiceAccountInfo,
    ) -> Result<Vec<String>> {
        Ok(vec![federation(engine, account).await?.token_audience()])
    }

    fn controller_audiences(_: &Request) -> Vec<String> {
        Vec::new()
    }

    fn identity(account: &ServiceAccountInfo) -> Result<String> {
        GcpAnnotations::read(account).map(|annotations| identity(&annotations))
    }

    async fn object_level(
        engine: &Engine,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        object_level(engine, request, account, &token.token)
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
        metadata::node_token(engine.env(), engine.timeouts(), &scopes)
            .await
            .map(Credential::AccessToken)
    }

    async fn secret_level(
        engine: &Engine,
        request: &Request,
        data: &BTreeMap<String, Secret>,
    ) -> Result<Credential> {
        let scopes = scopes(request)?;
        let key = secret::key(engine.env(), data)?;
        controller::key_token(engine, request, &scopes, &key)
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
        hosts::registry(host)?;
        let token = match presented {
            None => engine.access_token(request).await?,
            Some(Presented { account, token }) => engine
                .exchange_presented_token(request, account, token)
                .await?
                .into_access_token()?,
        };
        Ok(RegistryCredentials {
            username: REGISTRY_USERNAME.to_owned(),
            password: token.token,
            expires_at: token.expires_at,
        })
    }

    async fn cluster_credentials(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<ClusterCredentials> {
        gke::credentials(engine, cluster, request).await
    }

    async fn cluster_token(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<(Secret, SystemTime)> {
        gke::token(engine, cluster, request).await
    }

    fn owns_git_host(_: &str) -> bool {
        false
    }

    async fn git_credentials(_: &Engine, _: &Url, _: &Request) -> Result<GitCredentials> {
        Err(lacks(Operation::GitCredentials))
    }

    fn owns_check(target: &str) -> bool {
        check_targets::owns(target)
    }

    async fn check(engine: &Engine, target: &str, request: &Request) -> Result<String> {
        checks::run(engine, target, request).await
    }
}

/// The cloud identity in the cache key: the annotations, as validated.
fn identity(annotations: &GcpAnnotations) -> String {
    let federation = match &annotations.workload_identity_provider {
        Some(provider) => provider.audience(),
        None => "GKE workload identity".to_owned(),
    };
    let access = match &annotations.service_account {
        Some(email) => format!("impersonating {}", email.as_str()),
        None => "direct access".to_owned(),
    };
    format!("{federation}, {access}")
}

/// The scopes of the access token: the request's (`--scope`), else the reference's two.
fn scopes(request: &Request) -> Result<Vec<String>> {
    request.checked_scopes(SCOPES, SCOPES[0])
}

/// Where a ServiceAccount's token is federated: the workload identity provider its annotation
/// names, else this GKE cluster (read from the metadata server, on first need).
async fn federation(engine: &Engine, account: &ServiceAccountInfo) -> Result<Federation> {
    federation_of(engine, &GcpAnnotations::read(account)?).await
}

async fn federation_of(engine: &Engine, annotations: &GcpAnnotations) -> Result<Federation> {
    match annotations.workload_identity_provider.clone() {
        Some(provider) => Ok(Federation::Provider(provider)),
        None => metadata::gke_cluster(engine.env(), engine.timeouts())
            .await
            .map(Federation::Gke)
            .map_err(|e| {
                e.at("learn the GKE cluster (the service account has no \
                      gcp.auth.fluxcd.io/workload-identity-provider annotation)")
            }),
    }
}

/// Object level: the STS exchange, then impersonation if the ServiceAccount names a GCP
/// service account (the reference's order: provider annotation, GKE metadata, email). Every
/// endpoint is checked before the first call.
async fn object_level(
    engine: &Engine,
    request: &Request,
    account: &ServiceAccountInfo,
    subject_token: &Secret,
) -> Result<AccessToken> {
    let scopes = scopes(request)?;
    let annotations = GcpAnnotations::read(account)?;
    let federation = federation_of(engine, &annotations).await?;
    let env = engine.env();
    let sts_url = endpoints::sts_token_url(env)?;
    let impersonation = annotations
        .service_account
        .as_ref()
        .map(|email| endpoints::impersonation_url(env, email))
        .transpose()?;
    let Some(url) = impersonation else {
        return exchange(
            engine,
            request,
            &sts_url,
            &federation,
            &scopes,
            subject_token,
        )
        .await;
    };
    // STS grants what impersonating needs; the service account's token carries the scopes.
    let sts_scopes = [IMPERSONATION_STS_SCOPE.to_owned()];
    let federated = exchange(
        engine,
        request,
        &sts_url,
        &federation,
        &sts_scopes,
        subject_token,
    )
    .await?;
    let proxy = request.proxy.as_ref();
    iam::generate_access_token(&url, &federated.token, &scopes, proxy, engine.timeouts()).await
}

/// The STS exchange of `subject_token` for `federation`'s audience and `scopes`.
async fn exchange(
    engine: &Engine,
    request: &Request,
    url: &Url,
    federation: &Federation,
    scopes: &[String],
    subject_token: &Secret,
) -> Result<AccessToken> {
    let audience = federation.sts_audience();
    let exchange = sts::Exchange {
        url,
        audience: &audience,
        scopes,
        proxy: request.proxy.as_ref(),
        timeouts: engine.timeouts(),
    };
    sts::exchange(exchange, subject_token, engine.env().now()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(pairs: &[(&str, &str)]) -> ServiceAccountInfo {
        ServiceAccountInfo::annotated(pairs)
    }

    const PROVIDER: &str =
        "projects/123456789000/locations/global/workloadIdentityPools/pool/providers/prov";

    #[test]
    fn identities_name_the_validated_annotations() {
        let both = account(&[
            (annotations::WORKLOAD_IDENTITY_PROVIDER, PROVIDER),
            (
                annotations::SERVICE_ACCOUNT,
                "sa@example-project.iam.gserviceaccount.com",
            ),
        ]);
        assert_eq!(
            Gcp::identity(&both).ok(),
            Some(format!(
                "//iam.googleapis.com/{PROVIDER}, impersonating sa@example-project.iam.gserviceaccount.com"
            ))
        );
        assert_eq!(
            Gcp::identity(&account(&[])).ok().as_deref(),
            Some("GKE workload identity, direct access")
        );
        let bad = account(&[(annotations::SERVICE_ACCOUNT, "foobar")]);
        let error = Gcp::identity(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("invalid iam.gke.io/gcp-service-account annotation: 'foobar'"),
            "{error}"
        );
    }

    #[test]
    fn scopes_are_the_requests_or_the_references() {
        let mut request = Request::new(Provider::Gcp);
        assert_eq!(
            scopes(&request).ok(),
            Some(SCOPES.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        );
        request.scopes = vec!["https://www.googleapis.com/auth/devstorage.read_only".into()];
        assert_eq!(scopes(&request).ok(), Some(request.scopes.clone()));
        for bad in ["", "a b", "a,b", "a\nb"] {
            request.scopes = vec![bad.to_owned()];
            let error = scopes(&request)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.starts_with("invalid OAuth scope '"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn registries_are_matched_exactly() {
        for host in [
            "europe-west1-docker.pkg.dev",
            "gcr.io",
            "eu.gcr.io",
            "docker.s3nsregistry.fr",
        ] {
            assert!(Gcp::owns_registry(host), "{host}");
        }
        for host in [
            "gcr.io.example.net",
            "evil-docker.pkg.dev.example",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        ] {
            assert!(!Gcp::owns_registry(host), "{host}");
        }
    }
}
