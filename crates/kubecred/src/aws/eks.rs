//! EKS cluster access: the API server address and CA (from `DescribeCluster` when the caller does
//! not give them) and the bearer token `k8s-aws-v1.<base64url(presigned STS GetCallerIdentity
//! URL)>` that the cluster's authenticator redeems at STS.
//!
//! Endpoints:
//! - EKS `GET https://eks.<region>.amazonaws.com/clusters/<name>`; override with
//!   `AWS_ENDPOINT_URL_EKS` (or `AWS_ENDPOINT_URL`);
//! - STS `https://sts.<region>.<partition suffix>/` inside the token; overridden by the request's
//!   (validated) STS endpoint, then by `AWS_ENDPOINT_URL_STS` (or `AWS_ENDPOINT_URL`).
//!
//! The token is valid for 15 minutes (`X-Amz-Expires=900`); no network call makes it.

use std::time::{Duration, SystemTime};

use aws_sdk_eks::config::{BehaviorVersion, Region};
use aws_sigv4::http_request::{SignatureLocation, SigningSettings};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::http::Transport;
use super::parse::EksClusterArn;
use super::sdk::{AwsVars, sdk_credentials};
use super::sdk_error::sdk_error;
use super::signing::{self, Scope, Unsigned};
use crate::Env;
use crate::error::{Error, Result};
use crate::{AwsKeys, Provider, Secret};

/// The prefix of EKS bearer tokens.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header naming the cluster, signed into the token.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long a token is valid (the presigned URL's `X-Amz-Expires`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
const GET_CALLER_IDENTITY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// What a client needs to reach an EKS cluster's API server.
#[derive(Clone, Debug)]
pub struct ClusterAccess {
    /// The API server URL (as given, or the cluster's endpoint).
    pub server: String,
    /// The cluster CA certificate (PEM bytes as given or decoded from the API), if any.
    pub ca_data: Option<Vec<u8>>,
    /// The bearer token (`k8s-aws-v1.…`).
    pub token: Secret,
    /// When the token stops working (`now` + 15 minutes).
    pub expires_at: SystemTime,
}

/// What the caller already knows of a cluster (e.g. from the remote-cluster ConfigMap).
#[derive(Clone, Copy, Debug, Default)]
pub struct Known<'a> {
    /// The API server's address, used verbatim.
    pub address: Option<&'a str>,
    /// The CA bundle (PEM).
    pub ca_data: Option<&'a [u8]>,
}

/// Builds access to an EKS cluster. `DescribeCluster` runs only when the known address or CA
/// is missing (or empty). `sts_endpoint` must already be validated
/// ([`super::parse::sts_endpoint`]); `transport` carries `DescribeCluster` (its proxy: see
/// [`crate::Request::proxy`]; and its timeouts).
pub async fn cluster_access(
    arn: &EksClusterArn,
    known: Known<'_>,
    keys: &AwsKeys,
    env: &Env,
    sts_endpoint: Option<&str>,
    transport: Transport<'_>,
    now: SystemTime,
) -> Result<ClusterAccess> {
    let (server, ca_data) = server_and_ca(arn, known, keys, env, transport).await?;
    let token = sts_url(&arn.region, sts_endpoint, env)
        .and_then(|sts_url| presigned_token(&arn.name, &arn.region, keys, &sts_url, now))
        .map_err(|e| {
            e.at("presign STS GetCallerIdentity")
                .for_provider(Provider::Aws)
        })?;
    Ok(ClusterAccess {
        server,
        ca_data,
        token,
        expires_at: now + TOKEN_LIFETIME,
    })
}

/// The given address and CA; `DescribeCluster` fills in what is missing or empty.
async fn server_and_ca(
    arn: &EksClusterArn,
    known: Known<'_>,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<(String, Option<Vec<u8>>)> {
    let address = known.address.filter(|a| !a.is_empty()).map(str::to_owned);
    let ca_data = known.ca_data.filter(|c| !c.is_empty()).map(<[u8]>::to_vec);
    match (address, ca_data) {
        (Some(address), Some(ca)) => Ok((address, Some(ca))),
        (address, ca_data) => {
            let described = describe(arn, keys, env, transport).await?;
            Ok((
                address.unwrap_or(described.endpoint),
                ca_data.or(described.ca_data),
            ))
        }
    }
}

/// What `DescribeCluster` said.
struct Described {
    endpoint: String,
    ca_data: Option<Vec<u8>>,
}

async fn describe(
    arn: &EksClusterArn,
    keys: &AwsKeys,
    env: &Env,
    transport: Transport<'_>,
) -> Result<Described> {
    let action = format!("describe EKS cluster '{}' in {}", arn.name, arn.region);
    let http = super::http::client(transport)
        .map_err(|e| e.at("describe EKS cluster").for_provider(Provider::Aws))?;
    let mut builder = aws_sdk_eks::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http.client())
        .timeout_config(http.timeout_config())
        .region(Region::new(arn.region.clone()))
        .credentials_provider(sdk_credentials(keys));
    builder.set_endpoint_url(env.endpoint_url("EKS"));
    let config = builder.build();
    let output = aws_sdk_eks::Client::from_conf(config)
        .describe_cluster()
        .name(&arn.name)
        .send()
        .await
        .map_err(|e| sdk_error(e, &action));
    let described = output.and_then(|output| described(output.cluster(), &action));
    described.map_err(|e| e.at("describe EKS cluster").for_provider(Provider::Aws))
}

fn described(cluster: Option<&aws_sdk_eks::types::Cluster>, action: &str) -> Result<Described> {
    let cluster =
        cluster.ok_or_else(|| Error::upstream(format!("{action}: no cluster in the answer")))?;
    let endpoint = cluster
        .endpoint()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::upstream(format!("{action}: the cluster has no endpoint")))?;
    let ca_data = cluster
        .certificate_authority()
        .and_then(|ca| ca.data())
        .filter(|d| !d.is_empty());
    let ca_data = ca_data
        .map(|data| STANDARD.decode(data.trim()))
        .transpose()
        .map_err(|e| {
            Error::upstream(format!("{action}: failed to decode EKS CA certificate")).with_source(e)
        })?;
    Ok(Described {
        endpoint: endpoint.to_owned(),
        ca_data,
    })
}

/// The STS URL the token is presigned for: the request's endpoint, the operator's override,
/// or the region's public endpoint.
pub fn sts_url(region: &str, sts_endpoint: Option<&str>, env: &Env) -> Result<String> {
    match sts_endpoint
        .map(str::to_owned)
        .or_else(|| env.endpoint_url("STS"))
    {
        Some(endpoint) => Ok(endpoint),
        None => Ok(format!(
            "https://sts.{}.{}",
            signing::region(region)?,
            signing::dns_suffix(region)
        )),
    }
}

/// The EKS bearer token for a cluster: `k8s-aws-v1.` + base64url (no padding) of a presigned
/// STS `GetCallerIdentity` URL signing `x-k8s-aws-id: <cluster_name>`, valid 15 minutes.
pub fn presigned_token(
    cluster_name: &str,
    region: &str,
    keys: &AwsKeys,
    sts_url: &str,
    now: SystemTime,
) -> Result<Secret> {
    let url = presigned_url(cluster_name, region, keys, sts_url, now)
        .map_err(|e| e.at("presign STS GetCallerIdentity"))?;
    Ok(encode_token(&url))
}

fn presigned_url(
    cluster_name: &str,
    region: &str,
    keys: &AwsKeys,
    sts_url: &str,
    now: SystemTime,
) -> Result<Secret> {
    let base = format!("{}/?{GET_CALLER_IDENTITY}", sts_url.trim_end_matches('/'));
    let mut url = signing::endpoint(&base, "STS")?;
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let scope = Scope {
        region: signing::region(region)?,
        service: "sts",
        time: now,
    };
    let headers = [(CLUSTER_ID_HEADER, cluster_name)];
    let request = Unsigned {
        method: "GET",
        url: &url,
        headers: &headers,
        body: &[],
    };
    let instructions = signing::instructions(keys, scope, request, settings)?;
    url.query_pairs_mut()
        .extend_pairs(instructions.params().iter().map(|(k, v)| (*k, v.as_ref())));
    Ok(Secret::new(String::from(url)))
}

fn encode_token(url: &Secret) -> Secret {
    Secret::new(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(url.expose())
    ))
}

/// Decodes an EKS bearer token back into its presigned URL (for verifiers).
pub fn decode_token(token: &str) -> Result<String> {
    let encoded = token.strip_prefix(TOKEN_PREFIX).ok_or_else(|| {
        Error::invalid(format!(
            "not an EKS token: the '{TOKEN_PREFIX}' prefix is missing"
        ))
    })?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| Error::invalid("not an EKS token: not base64url"))?;
    String::from_utf8(bytes).map_err(|_| Error::invalid("not an EKS token: the URL is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;

    fn keys() -> AwsKeys {
        AwsKeys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("session/token+value=")),
            expires_at: None,
        }
    }

    fn at_2024_01_02_030405() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    fn presigned(sts_url: &str) -> Result<String> {
        presigned_token(
            "my-cluster",
            "us-west-2",
            &keys(),
            sts_url,
            at_2024_01_02_030405(),
        )
        .and_then(|token| decode_token(token.expose()))
    }

    #[test]
    fn reference_vector_for_the_token_encoding() {
        let url = "https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256";
        let token = encode_token(&Secret::new(url));
        assert_eq!(
            token.expose(),
            "k8s-aws-v1.aHR0cHM6Ly9zdHMudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTY"
        );
        assert_eq!(decode_token(token.expose()).ok().as_deref(), Some(url));
    }

    #[test]
    fn presigned_url_has_the_reference_shape() {
        let url = presigned("https://sts.us-west-2.amazonaws.com").map_err(|e| e.to_string());
        let url = url.as_deref().unwrap_or_default();
        assert!(
            url.starts_with(
                "https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
            ),
            "{url}"
        );
        assert!(
            url.contains("&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id&"),
            "{url}"
        );
        assert!(url.contains("&X-Amz-Expires=900&"), "{url}");
        let parsed = Url::parse(url).map_err(|e| e.to_string());
        let keys: Vec<String> = parsed
            .iter()
            .flat_map(|u| u.query_pairs().map(|(k, _)| k.into_owned()))
            .collect();
        for key in [
            "Action",
            "Version",
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
    }

    /// The signature botocore's `SigV4QueryAuth` (what `aws eks get-token` uses) produced for the
    /// same keys, time, region and header; computed once with python3/botocore 1.43 and pasted.
    #[test]
    fn signature_matches_botocore() {
        let url = presigned("https://sts.us-west-2.amazonaws.com/").unwrap_or_default();
        assert!(
            url.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F20240102%2Fus-west-2%2Fsts%2Faws4_request"
            ),
            "{url}"
        );
        assert!(url.contains("X-Amz-Date=20240102T030405Z"), "{url}");
        assert!(
            url.contains("X-Amz-Security-Token=session%2Ftoken%2Bvalue%3D"),
            "{url}"
        );
        assert!(
            url.contains(
                "X-Amz-Signature=2bd2659e935fe4d99d5e1ef612b6c4252ca7fb770746b861a549ceb32c1d793f"
            ),
            "{url}"
        );
    }

    #[test]
    fn sts_url_precedence() {
        let env = Env::from_pairs(&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")]);
        let none = Env::from_pairs(&[]);
        assert_eq!(
            sts_url("us-east-1", None, &none).ok().as_deref(),
            Some("https://sts.us-east-1.amazonaws.com")
        );
        assert_eq!(
            sts_url("cn-north-1", None, &none).ok().as_deref(),
            Some("https://sts.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            sts_url("us-east-1", None, &env).ok().as_deref(),
            Some("http://127.0.0.1:9")
        );
        let request = Some("https://sts-fips.us-east-1.amazonaws.com");
        assert_eq!(sts_url("us-east-1", request, &env).ok().as_deref(), request);
        assert!(sts_url("evil.example/x", None, &none).is_err());
    }

    #[test]
    fn bad_tokens_are_refused_without_echoing_them() {
        for token in ["Bearer s3cr3t", "k8s-aws-v1.!!s3cr3t!!", "k8s-aws-v1.__8"] {
            let shown = decode_token(token)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(shown.starts_with("not an EKS token"), "{shown}");
            assert!(!shown.contains("s3cr3t"), "{shown}");
        }
    }

    #[test]
    fn describe_answer_is_checked_and_the_ca_decoded() {
        use aws_sdk_eks::types::{Certificate, Cluster};
        let ca = Certificate::builder()
            .data("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t")
            .build();
        let cluster = Cluster::builder()
            .endpoint("https://x.eks.amazonaws.com")
            .certificate_authority(ca)
            .build();
        let answer = described(Some(&cluster), "describe").map_err(|e| e.to_string());
        assert_eq!(
            answer.as_ref().map(|d| d.endpoint.as_str()),
            Ok("https://x.eks.amazonaws.com")
        );
        assert_eq!(
            answer.map(|d| d.ca_data),
            Ok(Some(b"-----BEGIN CERTIFICATE-----".to_vec()))
        );
        let bad_ca = Cluster::builder()
            .endpoint("https://x")
            .certificate_authority(Certificate::builder().data("%%").build())
            .build();
        assert!(
            described(Some(&bad_ca), "d")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
                .contains("failed to decode EKS CA certificate")
        );
        assert!(described(Some(&Cluster::builder().build()), "d").is_err());
        assert!(described(None, "d").is_err());
    }
}
