//! STS role session names: `<sa>.<namespace>.<region>.kubecred`, within AWS's 64 characters.
//!
//! The name shows up in CloudTrail, so it stays readable; when it would be too long, the
//! readable part is cut and a hash of the whole name is appended, so two long names never
//! collapse into one.

use aws_lc_rs::digest;

/// AWS's limit on `RoleSessionName`.
const MAX_LEN: usize = 64;
const SUFFIX: &str = "kubecred";
const HASH_CHARS: usize = 16;

/// The session name for a ServiceAccount assuming a role in a region.
pub(crate) fn session_name(service_account: &str, namespace: &str, region: &str) -> String {
    let full = sanitize(&format!("{service_account}.{namespace}.{region}.{SUFFIX}"));
    if full.len() <= MAX_LEN {
        return full;
    }
    let hash = digest::digest(&digest::SHA256, full.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let keep = MAX_LEN - HASH_CHARS - 1;
    format!("{}-{}", &full[..keep], &hex[..HASH_CHARS])
}

/// Keeps the characters STS allows (`[\w+=,.@-]`); Kubernetes names are already within them.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_readable() {
        assert_eq!(
            session_name("test-sa", "test-ns", "us-east-1"),
            "test-sa.test-ns.us-east-1.kubecred"
        );
    }

    #[test]
    fn long_names_fit_and_stay_distinct() {
        let long = "a".repeat(63);
        let one = session_name(&long, "namespace-one", "us-east-1");
        let two = session_name(&long, "namespace-two", "us-east-1");
        assert_eq!(one.len(), 64);
        assert_eq!(two.len(), 64);
        assert_ne!(one, two);
        assert!(one.starts_with("aaaa"));
    }

    proptest::proptest! {
        #[test]
        fn always_valid_for_sts(sa in "[a-z0-9.-]{1,253}", ns in "[a-z0-9-]{1,63}", region in "[a-z0-9-]{1,20}") {
            let name = session_name(&sa, &ns, &region);
            proptest::prop_assert!(name.len() >= 2 && name.len() <= 64);
            proptest::prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)));
        }
    }
}
