//! Kubernetes object names, checked before they reach a URL path.
//!
//! ServiceAccounts, Secrets and ConfigMaps are named by DNS-1123 subdomains (lowercase
//! alphanumerics, `-` and `.`, at most 253 characters, starting and ending alphanumeric);
//! namespaces by DNS-1123 labels (the same without `.`, at most 63). Written by hand: these are
//! the two regular expressions of Kubernetes' `validation.IsDNS1123Subdomain`/`IsDNS1123Label`,
//! a few lines, and no crate in the dependency tree exposes them.

use crate::error::{Error, Result};

/// The longest DNS-1123 subdomain (object names).
pub(crate) const MAX_OBJECT_NAME: usize = 253;
/// The longest DNS-1123 label (namespaces).
pub(crate) const MAX_NAMESPACE: usize = 63;

/// Checks `value`, the `field` of a request (e.g. "service account name"), as an object name.
pub(crate) fn object_name(field: &str, value: &str) -> Result<()> {
    check(field, value, MAX_OBJECT_NAME, true)
}

/// Checks `value` as a namespace name.
pub(crate) fn namespace(value: &str) -> Result<()> {
    check("namespace", value, MAX_NAMESPACE, false)
}

fn check(field: &str, value: &str, max: usize, dots: bool) -> Result<()> {
    match problem(value, max, dots) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(format!(
            "{field} \"{}\" is not a valid Kubernetes name: {why}",
            value.escape_debug()
        ))),
    }
}

/// What is wrong with `value`, if anything.
fn problem(value: &str, max: usize, dots: bool) -> Option<String> {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let allowed = |b: u8| alnum(b) || b == b'-' || (dots && b == b'.');
    let bytes = value.as_bytes();
    let extra = if dots { ", '-' and '.'" } else { " and '-'" };
    match (bytes.first(), bytes.last()) {
        (None, _) | (_, None) => Some("it is empty".into()),
        _ if bytes.len() > max => Some(format!("it is longer than {max} characters")),
        _ if !bytes.iter().all(|&b| allowed(b)) => {
            Some(format!("only lowercase letters, digits{extra} are allowed"))
        }
        (Some(&first), Some(&last)) if !alnum(first) || !alnum(last) => {
            Some("it must start and end with a lowercase letter or digit".into())
        }
        _ if dots && value.split('.').any(|label| !label_ok(label)) => {
            Some("each '.'-separated part must start and end with a letter or digit".into())
        }
        _ => None,
    }
}

/// Each label of a subdomain starts and ends alphanumeric (Kubernetes' subdomain expression).
fn label_ok(label: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    label.as_bytes().first().is_some_and(alnum) && label.as_bytes().last().is_some_and(alnum)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn look_alike_names_are_refused_with_the_field_and_the_value() {
        let long = "a".repeat(254);
        for bad in [
            "",
            "..",
            ".",
            "a/b",
            "../kube-system",
            "app/../../secrets",
            "App",
            "APP",
            "app ",
            " app",
            "app\n",
            "app\u{0}",
            "app\u{1b}[31m",
            "-app",
            "app-",
            ".app",
            "app.",
            "a..b",
            "a.-b",
            "a_b",
            "a%2Fb",
            "a?b",
            "a#b",
            "a:b",
            "ａpp",
            "аpp",
            long.as_str(),
        ] {
            let error = object_name("secret name", bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                error.contains("secret name")
                    && error.contains(&format!("\"{}\"", bad.escape_debug())),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn kubernetes_names_pass() -> Result<()> {
        for good in [
            "a",
            "app",
            "0",
            "my-app",
            "app.v1",
            "a-1.b-2",
            &"a".repeat(253),
        ] {
            object_name("service account name", good)?;
        }
        for good in ["team-a", "default", "kube-system", &"n".repeat(63)] {
            namespace(good)?;
        }
        Ok(())
    }

    #[test]
    fn namespaces_are_labels() {
        for bad in [
            "",
            "team.a",
            "Team-a",
            "team/a",
            "-a",
            "a-",
            &"n".repeat(64),
        ] {
            let error = namespace(bad).err().map(|e| e.to_string());
            assert!(
                error.as_ref().is_some_and(|e| e.contains("namespace")),
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn the_validators_never_panic_and_accept_only_safe_bytes(value in any::<String>()) {
            let accepted = object_name("n", &value).is_ok();
            prop_assert!(!accepted || value.bytes().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit() || b == b'-' || b == b'.'));
            prop_assert!(!accepted || (!value.is_empty() && value.len() <= MAX_OBJECT_NAME));
            let label = namespace(&value).is_ok();
            prop_assert!(!label || (accepted && !value.contains('.') && value.len() <= MAX_NAMESPACE));
        }

        #[test]
        fn generated_names_pass(value in "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?") {
            prop_assert!(namespace(&value).is_ok());
            let dotted = format!("{value}.{value}");
            prop_assert!(object_name("n", &dotted).is_ok());
        }
    }
}
