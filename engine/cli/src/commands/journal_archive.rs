//! `genesis journal archive DIR`: compress closed segments by age and move
//! old ones out, never past what the configured drain has loaded.
//!
//! Runs on the caller's thread. Invariant: with a database configured (the
//! `--database-url`, the config's `[postgres] url`, or `$DATABASE_URL`), a
//! segment holding any sequence the drain has not committed stays plain,
//! where the drain reads it; if the database cannot be asked, nothing is
//! compressed (the command fails). Without a database nothing bounds it.

use anyhow::{Context, Result};
use genesis_drain::{DbUrl, JOURNAL_STREAM_DEFAULT};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How old segments must be, where archived ones go, and the drain that bounds it.
pub struct ArchiveOptions {
    pub compress_after_days: u64,
    pub archive_after_days: u64,
    pub archive_dir: PathBuf,
    /// The drain's database, if one is configured (its password resolved).
    pub database: Option<DbUrl>,
}

/// The first sequence a drain of `url` has not loaded from the journal stream
/// (1 when it has loaded nothing, or has no schema yet).
pub fn drain_bound(url: &DbUrl) -> Result<u64> {
    let mut client = url.connect(Duration::from_secs(10))?;
    let has_schema: bool = client
        .query_one("SELECT to_regclass('drain_watermark') IS NOT NULL", &[])
        .map_err(|e| db_error(url, "look for the drain watermark", &e))?
        .get(0);
    if !has_schema {
        return Ok(1);
    }
    let marks = genesis_drain::watermark::read_all(&mut client)
        .map_err(|e| db_error(url, "read the drain watermark", &e))?;
    Ok(marks
        .get(JOURNAL_STREAM_DEFAULT)
        .map_or(1, |mark| mark.seq_last.saturating_add(1)))
}

/// A database error about `what`, scrubbed of any password.
fn db_error(url: &DbUrl, what: &str, error: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("database {url}: {what}: {}", url.scrub(&error.to_string()))
}

/// Compresses and moves out closed segments by age; the active one is never
/// touched, and neither is a segment the drain still has to load.
pub fn archive(dir: &Path, options: &ArchiveOptions, out: &mut dyn Write) -> Result<()> {
    const DAY_S: u64 = 86_400;
    let days = |count: u64| Duration::from_secs(count.saturating_mul(DAY_S));
    let policy = genesis_journal::ArchivePolicy {
        compress_after: days(options.compress_after_days),
        archive_after: days(options.archive_after_days.max(options.compress_after_days)),
        archive_dir: options.archive_dir.clone(),
    };
    let seq_compress_limit = match &options.database {
        Some(url) => {
            let bound = drain_bound(url).with_context(|| {
                format!("asking the drain at {url} how far it loaded (nothing was compressed)")
            })?;
            writeln!(
                out,
                "drain at {url} has loaded through sequence {}: later segments stay plain",
                bound - 1
            )?;
            bound
        }
        None => {
            writeln!(
                out,
                "no database configured: no drain bounds what is compressed"
            )?;
            u64::MAX
        }
    };
    #[allow(clippy::disallowed_methods)] // segment ages are wall-clock file ages
    let now = std::time::SystemTime::now();
    let report = genesis_journal::archive_bounded(dir, &policy, seq_compress_limit, now)?;
    for path in &report.compressed {
        writeln!(out, "compressed {}", path.display())?;
    }
    for path in &report.archived {
        writeln!(out, "archived {}", path.display())?;
    }
    for held in &report.held_back {
        writeln!(out, "held back {}: {}", held.path.display(), held.reason)?;
    }
    if let Some(active) = &report.active_segment {
        writeln!(out, "active segment left alone: {}", active.display())?;
    }
    writeln!(
        out,
        "archive: {} compressed, {} moved to {}, {} held back; {} bytes became {}",
        report.compressed.len(),
        report.archived.len(),
        options.archive_dir.display(),
        report.held_back.len(),
        report.bytes_before_compression,
        report.bytes_after_compression
    )?;
    Ok(())
}
