//! Host names from outside (registry hosts, git hosts): the one normalisation every cloud's exact
//! host patterns are matched against. Cloud-neutral; each cloud's patterns live in its module.

/// The HTTPS port, the only one a registry host may name.
const HTTPS_PORT: &str = "443";

/// `host` (`name` or `name:port`) as a lowercase DNS name, when it is one: ASCII letters, digits,
/// `.` and `-` only, and no port but 443. Anything else (userinfo, paths, escapes, brackets,
/// other ports, Unicode) is `None`: not a host kubecred serves.
pub fn dns_name(host: &str) -> Option<String> {
    let name = match host.rsplit_once(':') {
        Some((name, HTTPS_PORT)) => name,
        Some(_) => return None,
        None => host,
    };
    let plain = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'));
    plain.then(|| name.to_ascii_lowercase())
}

/// One DNS label: 1 to 63 ASCII letters, digits and `-`, neither first nor last a `-`.
#[cfg_attr(not(feature = "azure"), allow(dead_code))]
pub(crate) fn dns_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}
