//! Market data in and orders out over loopback sockets: the engine as
//! `genesis run` assembles it, fused on one thread, against the simulated
//! venue on its own thread, which publishes its books as ITCH 5.0 over
//! MoldUDP64 on UDP (`itch-sim`) or as Binance-compatible WebSocket streams
//! (`binance-sim`) and takes the engine's orders over FIX 4.4 on TCP.
//!
//! Every row carries the floor measured in the same run: a loopback TCP
//! round trip (ping-pongs after the engine stops), so tick-to-trade ÷ round
//! trip is a ratio that survives a noisy machine.
//!
//! Two tick-to-trade figures per row:
//! - the engine's own: from the kernel's receive stamp of the market data
//!   that triggered an order to the moment the FIX session's `write` of it
//!   returned, split into receive → read, read → decision, decision → send
//!   (`genesis_engine::telemetry::tick_to_trade`);
//! - the venue's: its kernel receive stamp of an order minus the venue time
//!   of the market data that triggered it (for ITCH the message's send
//!   time; a bookTicker carries none, so on the WebSocket feed it starts at
//!   the engine's receive and leaves out the feed's own delay).
//!
//! A third figure is the floor under the engine's own ([`floor`]): two
//! plain threads doing the same I/O with no logic between, measured right
//! after the engine in the same row, so engine ÷ floor per part says what
//! the engine adds.
//!
//! Used by `bench` (its loopback section) and the `loopback` binary, which
//! print the same tables ([`markdown_tables`]).

use anyhow::Result;
use genesis_engine::config::{Config, JournalDurability, WaitKind};
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_engine::telemetry::tick_to_trade::{T2tSplit, POLLS_REMEMBERED, WAKE_NS};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub mod floor;

/// The feeds a loopback row can run, by `market_data.source` name.
pub const FEEDS: [&str; 2] = ["itch-sim", "binance-sim"];

/// One feed at one offered rate.
#[derive(Clone, Debug)]
pub struct Row {
    pub feed: String,
    pub rate_offered: u64,
    pub plan: String,
    pub wait: &'static str,
    pub seconds: f64,
    pub market_data_per_sec: f64,
    pub fills: u64,
    /// From the engine's receive stamp of the market data to the journal's exit.
    pub journal_since_recv: Percentiles,
    /// From the engine's receive stamp of every input to ingest's hand-off
    /// of it (timed on ingest's 1-in-16 sample, counts exact).
    pub ingest_since_recv: Percentiles,
    /// Market data's venue time → the order at the venue (see the module header).
    pub tick_to_trade: Option<Percentiles>,
    /// The engine's own: kernel receive → order written, and its split.
    pub engine_tick_to_trade: Option<T2tSplit>,
    /// The same split of two plain threads doing the same I/O ([`floor`]).
    pub floor: Option<T2tSplit>,
    pub tcp_rtt: Option<Percentiles>,
}

impl Row {
    /// Tick-to-trade p50 ÷ the TCP round trip p50 of the same row.
    pub fn tick_to_trade_over_rtt(&self) -> Option<f64> {
        match (&self.tick_to_trade, &self.tcp_rtt) {
            (Some(t), Some(r)) if r.p50 > 0 && t.count > 0 => Some(t.p50 as f64 / r.p50 as f64),
            _ => None,
        }
    }

    /// The engine's own tick-to-trade at `pick` (p50, p99) ÷ the TCP round
    /// trip p50 of the same row.
    pub fn engine_tick_to_trade_over_rtt(&self, pick: fn(&Percentiles) -> u64) -> Option<f64> {
        match (&self.engine_tick_to_trade, &self.tcp_rtt) {
            (Some(t), Some(r)) if r.p50 > 0 && t.total.count > 0 => {
                Some(pick(&t.total) as f64 / r.p50 as f64)
            }
            _ => None,
        }
    }

    /// The engine's receive → read p50 ÷ the floor's, same row.
    pub fn recv_read_over_floor(&self) -> Option<f64> {
        match (&self.engine_tick_to_trade, &self.floor) {
            (Some(t), Some(f)) if f.recv_read.p50 > 0 && t.total.count > 0 => {
                Some(t.recv_read.p50 as f64 / f.recv_read.p50 as f64)
            }
            _ => None,
        }
    }

    /// Which share of the engine's orders had a trigger that waited behind
    /// the previous order's write, and the receive → read of the others ÷
    /// the floor's (p50), same row.
    pub fn clear_recv_read_over_floor(&self) -> Option<f64> {
        match (&self.engine_tick_to_trade, &self.floor) {
            (Some(t), Some(f)) if f.recv_read.p50 > 0 && t.waits.clear_recv_read.count > 0 => {
                Some(t.waits.clear_recv_read.p50 as f64 / f.recv_read.p50 as f64)
            }
            _ => None,
        }
    }

    /// Receive → journal exit p50 ÷ the TCP round trip p50 of the same row.
    pub fn journal_over_rtt(&self) -> Option<f64> {
        match &self.tcp_rtt {
            Some(r) if r.p50 > 0 && self.journal_since_recv.count > 0 => {
                Some(self.journal_since_recv.p50 as f64 / r.p50 as f64)
            }
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "feed": self.feed,
            "rate_offered": self.rate_offered,
            "plan": self.plan,
            "wait": self.wait,
            "seconds": self.seconds,
            "market_data_per_sec": self.market_data_per_sec,
            "fills": self.fills,
            "journal_since_recv_ns": self.journal_since_recv,
            "ingest_since_recv_ns": self.ingest_since_recv,
            "tick_to_trade_ns": self.tick_to_trade,
            "engine_tick_to_trade_ns": self.engine_tick_to_trade,
            "floor_tick_to_trade_ns": self.floor,
            "tcp_rtt_ns": self.tcp_rtt,
        })
    }
}

/// Parses a wait strategy's name as the command line gives it.
pub fn wait_kind(name: &str) -> Result<WaitKind> {
    Ok(match name {
        "spin-hint" => WaitKind::SpinHint,
        "busy-spin" => WaitKind::BusySpin,
        "yield" => WaitKind::Yield,
        "sleep" => WaitKind::Sleep,
        other => anyhow::bail!("unknown wait strategy {other:?}"),
    })
}

/// The config of one row: the built-in defaults with `feed` at `rate`,
/// unpinned, journal in `scratch` without syncs, no metrics endpoint or
/// latency log, FIX sequence numbers in memory.
pub fn row_config(feed: &str, rate: u64, wait: WaitKind, scratch: &Path) -> Result<Config> {
    let mut config = Config::builtin();
    config.market_data.source = feed.parse().map_err(anyhow::Error::msg)?;
    config.market_data.rate_per_sec = rate;
    config.topology.wait = wait;
    config.topology.pin_threads = false;
    config.journal.dir = scratch.join("journal");
    config.journal.durability = JournalDurability::None;
    config.journal.sync_on_exit = false;
    config.metrics.listen = String::new();
    config.metrics.latency_log_dir = PathBuf::new();
    config.venue.fix.seq_file = PathBuf::new();
    config.validate("loopback bench")?;
    Ok(config)
}

/// Runs `feed` at `rate` updates/s for `seconds`, journal under `scratch`.
pub fn run_row(feed: &str, rate: u64, wait: WaitKind, seconds: f64, scratch: &Path) -> Result<Row> {
    let config = row_config(feed, rate, wait, scratch)?;
    let assembly = genesis_cli::assemble(&config)?;
    let report = genesis_cli::run(
        &config,
        assembly,
        Arc::new(AtomicBool::new(false)),
        Some(Duration::from_secs_f64(seconds)),
    )?;
    if let Some(error) = &report.error {
        anyhow::bail!("{feed} at {rate}/s stopped on an error: {error}");
    }
    let journal = report.stages.last().expect("a journal stage");
    let ingest_since_recv = report
        .stages
        .iter()
        .find(|stage| stage.name == "ingest")
        .map_or_else(Percentiles::default, |stage| {
            Percentiles::of(&stage.since_recv_ns)
        });
    let floor = floor::floor_row(rate, wait, seconds.min(2.0))?;
    Ok(Row {
        feed: feed.into(),
        rate_offered: rate,
        plan: report.plan.describe(),
        wait: wait.name(),
        seconds: report.elapsed.as_secs_f64(),
        market_data_per_sec: report.ingest.market_data as f64 / report.elapsed.as_secs_f64(),
        fills: report.execution.fills,
        journal_since_recv: Percentiles::of(&journal.since_recv_ns),
        ingest_since_recv,
        tick_to_trade: report.tick_to_trade,
        engine_tick_to_trade: report.engine_tick_to_trade,
        floor: Some(floor),
        tcp_rtt: report.loopback_tcp_rtt,
    })
}

/// The goal for the engine's own tick-to-trade on the 2-vCPU VM at 100k
/// updates/s (ns): p50, p99.
pub const ENGINE_T2T_GOAL_NS: (u64, u64) = (2_000, 15_000);

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1_000.0)
}

fn p50_p99(p: &Percentiles) -> String {
    format!("{} / {}", us(p.p50), us(p.p99))
}

/// The rows' two tables: the engine's own tick-to-trade with its split,
/// then the venue's with receive → journal; each beside the row's TCP
/// round trip (µs).
pub fn markdown_tables(out: &mut String, rows: &[Row]) {
    let _ = writeln!(out, "Engine tick-to-trade: kernel receive stamp of the market data → the order's bytes handed to the kernel (the kernel's TX software stamp of its last byte where `send stamp` says `tx_software`, else FIX `write` returned), split in three, and decision → `write` returned beside it; p50 / p99. Goal on the 2-vCPU VM at 100k updates/s: p50 ≤ {} µs, p99 ≤ {} µs (absolute, judge it on a quiet machine; the ratio column survives a noisy one).\n", us(ENGINE_T2T_GOAL_NS.0), us(ENGINE_T2T_GOAL_NS.1));
    let _ = writeln!(out, "| feed | offered/s | orders | engine t2t | recv → read | read → decision | decision → send | send stamp | decision → write return | TCP round trip p50 | t2t p50 ÷ RTT p50 | goal |");
    let _ = writeln!(out, "|---|---:|---:|---|---|---|---|---|---|---:|---:|---|");
    for row in rows {
        let rtt = row.tcp_rtt.as_ref().map_or("-".into(), |r| us(r.p50));
        let ratio = row
            .engine_tick_to_trade_over_rtt(|p| p.p50)
            .map_or("-".into(), |r| format!("{r:.2}×"));
        let Some(t) = row.engine_tick_to_trade.filter(|t| t.total.count > 0) else {
            let _ = writeln!(
                out,
                "| {} | {} | 0 | - | - | - | - | - | - | {rtt} | - | - |",
                row.feed, row.rate_offered
            );
            continue;
        };
        let met = t.total.p50 <= ENGINE_T2T_GOAL_NS.0 && t.total.p99 <= ENGINE_T2T_GOAL_NS.1;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {rtt} | {ratio} | {} |",
            row.feed,
            row.rate_offered,
            t.total.count,
            p50_p99(&t.total),
            p50_p99(&t.recv_read),
            p50_p99(&t.read_decide),
            p50_p99(&t.decide_send),
            t.send_stamp.name(),
            p50_p99(&t.decide_return),
            if met { "met" } else { "not met" }
        );
    }
    floor_table(out, rows);
    waits_table(out, rows);
    let _ = writeln!(out, "\n| feed | offered/s | market data events/s | receive → journal p50 / p99 / p99.9 | venue tick-to-trade p50 / p99 | TCP round trip p50 | venue t2t p50 ÷ RTT p50 | fills |");
    let _ = writeln!(out, "|---|---:|---:|---|---|---:|---:|---:|");
    for row in rows {
        let j = &row.journal_since_recv;
        let t2t = row.tick_to_trade.as_ref().map_or("-".into(), p50_p99);
        let rtt = row.tcp_rtt.as_ref().map_or("-".into(), |r| us(r.p50));
        let ratio = row
            .tick_to_trade_over_rtt()
            .map_or("-".into(), |r| format!("{r:.1}×"));
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} / {} / {} | {t2t} | {rtt} | {ratio} | {} |",
            row.feed,
            row.rate_offered,
            row.market_data_per_sec,
            us(j.p50),
            us(j.p99),
            us(j.p99_9),
            row.fills
        );
    }
    let _ = writeln!(out, "\nVenue tick-to-trade: the venue's kernel receive stamp of an order minus the venue time of the market data that triggered it (ITCH: the message's send time, stamped as each market move is applied and sent in its own packet; a bookTicker carries none, so on `binance-sim` it starts at the engine's receive). Both figures share one clock each: the engine converts kernel stamps to its own clock with a bridge measured after each read; the venue's clock is CLOCK_REALTIME, as its kernel stamps are.");
}

/// p50 of the engine's part ÷ the floor's, as a column.
fn over(engine: &Percentiles, floor: &Percentiles) -> String {
    if floor.p50 == 0 || engine.count == 0 {
        return "-".into();
    }
    format!("{:.2}×", engine.p50 as f64 / floor.p50 as f64)
}

/// The floor's split beside the engine's, part by part (p50 ratios).
fn floor_table(out: &mut String, rows: &[Row]) {
    let _ = writeln!(out, "\nFloor: two plain threads doing the same I/O in the same row ([`floor`]: UDP datagrams paced as the venue sends them, read with `recvmsg` and the kernel's stamp by a thread waiting as the engine's does, an order-sized `write` to TCP on every {}th); p50 / p99, and the engine's p50 ÷ the floor's.\n", floor::ORDER_EVERY);
    let _ = writeln!(out, "| feed | offered/s | floor t2t | recv → read | decision → send | send stamp | decision → write return | engine ÷ floor: t2t | recv → read | decision → send | decision → write return |");
    let _ = writeln!(out, "|---|---:|---|---|---|---|---|---:|---:|---:|---:|");
    for row in rows {
        let Some(f) = row.floor.filter(|f| f.total.count > 0) else {
            continue;
        };
        let e = row.engine_tick_to_trade.unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.feed,
            row.rate_offered,
            p50_p99(&f.total),
            p50_p99(&f.recv_read),
            p50_p99(&f.decide_send),
            f.send_stamp.name(),
            p50_p99(&f.decide_return),
            over(&e.total, &f.total),
            over(&e.recv_read, &f.recv_read),
            over(&e.decide_send, &f.decide_send),
            over(&e.decide_return, &f.decide_return),
        );
    }
}

/// The triggers' receive → read split by whether each waited behind the
/// previous order's write, beside the floor's and every input's.
fn waits_table(out: &mut String, rows: &[Row]) {
    let _ = writeln!(out, "\nWhich triggers wait: an order's trigger *waited behind a write* when the latest order-carrying FIX `write` that returned before ingest read the trigger returned after the trigger's kernel receive stamp; receive → read of those and of the others, that write's return → read, the others split by whether they were received within {} µs after that write returned (in its wake) or later; p50 / p99, and ÷ the floor's receive → read p50. The last columns are every input's receive → ingest's hand-off of it (ingest's since-receipt histogram: timed on a 1-in-{} sample of events, counts exact; for an event after the first of its poll it includes the earlier events' stages, so it bounds receive → read from above).\n", WAKE_NS / 1_000, genesis_engine::topology::chain::LAP_SAMPLE_EVERY);
    let _ = writeln!(out, "| feed | offered/s | orders classified | behind a write | recv → read, behind | write return → read, behind | recv → read, others | others ÷ floor | in a write's wake | ÷ floor | after it | ÷ floor | all triggers ÷ floor | every input: recv → hand-off | ÷ floor |");
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---|---|---|---:|---|---:|---|---:|---:|---|---:|"
    );
    for row in rows {
        let Some(t) = row.engine_tick_to_trade.filter(|t| t.total.count > 0) else {
            continue;
        };
        let w = &t.waits;
        let floor = row.floor.unwrap_or_default();
        let share = w
            .behind_write_share()
            .map_or("-".into(), |s| format!("{:.1} %", s * 100.0));
        let every = &row.ingest_since_recv;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {share} | {} | {} | {} | {} | {} ({}) | {} | {} ({}) | {} | {} | {} | {} |",
            row.feed,
            row.rate_offered,
            w.behind_write_recv_read.count + w.clear_recv_read.count,
            p50_p99(&w.behind_write_recv_read),
            p50_p99(&w.behind_write_return_read),
            p50_p99(&w.clear_recv_read),
            over(&w.clear_recv_read, &floor.recv_read),
            p50_p99(&w.in_wake_recv_read),
            w.in_wake_recv_read.count,
            over(&w.in_wake_recv_read, &floor.recv_read),
            p50_p99(&w.after_wake_recv_read),
            w.after_wake_recv_read.count,
            over(&w.after_wake_recv_read, &floor.recv_read),
            over(&t.recv_read, &floor.recv_read),
            p50_p99(every),
            over(every, &floor.recv_read),
        );
    }
    let _ = writeln!(out, "\nThe same triggers against the venue's answers: received before a poll whose read of the FIX socket brought bytes (acks and fills, handed through the stages before market data is read) and read after it; and those behind neither such a read nor a write. p50 / p99 (count), ÷ the floor's receive → read p50.\n");
    let _ = writeln!(out, "| feed | offered/s | behind a venue read | share | ÷ floor | behind neither | share | ÷ floor |");
    let _ = writeln!(out, "|---|---:|---|---:|---:|---|---:|---:|");
    for row in rows {
        let Some(t) = row.engine_tick_to_trade.filter(|t| t.total.count > 0) else {
            continue;
        };
        let (w, floor) = (&t.waits, row.floor.unwrap_or_default());
        let share = |p: &Percentiles| {
            let all = w.behind_write_recv_read.count + w.clear_recv_read.count;
            if all == 0 {
                return "-".to_string();
            }
            format!("{:.1} %", p.count as f64 * 100.0 / all as f64)
        };
        let (venue, neither) = (&w.behind_venue_read_recv_read, &w.behind_neither_recv_read);
        let _ = writeln!(
            out,
            "| {} | {} | {} ({}) | {} | {} | {} ({}) | {} | {} |",
            row.feed,
            row.rate_offered,
            p50_p99(venue),
            venue.count,
            share(venue),
            over(venue, &floor.recv_read),
            p50_p99(neither),
            neither.count,
            share(neither),
            over(neither, &floor.recv_read),
        );
    }
    ahead_table(out, rows);
}

/// What the triggers behind neither a write nor a venue read waited for,
/// counted per trigger (`tick_to_trade::Ahead`).
fn ahead_table(out: &mut String, rows: &[Row]) {
    let _ = writeln!(out, "\nWhat the triggers behind neither waited for, counted per trigger between its kernel receive and its read: market-data events handed over by earlier polls (*events ahead*), system calls on the FIX socket (`recv`, and `recvmsg` of the TX-stamp queue: *session reads*), and loop iterations begun (*polls*, at most {}). Behind events: one or more events ahead; behind a TX-stamp read: none, but a read of the TX-stamp queue; behind `recv`s only: neither, but a `recv` of the FIX socket; loop only: none of these. p50 / p99 (count, share of those behind neither), ÷ the floor's receive → read p50; the counts p50 / p99 / max.\n", POLLS_REMEMBERED);
    let _ = writeln!(out, "| feed | offered/s | behind events | ÷ floor | behind a TX-stamp read | ÷ floor | behind `recv`s only | ÷ floor | loop only | ÷ floor | events ahead | session reads ahead | polls ahead |");
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---|---:|---|---:|---|---:|---|---|---|"
    );
    for row in rows {
        let Some(t) = row.engine_tick_to_trade.filter(|t| t.total.count > 0) else {
            continue;
        };
        let (w, floor) = (&t.waits, row.floor.unwrap_or_default());
        let class = |p: &Percentiles| {
            let all = w.behind_neither_recv_read.count;
            let share = match all {
                0 => "-".to_string(),
                _ => format!("{:.1} %", p.count as f64 * 100.0 / all as f64),
            };
            format!("{} ({}, {share})", p50_p99(p), p.count)
        };
        let counts = |p: &Percentiles| format!("{} / {} / {}", p.p50, p.p99, p.max);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.feed,
            row.rate_offered,
            class(&w.neither_events_ahead_recv_read),
            over(&w.neither_events_ahead_recv_read, &floor.recv_read),
            class(&w.neither_tx_stamp_reads_ahead_recv_read),
            over(&w.neither_tx_stamp_reads_ahead_recv_read, &floor.recv_read),
            class(&w.neither_socket_reads_ahead_recv_read),
            over(&w.neither_socket_reads_ahead_recv_read, &floor.recv_read),
            class(&w.neither_loop_only_recv_read),
            over(&w.neither_loop_only_recv_read, &floor.recv_read),
            counts(&w.neither_events_ahead),
            counts(&w.neither_session_reads_ahead),
            counts(&w.neither_polls_ahead),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_engine::telemetry::tick_to_trade::{SendStamp, TriggerWaits};

    fn row(engine: Option<T2tSplit>) -> Row {
        let p = |p50, p99| Percentiles {
            count: 10,
            p50,
            p99,
            ..Percentiles::default()
        };
        Row {
            feed: "itch-sim".into(),
            rate_offered: 100_000,
            plan: "fused".into(),
            wait: "spin-hint",
            seconds: 1.0,
            market_data_per_sec: 99_000.0,
            fills: 3,
            journal_since_recv: p(900, 4_000),
            ingest_since_recv: p(300, 2_000),
            tick_to_trade: Some(p(20_000, 60_000)),
            engine_tick_to_trade: engine,
            floor: None,
            tcp_rtt: Some(p(10_000, 30_000)),
        }
    }

    // The engine's row shows its split and whether the goal was met; the
    // ratio is over the same row's round trip; a row without orders says so.
    #[test]
    fn tables_carry_the_engine_split_and_the_venue_row() {
        let p = |p50, p99| Percentiles {
            count: 7,
            p50,
            p99,
            ..Percentiles::default()
        };
        let split = T2tSplit {
            total: p(1_800, 12_000),
            recv_read: p(500, 3_000),
            read_decide: p(600, 4_000),
            decide_send: p(700, 5_000),
            decide_return: p(900, 6_000),
            send_stamp: SendStamp::TxSoftware,
            waits: TriggerWaits::default(),
        };
        let mut measured = row(Some(split));
        measured.floor = Some(T2tSplit {
            total: p(900, 6_000),
            recv_read: p(200, 2_000),
            read_decide: p(0, 0),
            decide_send: p(140, 3_000),
            decide_return: p(300, 4_000),
            send_stamp: SendStamp::TxSoftware,
            waits: TriggerWaits::default(),
        });
        assert_eq!(measured.recv_read_over_floor(), Some(2.5));
        assert_eq!(
            measured.engine_tick_to_trade_over_rtt(|p| p.p50),
            Some(0.18)
        );
        let mut out = String::new();
        markdown_tables(&mut out, &[measured, row(None)]);
        assert!(
            out.contains("| itch-sim | 100000 | 7 | 1.8 / 12.0 | 0.5 / 3.0 | 0.6 / 4.0 | 0.7 / 5.0 | tx_software | 0.9 / 6.0 | 10.0 | 0.18× | met |"),
            "{out}"
        );
        assert!(
            out.contains(
                "| itch-sim | 100000 | 0.9 / 6.0 | 0.2 / 2.0 | 0.1 / 3.0 | tx_software | 0.3 / 4.0 | 2.00× | 2.50× | 5.00× | 3.00× |"
            ),
            "the floor's row and the engine's ratios to it: {out}"
        );
        assert!(
            out.contains("| itch-sim | 100000 | 0 | - | - | - | - | - | - | 10.0 | - | - |"),
            "{out}"
        );
        assert!(out.contains("| 20.0 / 60.0 | 10.0 | 2.0× | 3 |"), "{out}");
        assert_eq!(
            row(Some(split)).to_json()["engine_tick_to_trade_ns"]["decide_send"]["p50"],
            700
        );
    }

    // The waits table shows the share of orders whose trigger waited
    // behind a write, both receive → read figures, and each ÷ the floor's.
    #[test]
    fn the_waits_table_splits_the_triggers() {
        let p = |count, p50, p99| Percentiles {
            count,
            p50,
            p99,
            ..Percentiles::default()
        };
        let mut split = T2tSplit {
            total: p(8, 1_800, 12_000),
            recv_read: p(8, 900, 3_000),
            ..T2tSplit::default()
        };
        split.waits = TriggerWaits {
            behind_write_recv_read: p(6, 1_000, 3_000),
            behind_write_return_read: p(6, 100, 400),
            clear_recv_read: p(2, 200, 500),
            in_wake_recv_read: p(1, 300, 500),
            after_wake_recv_read: p(1, 100, 100),
            behind_venue_read_recv_read: p(4, 1_200, 3_000),
            behind_neither_recv_read: p(5, 400, 400),
            neither_events_ahead_recv_read: p(1, 900, 900),
            neither_tx_stamp_reads_ahead_recv_read: p(1, 700, 700),
            neither_socket_reads_ahead_recv_read: p(1, 500, 500),
            neither_loop_only_recv_read: p(2, 300, 400),
            neither_events_ahead: p(4, 0, 3),
            neither_session_reads_ahead: p(4, 1, 2),
            neither_polls_ahead: p(4, 1, 5),
        };
        let mut measured = row(Some(split));
        measured.floor = Some(T2tSplit {
            total: p(5, 900, 6_000),
            recv_read: p(5, 200, 2_000),
            ..T2tSplit::default()
        });
        assert_eq!(split.waits.behind_write_share(), Some(0.75));
        assert_eq!(measured.clear_recv_read_over_floor(), Some(1.0));
        let mut out = String::new();
        markdown_tables(&mut out, &[measured.clone()]);
        assert!(
            out.contains("| itch-sim | 100000 | 8 | 75.0 % | 1.0 / 3.0 | 0.1 / 0.4 | 0.2 / 0.5 | 1.00× | 0.3 / 0.5 (1) | 1.50× | 0.1 / 0.1 (1) | 0.50× | 4.50× | 0.3 / 2.0 | 1.50× |"),
            "{out}"
        );
        assert!(
            out.contains("| itch-sim | 100000 | 1.2 / 3.0 (4) | 50.0 % | 6.00× | 0.4 / 0.4 (5) | 62.5 % | 2.00× |"),
            "the venue-read split: {out}"
        );
        assert!(
            out.contains("| itch-sim | 100000 | 0.9 / 0.9 (1, 20.0 %) | 4.50× | 0.7 / 0.7 (1, 20.0 %) | 3.50× | 0.5 / 0.5 (1, 20.0 %) | 2.50× | 0.3 / 0.4 (2, 40.0 %) | 1.50× | 0 / 3 / 0 | 1 / 2 / 0 | 1 / 5 / 0 |"),
            "what the triggers behind neither waited for: {out}"
        );
        let json = measured.to_json();
        assert_eq!(
            json["engine_tick_to_trade_ns"]["waits"]["behind_write_recv_read"]["count"],
            6
        );
        assert_eq!(json["ingest_since_recv_ns"]["p50"], 300);
    }
}
