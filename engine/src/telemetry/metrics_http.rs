//! The Prometheus text exposition (`GET /metrics`): what the endpoint
//! renders. The server loop that answers is `metrics_server` (mio, every
//! connection at once); this file only turns the telemetry board into text.
//!
//! Conventions (checked by `promtool check metrics` in the tests): base
//! units (seconds, bytes), counters end in `_total`, latency quantiles are a
//! `summary` (over the reporter's last interval), and every family has its
//! HELP and TYPE lines. A series beside the engine comes in through the
//! board's `Gauges` and is rendered by `gauge`.

pub use super::metrics_server::EndpointThread;
use crate::decision::RejectReason;
use crate::telemetry::metrics::Percentiles;
use crate::telemetry::tick_to_trade::PART_NAMES;
use crate::telemetry::{Board, Counter, Snapshot, RINGS_MAX};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Renders the whole exposition.
pub fn render(board: &Board, rings: usize) -> String {
    let mut out = String::with_capacity(8 * 1024);
    render_counters(&mut out, board, rings);
    let snapshot = board
        .snapshot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    render_stage_latency(&mut out, &snapshot);
    render_tick_to_trade(&mut out, &snapshot);
    if let Some((seq_last, seq_durable, lag_events)) = board.journal_durability() {
        for (name, help, value) in [
            (
                "journal_seq_last",
                "Last sequence appended to the journal.",
                seq_last,
            ),
            (
                "journal_seq_durable",
                "Last sequence known to be on disk.",
                seq_durable,
            ),
            (
                "journal_durable_lag_events",
                "Events appended but not yet known durable.",
                lag_events,
            ),
        ] {
            gauge(&mut out, name, help, value);
        }
    }
    if let Some(gauges) = board.gauges.get() {
        gauges.visit(&mut |name, help, value| gauge(&mut out, name, help, value));
    }
    if let Some(health) = board.feed_health.get() {
        health.render(&mut out);
    }
    gauge(
        &mut out,
        "events_per_second",
        "Events per second over the last interval.",
        snapshot.events_per_sec,
    );
    gauge(
        &mut out,
        "rss_bytes",
        "Resident memory of the process.",
        snapshot.rss_bytes as f64,
    );
    gauge(
        &mut out,
        "errors_per_event",
        "Errors per event over the last interval.",
        snapshot.errors_per_event,
    );
    gauge(
        &mut out,
        "reconcile_gate_held",
        "1 while a reconciliation with the venue that timed out holds new orders back (SIGHUP releases it).",
        u8::from(board.reconcile_gate_held()),
    );
    render_alerts(&mut out, &snapshot);
    out
}

/// One gauge with its help and type lines.
fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP genesis_{name} {help}\n# TYPE genesis_{name} gauge\ngenesis_{name} {value}"
    );
}

/// Every counter, pre-trade rejects by reason, and ring depths.
fn render_counters(out: &mut String, board: &Board, rings: usize) {
    for counter in Counter::ALL {
        let name = format!("genesis_{}_total", counter.name());
        let _ = writeln!(
            out,
            "# HELP {name} {}\n# TYPE {name} counter\n{name} {}",
            counter.help(),
            board.get(*counter)
        );
    }
    let _ = writeln!(out, "# HELP genesis_rejects_total Pre-trade rejections by reason.\n# TYPE genesis_rejects_total counter");
    for reason in RejectReason::ALL
        .iter()
        .filter(|r| **r != RejectReason::None)
    {
        let _ = writeln!(
            out,
            "genesis_rejects_total{{reason=\"{}\"}} {}",
            reason.name(),
            board.rejects(*reason)
        );
    }
    let _ = writeln!(out, "# HELP genesis_ring_depth Events waiting in each ring between pipelined threads.\n# TYPE genesis_ring_depth gauge");
    for ring in 0..rings.min(RINGS_MAX) {
        let _ = writeln!(
            out,
            "genesis_ring_depth{{ring=\"{ring}\"}} {}",
            board.ring_depth(ring)
        );
    }
}

/// The reporter's last interval, per stage and quantile, in seconds.
fn render_stage_latency(out: &mut String, snapshot: &Snapshot) {
    let _ = writeln!(
        out,
        "# HELP genesis_stage_latency_seconds Stage latency over the last reporting interval (kind since_recv: from receive to stage exit; processing: in the stage).\n# TYPE genesis_stage_latency_seconds summary"
    );
    for (stage, since_recv, processing) in &snapshot.stages {
        for (kind, p) in [("since_recv", since_recv), ("processing", processing)] {
            for (quantile, value_ns) in quantiles(p) {
                let seconds = value_ns as f64 / 1e9;
                let _ = writeln!(out, "genesis_stage_latency_seconds{{stage=\"{stage}\",kind=\"{kind}\",quantile=\"{quantile}\"}} {seconds}");
            }
        }
    }
}

/// The engine's own tick-to-trade over the reporter's last interval, its
/// total and three parts, per quantile, in seconds; with the order count.
/// Absent without a venue session that measures it.
fn render_tick_to_trade(out: &mut String, snapshot: &Snapshot) {
    let Some(split) = &snapshot.tick_to_trade else {
        return;
    };
    let _ = writeln!(
        out,
        "# HELP genesis_tick_to_trade_seconds The engine's tick-to-trade over the last reporting interval: from the kernel's receive stamp of the market data to the order's bytes handed to the kernel (part total), split in recv_read, read_decide and decide_send; decide_return ends when the session's write returned.\n# TYPE genesis_tick_to_trade_seconds summary"
    );
    for (part, p) in PART_NAMES.iter().zip(split.parts()) {
        for (quantile, value_ns) in quantiles(p) {
            let seconds = value_ns as f64 / 1e9;
            let _ = writeln!(
                out,
                "genesis_tick_to_trade_seconds{{part=\"{part}\",quantile=\"{quantile}\"}} {seconds}"
            );
        }
        let _ = writeln!(
            out,
            "genesis_tick_to_trade_seconds_count{{part=\"{part}\"}} {}",
            p.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP genesis_tick_to_trade_send_stamp What ends decide_send and the total: the kernel's TX software stamp (tx_software) or the session's write returning (send_return).\n# TYPE genesis_tick_to_trade_send_stamp gauge\ngenesis_tick_to_trade_send_stamp{{source=\"{}\"}} 1",
        split.send_stamp.name()
    );
}

/// The quantiles a summary shows, by label.
fn quantiles(p: &Percentiles) -> [(&'static str, u64); 6] {
    [
        ("0.5", p.p50),
        ("0.9", p.p90),
        ("0.99", p.p99),
        ("0.999", p.p99_9),
        ("0.9999", p.p99_99),
        ("1", p.max),
    ]
}

/// The alerts raised now (1 = warn, 2 = critical).
fn render_alerts(out: &mut String, snapshot: &Snapshot) {
    let _ = writeln!(
        out,
        "# HELP genesis_alert Raised alerts (1 = warn, 2 = critical).\n# TYPE genesis_alert gauge"
    );
    for (name, level) in &snapshot.alerts {
        let value = if *level == "critical" { 2 } else { 1 };
        let _ = writeln!(out, "genesis_alert{{alert=\"{name}\"}} {value}");
    }
}

/// Binds `address` and serves until `stop` is set; returns the bound address.
/// See `metrics_server` for how connections are served.
pub fn serve(
    address: &str,
    board: Arc<Board>,
    rings: usize,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(SocketAddr, EndpointThread)> {
    super::metrics_server::serve(address, board, rings, stop, Vec::new())
}

/// [`serve`], with the endpoint's thread kept off `cores` (the pipeline's
/// pinned cores) when other CPUs remain.
pub fn serve_off(
    address: &str,
    board: Arc<Board>,
    rings: usize,
    stop: Arc<AtomicBool>,
    cores: Vec<usize>,
) -> std::io::Result<(SocketAddr, EndpointThread)> {
    super::metrics_server::serve(address, board, rings, stop, cores)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every line of the exposition is a comment or `name{labels} value` with a numeric value.
    #[test]
    fn exposition_is_well_formed() {
        let board = Board::new();
        board.set(Counter::Events, 42);
        let text = render(&board, 1);
        assert!(text.contains("genesis_events_total 42"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    // The engine's tick-to-trade is a summary per part, with its count,
    // only once a venue session measures it.
    #[test]
    fn tick_to_trade_is_a_summary_per_part() {
        let board = Board::new();
        assert!(!render(&board, 1).contains("tick_to_trade"));
        let p = Percentiles {
            count: 3,
            p50: 1_500,
            max: 9_000,
            ..Percentiles::default()
        };
        board.snapshot.lock().unwrap().tick_to_trade =
            Some(crate::telemetry::tick_to_trade::T2tSplit {
                total: p,
                recv_read: p,
                read_decide: p,
                decide_send: p,
                decide_return: p,
                send_stamp: crate::telemetry::tick_to_trade::SendStamp::SendReturn,
                waits: Default::default(),
            });
        let text = render(&board, 1);
        assert!(text.contains("# TYPE genesis_tick_to_trade_seconds summary\n"));
        assert!(text.contains(
            "genesis_tick_to_trade_seconds{part=\"total\",quantile=\"0.5\"} 0.0000015\n"
        ));
        assert!(text.contains("genesis_tick_to_trade_seconds_count{part=\"decide_send\"} 3\n"));
        assert!(text.contains("genesis_tick_to_trade_seconds_count{part=\"decide_return\"} 3\n"));
        assert!(text.contains("genesis_tick_to_trade_send_stamp{source=\"send_return\"} 1\n"));
    }

    // Gauges of something beside the engine are rendered by name, with help and type lines.
    #[test]
    fn gauges_beside_the_engine_are_rendered() {
        struct Follower;
        impl crate::telemetry::Gauges for Follower {
            fn visit(&self, gauge: &mut dyn FnMut(&'static str, &'static str, f64)) {
                gauge("follower_lag_events", "Events not yet followed.", 7.0);
                gauge("follower_lag_seconds", "Age of the oldest.", 0.25);
            }
        }
        let board = Board::new();
        assert!(!render(&board, 1).contains("follower_lag"));
        let _ = board.gauges.set(std::sync::Arc::new(Follower));
        let text = render(&board, 1);
        assert!(text.contains(
            "# HELP genesis_follower_lag_events Events not yet followed.\n# TYPE genesis_follower_lag_events gauge\ngenesis_follower_lag_events 7\n"
        ));
        assert!(
            text.contains("genesis_follower_lag_seconds 0.25\n"),
            "{text}"
        );
    }
}
