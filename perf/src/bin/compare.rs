//! The regression check: compares a new harness report against a baseline
//! report by the ratios each holds (never by absolute times) and flags any
//! figure more than the tolerance worse. Exits 1 when something is flagged.
//!
//! `cargo run --release -p genesis-perf --bin compare -- perf/baseline/report.json target/perf-report/report.json`

use anyhow::{Context, Result};
use clap::Parser;
use genesis_perf::ratios::{compare, not_in_baseline};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Flag figures of a new bench report that are worse than the baseline's")]
struct Args {
    baseline: PathBuf,
    new: PathBuf,
    /// Fraction worse that is flagged.
    #[arg(long, default_value_t = 0.2)]
    tolerance: f64,
}

fn read(path: &PathBuf) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (baseline, new) = (read(&args.baseline)?, read(&args.new)?);
    if baseline["mode"] != new["mode"] {
        println!(
            "note: the baseline ran in {} mode, the new report in {} mode",
            baseline["mode"], new["mode"]
        );
    }
    for key in ["genesis_pinned", "offered_per_sec", "seconds_per_variant"] {
        if baseline[key] != new[key] {
            println!(
                "note: `{key}` differs: baseline {}, new {} — the figures are not like for like",
                baseline[key], new[key]
            );
        }
    }
    let pressure =
        |report: &serde_json::Value| report["machine"]["cpu_pressure_pct_start"].as_f64();
    if let (Some(base), Some(now)) = (pressure(&baseline), pressure(&new)) {
        println!("CPU pressure at start (PSI some avg60): baseline {base:.0} %, new {now:.0} % — above ~20 % neighbours were competing and latency ratios swing widely\n");
    }
    let findings = compare(&baseline, &new, args.tolerance).map_err(anyhow::Error::msg)?;
    println!("| figure | better | baseline | new | worse by | |");
    println!("|---|---|---:|---:|---:|---|");
    for f in &findings {
        let new_value = f.new.map_or("missing".into(), |v| format!("{v:.3}"));
        let worse = f
            .worse_by
            .map_or("-".into(), |w| format!("{:+.0} %", (w - 1.0) * 100.0));
        let flag = if f.flagged { "**REGRESSION**" } else { "ok" };
        println!(
            "| `{}` | {} | {:.3} | {new_value} | {worse} | {flag} |",
            f.key,
            f.better.name(),
            f.baseline
        );
    }
    let unchecked = not_in_baseline(&baseline, &new);
    if !unchecked.is_empty() {
        println!();
        for key in &unchecked {
            println!("no baseline for row {key}: not checked (regenerate the baseline on a quiet machine to check it)");
        }
    }
    let flagged = findings.iter().filter(|f| f.flagged).count();
    println!(
        "\n{flagged} of {} figures more than {:.0} % worse than the baseline",
        findings.len(),
        args.tolerance * 100.0
    );
    if flagged > 0 {
        std::process::exit(1);
    }
    Ok(())
}
