//! `histo-dump`: turns the engine's HdrHistogram interval logs (see
//! `genesis_histlog`) into latency reports: a per-tag percentile
//! table, the classic `.hgrm` distribution, an SVG chart, a comparison of
//! two runs, or JSON.
//!
//! Runs on the operator's thread; nothing here is on a hot path. Damage in
//! a log never stops the report: it is listed on stderr and turns the exit
//! code into [`EXIT_DAMAGE`].

mod args;
mod hgrm;
mod load;
mod plot;
mod report;
mod table;

use std::io::Write;

use anyhow::{bail, Context as _};

pub use args::{Args, Unit};
pub use hgrm::write_hgrm;
pub use load::{load, LoadedLog, Selection, TagHistogram};
pub use plot::write_plot;
pub use report::{Comparison, LogReport};
pub use table::{quantile_values, write_table, SummaryRow, QUANTILES};

/// Every log read whole and the report printed.
pub const EXIT_OK: u8 = 0;
/// A log could not be read, --tag named no tag, or an output failed.
pub const EXIT_FATAL: u8 = 1;
/// Damage found; the report covers what was read. (2 is clap's usage error.)
pub const EXIT_DAMAGE: u8 = 3;

/// Runs histo-dump: the report to `out`, damage and notes to `err`.
/// Returns the exit code; an `Err` means [`EXIT_FATAL`].
pub fn run(args: &Args, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<u8> {
    let selection = selection(args)?;
    let log = load(&args.log, &selection)?;
    let other = match &args.compare {
        Some(path) => Some(load(path, &selection)?),
        None => None,
    };
    let mut damage_count = 0;
    for loaded in std::iter::once(&log).chain(other.as_ref()) {
        damage_count += loaded.damage.len();
        report_damage(err, loaded)?;
        if loaded.tags.is_empty() && loaded.damage.is_empty() && selection.is_everything() {
            bail!(
                "{}: no interval histogram in it (an empty log?): nothing to report",
                loaded.path.display()
            );
        }
    }
    if let Some(plot_path) = &args.plot {
        let tags = plot_tags(&log, other.as_ref(), args.tag.is_some());
        let title = format!("Latency by percentile: {}", file_name(&log));
        write_plot(plot_path, &tags, args.unit, &title, !args.linear_y)?;
    }
    match &other {
        Some(other) => write_comparison(args, out, &log, other)?,
        None => write_report(args, out, &log)?,
    }
    out.flush().context("writing the report")?;
    Ok(if damage_count == 0 {
        EXIT_OK
    } else {
        EXIT_DAMAGE
    })
}

fn selection(args: &Args) -> anyhow::Result<Selection> {
    for (name, bound) in [("--from", args.from), ("--to", args.to)] {
        if bound.is_some_and(|seconds| !seconds.is_finite()) {
            bail!("{name} must be a number of seconds");
        }
    }
    if let (Some(from_s), Some(to_s)) = (args.from, args.to) {
        if from_s > to_s {
            bail!("--from {from_s} is after --to {to_s}");
        }
    }
    Ok(Selection {
        tag: args.tag.clone(),
        from_s: args.from,
        to_s: args.to,
    })
}

fn report_damage(err: &mut dyn Write, log: &LoadedLog) -> anyhow::Result<()> {
    for damage in &log.damage {
        writeln!(err, "histo-dump: {}: {damage}", log.path.display())?;
    }
    if log.tags.is_empty() {
        writeln!(
            err,
            "histo-dump: {}: no intervals selected",
            log.path.display()
        )?;
    }
    Ok(())
}

fn write_report(args: &Args, out: &mut dyn Write, log: &LoadedLog) -> anyhow::Result<()> {
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &LogReport::of(log))?;
        writeln!(out)?;
    } else if args.hgrm {
        for tag in &log.tags {
            if log.tags.len() > 1 {
                writeln!(out, "#[Tag: {}]", tag.name())?;
            }
            write_hgrm(out, &tag.histogram, args.unit)?;
        }
    } else {
        write_table(out, &log.tags, args.unit)?;
    }
    Ok(())
}

fn write_comparison(
    args: &Args,
    out: &mut dyn Write,
    log: &LoadedLog,
    other: &LoadedLog,
) -> anyhow::Result<()> {
    let comparison = Comparison::of(log, other);
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &comparison)?;
        writeln!(out)?;
    } else {
        comparison.write_text(out, args.unit)?;
    }
    Ok(())
}

/// Whether a tag is drawn by default: a stage's total (receive to stage
/// exit) or tick-to-trade, not a stage's own processing time.
fn plotted_by_default(tag: &TagHistogram) -> bool {
    !tag.name().ends_with(".processing")
}

/// LOG's tags, then OTHER's renamed `tag (file)`, for one chart: every
/// selected tag with --tag, else the default ones (all, if none is).
fn plot_tags(log: &LoadedLog, other: Option<&LoadedLog>, tag_asked: bool) -> Vec<TagHistogram> {
    let chosen = |loaded: &LoadedLog| -> Vec<TagHistogram> {
        let default: Vec<TagHistogram> = loaded
            .tags
            .iter()
            .filter(|tag| tag_asked || plotted_by_default(tag))
            .cloned()
            .collect();
        if default.is_empty() {
            loaded.tags.clone()
        } else {
            default
        }
    };
    let Some(other) = other else {
        return chosen(log);
    };
    let mut tags = Vec::new();
    for (loaded, source) in [(log, file_name(log)), (other, file_name(other))] {
        for tag in &chosen(loaded) {
            let mut renamed = tag.clone();
            renamed.tag = Some(format!("{} ({source})", tag.name()));
            tags.push(renamed);
        }
    }
    tags
}

fn file_name(log: &LoadedLog) -> String {
    log.path.file_name().map_or_else(
        || log.path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}
