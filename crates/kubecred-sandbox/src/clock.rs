//! Wall-clock helpers: Unix seconds and RFC 3339 timestamps.

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `seconds` since the epoch as RFC 3339 with seconds precision
/// (`2026-11-24T08:00:00Z`), the form Kubernetes uses.
pub(crate) fn rfc3339(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_seconds_precision() {
        assert_eq!(rfc3339(1_795_507_200), "2026-11-24T08:00:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn now_is_after_2025() {
        assert!(unix_now() > 1_735_689_600);
    }
}
