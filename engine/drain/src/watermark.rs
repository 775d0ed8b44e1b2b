//! The `drain_watermark` table: read every stream's mark, and advance one
//! inside a chunk's transaction.
//!
//! Invariant: a stream's row only moves forward, and only in the same
//! transaction as the events it covers; the row is locked (`FOR UPDATE`)
//! before the chunk is written, so two drains of one stream cannot both
//! load the same events.

use crate::feed::{StreamMark, Watermarks};
use postgres::GenericClient;

/// Every stream's mark.
pub fn read_all(client: &mut impl GenericClient) -> Result<Watermarks, postgres::Error> {
    let rows = client.query(
        "SELECT stream, seq_last, finished FROM drain_watermark",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.get::<_, String>(0),
                StreamMark {
                    seq_last: row.get::<_, i64>(1) as u64,
                    finished: row.get(2),
                },
            )
        })
        .collect())
}

/// Locks and reads one stream's mark (in the chunk's transaction).
pub fn lock(
    tx: &mut impl GenericClient,
    stream: &str,
) -> Result<Option<StreamMark>, postgres::Error> {
    let row = tx.query_opt(
        "SELECT seq_last, finished FROM drain_watermark WHERE stream = $1 FOR UPDATE",
        &[&stream],
    )?;
    Ok(row.map(|row| StreamMark {
        seq_last: row.get::<_, i64>(0) as u64,
        finished: row.get(1),
    }))
}

/// Moves a stream's mark to `seq_last` (or creates it), adding `events` to its count.
pub fn advance(
    tx: &mut impl GenericClient,
    stream: &str,
    seq_last: u64,
    ts_last_ns: u64,
    events: u64,
    finished: bool,
) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO drain_watermark (stream, seq_last, ts_last, events, finished, updated_at)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (stream) DO UPDATE SET
             seq_last = EXCLUDED.seq_last,
             ts_last = GREATEST(drain_watermark.ts_last, EXCLUDED.ts_last),
             events = drain_watermark.events + EXCLUDED.events,
             finished = EXCLUDED.finished,
             updated_at = now()",
        &[
            &stream,
            &(seq_last as i64),
            &crate::rows::timestamp(ts_last_ns),
            &(events as i64),
            &finished,
        ],
    )?;
    Ok(())
}
