//! Azure's naming rules for the resources kubecred names, in one place: the Azure parsers of
//! check targets (`azure::check_targets`), AKS cluster ids (`azure::cluster`) and ACR hosts
//! (`azure::hosts`) use them, and so does `kubecred policy` (compiled without the `azure`
//! feature), which reads the same names out of ARM resource ids.
//!
//! - a storage account: 3-24 lowercase letters and digits;
//! - a blob container: 3-63 lowercase letters, digits and `-`, beginning and ending with a
//!   letter or digit, without `--` (or one of the system containers `$root`, `$web`, `$logs`);
//! - a key vault: 3-24 letters, digits and `-`, beginning with a letter, ending with a letter or
//!   digit, without `--`; a key: 1-127 letters, digits and `-`;
//! - an Event Hubs namespace: 6-50 letters, digits and `-`, beginning with a letter, ending with
//!   a letter or digit, not ending with `-sb` or `-mgmt` (reserved); an event hub: 1-256
//!   letters, digits, `.`, `_` and `-`, beginning and ending with a letter or digit;
//! - a container registry: 5-50 letters and digits (lowercase in its host);
//! - a resource group: 1-90 letters, digits, `_`, `-`, `.`, `(`, `)`, not ending with `.`;
//! - an AKS managed cluster: 1-63 letters, digits, `_` and `-`, beginning and ending with a
//!   letter or digit.
//!
//! All ASCII: every name is a DNS label or a path segment of a request.

use std::sync::LazyLock;

use regex::Regex;

/// A resource group, unanchored (ASCII).
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) const RESOURCE_GROUP: &str = r"[-0-9A-Za-z_.()]{0,89}[-0-9A-Za-z_()]";
/// An AKS managed cluster's name, unanchored (matched case-insensitively).
pub(crate) const AKS_CLUSTER: &str = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?";
/// A container registry's name in its (lowercase) host, unanchored.
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) const ACR_NAME: &str = r"[a-z0-9]{5,50}";

const ACCOUNT: &str = r"^[a-z0-9]{3,24}$";
const CONTAINER: &str = r"^(?:[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]|\$root|\$web|\$logs)$";
const VAULT: &str = r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$";
const KEY: &str = r"^[A-Za-z0-9-]{1,127}$";
const NAMESPACE: &str = r"^[A-Za-z][A-Za-z0-9-]{4,48}[A-Za-z0-9]$";
const HUB: &str = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$";

fn compiled(pattern: &str) -> Regex {
    // Constants covered by tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

static ACCOUNT_RE: LazyLock<Regex> = LazyLock::new(|| compiled(ACCOUNT));
static CONTAINER_RE: LazyLock<Regex> = LazyLock::new(|| compiled(CONTAINER));
static VAULT_RE: LazyLock<Regex> = LazyLock::new(|| compiled(VAULT));
static KEY_RE: LazyLock<Regex> = LazyLock::new(|| compiled(KEY));
static NAMESPACE_RE: LazyLock<Regex> = LazyLock::new(|| compiled(NAMESPACE));
static HUB_RE: LazyLock<Regex> = LazyLock::new(|| compiled(HUB));
static AKS_CLUSTER_RE: LazyLock<Regex> =
    LazyLock::new(|| compiled(&format!("(?i)^{AKS_CLUSTER}$")));
static REGISTRY_RE: LazyLock<Regex> = LazyLock::new(|| compiled(r"^[A-Za-z0-9]{5,50}$"));

/// A storage account's name.
pub(crate) fn storage_account(name: &str) -> bool {
    ACCOUNT_RE.is_match(name)
}

/// A blob container's name.
pub(crate) fn container(name: &str) -> bool {
    CONTAINER_RE.is_match(name) && !name.contains("--")
}

/// A key vault's name.
pub(crate) fn vault(name: &str) -> bool {
    VAULT_RE.is_match(name) && !name.contains("--")
}

/// A key's name.
pub(crate) fn key(name: &str) -> bool {
    KEY_RE.is_match(name)
}

/// An Event Hubs namespace's name.
pub(crate) fn event_hubs_namespace(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    NAMESPACE_RE.is_match(name) && !lower.ends_with("-sb") && !lower.ends_with("-mgmt")
}

/// An event hub's name.
pub(crate) fn event_hub(name: &str) -> bool {
    HUB_RE.is_match(name)
}

/// An AKS managed cluster's name (either case).
pub(crate) fn aks_cluster(name: &str) -> bool {
    AKS_CLUSTER_RE.is_match(name)
}

/// A container registry's name as ARM writes it (either case).
pub(crate) fn registry(name: &str) -> bool {
    REGISTRY_RE.is_match(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rule, what it names, names it takes and names it refuses.
    type Case<'a> = (fn(&str) -> bool, &'a str, &'a [&'a str], &'a [&'a str]);

    #[test]
    fn names_at_their_limits() {
        let cases: [Case; 8] = [
            (
                storage_account,
                "account",
                &["abc", &"a".repeat(24)],
                &["ab", &"a".repeat(25), "Abc", "a-b", "a.b"],
            ),
            (
                container,
                "container",
                &["abc", "$web", "a-1", &"c".repeat(63)],
                &["ab", "-ab", "ab-", "a--b", "Abc", "$other", &"c".repeat(64)],
            ),
            (
                vault,
                "vault",
                &["abc", "My-Vault-1", &format!("a{}", "b".repeat(23))],
                &["ab", "1ab", "ab-", "a--b", &"a".repeat(25), "a_b"],
            ),
            (
                key,
                "key",
                &["k", &"K".repeat(127)],
                &["", "k_1", "k/1", &"k".repeat(128)],
            ),
            (
                event_hubs_namespace,
                "namespace",
                &["abcdef", "name-sbx", &"n".repeat(50)],
                &[
                    "short",
                    "1abcdef",
                    "abcde-",
                    "name-sb",
                    "name-MGMT",
                    &"n".repeat(51),
                ],
            ),
            (
                event_hub,
                "hub",
                &["h", "a.b_c-d", &"h".repeat(256)],
                &["", ".h", "h-", "h/x", &"h".repeat(257)],
            ),
            (
                aks_cluster,
                "cluster",
                &["c", "Prod", "a_b-1", &"c".repeat(63)],
                &["", "-c", "c_", "c.d", &"c".repeat(64)],
            ),
            (
                registry,
                "registry",
                &["abcde", "MyRegistry1", &"r".repeat(50)],
                &["abcd", "my-registry", &"r".repeat(51)],
            ),
        ];
        for (valid, what, good, bad) in cases {
            for name in good {
                assert!(valid(name), "{what} {name:?} is refused");
            }
            for name in bad {
                assert!(!valid(name), "{what} {name:?} is accepted");
            }
        }
    }
}
