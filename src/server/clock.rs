//! Time as the catalog stores it (Unix milliseconds, UTC) and as the API prints it (RFC 3339).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (UTC).
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub fn rfc3339(unix_millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
