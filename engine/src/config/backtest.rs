//! `[backtest]`: how `genesis backtest` replays recorded tapes: the backtest
//! venue's queue model, clock and order latency, its sizes, and what the
//! tape formats need to be read (the Tardis exchange id, the ITCH day).
//!
//! A backtest takes its market from the tapes and trades with the backtest
//! venue, whatever `market_data.source` and `venue.kind` say; the rest of
//! the config (instruments, limits, strategy, core plan, journal) is used
//! as a live run uses it. Latencies are in nanoseconds of tape time.

use super::kind::config_kind;
use super::{ConfigError, Invalid};
use serde::{Deserialize, Serialize};

config_kind! {
    /// How the backtest venue places a resting order in its level's queue.
    pub enum QueueModelKind (key "backtest.queue_model", unknown "queue model") {
        /// Risk-averse (hftbacktest's `RiskAverseQueueModel`): a resting
        /// order joins the back of its level's queue; only prints at its
        /// price take the volume ahead of it, and the level shrinking below
        /// the volume ahead moves it up to the level's new size.
        RiskAverse = "risk-averse",
    }
}

config_kind! {
    /// Which of a tape row's timestamps the backtest venue sees it at.
    pub enum VenueTime (key "backtest.venue_time", unknown "venue time") {
        /// The exchange's timestamp (Tardis `timestamp`): the venue runs
        /// ahead of what the engine has received by the feed's latency, as
        /// hftbacktest models it.
        Exchange = "exchange",
        /// The arrival timestamp (Tardis `local_timestamp`): the venue sees
        /// a row when the engine does, as NautilusTrader's backtest does.
        Local = "local",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BacktestConfig {
    /// How resting orders queue (see [`QueueModelKind`]).
    pub queue_model: QueueModelKind,
    /// Which timestamp of a tape row the venue sees it at (see [`VenueTime`]).
    pub venue_time: VenueTime,
    /// From the event the engine decided on to the order's arrival at the
    /// venue, nanoseconds of tape time.
    pub entry_latency_ns: u64,
    /// From the venue's answer (ack, fill, cancel, reject) to its arrival
    /// at the engine, nanoseconds of tape time.
    pub response_latency_ns: u64,
    /// Most orders resting at the backtest venue at once; more are rejected.
    pub orders_max: usize,
    /// Price levels kept per side of each instrument's book (the touch and
    /// the venue's depth); deeper levels are dropped and counted.
    pub book_levels_max: usize,
    /// Rows read ahead of the engine so the venue can see them at their
    /// exchange time; past this, the venue's clock is held back (counted).
    pub lookahead_rows_max: usize,
    /// Tardis tapes: the exchange id their rows name ("binance-futures").
    pub tardis_exchange: String,
    /// ITCH tapes: the trading day ("YYYY-MM-DD"); message timestamps count
    /// nanoseconds from its midnight (taken as UTC).
    pub itch_day: String,
    /// ITCH tapes: most orders one instrument's order-by-order book holds.
    pub itch_orders_max: usize,
    /// Parse the tape on a thread of its own, a bounded queue ahead of
    /// ingest (a second busy thread: CSV and gzip tapes run faster; a
    /// binary tape gains little).
    pub read_ahead_thread: bool,
    /// The core that does the tape's order-independent work ahead of the
    /// engine: reading and decoding rows, the tape's books, each row's
    /// touch and engine event (`tape_core = 1`). It runs on the journal's
    /// thread when the journal has that core to itself, else on a thread
    /// of its own there. Unset: all of it on ingest's thread.
    pub tape_core: Option<usize>,
}

impl Default for BacktestConfig {
    fn default() -> BacktestConfig {
        BacktestConfig {
            queue_model: QueueModelKind::RiskAverse,
            venue_time: VenueTime::Exchange,
            entry_latency_ns: 100_000,
            response_latency_ns: 100_000,
            orders_max: 4_096,
            book_levels_max: 4_096,
            lookahead_rows_max: 1 << 16,
            tardis_exchange: "binance-futures".into(),
            itch_day: "1970-01-01".into(),
            itch_orders_max: 1 << 18,
            read_ahead_thread: false,
            tape_core: None,
        }
    }
}

impl BacktestConfig {
    /// Sizes that are positive, an exchange id, and a day that parses.
    pub(super) fn validate(&self, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
        for (key, value) in [
            ("backtest.orders_max", self.orders_max),
            ("backtest.book_levels_max", self.book_levels_max),
            ("backtest.lookahead_rows_max", self.lookahead_rows_max),
            ("backtest.itch_orders_max", self.itch_orders_max),
        ] {
            if value == 0 || value > 1 << 24 {
                return Err(invalid(key, format!("{value} is not within 1..=16777216")));
            }
        }
        if self.read_ahead_thread && self.tape_core.is_some() {
            return Err(invalid(
                "backtest.read_ahead_thread",
                "is off when backtest.tape_core is set (the tape's core reads the tape)".into(),
            ));
        }
        if self.tardis_exchange.is_empty() {
            return Err(invalid(
                "backtest.tardis_exchange",
                "must name the Tardis exchange id of the tape's rows, e.g. \"binance-futures\""
                    .into(),
            ));
        }
        if self.itch_midnight_ns().is_none() {
            return Err(invalid(
                "backtest.itch_day",
                format!("{:?} is not a day such as \"2019-01-30\"", self.itch_day),
            ));
        }
        Ok(())
    }

    /// Unix time of the midnight (UTC) that starts `itch_day`, in ns.
    pub fn itch_midnight_ns(&self) -> Option<u64> {
        let mut parts = self.itch_day.splitn(3, '-');
        let mut number = |digits: usize| {
            parts
                .next()
                .filter(|p| p.len() == digits && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u64>().ok())
        };
        let (year, month, day) = (number(4)?, number(2)?, number(2)?);
        if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        Some(days_from_civil(year, month, day) * 86_400_000_000_000)
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`), for years from 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // Days count from the epoch, leap years included; a bad day is refused.
    #[test]
    fn itch_day_gives_its_midnight() {
        let day = |text: &str| BacktestConfig {
            itch_day: text.into(),
            ..BacktestConfig::default()
        };
        assert_eq!(day("1970-01-01").itch_midnight_ns(), Some(0));
        // 2019-01-30 is day 17926 of the epoch.
        assert_eq!(
            day("2019-01-30").itch_midnight_ns(),
            Some(17_926 * 86_400_000_000_000)
        );
        assert_eq!(
            day("2024-03-01").itch_midnight_ns(),
            Some(19_783 * 86_400_000_000_000)
        );
        for bad in ["2019-1-30", "2019-13-01", "yesterday", "1969-12-31", ""] {
            assert_eq!(day(bad).itch_midnight_ns(), None, "{bad}");
        }
    }
}
