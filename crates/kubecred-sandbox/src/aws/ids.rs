//! Identifiers in AWS's shapes: temporary access key ids, secrets, session
//! tokens and the stable unique ids of users and roles.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The characters AWS uses in key and unique ids (base32 alphabet).
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Fills `N` bytes from the system random generator.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // AWS-LC's RAND_bytes aborts the process instead of reporting failure, so
    // an error here means a broken build, not bad input.
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator is available");
    bytes
}

fn base32(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| char::from(ID_ALPHABET[usize::from(b % 32)]))
        .collect()
}

/// A temporary access key id: `ASIA` and 16 characters.
pub(crate) fn temporary_key_id() -> String {
    format!("ASIA{}", base32(&random_bytes::<16>()))
}

/// A secret access key: 40 characters of base64.
pub(crate) fn secret_access_key() -> String {
    STANDARD.encode(random_bytes::<30>())
}

/// A session token: long opaque base64, like STS's.
pub(crate) fn session_token() -> String {
    format!("IQoJb3JpZ2luX2Vj{}", STANDARD.encode(random_bytes::<192>()))
}

/// A stable unique id for `arn` with `prefix` (`AIDA` users, `AROA` roles):
/// the prefix and 17 characters derived from the ARN's SHA-256.
pub(crate) fn unique_id(prefix: &str, arn: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, arn.as_bytes());
    format!("{prefix}{}", base32(&digest.as_ref()[..17]))
}

/// A random password (ECR authorization tokens), base64.
pub(crate) fn password() -> String {
    STANDARD.encode(random_bytes::<96>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shapes() {
        let id = temporary_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("ASIA"));
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(id, temporary_key_id());
        assert_eq!(secret_access_key().len(), 40);
        assert_eq!(unique_id("AROA", "a"), unique_id("AROA", "a"));
        assert_ne!(unique_id("AROA", "a"), unique_id("AROA", "b"));
        assert_eq!(unique_id("AROA", "a").len(), 21);
    }
}
