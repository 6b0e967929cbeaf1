//! How the operator's commands write counts and times: `1 user`, `2 users`;
//! `2026-12-04T03:13:31Z` (RFC 3339, whole seconds, UTC), never a Rust
//! `Display` of a date.

use time::{OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339};

/// `count` and the noun that goes with it: `counted(1, "user", "users")` is `1 user`.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `at` in RFC 3339, in UTC, to the second.
pub fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "user", "users"), "1 user");
        assert_eq!(counted(0, "user", "users"), "0 users");
        assert_eq!(counted(2, "session ended", "sessions ended"), "2 sessions ended");
    }

    #[test]
    fn times_are_rfc_3339_in_utc_to_the_second() {
        assert_eq!(when(datetime!(2026-12-04 3:13:31.966868 UTC)), "2026-12-04T03:13:31Z");
        assert_eq!(when(datetime!(2026-12-04 4:13:31 +01:00)), "2026-12-04T03:13:31Z");
    }
}
