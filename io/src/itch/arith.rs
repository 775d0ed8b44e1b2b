//! ITCH price and time arithmetic shared by every side of a feed: ITCH
//! prices are `u32` with four implied decimals (`Price4`), and message
//! timestamps are nanoseconds since midnight of the trading day.
//!
//! Pure functions, no state; safe to call from any thread. Nothing here
//! panics on input: a tick size ITCH cannot carry exactly is `None`.

/// Nanoseconds in a day: the range of an ITCH timestamp.
pub const NS_PER_DAY: u64 = 86_400_000_000_000;

/// Price4 units (1/10,000) in one tick of `tick_size` (a decimal string
/// such as "0.01"), if exact: `None` for a tick finer than 0.0001, zero, or
/// anything that is not a plain decimal.
pub fn price4_per_tick(tick_size: &str) -> Option<i64> {
    let (whole, fraction) = tick_size.split_once('.').unwrap_or((tick_size, ""));
    if fraction.len() > 4
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let padded = format!("{whole}{fraction:0<4}");
    padded.parse::<i64>().ok().filter(|units| *units > 0)
}

/// The ITCH timestamp (ns since midnight, UTC) of a Unix time in ns.
pub fn timestamp_ns_of(epoch_ns: u64) -> u64 {
    epoch_ns % NS_PER_DAY
}

/// The Unix time of an ITCH timestamp (ns since midnight) received at
/// `ts_recv_ns`: a message sent just before midnight and received just
/// after belongs to the day before.
pub fn epoch_ns_of(timestamp_ns: u64, ts_recv_ns: u64) -> u64 {
    let midnight = ts_recv_ns - ts_recv_ns % NS_PER_DAY;
    let sent = midnight + timestamp_ns;
    if sent > ts_recv_ns + NS_PER_DAY / 2 {
        sent - NS_PER_DAY
    } else {
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tick sizes convert to exact 4-decimal units, or are refused.
    #[test]
    fn ticks_in_price4_units() {
        assert_eq!(price4_per_tick("0.01"), Some(100));
        assert_eq!(price4_per_tick("0.05"), Some(500));
        assert_eq!(price4_per_tick("1"), Some(10_000));
        assert_eq!(price4_per_tick("0.00001"), None);
        assert_eq!(price4_per_tick("0"), None);
        assert_eq!(price4_per_tick("1e-2"), None);
    }

    // A timestamp round-trips through the day it was sent on, also across midnight.
    #[test]
    fn timestamps_round_trip_across_midnight() {
        let day_start_ns = 19_000 * NS_PER_DAY;
        let before_midnight_ns = day_start_ns - 1_000;
        let stamp = timestamp_ns_of(before_midnight_ns);
        assert_eq!(stamp, NS_PER_DAY - 1_000);
        // Received 2 µs later, after midnight: still the day before.
        assert_eq!(epoch_ns_of(stamp, day_start_ns + 1_000), before_midnight_ns);
        let noon_ns = day_start_ns + NS_PER_DAY / 2;
        assert_eq!(epoch_ns_of(timestamp_ns_of(noon_ns), noon_ns + 5), noon_ns);
    }
}
