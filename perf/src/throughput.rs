//! `bench throughput`: only the unpaced rows asked for, alternating, each
//! with the per-thread CPU of its run (`thread_cpu`), and the CPU pressure
//! before and after. On a shared machine a ratio from rows run side by
//! side, repeated in turns, is the figure to trust; a full `bench` run
//! spends most of its minute on rows a throughput question does not need.
//!
//! Runs on the harness thread, one row at a time (never more than the row's
//! own threads busy).

use crate::genesis::{self, Plan};
use crate::machine::cpu_pressure_pct;
use crate::outcome::Outcome;
use crate::report::{CROSSBEAM, FUSED, FUSED_WRITE_THREAD, MPSC, PIPELINED, TOKIO, TWO_THREAD};
use crate::setup::{PLAN_FUSED, PLAN_JOURNAL_APART, PLAN_TWO_CORES};
use crate::thread_cpu::{RowThreads, Sampler};
use crate::threaded::{self, Crossbeam, StdMpsc};
use crate::tokio_pipeline;

/// The crossbeam pipeline with ingest handing over by `try_send` and a
/// yield while the first channel is full: not a report row (the report's
/// baselines block); it shows what that hand-over would change.
pub const CROSSBEAM_YIELD: &str = "crossbeam thread-per-stage, try_send and yield hand-over";
/// The fused plan with the snapshot thread off: not a report row; beside
/// `fused` it shows what the snapshot follower's replay on the other core
/// costs the fused thread.
pub const FUSED_NO_SNAPSHOT: &str = "genesis fused, snapshot thread off";
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The rows by their short names, as `--rows` takes them.
pub const ROWS: [(&str, &str); 9] = [
    ("fused", FUSED),
    ("fused-write-thread", FUSED_WRITE_THREAD),
    ("fused-no-snapshot", FUSED_NO_SNAPSHOT),
    ("two-thread", TWO_THREAD),
    ("pipelined", PIPELINED),
    ("crossbeam", CROSSBEAM),
    ("crossbeam-yield", CROSSBEAM_YIELD),
    ("mpsc", MPSC),
    ("tokio", TOKIO),
];

/// A row's full name from its short one.
pub fn row_name(short: &str) -> Result<&'static str> {
    match ROWS.iter().find(|(s, _)| *s == short) {
        Some((_, name)) => Ok(name),
        None => bail!(
            "unknown row `{short}`; rows: {}",
            ROWS.map(|(s, _)| s).join(", ")
        ),
    }
}

/// Runs the row `name` unpaced for `seconds`, its journal in `dir`.
pub fn run_row(name: &'static str, dir: &Path, seconds: f64, pin: bool) -> Result<Outcome> {
    let plan = |cores| Plan { cores, pin };
    match name {
        FUSED => genesis::run(FUSED, dir, plan(PLAN_FUSED), 0, seconds),
        FUSED_NO_SNAPSHOT => {
            let mut config = crate::setup::bench_config(dir, PLAN_FUSED, pin);
            config.snapshot.enabled = false;
            genesis::run_config(FUSED_NO_SNAPSHOT, &config, 0, seconds)
        }
        FUSED_WRITE_THREAD => genesis::run_config(
            FUSED_WRITE_THREAD,
            &fused_write_thread_config(dir, pin),
            0,
            seconds,
        ),
        TWO_THREAD => genesis::run_config(TWO_THREAD, &two_thread_config(dir, pin), 0, seconds),
        PIPELINED => genesis::run(PIPELINED, dir, plan(PLAN_TWO_CORES), 0, seconds),
        CROSSBEAM => threaded::run::<Crossbeam>(CROSSBEAM, dir, 0, seconds),
        CROSSBEAM_YIELD => threaded::run_with::<Crossbeam>(CROSSBEAM_YIELD, dir, 0, seconds, false),
        MPSC => threaded::run::<StdMpsc>(MPSC, dir, 0, seconds),
        TOKIO => tokio_pipeline::run(TOKIO, dir, 0, seconds),
        other => bail!("no such row `{other}`"),
    }
}

/// The 2-thread plan: the deciding stages fused on core 0, spinning; the
/// journal on core 1, sleeping `topology.sleep_us` whenever its ring is
/// empty. A journal thread that spun on the ring would read the ring's
/// cursor as soon as the head thread published each event, so every
/// hand-over would move that cache line between the cores; asleep, it
/// lets a batch gather (at 4 M events/s, 50 µs is ~200 events, far below
/// the ring's 8,192) and takes it in one go, and leaves core 1 to the
/// venue and the snapshot thread between batches.
pub fn two_thread_config(dir: &Path, pin: bool) -> genesis_engine::config::Config {
    let mut config = crate::setup::bench_config(dir, PLAN_JOURNAL_APART, pin);
    config
        .topology
        .waits
        .insert("1".into(), genesis_engine::config::WaitKind::Sleep);
    config
}

/// The fused plan as the `fused` row runs it (same stages, same config),
/// plus the journal's write thread: the journal's `pwrite` into the page
/// cache, most of the fused thread's kernel time (20–25 % of its CPU in
/// the quiet baseline's turns) when it makes it itself, moves to a
/// `journal-write` thread that the four buffers are handed to (docs/journal-format.md, "A write thread"). The crossbeam
/// baseline's journal stage has a thread of its own and so never pays
/// that copy on its other stages' threads; this row shows what the fused
/// plan gains when it does not either.
pub fn fused_write_thread_config(dir: &Path, pin: bool) -> genesis_engine::config::Config {
    let mut config = crate::setup::bench_config(dir, PLAN_FUSED, pin);
    config.journal.write_thread = true;
    config
}

/// One run of one row: its outcome and its threads' CPU.
pub struct Measured {
    pub turn: usize,
    pub outcome: Outcome,
    pub threads: RowThreads,
}

/// Every row `repeats` times in turns (row order within a turn as given).
pub fn alternate(
    root: &Path,
    rows: &[&'static str],
    repeats: usize,
    seconds: f64,
    pin: bool,
) -> Result<Vec<Measured>> {
    let mut measured = Vec::new();
    for turn in 0..repeats {
        for &name in rows {
            eprintln!("[bench] throughput turn {}: {name}", turn + 1);
            let dir = root.join(format!("{}-{turn}", name.replace(' ', "-")));
            std::fs::create_dir_all(&dir)?;
            // The window skips the row's start-up and ends before its stop.
            let sampler = Sampler::start(
                Duration::from_secs_f64(seconds * 0.25),
                Duration::from_secs_f64(seconds * 0.5),
            )?;
            let outcome = run_row(name, &dir, seconds, pin);
            let threads = sampler.finish(name);
            let _ = std::fs::remove_dir_all(&dir);
            let outcome = outcome.with_context(|| format!("row `{name}`, turn {}", turn + 1))?;
            measured.push(Measured {
                turn,
                outcome,
                threads,
            });
        }
    }
    Ok(measured)
}

fn per_sec(measured: &[Measured], turn: usize, name: &str) -> Option<f64> {
    measured
        .iter()
        .find(|m| m.turn == turn && m.outcome.name == name)
        .map(|m| m.outcome.events_per_sec())
}

/// Genesis rows ÷ baseline rows, per turn (pairs measured in the same
/// turn), and the fused row with the journal's write thread ÷ the fused row.
pub fn ratios(measured: &[Measured], repeats: usize) -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    let mut pair = |genesis: &str, baseline: &str| {
        let values: Vec<f64> = (0..repeats)
            .filter_map(|t| Some(per_sec(measured, t, genesis)? / per_sec(measured, t, baseline)?))
            .collect();
        if !values.is_empty() {
            out.push((format!("{genesis} ÷ {baseline}"), values));
        }
    };
    for genesis in [
        FUSED,
        FUSED_WRITE_THREAD,
        FUSED_NO_SNAPSHOT,
        TWO_THREAD,
        PIPELINED,
    ] {
        for baseline in [CROSSBEAM, CROSSBEAM_YIELD, MPSC, TOKIO] {
            pair(genesis, baseline);
        }
    }
    pair(FUSED_WRITE_THREAD, FUSED);
    out
}

/// The median of `values` (the lower middle one for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[(sorted.len() - 1) / 2]
}

/// The markdown summary: pressure, rows per turn, ratios, threads.
pub fn render(
    measured: &[Measured],
    repeats: usize,
    pressure: (Option<f64>, Option<f64>),
    command: &str,
) -> String {
    let mut out = String::new();
    let pct = |p: Option<f64>| p.map_or("n/a".into(), |p| format!("{p:.1} %"));
    let _ = writeln!(out, "# Throughput, unpaced rows in turns\n");
    let _ = writeln!(
        out,
        "`{command}`; CPU pressure (PSI some avg60) {} before, {} after.\n",
        pct(pressure.0),
        pct(pressure.1)
    );
    let _ = writeln!(out, "| turn | row | plan | events/s |\n|---:|---|---|---:|");
    for m in measured {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} M |",
            m.turn + 1,
            m.outcome.name,
            m.outcome.plan,
            m.outcome.events_per_sec() / 1e6
        );
    }
    let _ = writeln!(
        out,
        "\n| ratio (same turn) | per turn | median |\n|---|---|---:|"
    );
    for (what, values) in ratios(measured, repeats) {
        let each: Vec<String> = values.iter().map(|v| format!("{v:.2}×")).collect();
        let _ = writeln!(
            out,
            "| {what} | {} | {:.2}× |",
            each.join(", "),
            median(&values)
        );
    }
    threads_section(&mut out, measured);
    out
}

/// Per row and turn: each thread's CPU per event in the sampled window.
fn threads_section(out: &mut String, measured: &[Measured]) {
    let _ = writeln!(
        out,
        "\n## Threads (sampled over the middle half of each run)\n\n\
         CPU ns/event = the thread's time on a CPU in the window ÷ the row's events in that window \
         (at the row's average rate); run-queue = time runnable but waiting for a core.\n"
    );
    let _ = writeln!(
        out,
        "| turn | row | thread | CPU ns/event | CPU % of window | run-queue % | system share | voluntary / involuntary switches per 1k events |\n|---:|---|---|---:|---:|---:|---:|---:|"
    );
    for m in measured {
        let events = m.outcome.events_per_sec() * m.threads.window_s;
        let window_ns = m.threads.window_s * 1e9;
        for t in &m.threads.threads {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.0} % | {:.0} % | {:.0} % | {:.2} / {:.2} |",
                m.turn + 1,
                m.outcome.name,
                t.name,
                t.run_ns as f64 / events.max(1.0),
                100.0 * t.run_ns as f64 / window_ns,
                100.0 * t.runqueue_ns as f64 / window_ns,
                100.0 * t.system_share(),
                1e3 * t.voluntary_switches as f64 / events.max(1.0),
                1e3 * t.involuntary_switches as f64 / events.max(1.0),
            );
        }
    }
}

/// The same as JSON.
pub fn to_json(
    measured: &[Measured],
    repeats: usize,
    pressure: (Option<f64>, Option<f64>),
) -> Value {
    json!({
        "cpu_pressure_pct_before": pressure.0,
        "cpu_pressure_pct_after": pressure.1,
        "runs": measured.iter().map(|m| json!({
            "turn": m.turn + 1,
            "outcome": m.outcome.to_json(),
            "threads": m.threads.to_json(),
        })).collect::<Vec<_>>(),
        "ratios": ratios(measured, repeats).into_iter().map(|(what, values)| json!({
            "what": what, "per_turn": values, "median": median(&values),
        })).collect::<Vec<_>>(),
    })
}

/// `bench throughput`: runs, prints and writes `throughput.md` / `.json` to `out`.
pub fn main(rows: &[String], repeats: usize, seconds: f64, pin: bool, out: &Path) -> Result<()> {
    let names = rows
        .iter()
        .map(|r| row_name(r))
        .collect::<Result<Vec<_>>>()?;
    let scratch = tempfile::tempdir()?;
    let before = cpu_pressure_pct();
    let measured = alternate(scratch.path(), &names, repeats.max(1), seconds, pin)?;
    let pressure = (before, cpu_pressure_pct());
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let text = render(&measured, repeats.max(1), pressure, &command);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("throughput.md"), &text)?;
    std::fs::write(
        out.join("throughput.json"),
        serde_json::to_string_pretty(&to_json(&measured, repeats.max(1), pressure))? + "\n",
    )?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::Summary;

    fn measured(turn: usize, name: &'static str, events: u64) -> Measured {
        Measured {
            turn,
            outcome: Outcome {
                name,
                plan: String::new(),
                wait: String::new(),
                offered_per_sec: 0,
                events,
                seconds: 1.0,
                end_to_end: Summary::default(),
                stages: Vec::new(),
            },
            threads: RowThreads::default(),
        }
    }

    // The row is asked for by its short name, and its ratios come per turn,
    // against each baseline run and against the default fused row.
    #[test]
    fn the_fused_write_thread_row_has_its_ratios() {
        assert_eq!(row_name("fused-write-thread").unwrap(), FUSED_WRITE_THREAD);
        let runs = [
            measured(0, FUSED, 3_000),
            measured(0, FUSED_WRITE_THREAD, 4_500),
            measured(0, CROSSBEAM, 1_500),
            measured(1, FUSED, 4_000),
            measured(1, FUSED_WRITE_THREAD, 5_000),
            measured(1, CROSSBEAM, 2_000),
        ];
        let ratios = ratios(&runs, 2);
        let of = |what: &str| {
            ratios
                .iter()
                .find(|(w, _)| w == what)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            of(&format!("{FUSED_WRITE_THREAD} ÷ {CROSSBEAM}")),
            Some(vec![3.0, 2.5])
        );
        assert_eq!(
            of(&format!("{FUSED_WRITE_THREAD} ÷ {FUSED}")),
            Some(vec![1.5, 1.25])
        );
        assert_eq!(of(&format!("{FUSED} ÷ {CROSSBEAM}")), Some(vec![2.0, 2.0]));
        assert_eq!(of(&format!("{FUSED_WRITE_THREAD} ÷ {TOKIO}")), None);
    }
}
