//! Parsers of AWS identifiers that arrive from outside (annotations, flags, registry hosts,
//! cluster ARNs, git URLs). Patterns match the Flux reference textually (they appear in error
//! messages); `\w` is ASCII-only as in Go's RE2. Every parser returns a clear error and never
//! panics (fuzzed in `fuzz/`).

use std::sync::LazyLock;

use regex::Regex;
use url::Url;

use crate::error::{Error, Result};

/// The annotation naming the IAM role a ServiceAccount assumes.
pub const ANNOTATION_ROLE_ARN: &str = "eks.amazonaws.com/role-arn";

const ROLE_ARN: &str = r"^arn:aws[\w-]*:iam::[0-9]{1,30}:role/.{1,200}$";
const STS_ENDPOINT: &str = r"^https://(.+\.)?sts(-fips)?(\.[^.]+)?(\.vpce)?\.amazonaws\.com$";
const EKS_CLUSTER_ARN: &str = r"^arn:aws[\w-]*:eks:([^:]{1,100}):[0-9]{1,30}:cluster/(.{1,200})$";
/// The ECR host pattern of amazon-ecr-credential-helper, anchored here (the reference matches
/// anywhere in the host, so `x.dkr.ecr.us-east-1.amazonaws.com.evil.example` would receive ECR
/// credentials) and with its first dot escaped.
const ECR_HOST: &str = r"^([0-9+]*)\.dkr[.-]ecr(?:-fips)?\.([^/.]*)\.(amazonaws\.com[.cn]*|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov|on\.aws)$";
/// The host of ECR Public, whose authorization lives in us-east-1.
pub const ECR_PUBLIC_HOST: &str = "public.ecr.aws";
/// The only region of the ECR Public authorization API.
pub const ECR_PUBLIC_REGION: &str = "us-east-1";

fn compiled(pattern: &str) -> Regex {
    // The patterns are constants covered by tests; `\w` is ASCII as in Go's RE2.
    let ascii = pattern.replace(r"\w", "[0-9A-Za-z_]");
    Regex::new(&ascii).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static ROLE_ARN_RE: LazyLock<Regex> = LazyLock::new(|| compiled(ROLE_ARN));
static STS_ENDPOINT_RE: LazyLock<Regex> = LazyLock::new(|| compiled(STS_ENDPOINT));
static EKS_CLUSTER_ARN_RE: LazyLock<Regex> = LazyLock::new(|| compiled(EKS_CLUSTER_ARN));
static ECR_HOST_RE: LazyLock<Regex> = LazyLock::new(|| compiled(ECR_HOST));

/// Checks an IAM role ARN (from the annotation or a flag).
pub fn role_arn(arn: &str, source: &str) -> Result<String> {
    match ROLE_ARN_RE.is_match(arn) {
        true => Ok(arn.to_owned()),
        false => Err(Error::invalid(format!(
            "invalid {source}: '{arn}'. must match {ROLE_ARN}"
        ))),
    }
}

/// Checks an STS endpoint override given with a request (regional, FIPS, VPC endpoints only).
pub fn sts_endpoint(endpoint: &str) -> Result<String> {
    match STS_ENDPOINT_RE.is_match(endpoint) {
        true => Ok(endpoint.to_owned()),
        false => Err(Error::invalid(format!(
            "invalid STS endpoint: '{endpoint}'. must match {STS_ENDPOINT}"
        ))),
    }
}

/// An EKS cluster ARN: its region and cluster name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EksClusterArn {
    /// The region, from the ARN.
    pub region: String,
    /// The cluster name.
    pub name: String,
}

/// Parses an EKS cluster ARN.
pub fn eks_cluster_arn(arn: &str) -> Result<EksClusterArn> {
    let captures = EKS_CLUSTER_ARN_RE.captures(arn).ok_or_else(|| {
        Error::invalid(format!(
            "invalid EKS cluster ARN: '{arn}'. must match {EKS_CLUSTER_ARN}"
        ))
    })?;
    Ok(EksClusterArn {
        region: captures[1].to_owned(),
        name: captures[2].to_owned(),
    })
}

/// Which ECR authorization API a registry host uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrRegistry {
    /// A private registry of this region.
    Private {
        /// The region, from the host.
        region: String,
    },
    /// ECR Public (`public.ecr.aws`).
    Public,
}

impl EcrRegistry {
    /// The region the authorization call goes to.
    pub fn region(&self) -> &str {
        match self {
            EcrRegistry::Private { region } => region,
            EcrRegistry::Public => ECR_PUBLIC_REGION,
        }
    }
}

/// Parses an ECR registry host (an image reference's registry part, without scheme or path).
pub fn ecr_registry(host: &str) -> Result<EcrRegistry> {
    if host == ECR_PUBLIC_HOST {
        return Ok(EcrRegistry::Public);
    }
    let captures = ECR_HOST_RE.captures(host).ok_or_else(|| {
        Error::invalid(format!(
            "invalid AWS registry: '{host}'. must match {ECR_HOST}"
        ))
    })?;
    Ok(EcrRegistry::Private {
        region: captures[2].to_owned(),
    })
}

/// The region of an AWS CodeCommit HTTPS git URL.
pub fn codecommit_region(url: &str) -> Result<String> {
    let parsed = Url::parse(url).map_err(|e| {
        Error::invalid(format!("invalid AWS CodeCommit Git URL '{url}'")).with_source(e)
    })?;
    if !parsed.scheme().eq_ignore_ascii_case("https") {
        return Err(Error::invalid(
            "AWS CodeCommit authentication requires an HTTPS Git URL",
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    let labels: Vec<&str> = host.split('.').collect();
    let valid = labels.len() >= 4
        && matches!(labels[0], "git-codecommit" | "git-codecommit-fips")
        && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        && !labels[1].is_empty();
    if !valid {
        let shown = parsed
            .port()
            .map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"));
        return Err(Error::invalid(format!(
            "invalid AWS CodeCommit Git URL: {shown}"
        )));
    }
    Ok(labels[1].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn role_arns() {
        for valid in [
            "arn:aws:iam::1234567890:role/some-role",
            "arn:aws-us-gov:iam::1234567890:role/some-role",
            "arn:aws-cn:iam::123456789012:role/path/to/r",
        ] {
            assert_eq!(
                role_arn(valid, ANNOTATION_ROLE_ARN).ok().as_deref(),
                Some(valid)
            );
        }
        assert_eq!(
            message(role_arn("foobar", "eks.amazonaws.com/role-arn annotation")),
            r"invalid eks.amazonaws.com/role-arn annotation: 'foobar'. must match ^arn:aws[\w-]*:iam::[0-9]{1,30}:role/.{1,200}$"
        );
        for invalid in [
            "",
            "arn:aws:iam::12:user/x",
            "arn:aws:iam::1234567890:role/",
            "arn:awsé:iam::1:role/x",
            "arn:aws:iam::1234567890:role/x\ny",
        ] {
            assert!(role_arn(invalid, "annotation").is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn sts_endpoints() {
        for valid in [
            "https://sts.amazonaws.com",
            "https://sts.us-east-2.amazonaws.com",
            "https://sts-fips.us-east-2.amazonaws.com",
            "https://sts.us-east-1.amazonaws.com",
            "https://sts-fips.us-east-1.amazonaws.com",
            "https://sts.us-west-1.amazonaws.com",
            "https://sts-fips.us-west-1.amazonaws.com",
            "https://sts.us-west-2.amazonaws.com",
            "https://sts-fips.us-west-2.amazonaws.com",
            "https://sts.il-central-1.amazonaws.com",
            "https://sts.mx-central-1.amazonaws.com",
            "https://sts.me-south-1.amazonaws.com",
            "https://sts.me-central-1.amazonaws.com",
            "https://sts.sa-east-1.amazonaws.com",
            "https://sts.us-gov-east-1.amazonaws.com",
            "https://sts.us-gov-west-1.amazonaws.com",
            "https://vpce-002b7cc8966426bc6-njisq19r.sts.us-east-1.vpce.amazonaws.com",
            "https://vpce-002b7cc8966426bc6-njisq19r-us-east-1a.sts.us-east-1.vpce.amazonaws.com",
        ] {
            assert!(sts_endpoint(valid).is_ok(), "{valid}");
        }
        for invalid in [
            "https://stss.amazonaws.com",
            "https://sts.amazonaws.example.com",
            "http://sts.amazonaws.com",
            "sts.amazonaws.com",
            "https://something.amazonaws.com",
            "https://invalid.amazonaws.com",
        ] {
            assert!(sts_endpoint(invalid).is_err(), "{invalid}");
        }
        assert_eq!(
            message(sts_endpoint("https://something.amazonaws.com")),
            r"invalid STS endpoint: 'https://something.amazonaws.com'. must match ^https://(.+\.)?sts(-fips)?(\.[^.]+)?(\.vpce)?\.amazonaws\.com$"
        );
    }

    #[test]
    fn eks_cluster_arns() {
        for (arn, region, name) in [
            (
                "arn:aws:eks:us-east-1:123456789012:cluster/test-cluster",
                "us-east-1",
                "test-cluster",
            ),
            (
                "arn:aws-us-gov:eks:us-east-1:123456789012:cluster/test-cluster",
                "us-east-1",
                "test-cluster",
            ),
            (
                "arn:aws:eks:us-west-2:123456789012:cluster/my-cluster",
                "us-west-2",
                "my-cluster",
            ),
        ] {
            assert_eq!(
                eks_cluster_arn(arn).ok(),
                Some(EksClusterArn {
                    region: region.into(),
                    name: name.into()
                })
            );
        }
        assert_eq!(
            message(eks_cluster_arn("")),
            r"invalid EKS cluster ARN: ''. must match ^arn:aws[\w-]*:eks:([^:]{1,100}):[0-9]{1,30}:cluster/(.{1,200})$"
        );
        assert!(message(eks_cluster_arn("invalid-cluster-arn")).contains("'invalid-cluster-arn'"));
    }

    #[test]
    fn ecr_registries() {
        for (host, region) in [
            (
                "012345678901.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                "eusc-de-east-1",
            ),
            ("012345678901.dkr.ecr.us-east-1.amazonaws.com", "us-east-1"),
            (
                "012345678901.dkr.ecr.cn-north-1.amazonaws.com.cn",
                "cn-north-1",
            ),
            (
                "012345678901.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            (
                "012345678901.dkr.ecr.us-secret-region.sc2s.sgov.gov",
                "us-secret-region",
            ),
            (
                "012345678901.dkr.ecr-fips.us-ts-region.c2s.ic.gov",
                "us-ts-region",
            ),
            ("012345678901.dkr.ecr.uk-region.cloud.adc-e.uk", "uk-region"),
            (
                "012345678901.dkr.ecr.us-ts-region.csp.hci.ic.gov",
                "us-ts-region",
            ),
            ("557238627320.dkr-ecr.us-west-2.on.aws", "us-west-2"),
            ("557238627320.dkr-ecr.eu-central-1.on.aws", "eu-central-1"),
        ] {
            assert_eq!(
                ecr_registry(host).ok(),
                Some(EcrRegistry::Private {
                    region: region.into()
                }),
                "{host}"
            );
        }
        assert_eq!(
            ecr_registry("public.ecr.aws").ok(),
            Some(EcrRegistry::Public)
        );
        assert_eq!(EcrRegistry::Public.region(), "us-east-1");
        assert!(
            message(ecr_registry("gcr.io"))
                .starts_with("invalid AWS registry: 'gcr.io'. must match")
        );
        for lookalike in [
            "012345678901.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            "evil.example/012345678901.dkr.ecr.us-east-1.amazonaws.com",
            "012345678901xdkr.ecr.us-east-1.amazonaws.com",
        ] {
            assert!(ecr_registry(lookalike).is_err(), "{lookalike}");
        }
    }

    #[test]
    fn codecommit_urls() {
        for (url, region) in [
            (
                "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/test-repo",
                "us-east-1",
            ),
            (
                "https://git-codecommit-fips.us-west-2.amazonaws.com/v1/repos/test-repo",
                "us-west-2",
            ),
            (
                "https://git-codecommit.cn-north-1.amazonaws.com.cn/v1/repos/test-repo",
                "cn-north-1",
            ),
        ] {
            assert_eq!(codecommit_region(url).ok().as_deref(), Some(region));
        }
        assert_eq!(
            message(codecommit_region(
                "http://git-codecommit.us-east-1.amazonaws.com/v1/repos/test-repo"
            )),
            "AWS CodeCommit authentication requires an HTTPS Git URL"
        );
        assert_eq!(
            message(codecommit_region("https://github.com/org/repo")),
            "invalid AWS CodeCommit Git URL: github.com"
        );
        assert!(message(codecommit_region("not a url")).contains("invalid AWS CodeCommit Git URL"));
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(input in "\\PC{0,300}") {
            let _ = role_arn(&input, "x");
            let _ = sts_endpoint(&input);
            let _ = eks_cluster_arn(&input);
            let _ = ecr_registry(&input);
            let _ = codecommit_region(&input);
        }
    }
}
