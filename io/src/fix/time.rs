//! UTC timestamps in FIX `UTCTimestamp` form (`YYYYMMDD-HH:MM:SS.sss`).
//!
//! Owning thread: none (pure functions). Invariant: never reads a clock;
//! callers pass nanoseconds since the Unix epoch (UTC).

/// Length of `YYYYMMDD-HH:MM:SS.sss`.
pub const UTC_TIMESTAMP_LEN: usize = 21;

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// Formats `unix_ns` (nanoseconds since 1970-01-01T00:00:00Z) with
/// millisecond precision. Years past 9999 are clamped to 9999-12-31.
pub fn format_utc_timestamp(unix_ns: u64, out: &mut [u8; UTC_TIMESTAMP_LEN]) {
    let seconds_total = unix_ns / NANOS_PER_SECOND;
    let millis = (unix_ns % NANOS_PER_SECOND) / 1_000_000;
    let days = seconds_total / SECONDS_PER_DAY;
    let second_of_day = seconds_total % SECONDS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let (year, month, day) = if year > 9999 {
        (9999, 12, 31)
    } else {
        (year, month, day)
    };
    write_digits(&mut out[0..4], year);
    write_digits(&mut out[4..6], month);
    write_digits(&mut out[6..8], day);
    out[8] = b'-';
    write_digits(&mut out[9..11], second_of_day / 3600);
    out[11] = b':';
    write_digits(&mut out[12..14], (second_of_day / 60) % 60);
    out[14] = b':';
    write_digits(&mut out[15..17], second_of_day % 60);
    out[17] = b'.';
    write_digits(&mut out[18..21], millis);
}

/// Parses `YYYYMMDD-HH:MM:SS` with an optional fraction of 1 to 9 digits
/// into nanoseconds since the Unix epoch; `None` when malformed.
pub fn parse_utc_timestamp(text: &[u8]) -> Option<u64> {
    if text.len() < 17 || text[8] != b'-' || text[11] != b':' || text[14] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u64> {
        text[range].iter().try_fold(0u64, |value, &byte| {
            byte.is_ascii_digit()
                .then(|| value * 10 + u64::from(byte - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(12..14)?, number(15..17)?);
    let valid = year >= 1970 && (1..=12).contains(&month) && (1..=31).contains(&day);
    if !valid || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let fraction_ns = match &text[17..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let value = number(18..text.len())?;
            value * 10u64.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(seconds * NANOS_PER_SECOND + fraction_ns)
}

/// (year >= 1970, month, day) to days since 1970-01-01 (Howard Hinnant).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_shifted = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_shifted + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

/// Writes `value` zero-padded into all of `out`.
fn write_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for non-negative days).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(unix_ns: u64) -> String {
        let mut out = [0u8; UTC_TIMESTAMP_LEN];
        format_utc_timestamp(unix_ns, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn known_instants_format() {
        // The epoch, a leap day and an end-of-year instant.
        assert_eq!(formatted(0), "19700101-00:00:00.000");
        assert_eq!(formatted(951_782_400_123_456_789), "20000229-00:00:00.123");
        assert_eq!(
            formatted(1_735_689_599_999_000_000),
            "20241231-23:59:59.999"
        );
    }

    #[test]
    fn parse_inverts_format() {
        // Formatting then parsing gives back the millisecond instant.
        for unix_ns in [0u64, 951_782_400_123_000_000, 1_735_689_599_999_000_000] {
            assert_eq!(
                parse_utc_timestamp(formatted(unix_ns).as_bytes()),
                Some(unix_ns)
            );
        }
        assert_eq!(
            parse_utc_timestamp(b"20240101-00:00:00"),
            Some(1_704_067_200_000_000_000)
        );
        assert_eq!(
            parse_utc_timestamp(b"20240101-00:00:00.000001"),
            Some(1_704_067_200_000_001_000)
        );
        for bad in [
            &b""[..],
            b"2024",
            b"20241301-00:00:00",
            b"20240101-00:00:00.",
            b"20240101 00:00:00",
        ] {
            assert_eq!(parse_utc_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn far_future_is_clamped() {
        // u64::MAX nanoseconds is year 2554, still formatted; no panic.
        assert_eq!(formatted(u64::MAX).len(), UTC_TIMESTAMP_LEN);
    }
}
