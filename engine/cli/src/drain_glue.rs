//! The PostgreSQL drain around an engine run: started once the journal is
//! open, following it (up to the durable sequence) on its own thread, its
//! lag shown on the metrics endpoint, stopped when the run ends, and its
//! final figures one line of the report.
//!
//! A database is configured by `[postgres] url` or $DATABASE_URL; without
//! one the run says so once and goes on without a drain. A URL without a
//! password takes one from `postgres.password_file`, `$PGPASSWORD` or `.pgpass`.

use genesis_drain::{
    DbUrl, DrainOptions, DrainSnapshot, FolderMode, InstrumentRow, JournalFeed, LiveDrain,
    JOURNAL_STREAM_DEFAULT,
};
use genesis_engine::config::Config;
use genesis_engine::run::ReportNote;
use genesis_engine::telemetry::Gauges;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// The drain of a run, once started.
#[derive(Default)]
pub struct DrainHooks {
    drain: Option<LiveDrain>,
}

impl DrainHooks {
    /// Starts the drain following the journal in `journal_dir`, if a
    /// database is configured; its stats become the endpoint's gauges.
    pub fn on_journal_open(
        &mut self,
        config: &Config,
        journal_dir: &Path,
        seq_durable: &Arc<AtomicU64>,
    ) -> Result<Option<Arc<dyn Gauges>>, String> {
        let Some(url) = config.postgres.effective_url() else {
            tracing::info!(
                "no database configured ([postgres] url or DATABASE_URL): running without a drain"
            );
            return Ok(None);
        };
        let key = config.postgres.url_key();
        let password_file = &config.postgres.password_file;
        let url = DbUrl::parse(&url)
            .and_then(|url| url.with_password_from(Some(password_file)))
            .map_err(|err| format!("drain: `{key}`: {err}"))?;
        tracing::info!(database = %url.redacted(), "draining the journal into PostgreSQL");
        let feed = JournalFeed::new(journal_dir, JOURNAL_STREAM_DEFAULT, FolderMode::Follow)
            .with_seq_written(Arc::clone(seq_durable));
        let options = DrainOptions {
            chunk_events: config.postgres.chunk_events,
            instruments: InstrumentRow::from_config(config),
            ..DrainOptions::default()
        };
        let drain = LiveDrain::spawn(url, Box::new(feed), options)
            .map_err(|err| format!("cannot start the drain thread: {err}"))?;
        let stats: Arc<dyn Gauges> = drain.stats();
        self.drain = Some(drain);
        Ok(Some(stats))
    }

    /// Stops the drain (waiting up to 5 s for its last chunk); the report's line about it.
    pub fn finish(&mut self) -> ReportNote {
        let snapshot = self.drain.take().map(|drain| {
            drain
                .stop(Duration::from_secs(5))
                .unwrap_or_else(|err| DrainSnapshot {
                    last_error: Some(err.to_string()),
                    ..Default::default()
                })
        });
        note_of(snapshot.as_ref())
    }
}

/// The report's line and JSON field about the drain.
fn note_of(snapshot: Option<&DrainSnapshot>) -> ReportNote {
    let line = match snapshot {
        Some(drain) => format!(
            "drain: {} events loaded into PostgreSQL, lag {} events / {:.2} s at the end, {} connection failures{}",
            drain.events_loaded,
            drain.lag_events,
            drain.lag_seconds,
            drain.connection_failures,
            drain
                .last_error
                .as_ref()
                .map(|e| format!(", last error: {e}"))
                .unwrap_or_default()
        ),
        None => "drain: none (no database configured)".to_string(),
    };
    ReportNote {
        line,
        key: "drain",
        json: serde_json::to_value(snapshot).unwrap_or_default(),
    }
}
