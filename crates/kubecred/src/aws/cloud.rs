//! AWS's side of the cloud seam ([`crate::cloud::Cloud`]): the identity levels of
//! `credentials.rs`, and what the keys are used for: ECR / ECR Public login, EKS, CodeCommit,
//! S3 and KMS checks.

use std::collections::BTreeMap;
use std::time::SystemTime;

use url::Url;

use super::http::Transport;
use super::{annotations, checks, cluster, codecommit, credentials, ecr, parse, sdk::AwsVars};
use crate::account::ServiceAccountInfo;
use crate::cloud::{Capabilities, Cloud, Operation, Presented};
use crate::cluster::{ClusterCredentials, ClusterRef};
use crate::credential::{AwsKeys, Credential, KubernetesToken, RegistryCredentials};
use crate::error::{Error, Result};
use crate::git::GitCredentials;
use crate::{Engine, Request, Secret};

/// AWS.
pub(crate) struct Aws;

impl Cloud for Aws {
    const CAPABILITIES: Capabilities = Capabilities {
        levels: &[
            Operation::ObjectLevel,
            Operation::ControllerLevel,
            Operation::NodeLevel,
            Operation::SecretLevel,
        ],
        registries: Some("ECR, ECR Public"),
        clusters: Some("EKS"),
        reports_cluster_address: true,
        git: Some("AWS CodeCommit"),
        checks: Some("s3://BUCKET, kms://KEY-ARN, sqs://QUEUE-ARN"),
    };
    const ANNOTATIONS: &'static [&'static str] = annotations::ALL;
    const REQUIRED_ANNOTATIONS: &'static [&'static str] = annotations::REQUIRED;

    async fn audiences(_: &Engine, _: &Request, _: &ServiceAccountInfo) -> Result<Vec<String>> {
        Ok(vec![super::AUDIENCE.to_owned()])
    }

    fn controller_audiences(_: &Request) -> Vec<String> {
        Vec::new()
    }

    fn identity(account: &ServiceAccountInfo) -> Result<String> {
        credentials::identity(account)
    }

    async fn object_level(
        engine: &Engine,
        request: &Request,
        account: &ServiceAccountInfo,
        token: KubernetesToken,
    ) -> Result<Credential> {
        credentials::object_level(engine.env(), engine.timeouts(), request, account, &token).await
    }

    async fn controller_level(engine: &Engine, request: &Request) -> Result<Credential> {
        credentials::controller_level(engine.env(), engine.timeouts(), request).await
    }

    async fn node_level(engine: &Engine, request: &Request) -> Result<Credential> {
        credentials::node_level(engine.env(), engine.timeouts(), request).await
    }

    async fn secret_level(
        engine: &Engine,
        request: &Request,
        data: &BTreeMap<String, Secret>,
    ) -> Result<Credential> {
        let keys = credentials::secret_keys(data)?;
        credentials::secret_level(engine.env(), engine.timeouts(), request, keys).await
    }

    fn owns_registry(host: &str) -> bool {
        parse::ecr_registry(host).is_ok()
    }

    async fn registry_login(
        engine: &Engine,
        host: &str,
        request: &Request,
        presented: Option<Presented<'_>>,
    ) -> Result<RegistryCredentials> {
        let registry = parse::ecr_registry(host)?;
        let request = Request {
            region: Some(registry.region().to_owned()),
            ..request.clone()
        };
        let keys = match presented {
            None => engine.aws_keys(&request).await?,
            Some(Presented { account, token }) => engine
                .exchange_presented_token(&request, account, token)
                .await?
                .into_aws_keys()?,
        };
        ecr::login(
            &registry,
            &keys,
            engine.env(),
            Transport::of(engine, &request),
        )
        .await
        .map_err(|e| e.at("get an ECR authorization token"))
    }

    async fn cluster_credentials(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<ClusterCredentials> {
        cluster::credentials(engine, cluster, request).await
    }

    async fn cluster_token(
        engine: &Engine,
        cluster: &ClusterRef,
        request: &Request,
    ) -> Result<(Secret, SystemTime)> {
        cluster::token(engine, cluster, request).await
    }

    fn owns_git_host(host: &str) -> bool {
        super::hosts::codecommit_host_region(host).is_some()
    }

    async fn git_credentials(
        engine: &Engine,
        url: &Url,
        request: &Request,
    ) -> Result<GitCredentials> {
        let request = Request {
            region: Some(parse::codecommit_region(url.as_str())?),
            ..request.clone()
        };
        let keys = engine.aws_keys(&request).await?;
        codecommit::git_credentials(url.as_str(), &keys, engine.env().now())
    }

    fn owns_check(target: &str) -> bool {
        ["s3://", "kms://", "sqs://"]
            .iter()
            .any(|scheme| target.starts_with(scheme))
    }

    async fn check(engine: &Engine, target: &str, request: &Request) -> Result<String> {
        if let Some(bucket) = target.strip_prefix("s3://") {
            return check_bucket(engine, bucket.trim_end_matches('/'), request).await;
        }
        if let Some(key) = target.strip_prefix("kms://") {
            return check_key(engine, key, request).await;
        }
        if let Some(queue) = target.strip_prefix("sqs://") {
            return check_queue(engine, queue, request).await;
        }
        Err(Error::invalid(format!(
            "'{target}': expected s3://BUCKET, kms://KEY-ARN or sqs://QUEUE-ARN"
        )))
    }
}

/// `s3://BUCKET`: the bucket's objects can be listed (region: the request's, else AWS_REGION).
async fn check_bucket(engine: &Engine, bucket: &str, request: &Request) -> Result<String> {
    let region = request
        .region
        .clone()
        .or_else(|| engine.env().region())
        .ok_or_else(|| {
            Error::invalid("checking an S3 bucket needs its region: --region or AWS_REGION")
        })?;
    let request = Request {
        region: Some(region.clone()),
        ..request.clone()
    };
    let keys = engine.aws_keys(&request).await?;
    let env = engine.env();
    let seen =
        checks::s3_bucket(bucket, &region, &keys, env, Transport::of(engine, &request)).await?;
    Ok(format!("s3://{bucket}: ok ({seen:?})"))
}

/// `kms://KEY-ARN`: the key can be described (region: the request's, else the ARN's).
async fn check_key(engine: &Engine, key: &str, request: &Request) -> Result<String> {
    let region = request.region.clone().or_else(|| arn_region(key));
    let request = Request {
        region,
        ..request.clone()
    };
    let keys: AwsKeys = engine.aws_keys(&request).await?;
    let seen = checks::kms_key(key, &keys, engine.env(), Transport::of(engine, &request)).await?;
    Ok(format!("kms://{key}: ok ({seen:?})"))
}

/// `sqs://QUEUE-ARN`: the queue's URL can be read (region: the request's, else the ARN's).
async fn check_queue(engine: &Engine, queue: &str, request: &Request) -> Result<String> {
    let arn = checks::queue_arn(queue)?;
    let request = Request {
        region: request.region.clone().or(Some(arn.region.to_owned())),
        ..request.clone()
    };
    let keys: AwsKeys = engine.aws_keys(&request).await?;
    let seen =
        checks::sqs_queue(queue, &keys, engine.env(), Transport::of(engine, &request)).await?;
    Ok(format!("sqs://{queue}: ok ({seen:?})"))
}

/// The region field of an ARN (`arn:partition:service:region:...`), if not empty.
fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
}
