use super::*;
use crate::lookalike::{self, Pattern};
use proptest::strategy::Strategy;

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

fn accept(host: &str) -> Option<String> {
    registry(host).ok().map(|r| format!("{r:?}"))
}

/// Regional GAR hosts: gluing letters before the region names another location of `pkg.dev`
/// (Google's), so the first label is open.
const GAR_REGIONAL: Pattern = Pattern {
    name: "GAR regional hosts",
    valid: &[
        "us-central1-docker.pkg.dev",
        "europe-west12-docker.pkg.dev",
        "northamerica-northeast1-docker.pkg.dev",
        "me-central2-docker.pkg.dev",
    ],
    accept,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: true,
};

/// Multi-region GAR hosts, GCR and S3NS: closed names.
const CLOSED: Pattern = Pattern {
    name: "GAR multi-region, GCR and S3NS hosts",
    valid: &[
        "us-docker.pkg.dev",
        "europe-docker.pkg.dev",
        "asia-docker.pkg.dev",
        "gcr.io",
        "us.gcr.io",
        "eu.gcr.io",
        "asia.gcr.io",
        "marketplace.gcr.io",
        "docker.s3nsregistry.fr",
    ],
    accept,
    url: false,
    any_port: false,
    extensions: &[],
    open_first_label: false,
};

#[test]
fn registries() {
    for (host, expected) in [
        (
            "us-central1-docker.pkg.dev",
            GcpRegistry::ArtifactRegistry {
                location: "us-central1".into(),
            },
        ),
        (
            "EUROPE-docker.pkg.dev:443",
            GcpRegistry::ArtifactRegistry {
                location: "europe".into(),
            },
        ),
        (
            "gcr.io",
            GcpRegistry::ContainerRegistry {
                host: "gcr.io".into(),
            },
        ),
        (
            "Eu.Gcr.Io",
            GcpRegistry::ContainerRegistry {
                host: "eu.gcr.io".into(),
            },
        ),
        ("docker.s3nsregistry.fr", GcpRegistry::S3ns),
    ] {
        let parsed = registry(host).ok();
        assert_eq!(parsed.as_ref(), Some(&expected), "{host}");
        assert_eq!(
            parsed.map(|r| r.host()),
            Some(host.to_ascii_lowercase().replace(":443", ""))
        );
    }
}

/// The reference's vectors. Deliberate differences: `a.gcr.io` and `a-docker.pkg.dev` (not a
/// documented GCR host, not a GAR location) are refused. The repository vector goes through the
/// neutral `registry_host` first, as the front doors do.
#[test]
fn the_reference_vectors() {
    for (input, valid) in [
        ("gcr.io", true),
        (".gcr.io", false),
        ("a.gcr.io", false),
        ("-docker.pkg.dev", false),
        ("a-docker.pkg.dev", false),
        ("012345678901.dkr.ecr.us-east-1.amazonaws.com", false),
        (
            "docker.s3nsregistry.fr/s3ns/dsna-shared-registry-0/shared-registry",
            true,
        ),
        ("docker.s3nsregistry.fr", true),
        ("u-france-east1-docker.s3nsregistry.fr", false),
        ("-docker.s3nsregistry.fr", false),
        ("a.docker.s3nsregistry.fr", false),
    ] {
        let host = crate::registry::registry_host(input);
        assert_eq!(registry(host).is_ok(), valid, "{input}");
    }
    assert_eq!(
        message(registry("012345678901.dkr.ecr.us-east-1.amazonaws.com")),
        format!(
            "invalid GCP registry: '012345678901.dkr.ecr.us-east-1.amazonaws.com'. expected {EXPECTED}"
        )
    );
}

/// The holes of the reference's pattern: each of these matched it, and none is Google's host.
#[test]
fn look_alikes_of_the_reference_pattern_are_refused() {
    for lookalike in [
        "evil.example/x.gcr.io",
        "evil.example#.gcr.io",
        "a@b.gcr.io",
        "evil.example:1@b.gcr.io",
        "evil.example/a-docker.pkg.dev",
        "evil.example?-docker.pkg.dev",
        "evil.example:8080-docker.pkg.dev",
        "gcr.io.example.net",
        "us-central1-docker.pkg.dev.example.net",
        "evil.us-central1-docker.pkg.dev",
        "us-central1-docker.pkg.devx",
        "us-central1-maven.pkg.dev",
        "us_central1-docker.pkg.dev",
        "us-central1a-docker.pkg.dev",
        "gcr.io:80",
    ] {
        assert!(registry(lookalike).is_err(), "{lookalike}");
    }
    assert!(message(registry("a\nb")).starts_with(r"invalid GCP registry: 'a\nb'."));
}

#[test]
fn regional_gar_hosts_refuse_every_trick() {
    lookalike::assert_tricks_refused(&GAR_REGIONAL);
}

#[test]
fn closed_hosts_refuse_every_trick() {
    lookalike::assert_tricks_refused(&CLOSED);
}

/// Labels of the property test, less those that, put before `gcr.io`, name another documented
/// GCR host (`eu` + `.gcr.io`).
fn foreign_label() -> impl Strategy<Value = String> {
    let known = ["us", "eu", "asia", "marketplace"];
    proptest::string::string_regex(lookalike::LABEL)
        .unwrap_or_else(|e| panic!("{e}"))
        .prop_filter("a documented location", move |l| {
            !known.contains(&l.to_ascii_lowercase().as_str())
        })
}

proptest::proptest! {
    #[test]
    fn no_label_added_to_a_regional_gar_host_matches(index in 0usize..64, label in lookalike::LABEL) {
        lookalike::extra_label_refused(&GAR_REGIONAL, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn no_label_added_to_a_closed_host_matches(index in 0usize..64, label in foreign_label()) {
        lookalike::extra_label_refused(&CLOSED, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
    }

    #[test]
    fn registry_parser_never_panics(input in "\\PC{0,300}") {
        let _ = registry(&input);
    }
}
