//! Rewrites the README's performance table from the committed baseline
//! (see `genesis_perf::readme`), or with `--check` fails if it is stale.
//!
//! `cargo run -p genesis-perf --bin readme-table [-- --check]`

use anyhow::{Context, Result};
use clap::Parser;
use genesis_perf::readme::{splice, table, with_long_soak};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Render the README's performance table from a bench report")]
struct Args {
    /// The report the table comes from.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/baseline/report.json"))]
    report: PathBuf,
    /// The full soak's JSON (`bench soak --out perf/baseline/soak`), shown beside
    /// the report's quick soak when it exists.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/baseline/soak/soak.json"))]
    soak: PathBuf,
    /// The README to update.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))]
    readme: PathBuf,
    /// Change nothing; exit 1 if the README's table differs from the report's.
    #[arg(long)]
    check: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let report_text = std::fs::read_to_string(&args.report)
        .with_context(|| format!("reading {}", args.report.display()))?;
    let mut report: serde_json::Value = serde_json::from_str(&report_text)
        .with_context(|| format!("parsing {}", args.report.display()))?;
    with_long_soak(&mut report, &args.soak).map_err(anyhow::Error::msg)?;
    let readme = std::fs::read_to_string(&args.readme)
        .with_context(|| format!("reading {}", args.readme.display()))?;
    let updated = splice(&readme, &table(&report))
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}", args.readme.display()))?;
    if args.check {
        if updated != readme {
            eprintln!(
                "{}: the performance table differs from {}; run `cargo run -p genesis-perf --bin readme-table`",
                args.readme.display(),
                args.report.display()
            );
            std::process::exit(1);
        }
        return Ok(());
    }
    if updated != readme {
        std::fs::write(&args.readme, updated)
            .with_context(|| format!("writing {}", args.readme.display()))?;
        println!("updated {}", args.readme.display());
    }
    Ok(())
}
