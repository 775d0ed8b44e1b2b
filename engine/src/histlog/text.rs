//! Allocation-free number and date formatting for log lines: seconds with
//! three decimals from integer nanoseconds, and a UTC date for StartTime.

use std::fmt::Write as _;

const NS_PER_MS: u64 = 1_000_000;
const MS_PER_S: u64 = 1_000;

/// Appends `value / unit_ratio` with three decimals, rounded half up, using
/// integer math only (so `1_234_567_890` ns with ratio 1e9 gives `1.235`).
pub(crate) fn push_scaled_3(out: &mut String, value: u64, unit_ratio: u64) {
    debug_assert!(
        unit_ratio >= 1_000,
        "three decimals need a ratio of at least 1000"
    );
    let thousandths_ratio = unit_ratio / 1_000;
    let thousandths = value / thousandths_ratio
        + u64::from(value % thousandths_ratio >= thousandths_ratio.div_ceil(2));
    // Writing to a String cannot fail.
    let _ = write!(out, "{}.{:03}", thousandths / 1_000, thousandths % 1_000);
}

/// Appends seconds with three decimals for a count of nanoseconds.
pub(crate) fn push_seconds(out: &mut String, ns: u64) {
    push_scaled_3(out, ns, NS_PER_MS * MS_PER_S);
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) for nanoseconds since the epoch.
pub(crate) fn push_utc_date(out: &mut String, unix_ns: u64) {
    let ms_total = unix_ns / NS_PER_MS;
    let s_total = ms_total / MS_PER_S;
    let days = s_total / 86_400;
    let s_of_day = s_total % 86_400;
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        s_of_day / 3_600,
        s_of_day % 3_600 / 60,
        s_of_day % 60,
        ms_total % MS_PER_S
    );
}

/// Gregorian date for a count of days since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
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

    // Seconds round half up to the millisecond.
    #[test]
    fn seconds_have_three_rounded_decimals() {
        let mut out = String::new();
        push_seconds(&mut out, 1_234_567_890);
        out.push(' ');
        push_seconds(&mut out, 0);
        out.push(' ');
        push_seconds(&mut out, 999_999_999);
        assert_eq!(out, "1.235 0.000 1.000");
    }

    // ns to ms for the max column.
    #[test]
    fn max_column_is_milliseconds() {
        let mut out = String::new();
        push_scaled_3(&mut out, 2_769_000, 1_000_000);
        out.push(' ');
        push_scaled_3(&mut out, 1_499, 1_000_000);
        assert_eq!(out, "2.769 0.001");
    }

    // Known dates: the epoch, a leap day, and 2023-11-14T22:13:20Z.
    #[test]
    fn utc_dates() {
        let mut out = String::new();
        push_utc_date(&mut out, 0);
        out.push(' ');
        push_utc_date(&mut out, 951_782_400_000_000_000);
        out.push(' ');
        push_utc_date(&mut out, 1_700_000_000_123_000_000);
        assert_eq!(
            out,
            "1970-01-01T00:00:00.000Z 2000-02-29T00:00:00.000Z 2023-11-14T22:13:20.123Z"
        );
    }
}
