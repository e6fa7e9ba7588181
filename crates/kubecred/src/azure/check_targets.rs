//! The targets of Azure's access checks, parsed exactly (anchored, Azure's naming rules):
//!
//! - `azblob://ACCOUNT/CONTAINER` (an optional trailing `/`): a storage account name of 3-24
//!   lowercase letters and digits; a container name of 3-63 lowercase letters, digits and `-`,
//!   beginning and ending with a letter or digit, without `--` (or one of the system
//!   containers `$root`, `$web`, `$logs`);
//! - `azkv://VAULT/keys/KEY`: a vault name of 3-24 letters, digits and `-`, beginning with a
//!   letter, ending with a letter or digit, without `--`; a key name of 1-127 letters, digits
//!   and `-`;
//! - `eventhub://NAMESPACE/HUB`: a namespace of 6-50 letters, digits and `-`, beginning with a
//!   letter, ending with a letter or digit, not ending with `-sb` or `-mgmt` (reserved); an
//!   event hub of 1-256 letters, digits, `.`, `_` and `-`, beginning and ending with a letter
//!   or digit.
//!
//! Every name is a DNS label or a path segment of the request, so nothing else is taken (the
//! rules live in `crate::azure_names`, shared with `kubecred policy`). Public, as GCP's, so that
//! the fuzz targets can reach the parser.

use crate::azure_names;
use crate::error::{Error, Result};

/// The scheme of a blob container check.
pub const BLOB_SCHEME: &str = "azblob://";
/// The scheme of a Key Vault key check.
pub const KEY_VAULT_SCHEME: &str = "azkv://";
/// The scheme of an Event Hubs check.
pub const EVENT_HUB_SCHEME: &str = "eventhub://";
/// The targets, as help text names them.
pub const TARGETS: &str =
    "azblob://ACCOUNT/CONTAINER, azkv://VAULT/keys/KEY, eventhub://NAMESPACE/HUB";

/// A parsed check target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckTarget {
    /// A blob container of a storage account.
    Container {
        /// The storage account.
        account: String,
        /// The container.
        container: String,
    },
    /// A key of a vault.
    Key {
        /// The vault.
        vault: String,
        /// The key.
        key: String,
    },
    /// An event hub of a namespace.
    EventHub {
        /// The namespace.
        namespace: String,
        /// The event hub.
        hub: String,
    },
}

impl CheckTarget {
    /// The target as written by the user (normalised: no trailing `/`).
    pub fn shown(&self) -> String {
        match self {
            CheckTarget::Container { account, container } => {
                format!("{BLOB_SCHEME}{account}/{container}")
            }
            CheckTarget::Key { vault, key } => format!("{KEY_VAULT_SCHEME}{vault}/keys/{key}"),
            CheckTarget::EventHub { namespace, hub } => {
                format!("{EVENT_HUB_SCHEME}{namespace}/{hub}")
            }
        }
    }
}

/// Whether `target` has one of Azure's check schemes (it may still be invalid).
pub fn owns(target: &str) -> bool {
    [BLOB_SCHEME, KEY_VAULT_SCHEME, EVENT_HUB_SCHEME]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// Parses `target`; the error names what is wrong with it.
pub fn parse(target: &str) -> Result<CheckTarget> {
    let invalid = |why: &str| {
        Error::invalid(format!(
            "invalid check target '{}': {why}",
            target
                .chars()
                .take(300)
                .collect::<String>()
                .escape_default()
        ))
    };
    if let Some(rest) = target.strip_prefix(BLOB_SCHEME) {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (account, container) = rest
            .split_once('/')
            .ok_or_else(|| invalid("expected azblob://ACCOUNT/CONTAINER"))?;
        if !azure_names::storage_account(account) {
            return Err(invalid(
                "a storage account name has 3-24 lowercase letters and digits",
            ));
        }
        if !azure_names::container(container) {
            return Err(invalid(
                "a container name has 3-63 lowercase letters, digits and '-', beginning and ending with a letter or digit, without '--'",
            ));
        }
        return Ok(CheckTarget::Container {
            account: account.to_owned(),
            container: container.to_owned(),
        });
    }
    if let Some(rest) = target.strip_prefix(KEY_VAULT_SCHEME) {
        let Some((vault, key)) = rest.split_once("/keys/") else {
            return Err(invalid("expected azkv://VAULT/keys/KEY"));
        };
        if !azure_names::vault(vault) {
            return Err(invalid(
                "a vault name has 3-24 letters, digits and '-', beginning with a letter, ending with a letter or digit, without '--'",
            ));
        }
        if !azure_names::key(key) {
            return Err(invalid("a key name has 1-127 letters, digits and '-'"));
        }
        return Ok(CheckTarget::Key {
            vault: vault.to_ascii_lowercase(),
            key: key.to_owned(),
        });
    }
    if let Some(rest) = target.strip_prefix(EVENT_HUB_SCHEME) {
        let (namespace, hub) = rest
            .split_once('/')
            .ok_or_else(|| invalid("expected eventhub://NAMESPACE/HUB"))?;
        if !azure_names::event_hubs_namespace(namespace) {
            return Err(invalid(
                "a namespace has 6-50 letters, digits and '-', beginning with a letter, ending with a letter or digit (not '-sb' or '-mgmt')",
            ));
        }
        if !azure_names::event_hub(hub) {
            return Err(invalid(
                "an event hub name has 1-256 letters, digits, '.', '_' and '-', beginning and ending with a letter or digit",
            ));
        }
        return Ok(CheckTarget::EventHub {
            namespace: namespace.to_ascii_lowercase(),
            hub: hub.to_owned(),
        });
    }
    Err(invalid(&format!("expected {TARGETS}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(target: &str) -> std::result::Result<CheckTarget, String> {
        parse(target).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_targets_are_read() {
        assert_eq!(
            parsed("azblob://devstoreaccount1/flux-artifacts/"),
            Ok(CheckTarget::Container {
                account: "devstoreaccount1".into(),
                container: "flux-artifacts".into()
            })
        );
        assert_eq!(
            parsed("azblob://abc/$web").map(|t| t.shown()),
            Ok("azblob://abc/$web".into())
        );
        assert_eq!(
            parsed("azkv://My-Vault-1/keys/sops-key"),
            Ok(CheckTarget::Key {
                vault: "my-vault-1".into(),
                key: "sops-key".into()
            })
        );
        assert_eq!(
            parsed("eventhub://Flux-Events/alerts.v1_x"),
            Ok(CheckTarget::EventHub {
                namespace: "flux-events".into(),
                hub: "alerts.v1_x".into()
            })
        );
        assert!(
            parsed(&format!(
                "eventhub://{}/{}",
                "n".repeat(50),
                "h".repeat(256)
            ))
            .is_ok()
        );
        // Each name at its limits.
        for (target, shown) in [
            ("azblob://abc/$root", "azblob://abc/$root"),
            ("azblob://abc/$logs/", "azblob://abc/$logs"),
            ("azblob://abc/a-1", "azblob://abc/a-1"),
            (
                &format!("azblob://{}/{}", "a".repeat(24), "c".repeat(63)),
                &format!("azblob://{}/{}", "a".repeat(24), "c".repeat(63)),
            ),
            ("azkv://abc/keys/k", "azkv://abc/keys/k"),
            (
                &format!("azkv://A{}/keys/{}", "b".repeat(23), "K".repeat(127)),
                &format!("azkv://a{}/keys/{}", "b".repeat(23), "K".repeat(127)),
            ),
            ("eventhub://abcdef/h", "eventhub://abcdef/h"),
            ("eventhub://name-sbx/h-1", "eventhub://name-sbx/h-1"),
        ] {
            assert_eq!(
                parsed(target).map(|t| t.shown()),
                Ok(shown.to_owned()),
                "{target}"
            );
        }
    }

    #[test]
    fn invalid_targets_are_refused_with_the_reason() {
        for (target, why) in [
            ("azblob://ab/container", "storage account name"),
            ("azblob://Account/container", "storage account name"),
            (
                &format!("azblob://{}/container", "a".repeat(25)),
                "storage account name",
            ),
            ("azblob://account.evil.example/c", "storage account name"),
            ("azblob://account", "expected azblob://"),
            ("azblob://account/ab", "container name"),
            ("azblob://account/Container", "container name"),
            ("azblob://account/-abc", "container name"),
            ("azblob://account/ab--c", "container name"),
            ("azblob://account/c/blob", "container name"),
            ("azblob://account/c?comp=x", "container name"),
            ("azblob://account/$other", "container name"),
            ("azkv://vault/secrets/k", "expected azkv://"),
            ("azkv://1vault/keys/k", "vault name"),
            ("azkv://va/keys/k", "vault name"),
            ("azkv://va--ult/keys/k", "vault name"),
            ("azkv://vault-/keys/k", "vault name"),
            ("azkv://vault.evil.example/keys/k", "vault name"),
            ("azkv://vault/keys/k/version", "key name"),
            ("azkv://vault/keys/", "key name"),
            ("azkv://vault/keys/k_1", "key name"),
            (
                &format!("azkv://vault/keys/{}", "k".repeat(128)),
                "key name",
            ),
            ("eventhub://short/hub", "namespace"),
            ("eventhub://1namespace/hub", "namespace"),
            ("eventhub://namespace-sb/hub", "namespace"),
            ("eventhub://namespace-MGMT/hub", "namespace"),
            (
                "eventhub://namespace.servicebus.windows.net/hub",
                "namespace",
            ),
            ("eventhub://namespace/.hub", "event hub name"),
            ("eventhub://namespace/hub/messages", "event hub name"),
            ("eventhub://namespace/", "event hub name"),
            ("eventhub://namespace", "expected eventhub://"),
            ("azblob://account/container\n", "container name"),
            ("s3://bucket", "expected azblob://"),
            ("", "expected azblob://"),
            ("azblob://", "expected azblob://"),
            ("azblob:///container", "storage account name"),
            ("azblob://account//", "container name"),
            (
                &format!("azblob://account/{}", "c".repeat(64)),
                "container name",
            ),
            ("azblob://account/co-", "container name"),
            ("azblob://ACCOUNT/container", "storage account name"),
            ("azkv://", "expected azkv://"),
            ("azkv://vault/keys", "expected azkv://"),
            (&format!("azkv://v{}/keys/k", "a".repeat(24)), "vault name"),
            ("azkv://vault/keys/k%2F", "key name"),
            ("azkv://vault/keys/../k", "key name"),
            ("eventhub://", "expected eventhub://"),
            ("eventhub://namesp/", "event hub name"),
            (&format!("eventhub://{}/h", "n".repeat(51)), "namespace"),
            ("eventhub://names-/hub", "namespace"),
            (
                &format!("eventhub://namespace/{}", "h".repeat(257)),
                "event hub name",
            ),
            ("eventhub://namespace/hub-", "event hub name"),
            ("AZBLOB://account/container", "expected azblob://"),
        ] {
            let error = parsed(target).err().unwrap_or_default();
            assert!(
                error.starts_with("invalid check target '") && error.contains(why),
                "{target}: {error}"
            );
        }
    }

    #[test]
    fn refused_targets_are_shown_escaped_and_cut() {
        let error = parsed(&format!("azblob://a\u{1b}[2J\n/{}", "x".repeat(1000)))
            .err()
            .unwrap_or_default();
        assert!(
            error.starts_with("invalid check target 'azblob://a\\u{1b}[2J\\n/xxx")
                && !error.chars().any(char::is_control)
                && !error.contains(&"x".repeat(300)),
            "{error}"
        );
    }

    #[test]
    fn owned_targets_are_the_three_schemes() {
        assert!(owns("azblob://x") && owns("azkv://x") && owns("eventhub://x"));
        assert!(!owns("gs://x") && !owns("AZBLOB://x") && !owns("azblob:/x"));
    }

    proptest::proptest! {
        #[test]
        fn parsed_names_are_plain(scheme in "(azblob|azkv|eventhub)://", rest in "\\PC{0,300}") {
            if let Ok(parsed) = parse(&format!("{scheme}{rest}")) {
                let names = match parsed {
                    CheckTarget::Container { account, container } => [account, container],
                    CheckTarget::Key { vault, key } => [vault, key],
                    CheckTarget::EventHub { namespace, hub } => [namespace, hub],
                };
                for name in names {
                    proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._$".contains(&b)));
                    proptest::prop_assert!(name != "." && name != "..");
                }
            }
        }
    }
}
