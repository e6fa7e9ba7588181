//! Every Azure identifier parser on arbitrary text: an error is fine, a panic is a bug.
#![no_main]

use kubecred::azure::{cluster, hosts, is_guid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = hosts::registry(input).map(|r| r.host());
    let _ = cluster::aks_cluster_id(input);
    let _ = is_guid(input);
});
