//! The targets of GCP's access checks, parsed exactly (anchored, Google's naming rules):
//!
//! - `gs://BUCKET` (an optional trailing `/`): a Cloud Storage bucket name, 3-63 characters
//!   of lowercase letters, digits, `-` and `_` (with dots, up to 222 characters in dot-separated
//!   components of at most 63), beginning and ending with a letter or digit, not starting with
//!   `goog` and not an IPv4 address;
//! - `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K`: a Cloud KMS key (project id or
//!   number, a location, key ring and key ids of 1-63 letters, digits, `_` and `-`);
//! - `pubsub://projects/P/topics/T`: a Pub/Sub topic (3-255 characters, starting with a letter,
//!   then letters, digits and `-_.~+`, not starting with `goog`). Google also allows `%` in
//!   topic ids; it is refused here because it would read as an escape in the request's path;
//! - `gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`: an Artifact Registry repository, the
//!   host by the registry login's anchored host rules ([`super::hosts`]: a DNS name, case
//!   folded, no port but 443), a project id, and a repository id by Artifact Registry's rules
//!   (1-63 lowercase letters, digits and `-`, starting with a letter, ending with a letter or
//!   digit). An image (a further path), a tag or a digest is not a repository and is refused,
//!   as are Container Registry and S3NS hosts.

use std::sync::LazyLock;

use regex::Regex;

use super::cluster::{PROJECT_ID_RULE, is_project_id};
use super::hosts::{self, GcpRegistry};
use super::parse::compiled;
use crate::error::{Error, Result};

/// The scheme of a bucket check.
pub const GCS_SCHEME: &str = "gs://";
/// The scheme of a KMS key check.
pub const KMS_SCHEME: &str = "gcpkms://";
/// The scheme of a Pub/Sub topic check.
pub const PUBSUB_SCHEME: &str = "pubsub://";
/// The scheme of an Artifact Registry repository check.
pub const GAR_SCHEME: &str = "gar://";
/// The targets, as help text names them.
pub const TARGETS: &str = "gs://BUCKET, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, pubsub://projects/P/topics/T, gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY";

/// Artifact Registry's rule for a repository id, as errors state it.
pub(crate) const REPOSITORY_RULE: &str = "a repository id is 1-63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen";
const GAR_FORM: &str = "gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY";

// A project id (6-30 characters) or number, spelled out in each pattern.
const KMS_KEY: &str = concat!(
    r"^projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})",
    r"/locations/[a-z][a-z0-9-]{0,62}/keyRings/[A-Za-z0-9_-]{1,63}/cryptoKeys/[A-Za-z0-9_-]{1,63}$"
);
const TOPIC: &str = concat!(
    r"^projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})",
    r"/topics/[A-Za-z][A-Za-z0-9._~+-]{2,254}$"
);
const BUCKET_COMPONENT: &str = r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$";
const REPOSITORY_ID: &str = r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$";

static KMS_KEY_RE: LazyLock<Regex> = LazyLock::new(|| compiled(KMS_KEY));
static TOPIC_RE: LazyLock<Regex> = LazyLock::new(|| compiled(TOPIC));
static BUCKET_COMPONENT_RE: LazyLock<Regex> = LazyLock::new(|| compiled(BUCKET_COMPONENT));
static REPOSITORY_ID_RE: LazyLock<Regex> = LazyLock::new(|| compiled(REPOSITORY_ID));

/// Whether `id` is an Artifact Registry repository id ([`REPOSITORY_RULE`]).
pub(crate) fn is_repository_id(id: &str) -> bool {
    REPOSITORY_ID_RE.is_match(id)
}

/// An Artifact Registry (Docker) repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// The multi-region or region, from the host.
    pub location: String,
    /// The project id.
    pub project: String,
    /// The repository id.
    pub repository: String,
}

impl Repository {
    /// Its IAM resource name, `projects/P/locations/L/repositories/R`.
    pub fn resource_name(&self) -> String {
        format!(
            "projects/{}/locations/{}/repositories/{}",
            self.project, self.location, self.repository
        )
    }

    /// `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`, the form `kubecred policy --for registry` takes.
    pub fn path(&self) -> String {
        format!(
            "{}-docker.pkg.dev/{}/{}",
            self.location, self.project, self.repository
        )
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{GAR_SCHEME}{}", self.path())
    }
}

/// A parsed check target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckTarget {
    /// A Cloud Storage bucket name.
    Bucket(String),
    /// A Cloud KMS key's resource name (`projects/…/cryptoKeys/K`).
    CryptoKey(String),
    /// A Pub/Sub topic's resource name (`projects/P/topics/T`).
    Topic(String),
    /// An Artifact Registry repository.
    Repository(Repository),
}

/// Whether `target` has one of GCP's check schemes (it may still be invalid).
pub fn owns(target: &str) -> bool {
    [GCS_SCHEME, KMS_SCHEME, PUBSUB_SCHEME, GAR_SCHEME]
        .iter()
        .any(|scheme| target.starts_with(scheme))
}

/// Parses `target`; the error names what is wrong with it.
pub fn parse(target: &str) -> Result<CheckTarget> {
    let shown = || target.chars().take(300).collect::<String>();
    let invalid = |why: &str| {
        Error::invalid(format!(
            "invalid check target '{}': {why}",
            shown().escape_default()
        ))
    };
    if let Some(bucket) = target.strip_prefix(GCS_SCHEME) {
        let bucket = bucket.strip_suffix('/').unwrap_or(bucket);
        return bucket_name(bucket)
            .map(CheckTarget::Bucket)
            .map_err(invalid);
    }
    if let Some(name) = target.strip_prefix(KMS_SCHEME) {
        return match KMS_KEY_RE.is_match(name) {
            true => Ok(CheckTarget::CryptoKey(name.to_owned())),
            false => Err(invalid(
                "expected gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K (ids of letters, digits, '_' and '-')",
            )),
        };
    }
    if let Some(name) = target.strip_prefix(PUBSUB_SCHEME) {
        return match TOPIC_RE.is_match(name) && !topic_id(name).starts_with("goog") {
            true => Ok(CheckTarget::Topic(name.to_owned())),
            false => Err(invalid(
                "expected pubsub://projects/P/topics/T (a topic id of 3-255 letters, digits and '-_.~+', starting with a letter, not 'goog')",
            )),
        };
    }
    if let Some(path) = target.strip_prefix(GAR_SCHEME) {
        return repository(path)
            .map(CheckTarget::Repository)
            .map_err(|why| invalid(&format!("{why}; expected {GAR_FORM}")));
    }
    Err(invalid(&format!("expected {TARGETS}")))
}

/// `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY`; why not.
fn repository(path: &str) -> std::result::Result<Repository, &'static str> {
    let [host, project, repository] = path.split('/').collect::<Vec<_>>()[..] else {
        return Err(
            "a host, a project and a repository separated by '/' (no image path or trailing '/')",
        );
    };
    let location = match hosts::registry(host) {
        Ok(GcpRegistry::ArtifactRegistry { location }) => location,
        Ok(_) => {
            return Err(
                "Container Registry and S3NS hosts are not Artifact Registry repositories: name the repository's LOCATION-docker.pkg.dev",
            );
        }
        Err(_) => return Err("the host is not LOCATION-docker.pkg.dev"),
    };
    if !is_project_id(project) {
        return Err(PROJECT_ID_RULE);
    }
    if repository.contains([':', '@']) {
        return Err("a repository has no tag or digest");
    }
    if !is_repository_id(repository) {
        return Err(REPOSITORY_RULE);
    }
    Ok(Repository {
        location,
        project: project.to_owned(),
        repository: repository.to_owned(),
    })
}

fn topic_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Google's bucket naming rules; why not.
fn bucket_name(name: &str) -> std::result::Result<String, &'static str> {
    let limit = if name.contains('.') { 222 } else { 63 };
    if name.len() < 3 || name.len() > limit {
        return Err("a bucket name has 3-63 characters (222 with dots)");
    }
    if !name
        .split('.')
        .all(|part| BUCKET_COMPONENT_RE.is_match(part))
    {
        return Err(
            "a bucket name has lowercase letters, digits, '-', '_' and '.', each dot-separated part beginning and ending with a letter or digit",
        );
    }
    if name.starts_with("goog") {
        return Err("a bucket name cannot start with 'goog'");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("a bucket name cannot be an IP address");
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookalike::{self, Pattern};

    fn parsed(target: &str) -> std::result::Result<CheckTarget, String> {
        parse(target).map_err(|e| e.to_string())
    }

    const KEY: &str =
        "projects/example-project/locations/europe-west1/keyRings/sops/cryptoKeys/flux";

    #[test]
    fn valid_targets_are_read() {
        assert_eq!(
            parsed("gs://my-bucket"),
            Ok(CheckTarget::Bucket("my-bucket".into()))
        );
        assert_eq!(
            parsed("gs://a.b_c-d/"),
            Ok(CheckTarget::Bucket("a.b_c-d".into()))
        );
        assert_eq!(
            parsed(&format!("gcpkms://{KEY}")),
            Ok(CheckTarget::CryptoKey(KEY.into()))
        );
        assert_eq!(
            parsed("gcpkms://projects/123456789000/locations/global/keyRings/r/cryptoKeys/K_1"),
            Ok(CheckTarget::CryptoKey(
                "projects/123456789000/locations/global/keyRings/r/cryptoKeys/K_1".into()
            ))
        );
        assert_eq!(
            parsed("pubsub://projects/example-project/topics/flux.events~1+2"),
            Ok(CheckTarget::Topic(
                "projects/example-project/topics/flux.events~1+2".into()
            ))
        );
    }

    #[test]
    fn invalid_targets_are_refused_with_the_reason() {
        for (target, why) in [
            ("gs://ab", "3-63 characters"),
            ("gs://My-Bucket", "lowercase"),
            ("gs://-bucket", "lowercase"),
            ("gs://bucket/object", "lowercase"),
            ("gs://a..b", "lowercase"),
            ("gs://google-x", "'goog'"),
            ("gs://192.168.5.4", "IP address"),
            ("gs://b?x=1", "lowercase"),
            (
                "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
                "gcpkms://projects/P",
            ),
            (
                &format!("gcpkms://{KEY}/cryptoKeyVersions/1"),
                "gcpkms://projects/P",
            ),
            (&format!("gcpkms://{KEY}\n"), "gcpkms://projects/P"),
            (
                "gcpkms://projects/../locations/l/keyRings/r/cryptoKeys/k",
                "gcpkms://projects/P",
            ),
            (
                "pubsub://projects/example-project/topics/ab",
                "pubsub://projects/P",
            ),
            (
                "pubsub://projects/example-project/topics/goog-x",
                "not 'goog'",
            ),
            (
                "pubsub://projects/example-project/topics/a%2Fb",
                "pubsub://projects/P",
            ),
            (
                "pubsub://projects/example-project/subscriptions/abc",
                "pubsub://projects/P",
            ),
            ("s3://bucket", "expected gs://BUCKET"),
        ] {
            let error = parsed(target).err().unwrap_or_default();
            assert!(
                error.starts_with("invalid check target '") && error.contains(why),
                "{target}: {error}"
            );
        }
    }

    #[test]
    fn owned_targets_are_the_four_schemes() {
        assert!(owns("gs://x") && owns("gcpkms://x") && owns("pubsub://x") && owns("gar://x"));
        assert!(!owns("s3://x") && !owns("kms://x") && !owns("GS://x") && !owns("GAR://x"));
    }

    fn repository(location: &str, project: &str, repository: &str) -> CheckTarget {
        CheckTarget::Repository(Repository {
            location: location.into(),
            project: project.into(),
            repository: repository.into(),
        })
    }

    #[test]
    fn repositories_are_read_with_their_resource_name() {
        for (target, expected) in [
            (
                "gar://europe-west1-docker.pkg.dev/example-project/flux-images",
                repository("europe-west1", "example-project", "flux-images"),
            ),
            (
                "gar://us-docker.pkg.dev/my-project/a",
                repository("us", "my-project", "a"),
            ),
            (
                "gar://northamerica-northeast1-docker.pkg.dev/my-project/a1-b2",
                repository("northamerica-northeast1", "my-project", "a1-b2"),
            ),
            // The host as the registry login reads it: a DNS name, case folded, port 443.
            (
                "gar://EUROPE-docker.pkg.dev:443/my-project/images",
                repository("europe", "my-project", "images"),
            ),
        ] {
            assert_eq!(parsed(target), Ok(expected), "{target}");
        }
        let Ok(CheckTarget::Repository(repo)) =
            parse("gar://europe-west1-docker.pkg.dev/example-project/flux-images")
        else {
            panic!("not a repository");
        };
        assert_eq!(
            repo.resource_name(),
            "projects/example-project/locations/europe-west1/repositories/flux-images"
        );
        assert_eq!(
            repo.to_string(),
            "gar://europe-west1-docker.pkg.dev/example-project/flux-images"
        );
        assert_eq!(
            repo.path(),
            "europe-west1-docker.pkg.dev/example-project/flux-images"
        );
        let longest = format!("a{}", "b".repeat(62));
        assert!(parse(&format!("gar://us-docker.pkg.dev/my-project/{longest}")).is_ok());
    }

    #[test]
    fn hostile_repositories_are_refused_with_the_reason() {
        const HOST: &str = "europe-west1-docker.pkg.dev";
        let too_long = format!("gar://{HOST}/my-project/a{}", "b".repeat(63));
        for (target, why) in [
            // Ports, user info, other hosts.
            (
                format!("gar://{HOST}:8443/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://{HOST}:80/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://{HOST}:/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://u@{HOST}/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://u:p@{HOST}/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://{HOST}@evil.example/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://evil.{HOST}/my-project/images"),
                "the host is not",
            ),
            (
                format!("gar://{HOST}.evil.example/my-project/images"),
                "the host is not",
            ),
            (
                "gar://europe-west1-maven.pkg.dev/my-project/images".into(),
                "the host is not",
            ),
            (
                "gar://a-docker.pkg.dev/my-project/images".into(),
                "the host is not",
            ),
            (
                "gar://127.0.0.1/my-project/images".into(),
                "the host is not",
            ),
            ("gar:///my-project/images".into(), "the host is not"),
            (
                "gar://gcr.io/my-project/images".into(),
                "Container Registry and S3NS",
            ),
            (
                "gar://docker.s3nsregistry.fr/my-project/images".into(),
                "Container Registry and S3NS",
            ),
            // Dot segments, escapes, empty segments, trailing slashes, further paths.
            (format!("gar://{HOST}/../images"), "a project id"),
            (format!("gar://{HOST}/my-project/.."), "a repository id"),
            (format!("gar://{HOST}/my-project/."), "a repository id"),
            (
                format!("gar://{HOST}/my-project%2Fx/images"),
                "a project id",
            ),
            (
                format!("gar://{HOST}/my-project/images%2Fapp"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/images/"),
                "no image path or trailing '/'",
            ),
            (
                format!("gar://{HOST}//my-project/images"),
                "no image path or trailing '/'",
            ),
            (
                format!("gar://{HOST}/my-project/images/app"),
                "no image path or trailing '/'",
            ),
            (
                format!("gar://{HOST}/my-project"),
                "no image path or trailing '/'",
            ),
            (format!("gar://{HOST}/"), "no image path or trailing '/'"),
            (format!("gar://{HOST}"), "no image path or trailing '/'"),
            ("gar://".into(), "no image path or trailing '/'"),
            (
                format!("gar://{HOST}\\my-project\\images"),
                "no image path or trailing '/'",
            ),
            // Tags and digests.
            (
                format!("gar://{HOST}/my-project/images:1.0"),
                "no tag or digest",
            ),
            (
                format!("gar://{HOST}/my-project/images@sha256:{}", "0".repeat(64)),
                "no tag or digest",
            ),
            (
                format!("gar://{HOST}/my-project/images?x=1"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/images#x"),
                "a repository id",
            ),
            // Uppercase and other characters in the project or repository.
            (format!("gar://{HOST}/My-Project/images"), "a project id"),
            (format!("gar://{HOST}/my-project/Images"), "a repository id"),
            (
                format!("gar://{HOST}/my-project/images_1"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/1images"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/images-"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/-images"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/images\n"),
                "a repository id",
            ),
            (
                format!("gar://{HOST}/my-project/im\u{430}ges"),
                "a repository id",
            ),
            (format!("gar://{HOST}/123456789000/images"), "a project id"),
            (too_long, "a repository id"),
        ] {
            let error = parsed(&target).err().unwrap_or_default();
            assert!(
                error.starts_with("invalid check target '")
                    && error.contains(why)
                    && error.contains("expected gar://LOCATION-docker.pkg.dev/PROJECT/REPOSITORY"),
                "{target}: {error}"
            );
        }
    }

    /// What a repository target makes of `host` (in `gar://HOST/my-project/images`).
    fn accept_host(host: &str) -> Option<String> {
        parse(&format!("gar://{host}/my-project/images"))
            .ok()
            .map(|t| format!("{t:?}"))
    }

    /// Regional hosts: letters glued before the region name another location (Google's).
    const GAR_REGIONAL: Pattern = Pattern {
        name: "gar:// regional hosts",
        valid: &["us-central1-docker.pkg.dev", "europe-west12-docker.pkg.dev"],
        accept: accept_host,
        url: false,
        any_port: false,
        extensions: &[],
        open_first_label: true,
    };

    const GAR_MULTI_REGION: Pattern = Pattern {
        name: "gar:// multi-region hosts",
        valid: &[
            "us-docker.pkg.dev",
            "europe-docker.pkg.dev",
            "asia-docker.pkg.dev",
        ],
        accept: accept_host,
        url: false,
        any_port: false,
        extensions: &[],
        open_first_label: false,
    };

    #[test]
    fn repository_hosts_refuse_every_trick() {
        lookalike::assert_tricks_refused(&GAR_REGIONAL);
        lookalike::assert_tricks_refused(&GAR_MULTI_REGION);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(scheme in "(gs|gcpkms|pubsub|gar)://", rest in "\\PC{0,300}") {
            let target = format!("{scheme}{rest}");
            if let Ok(parsed) = parse(&target) {
                let name = match parsed {
                    CheckTarget::Bucket(n) | CheckTarget::CryptoKey(n) | CheckTarget::Topic(n) => n,
                    CheckTarget::Repository(r) => r.resource_name(),
                };
                proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_graphic() && !b"?#%/\\".contains(&b) || b == b'/'));
            }
        }

        /// An accepted repository target round-trips: its canonical form parses to itself.
        #[test]
        fn accepted_repositories_round_trip(
            location in "(us|europe|asia|[a-z]{2,6}-[a-z]{2,8}[0-9]{1,2}|[A-Za-z0-9-]{1,12})",
            port in "(|:443|:[0-9]{1,5})",
            project in "[a-z0-9-]{4,32}",
            repository in "([a-z][a-z0-9-]{0,63}|[a-zA-Z0-9:@._-]{0,66})",
        ) {
            let target = format!("gar://{location}-docker.pkg.dev{port}/{project}/{repository}");
            if let Ok(CheckTarget::Repository(parsed)) = parse(&target) {
                let again = parse(&parsed.to_string()).ok();
                proptest::prop_assert_eq!(again, Some(CheckTarget::Repository(parsed.clone())));
                proptest::prop_assert!(is_repository_id(&parsed.repository));
                proptest::prop_assert_eq!(parsed.project, project);
            }
        }

        #[test]
        fn no_label_added_to_a_regional_repository_host_matches(index in 0usize..64, label in lookalike::LABEL) {
            lookalike::extra_label_refused(&GAR_REGIONAL, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
        }

        #[test]
        fn no_label_added_to_a_multi_region_repository_host_matches(index in 0usize..64, label in lookalike::LABEL) {
            lookalike::extra_label_refused(&GAR_MULTI_REGION, index, &label).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }
}
