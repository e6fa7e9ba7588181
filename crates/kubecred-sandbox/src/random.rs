//! Random identifiers: object uids, bearer tokens and JWT ids.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills `N` bytes from the system random generator.
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // AWS-LC's RAND_bytes aborts the process instead of reporting failure, so
    // an error here means a broken build, not bad input.
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random generator is available");
    bytes
}

/// A random UUID (version 4), like the uids Kubernetes assigns to objects.
pub(crate) fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    guid(&b)
}

/// 16 bytes in the GUID form `8-4-4-4-12` (lowercase hexadecimal).
pub(crate) fn guid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random bearer token (256 bits, base64url without padding).
pub(crate) fn bearer_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_version_4_shape_and_differs() {
        let a = uuid();
        let parts: Vec<&str> = a.split('-').collect();
        let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
        assert_ne!(a, uuid());
    }

    #[test]
    fn bearer_tokens_are_long_and_unique() {
        let t = bearer_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, bearer_token());
    }
}
