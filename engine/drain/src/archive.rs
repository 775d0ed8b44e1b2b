//! `archive`: detach, export and drop the `events` partitions of days older
//! than N days (`genesis db archive --older-than DAYS`).
//!
//! Runs on the caller's thread with its own connection. Each day is one
//! transaction: detach the partition, `COPY … TO STDOUT (FORMAT binary)` it
//! into `<out_dir>/events_pYYYYMMDD.pgcopy` (written to a temporary name,
//! synced, renamed), drop it, record it in `archived_partitions`. If any step
//! fails the partition stays attached. Invariant: a day is archived only
//! when fully drained: every stream in `drain_watermark` is either finished
//! or has loaded an event stamped at or after the day's end. Restore with
//! `CREATE TABLE t (LIKE events); COPY t FROM '<file>' (FORMAT binary)`.
//! `orders`, `fills` and `positions` are not partitioned and stay.

use crate::error::DrainError;
use crate::partitions::{self, date_text, partition_name, NS_PER_DAY};
use crate::rows::timestamp;
use crate::url::DbUrl;
use genesis_engine::clock::EpochClock;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default age, in days, past which partitions are archived.
pub const OLDER_THAN_DAYS_DEFAULT: u32 = 30;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    pub archived: Vec<ArchivedDay>,
    /// Days old enough but not fully drained: left in place.
    pub kept_not_drained: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchivedDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub partition: String,
    pub rows: u64,
    pub file: PathBuf,
}

/// Archives every partition whose day ended more than `older_than_days` days ago.
pub fn archive(
    url: &DbUrl,
    older_than_days: u32,
    out_dir: &Path,
) -> Result<ArchiveReport, DrainError> {
    archive_at(url, older_than_days, out_dir, EpochClock::new().now_ns())
}

/// `archive` as if the time were `now_ns` (nanoseconds since the epoch).
pub fn archive_at(
    url: &DbUrl,
    older_than_days: u32,
    out_dir: &Path,
    now_ns: u64,
) -> Result<ArchiveReport, DrainError> {
    let mut client = url.connect(Duration::from_secs(10))?;
    let days =
        partitions::attached_days(&mut client).map_err(|e| url.db_error("list partitions", &e))?;
    let cutoff_ns = now_ns.saturating_sub(u64::from(older_than_days) * NS_PER_DAY);
    std::fs::create_dir_all(out_dir).map_err(|source| DrainError::ArchiveIo {
        path: out_dir.to_path_buf(),
        op: "create folder",
        source,
    })?;
    let mut report = ArchiveReport::default();
    for day in days {
        let day_end_ns = (day + 1).saturating_mul(NS_PER_DAY as i64);
        if day_end_ns < 0 || day_end_ns as u64 > cutoff_ns {
            continue;
        }
        match archive_day(url, &mut client, day, out_dir)? {
            Some(archived) => report.archived.push(archived),
            None => report.kept_not_drained.push(date_text(day)),
        }
    }
    Ok(report)
}

/// Archives one day in one transaction; `None` if it is not fully drained.
fn archive_day(
    url: &DbUrl,
    client: &mut postgres::Client,
    day: i64,
    out_dir: &Path,
) -> Result<Option<ArchivedDay>, DrainError> {
    let db = |what| move |e: postgres::Error| url.db_error(what, &e);
    let name = partition_name(day);
    let day_end = timestamp(((day + 1) as u64).saturating_mul(NS_PER_DAY));
    let mut tx = client.transaction().map_err(db("begin archive"))?;
    // Block drains from advancing watermarks while this day is judged and moved.
    tx.batch_execute("LOCK TABLE drain_watermark IN SHARE MODE")
        .map_err(db("lock the watermarks"))?;
    let undrained: i64 = tx
        .query_one(
            "SELECT count(*) FROM drain_watermark WHERE NOT finished AND ts_last < $1",
            &[&day_end],
        )
        .map_err(db("check the day is drained"))?
        .get(0);
    if undrained > 0 {
        return Ok(None);
    }
    tx.batch_execute(&format!("ALTER TABLE events DETACH PARTITION {name}"))
        .map_err(db("detach partition"))?;
    let file = out_dir.join(format!("{name}.pgcopy"));
    let rows = export(&mut tx, &name, &file, url)?;
    tx.batch_execute(&format!("DROP TABLE {name}"))
        .map_err(db("drop partition"))?;
    tx.execute(
        "INSERT INTO archived_partitions (day, partition, rows, file) VALUES ($1::text::date, $2, $3, $4)
         ON CONFLICT (day) DO UPDATE SET rows = archived_partitions.rows + EXCLUDED.rows,
             file = EXCLUDED.file, archived_at = now()",
        &[&date_text(day), &name, &(rows as i64), &file.display().to_string()],
    )
    .map_err(db("record the archive"))?;
    tx.commit().map_err(db("commit archive"))?;
    Ok(Some(ArchivedDay {
        day: date_text(day),
        partition: name,
        rows,
        file,
    }))
}

/// Copies a table to `file` in PostgreSQL's binary COPY format; returns its rows.
fn export(
    tx: &mut postgres::Transaction<'_>,
    table: &str,
    file: &Path,
    url: &DbUrl,
) -> Result<u64, DrainError> {
    let partial = file.with_extension("pgcopy.partial");
    let io = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| DrainError::ArchiveIo { path, op, source }
    };
    let rows: i64 = tx
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .map_err(|e| url.db_error("count partition rows", &e))?
        .get(0);
    let mut out = std::fs::File::create(&partial).map_err(io("create", &partial))?;
    let mut reader = tx
        .copy_out(&format!("COPY {table} TO STDOUT (FORMAT binary)"))
        .map_err(|e| url.db_error("export partition", &e))?;
    std::io::copy(&mut reader, &mut out).map_err(io("write", &partial))?;
    drop(reader);
    out.flush().map_err(io("write", &partial))?;
    out.sync_all().map_err(io("sync", &partial))?;
    std::fs::rename(&partial, file).map_err(io("rename", file))?;
    Ok(rows as u64)
}
