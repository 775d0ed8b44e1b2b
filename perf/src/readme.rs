//! The README's performance table, rendered from a bench report's JSON (the
//! committed baseline, `perf/baseline/report.json`), so the README never
//! holds a hand-copied figure. Each row says whether it is a ratio (two
//! figures measured in the same run, which travels between machines) or
//! an absolute figure (true of the baseline's machine and its load only).
//!
//! `cargo run -p genesis-perf --bin readme-table` rewrites the table
//! between [`BEGIN`] and [`END`]; `tests/readme_table.rs` fails when the
//! README and the baseline disagree. A figure the report lacks is left out.
//! The full 10-minute soak (`perf/baseline/soak/soak.json`) gets its own
//! growth row beside the quick run's short soak.

use crate::latency::human_ns;
use crate::loopback::ENGINE_T2T_GOAL_NS;
use crate::memory::RATE_HELD_SHARE;
use crate::report::{
    CROSSBEAM, FUSED, FUSED_WRITE_THREAD, GOAL_FUSED_OVER_CROSSBEAM, GOAL_FUSED_OVER_TOKIO,
    GOAL_GROWTH_MIB, GOAL_HOP_OVER_PING_PONG, GOAL_PIPELINED_P99_OVER_FUSED, GOAL_RSS_MIB,
    GOAL_TOKIO_P99_OVER_GENESIS, PIPELINED, PIPELINED_UNPINNED, TOKIO, TWO_THREAD,
};
use serde_json::Value;
use std::fmt::Write as _;

/// The line before the generated table.
pub const BEGIN: &str = "<!-- perf-table:begin: generated from perf/baseline/report.json by `cargo run -p genesis-perf --bin readme-table`; do not edit by hand -->";
/// The line after it.
pub const END: &str = "<!-- perf-table:end -->";

const RATIO: &str = "ratio (same run)";
const ABSOLUTE: &str = "absolute (baseline machine)";

/// One row: what, which kind of figure, the value, the goal and its verdict.
struct Row {
    figure: String,
    kind: &'static str,
    measured: String,
    goal: String,
}

/// A goal's text with its verdict.
fn goal(text: String, met: bool) -> String {
    format!("{text}: {}", if met { "met" } else { "**not met**" })
}

fn rate(events_per_sec: f64) -> String {
    if events_per_sec >= 1e6 {
        format!("{:.2} M", events_per_sec / 1e6)
    } else if events_per_sec >= 1e3 {
        format!("{:.1} k", events_per_sec / 1e3)
    } else {
        format!("{events_per_sec:.0}")
    }
}

fn variant<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|v| v["name"] == name)
}

fn ns(value: &Value) -> Option<u64> {
    value.as_u64()
}

/// The rows the report's figures give, in the README's order.
fn rows(report: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    throughput_rows(report, &mut rows);
    latency_rows(report, &mut rows);
    socket_rows(report, &mut rows);
    resource_rows(report, &mut rows);
    rows
}

fn throughput_rows(report: &Value, rows: &mut Vec<Row>) {
    let throughput = &report["throughput"];
    let per_sec = |name| variant(throughput, name).and_then(|v| v["events_per_sec"].as_f64());
    if let Some(fused) = per_sec(FUSED) {
        rows.push(Row {
            figure: "Genesis fused, all five stages, unpaced (in-process load generator)".into(),
            kind: ABSOLUTE,
            measured: format!("{} events/s", rate(fused)),
            goal: "—".into(),
        });
        for (name, goal_multiple) in [
            (CROSSBEAM, GOAL_FUSED_OVER_CROSSBEAM),
            (TOKIO, GOAL_FUSED_OVER_TOKIO),
        ] {
            if let Some(other) = per_sec(name) {
                let ratio = fused / other;
                rows.push(Row {
                    figure: format!("throughput, fused ÷ {name} (same stages, unpaced)"),
                    kind: RATIO,
                    measured: format!("{ratio:.2}×"),
                    goal: goal(format!("≥ {goal_multiple}×"), ratio >= goal_multiple),
                });
            }
        }
    }
    fused_write_thread_rows(report, rows);
    two_thread_rows(report, rows);
}

/// The fused plan with the journal's write thread, when the report has it:
/// its rate, and its ratios to the baselines judged against the fused
/// goals, each saying it is the fused plan plus a second thread and giving
/// the default fused row's ratio beside its own.
fn fused_write_thread_rows(report: &Value, rows: &mut Vec<Row>) {
    let throughput = &report["throughput"];
    let per_sec = |name| variant(throughput, name).and_then(|v| v["events_per_sec"].as_f64());
    let Some(write_thread) = per_sec(FUSED_WRITE_THREAD) else {
        return;
    };
    rows.push(Row {
        figure: "Genesis fused plus the journal's write thread (a second thread, `journal-write`, makes the journal's `pwrite`s), all five stages, unpaced".into(),
        kind: ABSOLUTE,
        measured: format!("{} events/s", rate(write_thread)),
        goal: "—".into(),
    });
    for (name, goal_multiple) in [
        (CROSSBEAM, GOAL_FUSED_OVER_CROSSBEAM),
        (TOKIO, GOAL_FUSED_OVER_TOKIO),
    ] {
        let Some(other) = per_sec(name) else {
            continue;
        };
        let ratio = write_thread / other;
        let beside = per_sec(FUSED).map_or(String::new(), |fused| {
            format!(
                "; the default fused row (one thread): {:.2}×",
                fused / other
            )
        });
        rows.push(Row {
            figure: format!(
                "throughput, fused plus the journal's write thread ÷ {name} (the fused plan with `[journal] write_thread = true`: 2 threads; same stages, unpaced)"
            ),
            kind: RATIO,
            measured: format!("{ratio:.2}×"),
            goal: format!(
                "{}{beside}",
                goal(format!("≥ {goal_multiple}×"), ratio >= goal_multiple)
            ),
        });
    }
}

/// The 2-thread plan (decisions fused on one core, the journal on the
/// other) beside the same baselines: its own rows, never the goal's.
fn two_thread_rows(report: &Value, rows: &mut Vec<Row>) {
    let throughput = &report["throughput"];
    let per_sec = |name| variant(throughput, name).and_then(|v| v["events_per_sec"].as_f64());
    let Some(two) = per_sec(TWO_THREAD) else {
        return;
    };
    for name in [CROSSBEAM, TOKIO] {
        if let Some(other) = per_sec(name) {
            rows.push(Row {
                figure: format!(
                    "throughput, {TWO_THREAD} ÷ {name} (2 threads: decisions fused on core 0, journal on core 1; unpaced)"
                ),
                kind: RATIO,
                measured: format!("{:.2}×", two / other),
                goal: "— (a 2-thread plan; the goal is the fused row's)".into(),
            });
        }
    }
}

/// " (pinned)" or " (unpinned)" as the row's plan says; empty when it does not.
fn placement(at_rate: &Value, name: &str) -> &'static str {
    let plan = variant(at_rate, name).and_then(|v| v["plan"].as_str());
    match plan {
        Some(plan) if plan.contains("unpinned") => " (unpinned)",
        Some(plan) if plan.contains("pinned") => " (pinned)",
        _ => "",
    }
}

fn latency_rows(report: &Value, rows: &mut Vec<Row>) {
    let at_rate = &report["at_offered_rate"];
    let offered = rate(report["offered_per_sec"].as_f64().unwrap_or(0.0));
    let p99 = |name| variant(at_rate, name).and_then(|v| ns(&v["end_to_end"]["p99_ns"]));
    let fused_p99 = p99(FUSED).map(|p| p.max(1) as f64);
    if let (Some(fused), Some(tokio)) = (fused_p99, p99(TOKIO)) {
        let ratio = tokio as f64 / fused;
        rows.push(Row {
            figure: format!("p99 at {offered} events/s, tokio ÷ Genesis fused"),
            kind: RATIO,
            measured: format!("{ratio:.1}×"),
            goal: goal(
                format!("≥ {GOAL_TOKIO_P99_OVER_GENESIS}×"),
                ratio >= GOAL_TOKIO_P99_OVER_GENESIS,
            ),
        });
    }
    if let (Some(fused), Some(pipelined)) = (fused_p99, p99(PIPELINED)) {
        let ratio = pipelined as f64 / fused;
        rows.push(Row {
            figure: format!(
                "p99 at {offered} events/s, Genesis pipelined{} ÷ fused",
                placement(at_rate, PIPELINED)
            ),
            kind: RATIO,
            measured: format!("{ratio:.1}×"),
            goal: goal(
                format!("≤ {GOAL_PIPELINED_P99_OVER_FUSED}×"),
                ratio <= GOAL_PIPELINED_P99_OVER_FUSED,
            ),
        });
    }
    if let (Some(fused), Some(unpinned)) = (fused_p99, p99(PIPELINED_UNPINNED)) {
        rows.push(Row {
            figure: format!("p99 at {offered} events/s, Genesis pipelined unpinned ÷ fused"),
            kind: RATIO,
            measured: format!("{:.1}×", unpinned as f64 / fused),
            goal: "— (unpinned; the goal is the pinned row's)".into(),
        });
    }
    if let Some(hop) = report["ratios"]["stage_hop_over_ping_pong"]["value"].as_f64() {
        rows.push(Row {
            figure: "pipelined stage hop p50 ÷ cache-line round trip p50".into(),
            kind: RATIO,
            measured: format!("{hop:.1}×"),
            goal: goal(
                format!("≤ {GOAL_HOP_OVER_PING_PONG}×"),
                hop <= GOAL_HOP_OVER_PING_PONG,
            ),
        });
    }
    if let Some(fused) = variant(at_rate, FUSED) {
        let e = &fused["end_to_end"];
        if let (Some(p50), Some(p99)) = (ns(&e["p50_ns"]), ns(&e["p99_ns"])) {
            rows.push(Row {
                figure: format!(
                    "fused end to end p50 / p99 at {offered} events/s (scheduled → journal exit)"
                ),
                kind: ABSOLUTE,
                measured: format!("{} / {}", human_ns(p50), human_ns(p99)),
                goal: "—".into(),
            });
        }
    }
    let floor = &report["floor"];
    let ping = ns(&floor["cache_line_ping_pong"]["timed"]["p50_ns"]);
    let tcp = ns(&floor["loopback_tcp_64b"]["timed"]["p50_ns"]);
    if let (Some(ping), Some(tcp)) = (ping, tcp) {
        rows.push(Row {
            figure: "floor: cache-line round trip / loopback TCP round trip, p50".into(),
            kind: ABSOLUTE,
            measured: format!("{} / {}", human_ns(ping), human_ns(tcp)),
            goal: "—".into(),
        });
    }
}

/// The loopback rows: venue tick-to-trade over the round trip of the same row.
fn socket_rows(report: &Value, rows: &mut Vec<Row>) {
    let Some(loopback) = report["loopback"].as_array() else {
        return;
    };
    for row in loopback {
        engine_t2t_rows(row, rows);
    }
    for row in loopback {
        let feed = row["feed"].as_str().unwrap_or("?");
        let offered = rate(row["rate_offered"].as_f64().unwrap_or(0.0));
        let t2t = &row["tick_to_trade_ns"];
        let rtt = ns(&row["tcp_rtt_ns"]["p50"]);
        if let (Some(p50), Some(p99)) = (ns(&t2t["p50"]), ns(&t2t["p99"])) {
            rows.push(Row {
                figure: format!(
                    "venue tick-to-trade p50 / p99, {feed} at {offered}/s over loopback sockets"
                ),
                kind: ABSOLUTE,
                measured: format!("{} / {}", human_ns(p50), human_ns(p99)),
                goal: "—".into(),
            });
            if let Some(rtt) = rtt.filter(|r| *r > 0) {
                rows.push(Row {
                    figure: format!(
                        "venue tick-to-trade p50 ÷ loopback TCP round trip p50, {feed}"
                    ),
                    kind: RATIO,
                    measured: format!("{:.1}×", p50 as f64 / rtt as f64),
                    goal: "—".into(),
                });
            }
        }
    }
}

/// The engine's own tick-to-trade of one loopback row (kernel receive stamp
/// → order bytes handed to the kernel), and its ratio to that row's TCP round trip.
fn engine_t2t_rows(row: &Value, rows: &mut Vec<Row>) {
    let feed = row["feed"].as_str().unwrap_or("?");
    let offered = rate(row["rate_offered"].as_f64().unwrap_or(0.0));
    let total = &row["engine_tick_to_trade_ns"]["total"];
    let (Some(p50), Some(p99)) = (ns(&total["p50"]), ns(&total["p99"])) else {
        return;
    };
    if total["count"].as_u64() == Some(0) {
        return;
    }
    let (goal_p50, goal_p99) = ENGINE_T2T_GOAL_NS;
    rows.push(Row {
        figure: format!(
            "engine tick-to-trade p50 / p99 (kernel receive → order written), {feed} at {offered}/s over loopback sockets"
        ),
        kind: ABSOLUTE,
        measured: format!("{} / {}", human_ns(p50), human_ns(p99)),
        goal: goal(
            // Goals are whole microseconds; say them as the issue does.
            format!("≤ {} µs / {} µs", goal_p50 / 1_000, goal_p99 / 1_000),
            p50 <= goal_p50 && p99 <= goal_p99,
        ),
    });
    if let Some(rtt) = ns(&row["tcp_rtt_ns"]["p50"]).filter(|r| *r > 0) {
        rows.push(Row {
            figure: format!(
                "engine tick-to-trade p50 / p99 ÷ loopback TCP round trip p50, {feed} (same row)"
            ),
            kind: RATIO,
            measured: format!(
                "{:.2}× / {:.1}×",
                p50 as f64 / rtt as f64,
                p99 as f64 / rtt as f64
            ),
            goal: "—".into(),
        });
    }
}

fn resource_rows(report: &Value, rows: &mut Vec<Row>) {
    let soak = &report["soak"];
    if let Some(steady) = soak["rss_steady"]["total_mib"].as_f64() {
        rows.push(Row {
            figure: "RSS at steady state on the defaults".into(),
            kind: ABSOLUTE,
            measured: format!("{steady:.1} MiB"),
            goal: goal(format!("< {GOAL_RSS_MIB:.0} MiB"), steady < GOAL_RSS_MIB),
        });
    }
    soak_growth_row(soak, "", rows);
    soak_growth_row(
        &report[LONG_SOAK],
        " (`bench soak`, perf/baseline/soak)",
        rows,
    );
    if let Some(per_event) = report["allocations"]["allocations_per_event"].as_f64() {
        rows.push(Row {
            figure: "heap allocations per event after warm-up (count)".into(),
            kind: ABSOLUTE,
            measured: format!("{per_event}"),
            goal: goal("0".into(), per_event == 0.0),
        });
    }
}

/// The growth row of one soak (`soak` is `Null` when the report lacks it).
fn soak_growth_row(soak: &Value, source: &str, rows: &mut Vec<Row>) {
    let (Some(growth), Some(seconds)) = (
        soak["growth_total_mib"].as_f64(),
        soak["elapsed_s"].as_f64(),
    ) else {
        return;
    };
    let warm_up = soak["warm_up_s"].as_f64().unwrap_or(0.0);
    // Reports from before the share was recorded count as having kept it.
    let kept = soak["rate_kept"].as_f64().unwrap_or(1.0);
    let target = format!("< {GOAL_GROWTH_MIB:.0} MiB over 10 minutes");
    rows.push(Row {
        figure: format!(
            "RSS growth after warm-up, {:.0} s soak at {}/s{source}",
            seconds - warm_up,
            rate(soak["rate_per_sec"].as_f64().unwrap_or(0.0))
        ),
        kind: ABSOLUTE,
        measured: format!("{growth:+.2} MiB"),
        goal: if kept < RATE_HELD_SHARE {
            format!(
                "{target}: not judged (the engine kept {:.0} % of the rate)",
                kept * 100.0
            )
        } else {
            goal(target, growth < GOAL_GROWTH_MIB && seconds >= 600.0)
        },
    });
}

/// Where the report holds the full soak's JSON (`bench soak`'s `soak.json`),
/// when [`with_long_soak`] found one.
pub const LONG_SOAK: &str = "long_soak";

/// Adds the full soak committed beside the baseline (`soak_json`, written by
/// `bench soak`) to `report`, so the table shows its growth beside the quick
/// run's. A missing file adds nothing; an unreadable one is an error naming it.
pub fn with_long_soak(report: &mut Value, soak_json: &std::path::Path) -> Result<(), String> {
    let text = match std::fs::read_to_string(soak_json) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", soak_json.display())),
    };
    let soak: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", soak_json.display()))?;
    report[LONG_SOAK] = soak;
    Ok(())
}

/// The generated block: a line naming the baseline's machine and run, then
/// the table, between [`BEGIN`] and [`END`].
pub fn table(report: &Value) -> String {
    let mut out = String::new();
    let machine = &report["machine"];
    let pressure = machine["cpu_pressure_pct_start"]
        .as_f64()
        .map_or("n/a".to_string(), |p| format!("{p:.0} %"));
    let _ = writeln!(out, "{BEGIN}");
    let _ = writeln!(
        out,
        "Baseline: {}, {} CPUs, Linux {}; {} mode, Genesis {}; CPU pressure (PSI some avg60) {pressure} at start.\n",
        machine["cpu_model"].as_str().unwrap_or("unknown CPU"),
        machine["cores_online"],
        machine["kernel"].as_str().unwrap_or("?"),
        report["mode"].as_str().unwrap_or("?"),
        if report["genesis_pinned"] == true { "pinned" } else { "unpinned" },
    );
    let _ = writeln!(out, "| figure | kind | measured | goal |");
    let _ = writeln!(out, "|---|---|---:|---|");
    for row in rows(report) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            row.figure, row.kind, row.measured, row.goal
        );
    }
    let _ = writeln!(out, "{END}");
    out
}

/// `readme` with the block between [`BEGIN`] and [`END`] (both lines
/// included) replaced by `block`.
pub fn splice(readme: &str, block: &str) -> Result<String, String> {
    let start = readme
        .find(BEGIN)
        .ok_or("the README has no perf-table begin marker")?;
    let end_at = readme[start..]
        .find(END)
        .ok_or("the README has no perf-table end marker after its begin marker")?;
    let mut end = start + end_at + END.len();
    if readme[end..].starts_with('\n') {
        end += 1;
    }
    Ok(format!("{}{block}{}", &readme[..start], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "machine": {"cpu_model": "Test CPU", "cores_online": 2, "kernel": "6.1", "cpu_pressure_pct_start": 1.0},
            "mode": "quick",
            "genesis_pinned": false,
            "offered_per_sec": 100000,
            "throughput": [
                {"name": FUSED, "events_per_sec": 4.0e6},
                {"name": CROSSBEAM, "events_per_sec": 1.0e6},
                {"name": TOKIO, "events_per_sec": 2.0e6},
            ],
            "at_offered_rate": [
                {"name": FUSED, "end_to_end": {"p50_ns": 400, "p99_ns": 10000}},
                {"name": PIPELINED, "end_to_end": {"p50_ns": 900, "p99_ns": 50000}},
            ],
        })
    }

    // Throughput against crossbeam is a ratio and meets the goal; against tokio (2×) it misses.
    #[test]
    fn rows_say_ratio_or_absolute_and_judge_goals() {
        let text = table(&report());
        assert!(text.contains("| throughput, fused ÷ crossbeam thread-per-stage (same stages, unpaced) | ratio (same run) | 4.00× | ≥ 2×: met |"), "{text}");
        assert!(text.contains("| throughput, fused ÷ tokio tasks (same stages, unpaced) | ratio (same run) | 2.00× | ≥ 3×: **not met** |"), "{text}");
        assert!(text.contains("| Genesis fused, all five stages, unpaced (in-process load generator) | absolute (baseline machine) | 4.00 M events/s | — |"), "{text}");
        assert!(
            text.contains(
                "Genesis pipelined ÷ fused | ratio (same run) | 5.0× | ≤ 3×: **not met** |"
            ),
            "{text}"
        );
        assert!(text.contains("Test CPU"));
    }

    // The goal row names its placement from its plan, and the unpinned row
    // beside it is a ratio judged against no goal.
    #[test]
    fn pipelined_goal_row_says_pinned_and_the_unpinned_row_is_not_the_goal() {
        let mut report = report();
        report["at_offered_rate"][1]["plan"] =
            json!("pipelined, 2 thread(s): core 0: ingest+risk; core 1: strategy, pinned");
        report["at_offered_rate"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": PIPELINED_UNPINNED, "plan": "pipelined, unpinned", "end_to_end": {"p50_ns": 900, "p99_ns": 200000}}));
        let text = table(&report);
        assert!(text.contains("| p99 at 100.0 k events/s, Genesis pipelined (pinned) ÷ fused | ratio (same run) | 5.0× | ≤ 3×: **not met** |"), "{text}");
        assert!(text.contains("| p99 at 100.0 k events/s, Genesis pipelined unpinned ÷ fused | ratio (same run) | 20.0× | — (unpinned; the goal is the pinned row's) |"), "{text}");
    }

    // The engine's own tick-to-trade row is absolute with its goal, and its
    // ratio to the TCP round trip of the same row is a ratio.
    #[test]
    fn engine_tick_to_trade_rows() {
        let mut report = report();
        report["loopback"] = json!([{
            "feed": "itch-sim",
            "rate_offered": 100000,
            "engine_tick_to_trade_ns": {"total": {"count": 10, "p50": 1500, "p99": 30000}},
            "tcp_rtt_ns": {"p50": 15000},
            "tick_to_trade_ns": {"p50": 40000, "p99": 90000},
        }]);
        let text = table(&report);
        assert!(text.contains("| engine tick-to-trade p50 / p99 (kernel receive → order written), itch-sim at 100.0 k/s over loopback sockets | absolute (baseline machine) | 1500 ns / 30.0 µs | ≤ 2 µs / 15 µs: **not met** |"), "{text}");
        assert!(text.contains("| engine tick-to-trade p50 / p99 ÷ loopback TCP round trip p50, itch-sim (same row) | ratio (same run) | 0.10× / 2.0× | — |"), "{text}");
        let engine_at = text.find("engine tick-to-trade p50 / p99 (").unwrap();
        let venue_at = text.find("venue tick-to-trade p50 / p99,").unwrap();
        assert!(engine_at < venue_at, "the engine's own row comes first");
    }

    // The 2-thread row, when the report has it, gets its own ratios,
    // labelled as a 2-thread plan and judged against no goal; without it
    // the table has no such row.
    #[test]
    fn two_thread_row_is_its_own() {
        assert!(!table(&report()).contains(TWO_THREAD));
        let mut report = report();
        report["throughput"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": TWO_THREAD, "events_per_sec": 5.0e6}));
        let text = table(&report);
        assert!(text.contains(&format!("| throughput, {TWO_THREAD} ÷ crossbeam thread-per-stage (2 threads: decisions fused on core 0, journal on core 1; unpaced) | ratio (same run) | 5.00× | — (a 2-thread plan; the goal is the fused row's) |")), "{text}");
        assert!(
            text.contains(&format!(
                "| throughput, {TWO_THREAD} ÷ tokio tasks (2 threads"
            )),
            "{text}"
        );
        assert!(text.contains("| throughput, fused ÷ crossbeam thread-per-stage (same stages, unpaced) | ratio (same run) | 4.00× | ≥ 2×: met |"), "the fused row stays the goal row: {text}");
    }

    // A report without the fused row with the journal's write thread has no
    // such rows; one with it gets its rate and its ratios, each judged
    // against the fused goal, saying it is the fused plan plus a second
    // thread, with the default fused row's ratio beside it, and the default
    // fused row's own rows unchanged.
    #[test]
    fn fused_write_thread_row_says_what_it_is_beside_the_default() {
        let without = table(&report());
        assert!(!without.contains("write thread"), "{without}");
        let mut report = report();
        report["throughput"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": FUSED_WRITE_THREAD, "events_per_sec": 5.0e6}));
        let text = table(&report);
        assert!(text.contains("| Genesis fused plus the journal's write thread (a second thread, `journal-write`, makes the journal's `pwrite`s), all five stages, unpaced | absolute (baseline machine) | 5.00 M events/s | — |"), "{text}");
        assert!(text.contains("| throughput, fused plus the journal's write thread ÷ crossbeam thread-per-stage (the fused plan with `[journal] write_thread = true`: 2 threads; same stages, unpaced) | ratio (same run) | 5.00× | ≥ 2×: met; the default fused row (one thread): 4.00× |"), "{text}");
        assert!(text.contains("| throughput, fused plus the journal's write thread ÷ tokio tasks (the fused plan with `[journal] write_thread = true`: 2 threads; same stages, unpaced) | ratio (same run) | 2.50× | ≥ 3×: **not met**; the default fused row (one thread): 2.00× |"), "{text}");
        for line in without.lines().filter(|l| l.contains("fused")) {
            assert!(
                text.contains(line),
                "the default fused row's `{line}` stays: {text}"
            );
        }
    }

    // The full soak, when given, gets its own growth row, judged against the
    // 10-minute goal; the quick soak's short run cannot meet it.
    #[test]
    fn long_soak_has_its_own_row() {
        let mut report = report();
        report["soak"] = json!({"growth_total_mib": 0.5, "elapsed_s": 15.0, "warm_up_s": 5.0, "rate_per_sec": 100000});
        report[LONG_SOAK] = json!({"growth_total_mib": 0.82, "elapsed_s": 600.0, "warm_up_s": 60.0, "rate_per_sec": 100000});
        let text = table(&report);
        assert!(text.contains("| RSS growth after warm-up, 10 s soak at 100.0 k/s | absolute (baseline machine) | +0.50 MiB | < 1 MiB over 10 minutes: **not met** |"), "{text}");
        assert!(text.contains("| RSS growth after warm-up, 540 s soak at 100.0 k/s (`bench soak`, perf/baseline/soak) | absolute (baseline machine) | +0.82 MiB | < 1 MiB over 10 minutes: met |"), "{text}");
    }

    // A soak whose engine fell behind its rate is still warming up when the
    // warm-up ends: its growth is shown but neither met nor failed.
    #[test]
    fn a_soak_that_fell_behind_its_rate_is_not_judged() {
        let mut report = report();
        report[LONG_SOAK] = json!({"growth_total_mib": 4.4, "elapsed_s": 600.0, "warm_up_s": 60.0, "rate_per_sec": 100000, "rate_kept": 0.207});
        let text = table(&report);
        assert!(text.contains("| +4.40 MiB | < 1 MiB over 10 minutes: not judged (the engine kept 21 % of the rate) |"), "{text}");
        report[LONG_SOAK]["rate_kept"] = json!(0.95);
        let text = table(&report);
        assert!(
            text.contains("| +4.40 MiB | < 1 MiB over 10 minutes: **not met** |"),
            "{text}"
        );
    }

    // Splicing replaces only the marked block, and splicing twice changes nothing more.
    #[test]
    fn splice_replaces_the_block_only() {
        let readme = format!("intro\n{BEGIN}\nold\n{END}\noutro\n");
        let block = format!("{BEGIN}\nnew\n{END}\n");
        let once = splice(&readme, &block).unwrap();
        assert_eq!(once, format!("intro\n{BEGIN}\nnew\n{END}\noutro\n"));
        assert_eq!(splice(&once, &block).unwrap(), once);
    }

    // A README without markers is an error naming what is missing.
    #[test]
    fn splice_needs_markers() {
        assert!(splice("no markers", "x")
            .unwrap_err()
            .contains("begin marker"));
        assert!(splice(&format!("{BEGIN}\n"), "x")
            .unwrap_err()
            .contains("end marker"));
    }
}
