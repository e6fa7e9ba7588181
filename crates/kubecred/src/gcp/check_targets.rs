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
//!   topic ids; it is refused here because it would read as an escape in the request's path.

use std::sync::LazyLock;

use regex::Regex;

use super::parse::compiled;
use crate::error::{Error, Result};

/// The scheme of a bucket check.
pub const GCS_SCHEME: &str = "gs://";
/// The scheme of a KMS key check.
pub const KMS_SCHEME: &str = "gcpkms://";
/// The scheme of a Pub/Sub topic check.
pub const PUBSUB_SCHEME: &str = "pubsub://";
/// The targets, as help text names them.
pub const TARGETS: &str = "gs://BUCKET, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K, pubsub://projects/P/topics/T";

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

static KMS_KEY_RE: LazyLock<Regex> = LazyLock::new(|| compiled(KMS_KEY));
static TOPIC_RE: LazyLock<Regex> = LazyLock::new(|| compiled(TOPIC));
static BUCKET_COMPONENT_RE: LazyLock<Regex> = LazyLock::new(|| compiled(BUCKET_COMPONENT));

/// A parsed check target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckTarget {
    /// A Cloud Storage bucket name.
    Bucket(String),
    /// A Cloud KMS key's resource name (`projects/…/cryptoKeys/K`).
    CryptoKey(String),
    /// A Pub/Sub topic's resource name (`projects/P/topics/T`).
    Topic(String),
}

/// Whether `target` has one of GCP's check schemes (it may still be invalid).
pub fn owns(target: &str) -> bool {
    [GCS_SCHEME, KMS_SCHEME, PUBSUB_SCHEME]
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
    Err(invalid(&format!("expected {TARGETS}")))
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
    fn owned_targets_are_the_three_schemes() {
        assert!(owns("gs://x") && owns("gcpkms://x") && owns("pubsub://x"));
        assert!(!owns("s3://x") && !owns("kms://x") && !owns("GS://x"));
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(scheme in "(gs|gcpkms|pubsub)://", rest in "\\PC{0,300}") {
            let target = format!("{scheme}{rest}");
            if let Ok(parsed) = parse(&target) {
                let name = match parsed {
                    CheckTarget::Bucket(n) | CheckTarget::CryptoKey(n) | CheckTarget::Topic(n) => n,
                };
                proptest::prop_assert!(name.bytes().all(|b| b.is_ascii_graphic() && !b"?#%/\\".contains(&b) || b == b'/'));
            }
        }
    }
}
