//! Test peers (moto, kubectl, the docker CLI, ...) that a test drives and that may be missing.
//!
//! `scripts/test.sh` installs every peer before running the suite. A test that finds its peer
//! missing anyway is skipped with a notice when run by hand, and **fails** when the `CI`
//! environment variable is set, so a CI run never passes by skipping.

/// Reports that `peer` is missing: returns (the caller then skips) with a `SKIPPED` notice, or
/// panics, failing the test, when `CI` is set. `hint` says how to install it.
pub fn missing(peer: &str, hint: &str, why: &dyn std::fmt::Display) {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    missing_in(ci, peer, hint, why);
}

fn missing_in(ci: bool, peer: &str, hint: &str, why: &dyn std::fmt::Display) {
    if ci {
        panic!("test peer {peer} is missing ({why}) and CI is set: {hint}, or run scripts/test.sh");
    }
    eprintln!("SKIPPED: {peer} is not usable ({why}); {hint}, or run scripts/test.sh");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_fails_under_ci() {
        let outcome = std::panic::catch_unwind(|| missing_in(true, "moto_server", "pip", &"gone"));
        let message = outcome
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(
            message.contains("moto_server") && message.contains("CI"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_peer_is_a_notice_by_hand() {
        assert!(std::panic::catch_unwind(|| missing_in(false, "kubectl", "apt", &"gone")).is_ok());
    }
}
