//! Every AWS identifier parser on arbitrary text: an error is fine, a panic is a bug.
#![no_main]

use kubecred::aws::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = parse::role_arn(input, "fuzz");
    let _ = parse::sts_endpoint(input);
    let _ = parse::eks_cluster_arn(input);
    let _ = parse::ecr_registry(input);
    let _ = parse::codecommit_region(input);
    let _ = kubecred::aws::hosts::dns_name(input);
    let _ = kubecred::aws::hosts::codecommit_host_region(input);
    let _ = input.parse::<kubecred::Provider>();
    let _ = kubecred::registry::registry_host(input);
    let _ = kubecred::git::provider_for_host(input);
});
