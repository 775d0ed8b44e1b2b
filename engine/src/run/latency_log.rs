//! The run's HdrHistogram interval log: `<metrics.latency_log_dir>/run-<secs>-<pid>.hlog`,
//! written by the reporter thread through `genesis_histlog`. Tags: each
//! stage's `<stage>` and `<stage>.processing`; with a venue session that
//! measures it, the engine's tick-to-trade `engine-t2t` and its parts
//! (`telemetry::tick_to_trade::TAGS`); after the run, a venue's own
//! `tick-to-trade`.

use super::EngineError;
use crate::config::Config;
use crate::telemetry::reporter::IntervalSink;
use std::path::PathBuf;

/// A run's latency interval log, and where it is.
pub(super) type LatencyLog = (Option<Box<dyn IntervalSink>>, Option<PathBuf>);

/// The interval log of this run, if configured; a name already taken gets
/// a `-<n>` suffix.
pub(super) fn open(config: &Config, start_unix_ns: u64) -> Result<LatencyLog, EngineError> {
    let dir = &config.metrics.latency_log_dir;
    if dir.as_os_str().is_empty() {
        return Ok((None, None));
    }
    std::fs::create_dir_all(dir).map_err(|source| EngineError::LatencyLogDir {
        path: dir.clone(),
        source,
    })?;
    let start_s = start_unix_ns / 1_000_000_000;
    let pid = std::process::id();
    let mut path = dir.join(format!("run-{start_s}-{pid}.hlog"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("run-{start_s}-{pid}-{n}.hlog"));
        n += 1;
    }
    let comment = format!(
        "genesis run, pid {pid}; tags: <stage> (receive to stage exit), <stage>.processing, engine-t2t (kernel receive to order sent) and its parts engine-t2t.recv-read, .read-decide, .decide-send, tick-to-trade (the venue's); every event is counted once in each stage tag, but <stage>.processing (and <stage> before a thread's last stage) is measured on a 1-in-{} sample of events, the rest counted in the last measured buckets; a thread's last stage measures every event, except on the first thread while ingest's polls come back full, when it too is measured on the sample",
        crate::topology::chain::LAP_SAMPLE_EVERY
    );
    let writer = genesis_histlog::IntervalLogWriter::create(&path, start_unix_ns, Some(&comment))?;
    Ok((Some(Box::new(writer)), Some(path)))
}
