//! The end of a backtest: PnL, fills and orders, per-stage processing time
//! from the stages' own HDR histograms, the per-event latency the backtest
//! measured, events per second and wall time; printed, and as the JSON of
//! `--summary-json` with the keys of the race's result line
//! (`perf/race/README.md`).
//!
//! Ingest's own histogram measures from an event's `ts_recv_ns`, which in
//! a backtest is tape time, not wall time: it is left out.

use super::driver::DriverCounters;
use genesis_engine::run::RunReport;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_io::tape::records::TapesFormat;
use genesis_sim::backtest::VenueCounters;
use serde_json::json;
use std::fmt::Write as _;

/// What a backtest did.
pub struct BacktestReport {
    pub run: RunReport,
    pub driver: DriverCounters,
    pub venue: VenueCounters,
    /// Per event: taken off the read-ahead → hand-over done (journal written
    /// in a fused plan; handed to the journal's ring in a pipelined one).
    pub latency: Percentiles,
    /// Whether `latency` ends at the journal's write (fused plan).
    pub latency_to_journal: bool,
    pub format: TapesFormat,
    /// Sizes of the tape files, and what was read of them.
    pub tape_bytes: u64,
    pub levels_truncated: u64,
    /// The touch quoter's N, when it is the strategy.
    pub requote_every_updates: Option<u64>,
    pub strategy: String,
    /// The tape error that ended the backtest early, if one did.
    pub tape_error: Option<String>,
    /// CPU time of the process over the run (user + system, every thread),
    /// seconds: on a shared machine it says more than wall time.
    pub cpu_s: f64,
}

impl BacktestReport {
    /// Tape rows per second of wall time.
    pub fn events_per_sec(&self) -> f64 {
        self.driver.rows as f64 / self.run.elapsed.as_secs_f64().max(1e-9)
    }

    /// Orders sent: new orders and replaces (each places an order at a price).
    pub fn orders(&self) -> u64 {
        self.run.execution.orders_sent + self.run.execution.replaces_sent
    }

    /// The printed report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let run = &self.run;
        let _ = writeln!(
            out,
            "genesis backtest: {} rows of {:?} tape in {:.3} s ({:.0} rows/s), {}",
            self.driver.rows,
            self.format,
            run.elapsed.as_secs_f64(),
            self.events_per_sec(),
            run.plan.describe()
        );
        let _ = writeln!(
            out,
            "engine events {} (market data {}, venue {}); book updates {}, trades {}",
            run.ingest.published,
            run.ingest.market_data,
            run.ingest.venue,
            self.driver.book_updates,
            self.driver.trades
        );
        self.render_trading(&mut out);
        self.render_latency(&mut out);
        self.render_notes(&mut out);
        out
    }

    fn render_trading(&self, out: &mut String) {
        let (run, e, v) = (&self.run, &self.run.execution, &self.venue);
        let _ = writeln!(
            out,
            "\nstrategy {}: orders {} (new {}, replaces {}), cancels {}, fills {} ({} lots; maker {}, taker {}), venue rejects {}",
            self.strategy, self.orders(), e.orders_sent, e.replaces_sent, e.cancels_sent, e.fills, v.lots_filled, v.fills_maker, v.fills_taker, e.venue_rejects
        );
        run.render_rejects(out);
        let _ = writeln!(
            out,
            "pnl (account units): realized {}, unrealized {}; positions {:?}",
            run.realized_pnl_units, run.unrealized_pnl_units, run.positions
        );
        let _ = writeln!(
            out,
            "queue: lots ahead taken by prints {}, by level shrinks {}",
            v.lots_ahead_traded, v.lots_ahead_cancelled
        );
    }

    fn render_latency(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "\n{:<26} {:>12} {:>9} {:>9} {:>9} {:>9} {:>11}",
            "latency (ns)", "count", "p50", "p99", "p99.9", "p99.99", "max"
        );
        let end = if self.latency_to_journal {
            "journal written"
        } else {
            "handed to the journal's ring"
        };
        let row = |out: &mut String, name: &str, p: &Percentiles| {
            let _ = writeln!(
                out,
                "{:<26} {:>12} {:>9} {:>9} {:>9} {:>9} {:>11}",
                name, p.count, p.p50, p.p99, p.p99_9, p.p99_99, p.max
            );
        };
        row(out, "per event (see below)", &self.latency);
        for stage in self.run.stages.iter().filter(|s| s.name != "ingest") {
            row(
                out,
                &format!("{} processing", stage.name),
                &Percentiles::of(&stage.processing_ns),
            );
        }
        let _ = writeln!(
            out,
            "per event: from the row (or reply) taken off the read-ahead to {end}"
        );
    }

    fn render_notes(&self, out: &mut String) {
        let d = &self.driver;
        let _ = writeln!(
            out,
            "\nvenue clock held back {} time(s); after the tape's end: {} orders unanswered, {} replies undelivered; levels dropped (book_levels_max) {}",
            d.venue_clock_held, d.requests_unanswered, d.replies_undelivered, self.levels_truncated
        );
        if let Some(path) = &self.run.journal_path {
            let _ = writeln!(
                out,
                "journal: {} ({} records, durable through {}); `genesis replay {}` verifies it",
                path.display(),
                self.run.journal_records,
                self.run.journal_seq_durable,
                path.display()
            );
        }
        if let Some(error) = &self.run.error {
            let _ = writeln!(out, "ERROR: {error}");
        }
        if let Some(error) = &self.tape_error {
            let _ = writeln!(out, "TAPE ERROR (the backtest stopped there): {error}");
        }
    }

    /// The summary JSON: the race's result keys first, then the rest.
    pub fn to_json(&self) -> serde_json::Value {
        let run = &self.run;
        let wall_s = run.elapsed.as_secs_f64();
        let stages: serde_json::Map<String, serde_json::Value> = run
            .stages
            .iter()
            .filter(|s| s.name != "ingest")
            .map(|s| (s.name.to_string(), json!(Percentiles::of(&s.processing_ns))))
            .collect();
        json!({
            "engine": "genesis",
            "version": env!("CARGO_PKG_VERSION"),
            "n": self.requote_every_updates,
            "events": self.driver.rows,
            "events_per_s": self.events_per_sec().round() as u64,
            "fills": run.execution.fills,
            "wall_s": (wall_s * 1000.0).round() / 1000.0,
            "orders": self.orders(),
            "cpu_s": (self.cpu_s * 1000.0).round() / 1000.0,
            "events_per_cpu_s": (self.driver.rows as f64 / self.cpu_s.max(1e-9)).round() as u64,
            "book_updates": self.driver.book_updates,
            "latency_ns": {
                "p50": self.latency.p50,
                "p99": self.latency.p99,
                "p99_9": self.latency.p99_9,
                "max": self.latency.max,
            },
            "latency_to_journal": self.latency_to_journal,
            "stage_processing_ns": stages,
            "strategy": self.strategy,
            "tape_format": format!("{:?}", self.format),
            "tape_bytes": self.tape_bytes,
            "plan": run.plan.describe(),
            "engine_events": run.ingest.published,
            "trades": self.driver.trades,
            "cancels": run.execution.cancels_sent,
            "venue_rejects": run.execution.venue_rejects,
            "lots_filled": self.venue.lots_filled,
            "fills_maker": self.venue.fills_maker,
            "fills_taker": self.venue.fills_taker,
            "realized_pnl_units": run.realized_pnl_units as f64,
            "unrealized_pnl_units": run.unrealized_pnl_units as f64,
            "positions": run.positions,
            "rejects_total": run.rejects().iter().map(|(_, n)| n).sum::<u64>(),
            "journal_path": run.journal_path.as_ref().map(|p| p.display().to_string()),
            "journal_records": run.journal_records,
            "venue_clock_held": self.driver.venue_clock_held,
            "requests_unanswered": self.driver.requests_unanswered,
            "replies_undelivered": self.driver.replies_undelivered,
            "loadavg_1m": loadavg_1m(),
            "error": run.error.clone().or_else(|| self.tape_error.clone()),
        })
    }
}

/// CPU time this process has used so far (user + system, every thread),
/// seconds, from `/proc/self/stat` (fields 14 and 15, in USER_HZ = 100
/// ticks, fixed by the kernel's ABI); 0 where that file cannot be read.
pub fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let Some((_, after_name)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let mut fields = after_name.split_whitespace().skip(11);
    let mut ticks = || {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (user, system) = (ticks(), ticks());
    (user + system) as f64 / 100.0
}

/// The machine's 1-minute load average (the race reports it: the machine is shared).
fn loadavg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
