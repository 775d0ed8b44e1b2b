//! Daily partitions of `events`: names, bounds, creation ahead of time and
//! on demand.
//!
//! Owned by the connection that loads (a drain) or archives. A day is the
//! UTC day of `ts`: partition `events_pYYYYMMDD` holds
//! `[YYYY-MM-DD 00:00+00, next day 00:00+00)`. The cache of known partitions
//! only ever holds partitions that are committed in the database.

use std::collections::BTreeSet;

pub const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// Days since the Unix epoch of a time in nanoseconds since the epoch.
pub fn day_of_ns(ts_ns: u64) -> i64 {
    (ts_ns / NS_PER_DAY) as i64
}

/// (year, month, day) of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm: eras of 400 years starting in March.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` of a day number.
pub fn date_text(day: i64) -> String {
    let (year, month, day_of_month) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day_of_month:02}")
}

/// The partition that holds day `day`.
pub fn partition_name(day: i64) -> String {
    let (year, month, day_of_month) = civil_from_days(day);
    format!("events_p{year:04}{month:02}{day_of_month:02}")
}

/// The day a partition name stands for, if it is one of ours.
pub fn day_of_partition(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("events_p")?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i64 = digits[0..4].parse().ok()?;
    let month: u32 = digits[4..6].parse().ok()?;
    let day_of_month: u32 = digits[6..8].parse().ok()?;
    let day = days_from_civil(year, month, day_of_month);
    (partition_name(day) == name).then_some(day)
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The `CREATE TABLE` for day `day`'s partition (a no-op if it exists).
pub fn create_sql(day: i64) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
        partition_name(day),
        date_text(day),
        date_text(day + 1)
    )
}

/// The days whose partitions are attached to `events` now.
pub fn attached_days(
    client: &mut impl postgres::GenericClient,
) -> Result<BTreeSet<i64>, postgres::Error> {
    let rows = client.query(
        "SELECT c.relname::text FROM pg_inherits i
         JOIN pg_class c ON c.oid = i.inhrelid
         JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = 'events'",
        &[],
    )?;
    Ok(rows
        .iter()
        .filter_map(|row| day_of_partition(row.get::<_, &str>(0)))
        .collect())
}

/// Creates the partitions of `days` that `known` lacks, in the caller's
/// transaction; returns the days created (add them to `known` after commit).
pub fn ensure(
    tx: &mut impl postgres::GenericClient,
    known: &BTreeSet<i64>,
    days: impl IntoIterator<Item = i64>,
) -> Result<Vec<i64>, postgres::Error> {
    let mut created = Vec::new();
    for day in days {
        if known.contains(&day) || created.contains(&day) {
            continue;
        }
        tx.batch_execute(&format!(
            "SET LOCAL client_min_messages = warning; {}",
            create_sql(day)
        ))?;
        created.push(day);
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Day numbers and dates agree both ways across leap years and the epoch.
    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_782), "2024-02-29");
        assert_eq!(date_text(-1), "1969-12-31");
        for day in -1_000..40_000 {
            assert_eq!(day_of_partition(&partition_name(day)), Some(day));
        }
    }

    // Names that are not our partitions are ignored.
    #[test]
    fn foreign_names_are_not_days() {
        assert_eq!(day_of_partition("events_default"), None);
        assert_eq!(day_of_partition("events_p20241399"), None);
    }

    // A time at the last nanosecond of a day belongs to that day.
    #[test]
    fn day_boundaries() {
        assert_eq!(day_of_ns(NS_PER_DAY - 1), 0);
        assert_eq!(day_of_ns(NS_PER_DAY), 1);
    }
}
