//! AKS cluster resource ids:
//! `/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>`.
//!
//! The reference's `(?i)^/subscriptions/([^/]{36})/resourceGroups/([^/]{1,200})/providers/...`
//! took any 36 characters as a subscription and any characters but `/` in the group and name
//! (`..`, `?`, `#`, `%2F`, spaces), which then went into an ARM URL. Here the subscription is a
//! GUID and the group and name follow ARM's rules: a resource group is 1 to 90 letters, digits,
//! `_`, `-`, `.`, `(`, `)`, not ending with `.`; a managed cluster is 1 to 63 letters, digits,
//! `_`, `-`, starting and ending with a letter or digit. Segment names match case-insensitively,
//! as ARM does.

use std::sync::LazyLock;

use regex::Regex;

use crate::azure_names::{AKS_CLUSTER, RESOURCE_GROUP};
use crate::error::{Error, Result};

const SUBSCRIPTION: &str =
    r"(?P<subscription>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})";
const EXPECTED: &str = "/subscriptions/<subscription GUID>/resourceGroups/<group>/providers/\
Microsoft.ContainerService/managedClusters/<name>";

static AKS_CLUSTER_ID_RE: LazyLock<Regex> = LazyLock::new(|| {
    // Constants covered by tests; the group and name rules are `azure_names`' (ASCII).
    let pattern = format!(
        "(?i)^/subscriptions/{SUBSCRIPTION}/resourceGroups/(?P<group>{RESOURCE_GROUP})\
         /providers/Microsoft\\.ContainerService/managedClusters/(?P<name>{AKS_CLUSTER})$"
    );
    Regex::new(&pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
});

/// An AKS cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AksCluster {
    /// The subscription id, lowercase.
    pub subscription: String,
    /// The resource group, as given.
    pub resource_group: String,
    /// The cluster's name, as given.
    pub name: String,
}

/// Parses an AKS cluster resource id.
pub fn aks_cluster_id(id: &str) -> Result<AksCluster> {
    let captures = AKS_CLUSTER_ID_RE.captures(id).ok_or_else(|| {
        let cut: String = id.chars().take(300).collect();
        Error::invalid(format!(
            "invalid AKS cluster ID: {cut:?}. expected {EXPECTED}"
        ))
    })?;
    Ok(AksCluster {
        subscription: captures["subscription"].to_ascii_lowercase(),
        resource_group: captures["group"].to_owned(),
        name: captures["name"].to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn cluster_ids() {
        let (g90, c63) = ("g".repeat(90), "c".repeat(63));
        for (id, group, name) in [
            (
                format!(
                    "/subscriptions/{SUB}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-1"
                ),
                "rg-prod",
                "aks-1",
            ),
            (
                format!(
                    "/SUBSCRIPTIONS/{}/resourcegroups/My_Group(1)/providers/microsoft.containerservice/managedclusters/Prod",
                    SUB.to_uppercase()
                ),
                "My_Group(1)",
                "Prod",
            ),
            // §4.3's cluster, and its lowercase `resourcegroups` row.
            (
                format!(
                    "/subscriptions/{SUB}/resourceGroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-cluster"
                ),
                "test-rg",
                "test-cluster",
            ),
            (
                format!(
                    "/subscriptions/{SUB}/resourcegroups/test-rg/providers/Microsoft.ContainerService/managedClusters/test-cluster"
                ),
                "test-rg",
                "test-cluster",
            ),
            // ARM's limits: a group of 90 characters, a cluster of 63; `_` inside a name.
            (
                format!(
                    "/subscriptions/{SUB}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
                    g90, c63
                ),
                g90.as_str(),
                c63.as_str(),
            ),
            (
                format!(
                    "/subscriptions/{SUB}/resourceGroups/a.b-c_(d)/providers/Microsoft.ContainerService/managedClusters/a_b-1"
                ),
                "a.b-c_(d)",
                "a_b-1",
            ),
        ] {
            let parsed = aks_cluster_id(&id).ok();
            assert_eq!(
                parsed,
                Some(AksCluster {
                    subscription: SUB.into(),
                    resource_group: group.into(),
                    name: name.into()
                }),
                "{id}"
            );
        }
    }

    /// Each of these passed the reference's pattern (or a loose one) and reached an ARM URL.
    #[test]
    fn hostile_ids_are_refused() {
        let base = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters"
        );
        for id in [
            format!(
                "/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c",
                "x".repeat(36)
            ),
            format!(
                "/subscriptions/{SUB}/resourceGroups/../providers/Microsoft.ContainerService/managedClusters/c"
            ),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg./providers/Microsoft.ContainerService/managedClusters/c"
            ),
            format!("{base}/c?api-version=1"),
            format!("{base}/c#x"),
            format!("{base}/c%2F.."),
            format!("{base}/c d"),
            format!("{base}/-c"),
            format!("{base}/c/"),
            format!("{base}/{}", "c".repeat(64)),
            format!("{base}/c\n"),
            format!("x{base}/c"),
            String::new(),
            "invalid-cluster-id".to_owned(),
            format!(
                "/subscriptions/{SUB}/resourceGroups//providers/Microsoft.ContainerService/managedClusters/c"
            ),
            format!(
                "/subscriptions/{SUB}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/c",
                "g".repeat(91)
            ),
            format!("{base}/c_"),
            format!("{base}/"),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c/extra"
            ),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/c"
            ),
            format!(
                "/subscriptions/{SUB}/resourceGroups/rég/providers/Microsoft.ContainerService/managedClusters/c"
            ),
            format!("https://management.azure.com{base}/c"),
        ] {
            assert!(aks_cluster_id(&id).is_err(), "{id:?}");
        }
        let message = aks_cluster_id("nope")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.starts_with("invalid AKS cluster ID: \"nope\". expected /subscriptions/"),
            "{message}"
        );
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(input in "\\PC{0,400}") {
            let _ = aks_cluster_id(&input);
        }
    }
}
