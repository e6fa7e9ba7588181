//! Decoding `k8s-aws-v1.` bearer tokens from arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = kubecred::aws::eks::decode_token(input);
});
