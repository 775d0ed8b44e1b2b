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

/// Days since 1970-01-01 to (year, month, day), Gregorian. Written once per
/// log (its StartTime), so a plain walk over years and months will do.
fn civil_from_days(mut days: u64) -> (u64, u64, u64) {
    let is_leap = |year: u64| {
        year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
    };
    let mut year = 1970;
    loop {
        let year_days = if is_leap(year) { 366 } else { 365 };
        if days < year_days {
            break;
        }
        days -= year_days;
        year += 1;
    }
    let february = if is_leap(year) { 29 } else { 28 };
    let month_days = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for length in month_days {
        if days < length {
            break;
        }
        days -= length;
        month += 1;
    }
    (year, month, days + 1)
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

    // Known dates: the epoch, a leap day, 2023-11-14T22:13:20Z, and the
    // last millisecond of a year next to the first of the next.
    #[test]
    fn utc_dates() {
        let mut out = String::new();
        for unix_ns in [
            0,
            951_782_400_000_000_000,
            1_700_000_000_123_000_000,
            1_704_067_199_999_000_000,
            1_704_067_200_000_000_000,
        ] {
            push_utc_date(&mut out, unix_ns);
            out.push(' ');
        }
        assert_eq!(
            out,
            "1970-01-01T00:00:00.000Z 2000-02-29T00:00:00.000Z 2023-11-14T22:13:20.123Z \
             2023-12-31T23:59:59.999Z 2024-01-01T00:00:00.000Z "
        );
    }
}
