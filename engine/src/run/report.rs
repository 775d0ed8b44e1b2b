//! The end-of-run report: one row per stage with count and percentiles,
//! the totals, and the same numbers as JSON for `--summary-json`. What ran
//! beside the engine adds its own [`ReportNote`]s. Tick-to-trade comes in
//! two rows: the engine's own (kernel receive of the market data → the
//! order's bytes handed to the kernel, with its three parts), measured by
//! the venue session, and the venue's (market data sent → order at the
//! venue), for a venue that measures it; beside them the loopback TCP round
//! trip of the same run.

use crate::decision::RejectReason;
use crate::execution::ExecutionCounters;
use crate::ingest::IngestCounters;
use crate::risk::RiskCounters;
use crate::run::rebuild::RestartReport;
use crate::snapshot::FollowerReport;
use crate::strategy::StrategyCounters;
use crate::telemetry::metrics::{Percentiles, StageMetrics};
use crate::telemetry::tick_to_trade::T2tSplit;
use crate::topology::runner::{GroupPlan, GroupResult};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// Which thread ran which stages, and how it waited.
#[derive(Clone, Debug)]
pub struct PlanSummary {
    pub threads: Vec<(usize, String, &'static str)>,
}

impl PlanSummary {
    pub fn of(plans: &[GroupPlan]) -> PlanSummary {
        PlanSummary {
            threads: plans
                .iter()
                .map(|p| {
                    let name = match &p.side {
                        Some(side) => format!("{}+{}", p.group.name(), side.name()),
                        None => p.group.name(),
                    };
                    (p.group.core, name, p.wait.kind().name())
                })
                .collect(),
        }
    }

    pub fn describe(&self) -> String {
        let kind = if self.threads.len() == 1 {
            "fused"
        } else {
            "pipelined"
        };
        let threads: Vec<String> = self
            .threads
            .iter()
            .map(|(core, stages, wait)| format!("core {core}: {stages} ({wait})"))
            .collect();
        format!(
            "{kind}, {} thread(s): {}",
            self.threads.len(),
            threads.join("; ")
        )
    }
}

/// A line and a JSON field about something that ran beside the engine (a
/// database follower of the journal), added by the run's caller.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportNote {
    /// Printed after the journal's line.
    pub line: String,
    /// Added to the JSON under this key.
    pub key: &'static str,
    pub json: serde_json::Value,
}

/// The snapshot thread of a run: what it wrote, or why it did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    Off(String),
    Ran(FollowerReport),
}

pub struct RunReport {
    pub plan: PlanSummary,
    pub elapsed: Duration,
    pub stages: Vec<StageMetrics>,
    pub ingest: IngestCounters,
    pub risk: RiskCounters,
    pub strategy: StrategyCounters,
    pub execution: ExecutionCounters,
    pub journal_path: Option<PathBuf>,
    pub journal_records: u64,
    /// First sequence of this run, and the last known on disk at the end.
    pub journal_seq_first: u64,
    pub journal_seq_durable: u64,
    /// The torn tail recovery cut at start, if any.
    pub journal_truncation: Option<String>,
    pub realized_pnl_units: i128,
    pub unrealized_pnl_units: i128,
    /// What ran beside the engine, in the words of what ran it.
    pub notes: Vec<ReportNote>,
    /// Risk's position per instrument at the end (lots).
    pub positions: Vec<i64>,
    /// Execution's open orders at the end, by id (to compare with a venue's own view).
    pub open_orders: Vec<crate::orders::Order>,
    /// From the market data that triggered an order to its arrival at the venue (FIX venues).
    pub tick_to_trade: Option<Percentiles>,
    /// The engine's own tick-to-trade and its split (`telemetry::tick_to_trade`),
    /// when its venue session sends orders over a socket.
    pub engine_tick_to_trade: Option<T2tSplit>,
    /// A loopback TCP round trip, measured in the same run: the floor for tick-to-trade.
    pub loopback_tcp_rtt: Option<Percentiles>,
    /// Intervals the reporter wrote to the latency log, and where.
    pub latency_intervals: u64,
    pub latency_log_path: Option<PathBuf>,
    pub latency_log_error: Option<String>,
    /// The state the run began with: from where, how fast, what it held.
    pub restart: Option<RestartReport>,
    pub snapshots: Option<SnapshotStatus>,
    pub error: Option<String>,
}

impl RunReport {
    pub fn collect(
        plan: PlanSummary,
        results: Vec<GroupResult>,
        stages: Vec<StageMetrics>,
        elapsed: Duration,
        error: Option<String>,
    ) -> RunReport {
        let mut report = RunReport {
            plan,
            elapsed,
            stages,
            latency_intervals: 0,
            tick_to_trade: None,
            engine_tick_to_trade: None,
            loopback_tcp_rtt: None,
            latency_log_path: None,
            latency_log_error: None,
            ingest: IngestCounters::default(),
            risk: RiskCounters::default(),
            strategy: StrategyCounters::default(),
            execution: ExecutionCounters::default(),
            journal_path: None,
            journal_records: 0,
            journal_seq_first: 0,
            journal_seq_durable: 0,
            journal_truncation: None,
            realized_pnl_units: 0,
            positions: Vec::new(),
            open_orders: Vec::new(),
            notes: Vec::new(),
            unrealized_pnl_units: 0,
            restart: None,
            snapshots: None,
            error,
        };
        for result in results {
            if let Some(ingest) = &result.ingest {
                report.ingest = ingest.counters();
            }
            let chain = result.chain;
            if let Some(risk) = chain.risk {
                report.risk = risk.stage.counters;
                report.realized_pnl_units = risk.stage.realized_units();
                report.positions = (0..risk.stage.instrument_count())
                    .map(|i| risk.stage.position(i).0)
                    .collect();
                report.unrealized_pnl_units = risk.stage.unrealized_units();
            }
            if let Some(strategy) = chain.strategy {
                report.strategy = strategy.stage.counters;
            }
            if let Some(execution) = chain.execution {
                report.execution = execution.stage.counters;
                report.open_orders = execution.stage.orders().iter_open().copied().collect();
                report.open_orders.sort_unstable_by_key(|order| order.id.0);
            }
            if let Some(journal) = chain.journal {
                report.journal_path = Some(journal.stage.dir().to_path_buf());
                report.journal_records = journal.stage.records;
            }
        }
        report
    }

    pub fn events_per_sec(&self) -> f64 {
        self.ingest.published as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Rejections by reason, non-zero only.
    pub fn rejects(&self) -> Vec<(RejectReason, u64)> {
        RejectReason::ALL
            .iter()
            .filter(|r| **r != RejectReason::None)
            .map(|r| (*r, self.strategy.rejects_by_reason[*r as usize]))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The human-readable report printed at shutdown.
    /// The `pre-trade rejects: …` line, by reason (`none` without any).
    pub fn render_rejects(&self, out: &mut String) {
        let rejects: Vec<String> = self
            .rejects()
            .iter()
            .map(|(r, n)| format!("{} {n}", r.name()))
            .collect();
        let _ = writeln!(
            out,
            "pre-trade rejects: {}",
            if rejects.is_empty() {
                "none".to_string()
            } else {
                rejects.join(", ")
            }
        );
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "genesis run: {:.2} s, {}",
            self.elapsed.as_secs_f64(),
            self.plan.describe()
        );
        self.render_stage_tables(&mut out);
        self.render_tick_to_trade(&mut out);
        self.render_totals(&mut out);
        self.render_journal(&mut out);
        out
    }

    /// Per stage, latency since receive and processing time.
    fn render_stage_tables(&self, out: &mut String) {
        for (title, processing) in [
            ("latency from receive to stage exit (ns)", false),
            ("stage processing time (ns)", true),
        ] {
            let _ = writeln!(out, "\n{title}");
            percentile_header(out, "stage");
            for stage in &self.stages {
                let histogram = if processing {
                    &stage.processing_ns
                } else {
                    &stage.since_recv_ns
                };
                percentile_row(out, stage.name, &Percentiles::of(histogram));
            }
        }
    }

    /// Tick-to-trade, the engine's own (with its split) and the venue's,
    /// beside the loopback round trip of the same run.
    fn render_tick_to_trade(&self, out: &mut String) {
        if self.engine_tick_to_trade.is_none() && self.tick_to_trade.is_none() {
            return;
        }
        let _ = writeln!(
            out,
            "\ntick-to-trade (ns): engine = kernel receive of the market data → order's bytes handed to the kernel; venue = market data sent → order at the venue's kernel"
        );
        percentile_header(out, "");
        if let Some(split) = &self.engine_tick_to_trade {
            percentile_row(out, "engine t2t", &split.total);
            percentile_row(out, " recv→read", &split.recv_read);
            percentile_row(out, " read→dec", &split.read_decide);
            percentile_row(out, " dec→send", &split.decide_send);
            percentile_row(out, " dec→write", &split.decide_return);
            let _ = writeln!(
                out,
                "  (send stamp: {}; dec→write = until the session's write returned)",
                split.send_stamp.name()
            );
        }
        if let Some(tick_to_trade) = &self.tick_to_trade {
            percentile_row(out, "venue t2t", tick_to_trade);
        }
        if let Some(rtt) = &self.loopback_tcp_rtt {
            percentile_row(out, "tcp rtt", rtt);
        }
    }

    /// Events, orders, losses, pre-trade rejects and PnL.
    fn render_totals(&self, out: &mut String) {
        let e = &self.execution;
        let _ = writeln!(
            out,
            "\nevents {} ({:.0}/s): market data {}, venue {}, control {}, timers {}",
            self.ingest.published,
            self.events_per_sec(),
            self.ingest.market_data,
            self.ingest.venue,
            self.ingest.control,
            self.ingest.timers
        );
        let _ = writeln!(
            out,
            "orders sent {}, replaces {}, cancels {}, acks {}, fills {}, venue rejects {}, send failures {}",
            e.orders_sent, e.replaces_sent, e.cancels_sent, e.acks, e.fills, e.venue_rejects, e.send_failed
        );
        let _ = writeln!(
            out,
            "conflated {}, dropped {}, duplicate fills {}, fills for unknown orders {}, overfills {}, late messages {}",
            self.ingest.conflated, self.ingest.dropped, self.ingest.duplicate_fills, e.fills_unknown_order, e.overfills, e.late_messages
        );
        let r = &e.reconcile;
        if r.rounds > 0 {
            let _ = writeln!(
                out,
                "reconciliation: {} rounds, {} requests, {} reports; adopted {}, cancelled {}, closed {}, synced {}, missed fills {} ({} lots); timeouts {}, releases {}{}",
                r.rounds, r.requests, r.reports, r.adopted, r.cancelled, r.closed, r.synced, r.fills,
                r.fill_lots, r.timeouts, r.releases,
                if r.gate_held != 0 { "; GATE HELD (timed out): SIGHUP releases it" } else { "" }
            );
        }
        self.render_rejects(out);
        let _ = writeln!(
            out,
            "pnl (account units): realized {}, unrealized {}",
            self.realized_pnl_units, self.unrealized_pnl_units
        );
    }

    /// The journal, what ran beside the engine, the latency log, and any error.
    fn render_journal(&self, out: &mut String) {
        if let Some(path) = &self.journal_path {
            let seq_last = self.journal_seq_first + self.journal_records.saturating_sub(1);
            let _ = writeln!(
                out,
                "journal: {} ({} records this run, sequences {}..={}, durable through {})",
                path.display(),
                self.journal_records,
                self.journal_seq_first,
                seq_last,
                self.journal_seq_durable
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "{}", note.line);
        }
        if let Some(truncation) = &self.journal_truncation {
            let _ = writeln!(out, "journal recovery at start: {truncation}");
        }
        self.render_restart(out);
        if let Some(path) = &self.latency_log_path {
            let _ = writeln!(
                out,
                "latency log: {} ({} intervals; read it with histo-dump)",
                path.display(),
                self.latency_intervals
            );
        }
        if let Some(error) = &self.latency_log_error {
            let _ = writeln!(out, "latency log stopped: {error}");
        }
        if let Some(error) = &self.error {
            let _ = writeln!(out, "ERROR: {error}");
        }
    }

    /// Where the start state came from, what it held, and the snapshots written.
    fn render_restart(&self, out: &mut String) {
        if let Some(restart) = &self.restart {
            let from = match (&restart.snapshot_file, restart.snapshot_seq) {
                (Some(file), Some(seq)) => format!("snapshot {file} (sequence {seq})"),
                _ => restart.origin.to_string(),
            };
            let positions: Vec<String> = restart
                .positions
                .iter()
                .map(|(symbol, qty)| format!("{symbol} {qty}"))
                .collect();
            let _ = writeln!(
                out,
                "restart: state from {from} + {} event(s) replayed over {} run(s) (snapshot load {:.1} ms, replay {:.1} ms, total {:.1} ms); positions {}; {} open order(s); order ids from {}",
                restart.events_replayed,
                restart.runs_walked,
                restart.snapshot_load_ms,
                restart.replay_ms,
                restart.total_ms,
                positions.join(", "),
                restart.open_orders.len(),
                restart.order_id_next
            );
            for fallback in &restart.fallbacks {
                let _ = writeln!(out, "restart: {fallback}");
            }
        }
        match &self.snapshots {
            Some(SnapshotStatus::Ran(s)) => {
                let _ = writeln!(
                    out,
                    "snapshots: {} written, last at sequence {}{}{}{}",
                    s.snapshots_written,
                    s.last_seq
                        .map_or_else(|| "-".to_string(), |seq| seq.to_string()),
                    s.stopped
                        .as_ref()
                        .map_or_else(String::new, |why| format!("; STOPPED: {why}")),
                    s.last_write_error
                        .as_ref()
                        .map_or_else(String::new, |e| format!(
                            "; {} write error(s), last: {e}",
                            s.write_errors
                        )),
                    s.deferred
                        .as_ref()
                        .map_or_else(String::new, |why| format!("; {why}")),
                );
            }
            Some(SnapshotStatus::Off(reason)) => {
                let _ = writeln!(out, "snapshots: {reason}");
            }
            None => {}
        }
    }

    /// The snapshot thread's figures as JSON.
    fn snapshots_json(&self) -> serde_json::Value {
        match &self.snapshots {
            Some(SnapshotStatus::Ran(s)) => json!({
                "written": s.snapshots_written,
                "last_seq": s.last_seq,
                "last_path": s.last_path.as_ref().map(|p| p.display().to_string()),
                "last_bytes": s.last_bytes,
                "events_followed": s.events_followed,
                "stopped": s.stopped,
                "write_errors": s.write_errors,
                "last_write_error": s.last_write_error,
                "deferred": s.deferred,
                "wakeups_while_running": s.wakeups_while_running,
            }),
            Some(SnapshotStatus::Off(reason)) => json!({ "off": reason }),
            None => serde_json::Value::Null,
        }
    }

    /// The same numbers as JSON, with every note's field.
    pub fn to_json(&self) -> serde_json::Value {
        let stages: Vec<serde_json::Value> = self
            .stages
            .iter()
            .map(|s| {
                json!({
                    "stage": s.name,
                    "since_recv_ns": Percentiles::of(&s.since_recv_ns),
                    "processing_ns": Percentiles::of(&s.processing_ns),
                })
            })
            .collect();
        let rejects: serde_json::Map<String, serde_json::Value> = self
            .rejects()
            .iter()
            .map(|(r, n)| (r.name().to_string(), json!(n)))
            .collect();
        let e = &self.execution;
        let mut json = json!({
            "plan": self.plan.describe(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "events": self.ingest.published,
            "events_per_sec": self.events_per_sec(),
            "market_data": self.ingest.market_data,
            "venue_events": self.ingest.venue,
            "control_events": self.ingest.control,
            "timers": self.ingest.timers,
            "orders_sent": e.orders_sent,
            "replaces_sent": e.replaces_sent,
            "cancels_sent": e.cancels_sent,
            "acks": e.acks,
            "fills": e.fills,
            "venue_rejects": e.venue_rejects,
            "send_failed": e.send_failed,
            "rejects_by_reason": rejects,
            "rejects_total": self.rejects().iter().map(|(_, n)| n).sum::<u64>(),
            "conflated": self.ingest.conflated,
            "dropped": self.ingest.dropped,
            "duplicate_fills": self.ingest.duplicate_fills,
            "fills_unknown_order": e.fills_unknown_order,
            "overfills": e.overfills,
            "intents": self.strategy.intents,
            "intents_accepted": self.strategy.intents_accepted,
            "realized_pnl_units": self.realized_pnl_units as f64,
            "positions": self.positions,
            "unrealized_pnl_units": self.unrealized_pnl_units as f64,
            "journal_path": self.journal_path.as_ref().map(|p| p.display().to_string()),
            "journal_records": self.journal_records,
            "journal_seq_first": self.journal_seq_first,
            "journal_seq_durable": self.journal_seq_durable,
            "journal_truncation": self.journal_truncation,
            "latency_log_path": self.latency_log_path.as_ref().map(|p| p.display().to_string()),
            "latency_intervals": self.latency_intervals,
            "stages": stages,
            "tick_to_trade_ns": self.tick_to_trade,
            "engine_tick_to_trade_ns": self.engine_tick_to_trade,
            "loopback_tcp_rtt_ns": self.loopback_tcp_rtt,
            "restart": self.restart,
            "snapshots": self.snapshots_json(),
            "error": self.error,
        });
        // Outside the macro: it recurses once per key.
        json["open_orders"] = serde_json::Value::Array(self.open_orders_json());
        json["reconcile"] = reconcile_json(&e.reconcile);
        for note in &self.notes {
            json[note.key] = note.json.clone();
        }
        json
    }

    /// Execution's open orders: id, instrument, side, price, quantity, filled, leaves, state.
    fn open_orders_json(&self) -> Vec<serde_json::Value> {
        self.open_orders
            .iter()
            .map(|o| {
                json!({
                    "order_id": o.id.0,
                    "instrument": o.instrument.0,
                    "side": format!("{:?}", o.side).to_lowercase(),
                    "price": o.price.0,
                    "qty": o.qty.0,
                    "filled": o.filled.0,
                    "leaves": o.leaves(),
                    "state": format!("{:?}", o.state),
                })
            })
            .collect()
    }
}

/// What reconciliation did, as JSON.
fn reconcile_json(r: &crate::execution::ReconcileCounters) -> serde_json::Value {
    json!({
        "rounds": r.rounds,
        "requests": r.requests,
        "reports": r.reports,
        "adopted": r.adopted,
        "cancelled": r.cancelled,
        "closed": r.closed,
        "synced": r.synced,
        "fills": r.fills,
        "fill_lots": r.fill_lots,
        "timeouts": r.timeouts,
        "releases": r.releases,
        "gate_held": r.gate_held != 0,
        "followups_lost": r.followups_lost,
    })
}

/// The column heads of a percentile table, the first named `first`.
fn percentile_header(out: &mut String, first: &str) {
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        first, "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
}

/// One row of a percentile table.
fn percentile_row(out: &mut String, name: &str, p: &Percentiles) {
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}",
        name, p.count, p.p50, p.p90, p.p99, p.p99_9, p.p99_99, p.max
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // The report's sections come in their order, and a note sits after the journal's line.
    #[test]
    fn render_orders_its_sections() {
        let plan = PlanSummary {
            threads: vec![(0, "ingest+risk".into(), "sleep")],
        };
        let mut report =
            RunReport::collect(plan, Vec::new(), Vec::new(), Duration::from_secs(2), None);
        report.journal_path = Some(PathBuf::from("journal"));
        report.journal_records = 3;
        report.journal_seq_first = 5;
        report.tick_to_trade = Some(Percentiles {
            count: 1,
            p50: 7,
            ..Percentiles::default()
        });
        report.notes.push(ReportNote {
            line: "follower: 3 events".into(),
            key: "follower",
            json: serde_json::json!({"events": 3}),
        });
        let text = report.render();
        let position = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} in:\n{text}"))
        };
        assert!(text
            .starts_with("genesis run: 2.00 s, fused, 1 thread(s): core 0: ingest+risk (sleep)\n"));
        assert!(position("latency from receive") < position("stage processing time"));
        assert!(position("stage processing time") < position("tick-to-trade (ns)"));
        assert!(
            text.contains("\nvenue t2t             1         7"),
            "{text}"
        );
        assert!(!text.contains("engine t2t"), "none measured: {text}");
        assert!(!text.contains("tcp rtt"), "no floor measured: {text}");
        assert!(position("\nevents 0 (0/s)") < position("pnl (account units)"));
        assert!(text.contains("journal: journal (3 records this run, sequences 5..=7, durable through 0)\nfollower: 3 events\n"));
        assert_eq!(report.to_json()["follower"]["events"], 3);
    }

    // The engine's tick-to-trade comes first with its three parts, then
    // the venue's, then the round trip; the JSON carries the split.
    #[test]
    fn engine_tick_to_trade_sits_above_the_venue_row() {
        let plan = PlanSummary {
            threads: vec![(0, "ingest".into(), "sleep")],
        };
        let mut report =
            RunReport::collect(plan, Vec::new(), Vec::new(), Duration::from_secs(1), None);
        let p = |p50| Percentiles {
            count: 2,
            p50,
            ..Percentiles::default()
        };
        report.engine_tick_to_trade = Some(T2tSplit {
            total: p(1_900),
            recv_read: p(400),
            read_decide: p(700),
            decide_send: p(800),
            decide_return: p(900),
            send_stamp: crate::telemetry::tick_to_trade::SendStamp::TxSoftware,
            waits: Default::default(),
        });
        report.tick_to_trade = Some(p(20_000));
        report.loopback_tcp_rtt = Some(p(15_000));
        let text = report.render();
        let position = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} in:\n{text}"))
        };
        assert!(
            text.contains("\nengine t2t            2      1900"),
            "{text}"
        );
        assert!(position("engine t2t") < position(" recv→read"));
        assert!(position(" recv→read") < position(" read→dec"));
        assert!(position(" read→dec") < position(" dec→send"));
        assert!(position(" dec→send") < position(" dec→write"));
        assert!(position(" dec→write") < position("send stamp: tx_software"));
        assert!(position(" dec→write") < position("venue t2t"));
        assert!(position("venue t2t") < position("tcp rtt"));
        // Every row's columns line up with the header's, split rows included.
        let width = |start: &str| {
            let line = text.lines().find(|line| line.starts_with(start));
            line.map(|line| line.chars().count())
        };
        assert_eq!(width(" dec→write"), width("engine t2t"), "{text}");
        assert_eq!(width(" recv→read"), width("engine t2t"), "{text}");
        let json = report.to_json();
        assert_eq!(json["engine_tick_to_trade_ns"]["total"]["p50"], 1_900);
        assert_eq!(json["engine_tick_to_trade_ns"]["decide_send"]["p50"], 800);
        assert_eq!(json["engine_tick_to_trade_ns"]["decide_return"]["p50"], 900);
        assert_eq!(json["engine_tick_to_trade_ns"]["send_stamp"], "tx_software");
        assert_eq!(json["loopback_tcp_rtt_ns"]["p50"], 15_000);
    }
}
