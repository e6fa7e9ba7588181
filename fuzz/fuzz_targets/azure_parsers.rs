//! Every Azure identifier and host parser on arbitrary text: ACR hosts (public, China, US
//! Government, and a private cloud's suffix), Azure DevOps git hosts, AKS cluster resource ids
//! and API server addresses, the workload identity annotations, GUIDs and the check targets.
//! An error is fine, a panic is a bug; what is accepted is what the parser promises.
#![no_main]

use std::collections::BTreeMap;

use kubecred::ServiceAccountInfo;
use kubecred::azure::annotations::{self, CLIENT_ID, TENANT_ID};
use kubecred::azure::{aks, check_targets, cluster, hosts, is_guid};
use libfuzzer_sys::fuzz_target;

/// An ACR name: 5 to 50 lowercase letters and digits.
fn acr_name(name: &str) -> bool {
    (5..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fuzz_target!(|input: &str| {
    let (first, second) = input.split_once('\n').unwrap_or((input, ""));

    if let Ok(registry) = hosts::registry(input) {
        assert!(acr_name(&registry.name), "{registry:?}");
        assert_eq!(hosts::registry(&registry.host()).ok(), Some(registry));
    }
    if let Some(name) = hosts::dns_name(input) {
        if hosts::git_host(&name) {
            assert!(
                name == "dev.azure.com" || name.ends_with(".visualstudio.com"),
                "{name}"
            );
        }
        if let Some(registry) = hosts::private_registry(&name, second) {
            assert!(acr_name(&registry.name), "{registry:?}");
            assert_eq!(registry.host(), name);
        }
    }

    if let Ok(parsed) = cluster::aks_cluster_id(input) {
        assert!(is_guid(&parsed.subscription), "{parsed:?}");
        for segment in [&parsed.resource_group, &parsed.name] {
            assert!(
                !segment.is_empty() && !segment.contains(['/', '?', '#', '%']) && segment != "..",
                "{parsed:?}"
            );
        }
    }
    if let Ok(canonical) = aks::canonical_address(input) {
        assert!(canonical.starts_with("https://"), "{canonical}");
        assert_eq!(
            aks::canonical_address(&canonical).as_deref(),
            Ok(canonical.as_str())
        );
    }

    let account = ServiceAccountInfo {
        namespace: "team-a".into(),
        name: "app".into(),
        annotations: BTreeMap::from([
            (TENANT_ID.to_owned(), first.to_owned()),
            (CLIENT_ID.to_owned(), second.to_owned()),
        ]),
    };
    match annotations::read(&account) {
        Ok(identity) => {
            for id in [&identity.tenant_id, &identity.client_id] {
                assert!(
                    is_guid(id) && *id == id.to_ascii_lowercase(),
                    "{identity:?}"
                );
            }
        }
        Err(error) => assert!(!error.to_string().contains('\n'), "{error}"),
    }

    if let Ok(target) = check_targets::parse(input) {
        assert_eq!(check_targets::parse(&target.shown()).ok(), Some(target));
    }
    let _ = is_guid(input);
});
