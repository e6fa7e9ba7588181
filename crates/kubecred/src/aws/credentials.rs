//! The AWS identity levels, composed from the sources (`controller`, `secret_keys`) and the STS
//! exchanges (`sts`), followed by the optional role chain.
//!
//! ServiceAccount annotations read here:
//! - `eks.amazonaws.com/role-arn`: the role the ServiceAccount's token is exchanged for
//!   (audience `sts.amazonaws.com`);
//! - `aws.kubecred.io/assume-role-arn` (comma-separated for several hops) and
//!   `aws.kubecred.io/external-id` (for the last hop): roles to chain into afterwards.

use super::http::{self, HttpClient, Transport};
use super::parse::{self, ANNOTATION_ROLE_ARN};
use super::sdk::AwsVars;
use super::session::session_name;
use super::{controller, sts};
use crate::Env;
use crate::account::ServiceAccountInfo;
use crate::credential::{AwsKeys, Credential, KubernetesToken};
use crate::error::{Error, Result};
use crate::timeouts::Timeouts;
use crate::{AssumeRole, Request};

pub use super::annotations::{
    ASSUME_ROLE_ARN as ANNOTATION_ASSUME_ROLE_ARN, EXTERNAL_ID as ANNOTATION_EXTERNAL_ID,
};

const OBJECT_REGION_MISSING: &str = "an AWS region is required for authenticating with a service account. \
please configure one in the object spec (kubecred token: --region)";
const CONTROLLER_REGION_MISSING: &str = "AWS_REGION environment variable is not set. if you have properly configured \
IAM Roles for Service Accounts (IRSA) or EKS Pod Identity, delete/replace the pod so that the EKS admission \
controllers inject this variable, or set it (or --region) if the cluster is not EKS";

/// The role a ServiceAccount maps to, plus its chain: the cloud identity in the cache key.
pub(crate) fn identity(account: &ServiceAccountInfo) -> Result<String> {
    let role = role_arn(account)?;
    let hops = annotation_hops(account)?;
    let chain: Vec<String> = hops.iter().map(|hop| hop.role_arn.clone()).collect();
    let external = account
        .annotations
        .get(ANNOTATION_EXTERNAL_ID)
        .map(|id| format!(" (external id {id})"));
    Ok([vec![role], chain].concat().join(" -> ") + external.as_deref().unwrap_or(""))
}

fn role_arn(account: &ServiceAccountInfo) -> Result<String> {
    let Some(arn) = account.annotations.get(ANNOTATION_ROLE_ARN) else {
        return Err(Error::invalid(format!(
            "the service account has no {ANNOTATION_ROLE_ARN} annotation. annotate it with an IAM role that trusts \
             this cluster's OIDC issuer; EKS Pod Identity associations cannot be used at object level because \
             they need a token bound to a running pod"
        )));
    };
    parse::role_arn(arn, &format!("{ANNOTATION_ROLE_ARN} annotation"))
}

fn annotation_hops(account: &ServiceAccountInfo) -> Result<Vec<AssumeRole>> {
    let Some(list) = account.annotations.get(ANNOTATION_ASSUME_ROLE_ARN) else {
        return Ok(Vec::new());
    };
    let source = format!("{ANNOTATION_ASSUME_ROLE_ARN} annotation");
    let arns: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| parse::role_arn(a, &source))
        .collect::<Result<_>>()?;
    let last = arns.len().saturating_sub(1);
    let external_id = account.annotations.get(ANNOTATION_EXTERNAL_ID);
    Ok(arns
        .into_iter()
        .enumerate()
        .map(|(i, role_arn)| AssumeRole {
            role_arn,
            external_id: external_id.filter(|_| i == last).cloned(),
        })
        .collect())
}

/// Object level: exchange the ServiceAccount's token for its role, then chain.
pub(crate) async fn object_level(
    env: &Env,
    timeouts: &Timeouts,
    request: &Request,
    account: &ServiceAccountInfo,
    token: &KubernetesToken,
) -> Result<Credential> {
    let region = request
        .region
        .as_deref()
        .ok_or_else(|| Error::invalid(OBJECT_REGION_MISSING))?;
    let role = role_arn(account)?;
    let session = session_name(&account.name, &account.namespace, region);
    let target = StsTarget::new(env, timeouts, request, region)?;
    let keys =
        sts::assume_role_with_web_identity(&target.client(None), &role, &session, &token.token)
            .await
            .map_err(|e| e.at("exchange the Kubernetes token with STS"))?;
    let hops = [annotation_hops(account)?, request.assume_roles.clone()].concat();
    chain(keys, &hops, &target, &session)
        .await
        .map(Credential::AwsKeys)
}

/// Controller level: the process's own AWS environment, then the request's chain. A request's
/// STS endpoint is refused here: the chain's own STS calls (web identity, assume-role profiles)
/// cannot be pointed at it (aws-config takes their endpoint from the environment only), and
/// applying it to the role chain alone would be half of what it says.
pub(crate) async fn controller_level(
    env: &Env,
    timeouts: &Timeouts,
    request: &Request,
) -> Result<Credential> {
    refuse_sts_endpoint_at_controller_level(request)?;
    let region = request
        .region
        .clone()
        .or_else(|| env.region())
        .ok_or_else(|| Error::not_configured(CONTROLLER_REGION_MISSING))?;
    let target = StsTarget::new(env, timeouts, request, &region)?;
    let keys = controller::default_chain(&target.http, &region)
        .await
        .map_err(|e| e.at("load the default credential chain"))?;
    chain(keys, &request.assume_roles, &target, "kubecred-controller")
        .await
        .map(Credential::AwsKeys)
}

fn refuse_sts_endpoint_at_controller_level(request: &Request) -> Result<()> {
    match &request.sts_endpoint {
        None => Ok(()),
        Some(endpoint) => Err(Error::invalid(format!(
            "the STS endpoint '{}' cannot be used at controller level: the controller's own \
             credential chain (web identity, assume-role profiles) takes its STS endpoint from \
             the operator's environment (AWS_ENDPOINT_URL_STS). use a service account, a Secret \
             or the node's identity with an STS endpoint, or drop it",
            endpoint.escape_default()
        ))),
    }
}

/// Node level: the instance's role (IMDSv2), then the request's chain.
pub(crate) async fn node_level(
    env: &Env,
    timeouts: &Timeouts,
    request: &Request,
) -> Result<Credential> {
    sts_endpoint(env, request)?; // checked even when no STS call follows
    let keys = controller::instance_metadata(timeouts)
        .await
        .map_err(|e| e.at("read the instance metadata service"))?;
    let hops = &request.assume_roles;
    match request.region.clone().or_else(|| env.region()) {
        Some(region) => {
            let target = StsTarget::new(env, timeouts, request, &region)?;
            chain(keys, hops, &target, "kubecred-node")
                .await
                .map(Credential::AwsKeys)
        }
        None if hops.is_empty() => Ok(Credential::AwsKeys(keys)),
        None => Err(Error::invalid(
            "assuming roles needs a region (--region or AWS_REGION)",
        )),
    }
}

/// Secret level: the keys of a Secret, then the request's chain.
pub(crate) async fn secret_level(
    env: &Env,
    timeouts: &Timeouts,
    request: &Request,
    keys: AwsKeys,
) -> Result<Credential> {
    sts_endpoint(env, request)?; // checked even when no STS call follows
    if request.assume_roles.is_empty() {
        return Ok(Credential::AwsKeys(keys));
    }
    let region = request
        .region
        .clone()
        .or_else(|| env.region())
        .ok_or_else(|| Error::invalid("assuming roles needs a region (--region or AWS_REGION)"))?;
    let target = StsTarget::new(env, timeouts, request, &region)?;
    chain(keys, &request.assume_roles, &target, "kubecred-secret")
        .await
        .map(Credential::AwsKeys)
}

/// The keys a Secret's data holds (`accesskey`/`secretkey`/`sessiontoken` or `sops.aws-kms`).
pub(crate) fn secret_keys(
    data: &std::collections::BTreeMap<String, crate::Secret>,
) -> Result<AwsKeys> {
    super::secret_keys::keys(data)
}

/// The STS endpoint: the request's (validated: tenants may set it), else the operator's.
fn sts_endpoint(env: &Env, request: &Request) -> Result<Option<String>> {
    match &request.sts_endpoint {
        Some(endpoint) => parse::sts_endpoint(endpoint).map(Some),
        None => Ok(env.endpoint_url("STS")),
    }
}

/// Where a request's STS calls go: the region, the endpoint (see [`sts_endpoint`]) and the HTTP
/// client with the request's proxy.
struct StsTarget {
    http: HttpClient,
    region: String,
    endpoint: Option<String>,
}

impl StsTarget {
    fn new(env: &Env, timeouts: &Timeouts, request: &Request, region: &str) -> Result<StsTarget> {
        let transport = Transport {
            proxy: request.proxy.as_ref(),
            timeouts: *timeouts,
        };
        Ok(StsTarget {
            http: http::client(transport)?,
            region: region.to_owned(),
            endpoint: sts_endpoint(env, request)?,
        })
    }

    /// A client signing with `keys` (none for `AssumeRoleWithWebIdentity`).
    fn client(&self, keys: Option<&AwsKeys>) -> aws_sdk_sts::Client {
        sts::client(&self.http, &self.region, self.endpoint.as_deref(), keys)
    }
}

/// Assumes each role in turn, each hop signed with the previous hop's keys.
async fn chain(
    mut keys: AwsKeys,
    hops: &[AssumeRole],
    target: &StsTarget,
    session: &str,
) -> Result<AwsKeys> {
    for (i, hop) in hops.iter().enumerate() {
        parse::role_arn(&hop.role_arn, "role to assume")?;
        keys = sts::assume_role(&target.client(Some(&keys)), hop, session)
            .await
            .map_err(|e| {
                e.at(if i == 0 {
                    "assume the first chained role"
                } else {
                    "assume a chained role"
                })
            })?;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn account(annotations: &[(&str, &str)]) -> ServiceAccountInfo {
        ServiceAccountInfo {
            namespace: "team-a".into(),
            name: "app".into(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn identity_is_the_role_and_its_chain() -> Result<()> {
        let plain = account(&[(
            ANNOTATION_ROLE_ARN,
            "arn:aws:iam::1234567890:role/some-role",
        )]);
        assert_eq!(identity(&plain)?, "arn:aws:iam::1234567890:role/some-role");
        let chained = account(&[
            (ANNOTATION_ROLE_ARN, "arn:aws:iam::1:role/a"),
            (
                ANNOTATION_ASSUME_ROLE_ARN,
                "arn:aws:iam::2:role/b, arn:aws:iam::3:role/c",
            ),
            (ANNOTATION_EXTERNAL_ID, "ext-1"),
        ]);
        assert_eq!(
            identity(&chained)?,
            "arn:aws:iam::1:role/a -> arn:aws:iam::2:role/b -> arn:aws:iam::3:role/c (external id ext-1)"
        );
        let hops = annotation_hops(&chained)?;
        assert_eq!(
            hops.iter()
                .map(|h| h.external_id.as_deref())
                .collect::<Vec<_>>(),
            vec![None, Some("ext-1")]
        );
        Ok(())
    }

    #[test]
    fn missing_or_invalid_annotations_are_explained() {
        let missing = identity(&account(&[]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            missing.contains("no eks.amazonaws.com/role-arn annotation")
                && missing.contains("Pod Identity"),
            "{missing}"
        );
        let invalid = identity(&account(&[(ANNOTATION_ROLE_ARN, "foobar")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            invalid
                .starts_with("invalid eks.amazonaws.com/role-arn annotation: 'foobar'. must match"),
            "{invalid}"
        );
        let bad_hop = identity(&account(&[
            (ANNOTATION_ROLE_ARN, "arn:aws:iam::1:role/a"),
            (ANNOTATION_ASSUME_ROLE_ARN, "nope"),
        ]));
        assert!(bad_hop.is_err());
    }

    #[test]
    fn request_endpoints_are_validated_operator_endpoints_are_not() -> Result<()> {
        let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566")]);
        let mut request = Request::new(crate::Provider::Aws);
        assert_eq!(
            sts_endpoint(&env, &request)?.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        request.sts_endpoint = Some("https://sts.us-west-2.amazonaws.com".into());
        assert_eq!(
            sts_endpoint(&env, &request)?.as_deref(),
            Some("https://sts.us-west-2.amazonaws.com")
        );
        request.sts_endpoint = Some("http://127.0.0.1:4566".into());
        assert!(sts_endpoint(&env, &request).is_err());
        request.sts_endpoint = Some("https://127.0.0.1:18701/x.sts.amazonaws.com".into());
        assert!(sts_endpoint(&env, &request).is_err());
        Ok(())
    }

    /// The override used to be handed to `aws_config::ConfigLoader::endpoint_url`, which never
    /// reaches the chain's STS client: it was silently ignored. Now it is refused before any call.
    #[tokio::test]
    async fn controller_level_refuses_a_request_sts_endpoint() {
        let env = Env::from_pairs(&[("AWS_REGION", "us-east-1")]);
        let request = Request {
            sts_endpoint: Some("https://sts.us-east-1.amazonaws.com".into()),
            ..Request::new(crate::Provider::Aws)
        };
        let error = controller_level(&env, &Timeouts::default(), &request)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(
                "the STS endpoint 'https://sts.us-east-1.amazonaws.com' cannot be used at controller level"
            ),
            "{error}"
        );
    }

    /// Secret and node level check the endpoint first, even when no STS call would follow.
    #[tokio::test]
    async fn other_levels_check_the_endpoint_before_anything() {
        let env = Env::from_pairs(&[]);
        let request = Request {
            sts_endpoint: Some("https://a@x.sts.amazonaws.com".into()),
            ..Request::new(crate::Provider::Aws)
        };
        let keys = AwsKeys {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: crate::Secret::new("secret"),
            session_token: None,
            expires_at: None,
        };
        for result in [
            node_level(&env, &Timeouts::default(), &request).await,
            secret_level(&env, &Timeouts::default(), &request, keys).await,
        ] {
            let error = result.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("it has user info"), "{error}");
        }
    }
}
