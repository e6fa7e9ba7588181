//! Parsers of AWS identifiers that arrive from outside (annotations, flags, cluster ARNs); the
//! hosts (registries, git hosts, STS endpoints) are matched in [`super::hosts`] and re-exported
//! here. ARN patterns match the Flux reference textually (they appear in error messages); `\w`
//! is ASCII-only as in Go's RE2. Every parser returns a clear error and never panics (fuzzed in
//! `fuzz/`).

use std::sync::LazyLock;

use crate::error::{Error, Result};
use regex::Regex;

pub use super::hosts::{
    ECR_PUBLIC_HOST, ECR_PUBLIC_REGION, EcrRegistry, codecommit_region, ecr_registry, sts_endpoint,
};

pub use super::annotations::ROLE_ARN as ANNOTATION_ROLE_ARN;

const ROLE_ARN: &str = r"^arn:aws[\w-]*:iam::[0-9]{1,30}:role/.{1,200}$";
const EKS_CLUSTER_ARN: &str = r"^arn:aws[\w-]*:eks:([^:]{1,100}):[0-9]{1,30}:cluster/(.{1,200})$";

fn compiled(pattern: &str) -> Regex {
    // The patterns are constants covered by tests; `\w` is ASCII as in Go's RE2.
    let ascii = pattern.replace(r"\w", "[0-9A-Za-z_]");
    Regex::new(&ascii).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static ROLE_ARN_RE: LazyLock<Regex> = LazyLock::new(|| compiled(ROLE_ARN));
static EKS_CLUSTER_ARN_RE: LazyLock<Regex> = LazyLock::new(|| compiled(EKS_CLUSTER_ARN));

/// Checks an IAM role ARN (from the annotation or a flag).
pub fn role_arn(arn: &str, source: &str) -> Result<String> {
    match ROLE_ARN_RE.is_match(arn) {
        true => Ok(arn.to_owned()),
        false => Err(Error::invalid(format!(
            "invalid {source}: '{arn}'. must match {ROLE_ARN}"
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

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(input in "\\PC{0,300}") {
            let _ = role_arn(&input, "x");
            let _ = eks_cluster_arn(&input);
        }
    }
}
