//! Every GCP identifier parser on arbitrary text: an error is fine, a panic is a bug.
#![no_main]

use kubecred::gcp::{cluster, hosts, json, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = parse::service_account_email(input);
    let _ = parse::workload_identity_provider(input).map(|p| p.audience());
    let _ = cluster::gke_cluster_id(input).map(|c| c.sts_audience());
    let mut parts = input.splitn(3, '\n');
    let (p, l, n) = (parts.next(), parts.next(), parts.next());
    let _ = cluster::GkeCluster::from_metadata(p.unwrap_or(""), l.unwrap_or(""), n.unwrap_or(""));
    let _ = hosts::registry(input).map(|r| r.host());
    let _ = hosts::dns_name(input);
    let _ = json::credential_type(input);
});
