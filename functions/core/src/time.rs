//! Time as the core counts it: milliseconds of the caller's clock (the core has no clock of its
//! own), and the RFC 3339 form the API shows. A leaf: every module may use it, it uses none.

/// Milliseconds since the Unix epoch; the caller's clock.
pub type Millis = i64;

/// RFC 3339 UTC with milliseconds, the API's timestamp format.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_700_000_000_123),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
