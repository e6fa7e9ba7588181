//! The ServiceAccount annotations AWS reads, together (users bring the first from the seeds).

/// The IAM role a ServiceAccount's token is exchanged for (audience `sts.amazonaws.com`);
/// required for object level.
pub const ROLE_ARN: &str = "eks.amazonaws.com/role-arn";
/// Roles to chain into after the ServiceAccount's role (comma-separated ARNs).
pub const ASSUME_ROLE_ARN: &str = "aws.kubecred.io/assume-role-arn";
/// The external ID of the last role of the annotation's chain.
pub const EXTERNAL_ID: &str = "aws.kubecred.io/external-id";

/// Every annotation read.
pub const ALL: &[&str] = &[ROLE_ARN, ASSUME_ROLE_ARN, EXTERNAL_ID];
/// The annotations object level cannot work without.
pub const REQUIRED: &[&str] = &[ROLE_ARN];
