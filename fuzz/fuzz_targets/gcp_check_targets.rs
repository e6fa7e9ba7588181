//! The GCP access-check targets (`gs://`, `gcpkms://`, `pubsub://`) on arbitrary text: an error
//! is fine, a panic is a bug.
#![no_main]

use kubecred::gcp::check_targets;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = check_targets::owns(input);
    let _ = check_targets::parse(input);
});
