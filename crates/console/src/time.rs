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

/// Reads `YYYY-MM-DDTHH:MM` (seconds optional) as UTC; `None` when it is not one.
pub fn parse_field(v: &str) -> Option<i64> {
    let v = v.trim();
    let digits = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, clock) = v.split_once('T').or_else(|| v.split_once(' '))?;
    let mut d = date.split('-');
    let (y, m, day) = (digits(d.next()?)?, digits(d.next()?)?, digits(d.next()?)?);
    let mut c = clock.split(':');
    let (h, min) = (digits(c.next()?)?, digits(c.next()?)?);
    let sec = match c.next() {
        Some(s) => digits(s)?,
        None => 0,
    };
    if d.next().is_some() || c.next().is_some() {
        return None;
    }
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=days_in_month(y, m)).contains(&day)
        && h < 24
        && min < 60
        && sec < 60;
    valid.then(|| ((days_from_civil(y, m, day) * 24 + h) * 60 + min) * 60_000 + sec * 1000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's days-from-civil (the inverse of the one in `hookpost_core::rfc3339`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
        ] {
            assert_eq!(parse_field(bad), None, "{bad}");
        }
    }
}
