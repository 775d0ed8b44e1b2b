//! UTC timestamps in FIX `UTCTimestamp` form (`YYYYMMDD-HH:MM:SS.sss`).
//!
//! Owning thread: none for the pure functions; a [`TimestampCache`] belongs
//! to its encoder's thread. Invariant: never reads a clock; callers pass
//! nanoseconds since the Unix epoch (UTC). The cache's text is always
//! exactly what [`format_utc_timestamp`] writes for the same instant.

use crate::fix::digits::{write_3_digits, write_digits};

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
    write_digits(year, &mut out[0..4]);
    write_digits(month, &mut out[4..6]);
    write_digits(day, &mut out[6..8]);
    out[8] = b'-';
    write_digits(second_of_day / 3600, &mut out[9..11]);
    out[11] = b':';
    write_digits((second_of_day / 60) % 60, &mut out[12..14]);
    out[14] = b':';
    write_digits(second_of_day % 60, &mut out[15..17]);
    out[17] = b'.';
    write_digits(millis, &mut out[18..21]);
}

/// Formats timestamps with one calendar conversion per second: encoders
/// write SendingTime and TransactTime for every order, nearly always within
/// the second formatted last, so only the milliseconds change.
#[derive(Clone, Copy, Debug)]
pub struct TimestampCache {
    second: u64,
    text: [u8; UTC_TIMESTAMP_LEN],
}

impl Default for TimestampCache {
    fn default() -> Self {
        TimestampCache::new()
    }
}

impl TimestampCache {
    /// An empty cache (the first call formats in full).
    pub const fn new() -> TimestampCache {
        TimestampCache {
            second: u64::MAX,
            text: [0; UTC_TIMESTAMP_LEN],
        }
    }

    /// `unix_ns` as `YYYYMMDD-HH:MM:SS.sss`, identical to [`format_utc_timestamp`].
    #[inline]
    pub fn format(&mut self, unix_ns: u64) -> &[u8; UTC_TIMESTAMP_LEN] {
        let second = unix_ns / NANOS_PER_SECOND;
        if second != self.second {
            format_utc_timestamp(unix_ns, &mut self.text);
            self.second = second;
        }
        let millis = (unix_ns % NANOS_PER_SECOND) / 1_000_000;
        if let Some(digits) = self.text.last_chunk_mut::<3>() {
            write_3_digits(millis, digits);
        }
        &self.text
    }
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
    fn cache_matches_the_full_formatter() {
        // Same second, next second, a jump back, and the clamped far future.
        let mut cache = TimestampCache::new();
        for unix_ns in [
            1_700_000_000_123_456_789u64,
            1_700_000_000_999_000_000,
            1_700_000_001_000_000_001,
            951_782_400_123_456_789,
            1_700_000_000_001_000_000,
            u64::MAX,
            0,
        ] {
            assert_eq!(
                String::from_utf8(cache.format(unix_ns).to_vec()).unwrap(),
                formatted(unix_ns)
            );
        }
    }

    #[test]
    fn far_future_is_clamped() {
        // u64::MAX nanoseconds is year 2554, still formatted; no panic.
        assert_eq!(formatted(u64::MAX).len(), UTC_TIMESTAMP_LEN);
    }
}
