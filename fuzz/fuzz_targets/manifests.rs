//! The sandbox's manifest loader on arbitrary YAML.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = kubecred_sandbox::Manifests::parse(input);
});
