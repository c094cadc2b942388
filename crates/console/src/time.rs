//! Times as the console shows and reads them: UTC, to the second; the form fields are
//! HTML's `datetime-local` (`2026-11-22T10:00`), read as UTC.

/// `ms` since the epoch as `2026-11-22 10:00:00`.
pub fn show(ms: i64) -> String {
    let s = hookpost_core::rfc3339(ms);
    format!("{} {}", &s[..10], &s[11..19])
}

/// `ms` as a `datetime-local` value, to the minute.
pub fn field(ms: i64) -> String {
    hookpost_core::rfc3339(ms)[..16].to_owned()
}

/// Reads `YYYY-MM-DDTHH:MM` (seconds optional, `T` or a space) as UTC, years 1970-9999;
/// `None` when it is not one.
pub fn parse_field(v: &str) -> Option<i64> {
    use time::macros::format_description;
    const FIELD: &[time::format_description::BorrowedFormatItem<'_>] = format_description!(
        "[year]-[month]-[day][first [T] [ ]][hour]:[minute][optional [:[second]]]"
    );
    let v = v.trim();
    // The year may carry a sign in `time`'s grammar; a form field never does.
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let at = time::PrimitiveDateTime::parse(v, FIELD).ok()?.assume_utc();
    (at.year() >= 1970).then(|| at.unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_what_they_show() {
        for ms in [0, 951_782_400_000, 1_764_410_400_000, 1_764_410_460_000] {
            assert_eq!(parse_field(&field(ms)), Some(ms), "{}", field(ms));
        }
        assert_eq!(parse_field("2025-11-29T10:00:30"), Some(1_764_410_430_000));
        assert_eq!(show(1_764_410_400_000), "2025-11-29 10:00:00");
        assert_eq!(parse_field(" 2025-11-29 10:00 "), Some(1_764_410_400_000));
    }

    #[test]
    fn calendar_edges_are_read() {
        // Leap days (2000 is a leap year, 2100 is not), ends of months, the last minute.
        assert_eq!(parse_field("2000-02-29T00:00"), Some(951_782_400_000));
        assert_eq!(parse_field("2024-02-29T12:00"), Some(1_709_208_000_000));
        assert_eq!(parse_field("2024-06-30T23:59:59"), Some(1_719_791_999_000));
        assert_eq!(parse_field("2024-12-31T23:59"), Some(1_735_689_540_000));
        assert_eq!(parse_field("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_field("9999-12-31T23:59"), Some(253_402_300_740_000));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in [
            "",
            "2025-13-01T00:00",
            "2025-02-29T00:00",
            "2025-01-01",
            "2025-01-01T24:00",
            "x025-01-01T00:00",
            "2025-01-01T00:00:00:00",
            "2025-01-01T+1:00",
            "2024-04-31T00:00",
            "2100-02-29T00:00",
            "2025-01-01T23:60",
            "2025-01-01T00:00:60",
            "1969-12-31T23:59",
            "+2025-01-01T00:00",
            "2025-01-01T00:00Z",
        ] {
            assert_eq!(parse_field(bad), None, "{bad}");
        }
    }
}
