//! `genesis backtest TAPE… --config FILE [--summary-json OUT] [--journal DIR]`
//! and `genesis tape convert TAPE… --config FILE --out FILE`: the operator
//! ends of [`crate::backtest`] and of the binary tape
//! (`genesis_io::tape::records::binary`).
//!
//! A tape that cannot be read stops the backtest with the reader's error
//! (file and line or byte offset): everything before it was processed and
//! journaled, the report is printed, and the command fails.

use crate::backtest::{run_backtest, BacktestOptions, BacktestReport};
use anyhow::{Context, Result};
use genesis_engine::adapters::tape_source::record_options;
use genesis_engine::config::Config;
use genesis_io::tape::records::binary::BinaryTapeWriter;
use genesis_io::tape::records::TapeRecords;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Runs the backtest, prints its report to `out`, writes the summary JSON
/// if asked; fails on a tape error or an engine error, after the report.
pub fn backtest(
    config: &Config,
    options: &BacktestOptions,
    summary_json: Option<&Path>,
    out: &mut dyn Write,
) -> Result<BacktestReport> {
    let report = run_backtest(config, options)?;
    write!(out, "{}", report.render())?;
    if let Some(path) = summary_json {
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(error) = &report.tape_error {
        return Err(TapeFailure(error.clone()).into());
    }
    if let Some(error) = &report.run.error {
        anyhow::bail!("the backtest stopped on an error: {error}");
    }
    Ok(report)
}

/// A tape that could not be read: the reader's message (file, line or
/// byte offset, what). The binary exits 1 on it, 2 on other errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeFailure(pub String);

impl std::fmt::Display for TapeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tape error: {}", self.0)
    }
}

impl std::error::Error for TapeFailure {}

/// What `genesis tape convert` wrote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Converted {
    pub records: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
}

/// Reads `tapes` (any format) for `config`'s instruments and writes their
/// records as one binary tape at `out_path`.
#[allow(clippy::disallowed_methods)] // wall time of the conversion, for the report
pub fn convert(config: &Config, tapes: &[PathBuf], out_path: &Path) -> Result<Converted> {
    let started = std::time::Instant::now();
    let options = record_options(config);
    let tape_failure = |e: genesis_io::tape::TapeError| TapeFailure(e.to_string());
    let mut records = TapeRecords::open(tapes, &options).map_err(tape_failure)?;
    let mut writer = BinaryTapeWriter::create(out_path, &options.instruments)
        .with_context(|| format!("creating {}", out_path.display()))?;
    while let Some(record) = records.next_record().map_err(tape_failure)? {
        writer
            .write(&record)
            .with_context(|| format!("writing {}", out_path.display()))?;
    }
    let written = writer.records_written();
    writer
        .finish()
        .with_context(|| format!("writing {}", out_path.display()))?;
    Ok(Converted {
        records: written,
        bytes: std::fs::metadata(out_path).map_or(0, |m| m.len()),
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}
