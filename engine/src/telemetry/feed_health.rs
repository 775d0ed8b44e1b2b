//! Feed health: how each market-data source and its instruments fare —
//! gaps, messages recovered by retransmission, snapshots requested,
//! applied and failed, resyncs, disconnects, whether each book is stale
//! now, and how long since market data last arrived — for the metrics
//! endpoint (`genesis_feed_*{source,instrument}`) and the alerts.
//!
//! Rows: one per instrument (labelled with its symbol) and one for what
//! belongs to the whole feed (labelled [`FEED_WIDE`]): a MoldUDP64 gap,
//! snapshot session or retransmission concerns every book of the stream,
//! a WebSocket disconnect every instrument of the connection. A row shows
//! only the counters its source attributes to it, so summing a series
//! over instruments never counts an event twice.
//!
//! Owning threads: the source's thread (ingest) is the only writer; it
//! keeps its values in a [`HealthWriter`] and copies them out with relaxed
//! atomic stores at most every [`PUBLISH_INTERVAL_NS`], and at once when a
//! book turns stale or fresh, so no lock and no allocation is on its path.
//! The metrics endpoint and the reporter read. Times are epoch nanoseconds
//! of the writer's clock; readers compare them with their own epoch clock.

use crate::clock::EpochClock;
use crossbeam_utils::CachePadded;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The `instrument` label of the row for the whole feed.
pub const FEED_WIDE: &str = "all";
/// Longest a reader waits for counters the writer holds (stale turns are published at once).
pub const PUBLISH_INTERVAL_NS: u64 = 10_000_000;

/// Declares the counters with their series names and help texts.
macro_rules! feed_counters {
    ($($variant:ident => $name:literal, $help:literal;)+) => {
        /// A counter of a feed-health row.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum FeedCounter { $($variant,)+ }

        impl FeedCounter {
            pub const ALL: &'static [FeedCounter] = &[$(FeedCounter::$variant,)+];

            /// The series name, without the `genesis_feed_` prefix.
            pub fn name(self) -> &'static str {
                match self { $(FeedCounter::$variant => $name,)+ }
            }

            pub fn help(self) -> &'static str {
                match self { $(FeedCounter::$variant => $help,)+ }
            }
        }
    };
}

feed_counters! {
    Gaps => "gaps_total", "Sequence gaps detected (a missing MoldUDP64 message, a skipped depth update id).";
    RecoveredRetransmit => "messages_recovered_total", "Messages recovered by retransmission through the request port.";
    SnapshotsRequested => "snapshots_requested_total", "Snapshot attempts started (GLIMPSE sessions, REST or WebSocket-API depth requests).";
    SnapshotsApplied => "snapshots_applied_total", "Snapshots applied to the books.";
    SnapshotsFailed => "snapshots_failed_total", "Snapshot attempts that failed (each retried after a backoff).";
    Resyncs => "resyncs_total", "Recoveries completed: books stale, then fresh again.";
    Disconnects => "disconnects_total", "Connections lost after they had opened.";
}

const COUNTER_COUNT: usize = 7;
const _: () = assert!(FeedCounter::ALL.len() == COUNTER_COUNT);

/// What one row shows: its label, the counters that apply, and whether it
/// is a book (with a stale gauge).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowSpec {
    pub instrument: String,
    pub counters: Vec<FeedCounter>,
    pub is_book: bool,
}

/// One row's values, as the writer keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowValues {
    pub counters: [u64; COUNTER_COUNT],
    /// The book is stale now (books only).
    pub stale: bool,
    /// Epoch ns when it turned stale (0 when fresh).
    pub stale_since_ns: u64,
    /// Epoch ns of the last market data for this row (0: none yet).
    pub message_last_ns: u64,
    /// Snapshot attempts failed since the last one applied.
    pub snapshot_failures_in_a_row: u64,
}

impl RowValues {
    pub fn set(&mut self, counter: FeedCounter, value: u64) {
        self.counters[counter as usize] = value;
    }

    pub fn get(&self, counter: FeedCounter) -> u64 {
        self.counters[counter as usize]
    }

    /// Turns the book stale or fresh at `now_ns`; true if that changed it.
    pub fn set_stale(&mut self, stale: bool, now_ns: u64) -> bool {
        if self.stale == stale {
            return false;
        }
        self.stale = stale;
        self.stale_since_ns = if stale { now_ns.max(1) } else { 0 };
        true
    }
}

/// One row's atomics: a cache line (or two) of its own, one writer.
#[derive(Default)]
struct Slots {
    counters: [AtomicU64; COUNTER_COUNT],
    stale_since_ns: AtomicU64,
    message_last_ns: AtomicU64,
    snapshot_failures_in_a_row: AtomicU64,
}

/// The health of one source (see the module docs).
pub struct FeedHealth {
    source: &'static str,
    rows: Vec<RowSpec>,
    slots: Vec<CachePadded<Slots>>,
    /// Readers' clock (epoch ns, like the writer's).
    clock: EpochClock,
    /// When the source was built: the reference before any market data.
    created_ns: u64,
}

/// What the alerts look at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeedObserved {
    /// The book stale the longest now: its label and for how long (ms).
    pub stalest: Option<(String, f64)>,
    /// Most snapshot attempts failed in a row on any row.
    pub snapshot_failures_in_a_row: u64,
}

impl FeedHealth {
    pub fn new(source: &'static str, rows: Vec<RowSpec>) -> Arc<FeedHealth> {
        assert!(!rows.is_empty(), "a feed has at least one row");
        let slots = rows
            .iter()
            .map(|_| CachePadded::new(Slots::default()))
            .collect();
        let clock = EpochClock::new();
        Arc::new(FeedHealth {
            source,
            rows,
            slots,
            created_ns: clock.now_ns(),
            clock,
        })
    }

    pub fn source(&self) -> &'static str {
        self.source
    }

    pub fn rows(&self) -> &[RowSpec] {
        &self.rows
    }

    /// Stores a row's values (the writer's thread only).
    #[inline]
    fn store(&self, row: usize, values: &RowValues) {
        let slots = &self.slots[row];
        for (slot, value) in slots.counters.iter().zip(values.counters) {
            slot.store(value, Ordering::Relaxed);
        }
        slots
            .stale_since_ns
            .store(values.stale_since_ns, Ordering::Relaxed);
        slots
            .message_last_ns
            .store(values.message_last_ns, Ordering::Relaxed);
        slots
            .snapshot_failures_in_a_row
            .store(values.snapshot_failures_in_a_row, Ordering::Relaxed);
    }

    /// A row's values as last published.
    pub fn load(&self, row: usize) -> RowValues {
        let slots = &self.slots[row];
        let stale_since_ns = slots.stale_since_ns.load(Ordering::Relaxed);
        RowValues {
            counters: std::array::from_fn(|i| slots.counters[i].load(Ordering::Relaxed)),
            stale: stale_since_ns != 0,
            stale_since_ns,
            message_last_ns: slots.message_last_ns.load(Ordering::Relaxed),
            snapshot_failures_in_a_row: slots.snapshot_failures_in_a_row.load(Ordering::Relaxed),
        }
    }

    /// The stalest book and the longest run of failed snapshots, now.
    pub fn observe(&self) -> FeedObserved {
        let now_ns = self.clock.now_ns();
        let mut observed = FeedObserved::default();
        for (row, spec) in self.rows.iter().enumerate() {
            let values = self.load(row);
            observed.snapshot_failures_in_a_row = observed
                .snapshot_failures_in_a_row
                .max(values.snapshot_failures_in_a_row);
            if !spec.is_book || !values.stale {
                continue;
            }
            let stale_ms = now_ns.saturating_sub(values.stale_since_ns) as f64 / 1e6;
            if observed
                .stalest
                .as_ref()
                .is_none_or(|(_, ms)| stale_ms > *ms)
            {
                observed.stalest = Some((format!("{}/{}", self.source, spec.instrument), stale_ms));
            }
        }
        observed
    }

    /// The `genesis_feed_*` series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let now_ns = self.clock.now_ns();
        let values: Vec<RowValues> = (0..self.rows.len()).map(|row| self.load(row)).collect();
        for counter in FeedCounter::ALL {
            self.render_series(out, counter.name(), counter.help(), "counter", |row| {
                self.rows[row]
                    .counters
                    .contains(counter)
                    .then(|| values[row].get(*counter) as f64)
            });
        }
        self.render_series(
            out,
            "book_stale",
            "1 while the book is stale (no order is accepted on it), else 0.",
            "gauge",
            |row| {
                self.rows[row]
                    .is_book
                    .then_some(u8::from(values[row].stale) as f64)
            },
        );
        self.render_series(
            out,
            "book_stale_seconds",
            "How long the book has been stale (0 when fresh).",
            "gauge",
            |row| {
                let since = values[row].stale_since_ns;
                self.rows[row]
                    .is_book
                    .then(|| seconds_between(since, now_ns))
            },
        );
        self.render_series(
            out,
            "seconds_since_last_message",
            "Seconds since market data last arrived (since start-up before any).",
            "gauge",
            |row| {
                let last = match values[row].message_last_ns {
                    0 => self.created_ns,
                    last => last,
                };
                Some(seconds_between(last, now_ns))
            },
        );
    }

    /// Every row's counters and stale state, for a run's summary JSON.
    pub fn summary_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .enumerate()
            .map(|(row, spec)| {
                let values = self.load(row);
                let mut object = serde_json::Map::new();
                object.insert("instrument".into(), spec.instrument.clone().into());
                for counter in &spec.counters {
                    object.insert(counter.name().into(), values.get(*counter).into());
                }
                if spec.is_book {
                    object.insert("stale".into(), values.stale.into());
                }
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::json!({ "source": self.source, "rows": rows })
    }

    /// One line for a run's report: the counters summed over rows, and
    /// the books stale now.
    pub fn summary_line(&self) -> String {
        let values: Vec<RowValues> = (0..self.rows.len()).map(|row| self.load(row)).collect();
        let total = |counter: FeedCounter| -> u64 {
            self.rows
                .iter()
                .zip(&values)
                .filter(|(spec, _)| spec.counters.contains(&counter))
                .map(|(_, values)| values.get(counter))
                .sum()
        };
        let stale = self
            .rows
            .iter()
            .zip(&values)
            .filter(|(spec, values)| spec.is_book && values.stale)
            .count();
        format!(
            "market data {}: {} gaps, {} messages recovered by retransmission, snapshots {} requested / {} applied / {} failed, {} resyncs, {} disconnects, {} stale book(s) at the end",
            self.source,
            total(FeedCounter::Gaps),
            total(FeedCounter::RecoveredRetransmit),
            total(FeedCounter::SnapshotsRequested),
            total(FeedCounter::SnapshotsApplied),
            total(FeedCounter::SnapshotsFailed),
            total(FeedCounter::Resyncs),
            total(FeedCounter::Disconnects),
            stale
        )
    }

    /// One series: help and type lines, then a sample per row that has a value.
    fn render_series(
        &self,
        out: &mut String,
        name: &str,
        help: &str,
        kind: &str,
        value: impl Fn(usize) -> Option<f64>,
    ) {
        let _ = writeln!(
            out,
            "# HELP genesis_feed_{name} {help}\n# TYPE genesis_feed_{name} {kind}"
        );
        for (row, spec) in self.rows.iter().enumerate() {
            if let Some(value) = value(row) {
                let _ = writeln!(
                    out,
                    "genesis_feed_{name}{{source=\"{}\",instrument=\"{}\"}} {value}",
                    self.source,
                    label_text(&spec.instrument)
                );
            }
        }
    }
}

/// Seconds from `since_ns` to `now_ns` (0 when `since_ns` is 0 or later).
fn seconds_between(since_ns: u64, now_ns: u64) -> f64 {
    if since_ns == 0 {
        return 0.0;
    }
    now_ns.saturating_sub(since_ns) as f64 / 1e9
}

/// A label value as the text format wants it (backslash, quote, newline escaped).
fn label_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The writer's side: its values, published to the shared [`FeedHealth`].
pub struct HealthWriter {
    health: Arc<FeedHealth>,
    values: Vec<RowValues>,
    publish_due_ns: u64,
    /// A stale flag turned since the last publication.
    turned: bool,
}

impl HealthWriter {
    /// Rows start fresh or stale as `stale_at_start` says, from `now_ns`.
    pub fn new(health: Arc<FeedHealth>, stale_at_start: bool, now_ns: u64) -> HealthWriter {
        let values = health
            .rows
            .iter()
            .map(|spec| {
                let mut values = RowValues::default();
                values.set_stale(spec.is_book && stale_at_start, now_ns);
                values
            })
            .collect();
        let mut writer = HealthWriter {
            health,
            values,
            publish_due_ns: 0,
            turned: true,
        };
        writer.publish(now_ns);
        writer
    }

    /// The shared side, for the metrics endpoint and the alerts.
    pub fn health(&self) -> &Arc<FeedHealth> {
        &self.health
    }

    pub fn row_mut(&mut self, row: usize) -> &mut RowValues {
        &mut self.values[row]
    }

    pub fn row(&self, row: usize) -> &RowValues {
        &self.values[row]
    }

    /// Turns book `row` stale or fresh (published at the next
    /// [`HealthWriter::publish`]); true if that changed it.
    #[inline]
    pub fn set_stale(&mut self, row: usize, stale: bool, now_ns: u64) -> bool {
        let turned = self.values[row].set_stale(stale, now_ns);
        self.turned |= turned;
        turned
    }

    /// Publishes when a stale flag turned or the interval has passed.
    #[inline]
    pub fn publish(&mut self, now_ns: u64) {
        if !self.turned && now_ns < self.publish_due_ns {
            return;
        }
        self.turned = false;
        self.publish_due_ns = now_ns.saturating_add(PUBLISH_INTERVAL_NS);
        for (row, values) in self.values.iter().enumerate() {
            self.health.store(row, values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<RowSpec> {
        vec![
            RowSpec {
                instrument: FEED_WIDE.into(),
                counters: vec![FeedCounter::Gaps, FeedCounter::Resyncs],
                is_book: false,
            },
            RowSpec {
                instrument: "ALPHA".into(),
                counters: Vec::new(),
                is_book: true,
            },
        ]
    }

    // A stale turn is published at once and shows on the gauge; counters
    // wait for the interval; a row shows only its own counters.
    #[test]
    fn stale_turns_publish_at_once() {
        let clock = EpochClock::new();
        let now = clock.now_ns();
        let health = FeedHealth::new("itch", rows());
        let mut writer = HealthWriter::new(Arc::clone(&health), false, now);
        writer.row_mut(0).set(FeedCounter::Gaps, 3);
        writer.publish(now + 1);
        assert_eq!(health.load(0).get(FeedCounter::Gaps), 0, "not due yet");
        writer.set_stale(1, true, now + 2);
        writer.publish(now + 2);
        assert_eq!(health.load(0).get(FeedCounter::Gaps), 3);
        assert!(health.load(1).stale);
        let mut text = String::new();
        health.render(&mut text);
        assert!(
            text.contains("genesis_feed_gaps_total{source=\"itch\",instrument=\"all\"} 3\n"),
            "{text}"
        );
        assert!(
            !text.contains("genesis_feed_gaps_total{source=\"itch\",instrument=\"ALPHA\"}"),
            "{text}"
        );
        assert!(
            text.contains("genesis_feed_book_stale{source=\"itch\",instrument=\"ALPHA\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("genesis_feed_book_stale{source=\"itch\",instrument=\"all\"}"),
            "{text}"
        );
        let observed = health.observe();
        assert_eq!(
            observed.stalest.as_ref().map(|(l, _)| l.as_str()),
            Some("itch/ALPHA")
        );
        writer.set_stale(1, false, now + 3);
        writer.publish(now + 3);
        assert_eq!(health.observe().stalest, None);
    }

    // Every line is a comment or `name{labels} value` with a numeric value.
    #[test]
    fn exposition_is_well_formed() {
        let health = FeedHealth::new("binance-ws", rows());
        let mut text = String::new();
        health.render(&mut text);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        assert_eq!(label_text("a\"b\\c"), "a\\\"b\\\\c");
    }
}
