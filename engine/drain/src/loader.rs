//! `Loader`: one connection that loads chunks, each in one transaction:
//! lock the stream's watermark, create missing day partitions, binary `COPY`
//! the events, bring `fills`, `orders` and `positions` along, advance the
//! watermark, commit.
//!
//! Owned by the drain thread (live or offline). Invariant: a chunk is
//! committed whole or not at all, and only if it starts right after the
//! stream's committed watermark, so every event lands exactly once.

use crate::derive::{self, OrderRow, PositionRow};
use crate::error::DrainError;
use crate::feed::{Batch, Watermarks};
use crate::partitions;
use crate::rows::{self, timestamp};
use crate::schema::{self, InstrumentRow};
use crate::url::DbUrl;
use crate::watermark;
use genesis_engine::risk::Position;
use genesis_engine::units::{Qty, Side};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{Client, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Makes a test abort the COPY of one chunk part way, as a crash would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultInjection {
    /// Counted from 0 over the chunks this loader loads.
    pub chunk_index: u64,
    /// Rows written to the COPY before it is abandoned.
    pub after_rows: usize,
}

/// What a committed chunk loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkReport {
    pub events: u64,
    pub seq_last: u64,
    pub ts_last_ns: u64,
    pub partitions_created: u64,
}

pub struct Loader {
    url: DbUrl,
    client: Client,
    /// Days whose partition is committed in the database.
    partitions: BTreeSet<i64>,
    chunks_loaded: u64,
    fault: Option<FaultInjection>,
}

const FILLS_COPY: &str = "COPY fills (stream, seq, ts, order_id, exec_id, instrument, side, price, qty, duplicate, outcome) FROM STDIN BINARY";
const FILL_TYPES: [Type; 11] = [
    Type::TEXT,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::INT8,
    Type::INT8,
    Type::BOOL,
    Type::INT2,
];
const ORDER_COLUMNS: &str = "stream, order_id, instrument, side, price, qty, filled_qty, status, \
    status_before, replace_price, replace_qty, venue_order_id, reject_reason, created_at, \
    updated_at, seq_created, seq_updated";
const ORDER_TYPES: [Type; 17] = [
    Type::TEXT,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT2,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
];

impl Loader {
    /// Connects, migrates the schema if needed, registers `instruments`, and
    /// creates the partitions of today and `days_ahead` days after `today`.
    pub fn connect(
        url: &DbUrl,
        timeout: Duration,
        instruments: &[InstrumentRow],
        today: i64,
        days_ahead: u32,
    ) -> Result<Loader, DrainError> {
        let mut client = url.connect(timeout)?;
        schema::migrate_client(url, &mut client)?;
        schema::register_instruments(url, &mut client, instruments)?;
        client
            .batch_execute(
                "SET client_min_messages = warning;
                 CREATE TEMP TABLE IF NOT EXISTS orders_stage
                     (LIKE orders INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;",
            )
            .map_err(|e| url.db_error("create the order staging table", &e))?;
        let mut loader = Loader {
            url: url.clone(),
            client,
            partitions: BTreeSet::new(),
            chunks_loaded: 0,
            fault: None,
        };
        loader.refresh_partitions()?;
        loader.create_partitions_ahead(today, days_ahead)?;
        Ok(loader)
    }

    pub fn with_fault(mut self, fault: Option<FaultInjection>) -> Loader {
        self.fault = fault;
        self
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Every stream's committed mark.
    pub fn watermarks(&mut self) -> Result<Watermarks, DrainError> {
        watermark::read_all(&mut self.client).map_err(|e| self.url.db_error("read watermarks", &e))
    }

    /// Re-reads which partitions exist (after an error, or an archive).
    pub fn refresh_partitions(&mut self) -> Result<(), DrainError> {
        self.partitions = partitions::attached_days(&mut self.client)
            .map_err(|e| self.url.db_error("list partitions", &e))?;
        Ok(())
    }

    /// Creates the partitions of `today ..= today + days_ahead` that are missing.
    pub fn create_partitions_ahead(
        &mut self,
        today: i64,
        days_ahead: u32,
    ) -> Result<(), DrainError> {
        let days = today..=today + i64::from(days_ahead);
        if days.clone().all(|day| self.partitions.contains(&day)) {
            return Ok(());
        }
        let db = |e: postgres::Error| self.url.db_error("create partitions ahead", &e);
        let mut tx = self.client.transaction().map_err(db)?;
        let created = partitions::ensure(&mut tx, &self.partitions, days).map_err(db)?;
        tx.commit().map_err(db)?;
        self.partitions.extend(created);
        Ok(())
    }

    /// Loads `batch` in one transaction. Fails with `WatermarkMismatch` if
    /// the batch does not start right after the committed watermark.
    pub fn load(&mut self, batch: &Batch) -> Result<ChunkReport, DrainError> {
        check_consecutive(batch)?;
        let chunk_index = self.chunks_loaded;
        let fault = self.fault.filter(|f| f.chunk_index == chunk_index);
        let url = self.url.clone();
        let url = &url;
        let db = |what| move |e: postgres::Error| url.db_error(what, &e);
        let mut tx = self.client.transaction().map_err(db("begin chunk"))?;
        let mark = watermark::lock(&mut tx, &batch.stream).map_err(db("lock the watermark"))?;
        let seq_before = mark.map_or(0, |m| m.seq_last);
        if let Some(first) = batch.events.first() {
            if mark.is_some_and(|m| first.seq != m.seq_last + 1 || m.finished) {
                return Err(DrainError::WatermarkMismatch {
                    stream: batch.stream.clone(),
                    seq_last: seq_before,
                    seq_first: first.seq,
                });
            }
        }
        let days: BTreeSet<i64> = batch
            .events
            .iter()
            .map(|e| partitions::day_of_ns(e.ts_recv_ns))
            .collect();
        let created = partitions::ensure(&mut tx, &self.partitions, days)
            .map_err(db("create a partition"))?;
        copy_events(&mut tx, batch, fault, chunk_index, url)?;
        write_derived(&mut tx, batch, url)?;
        let last = batch.events.last();
        let report = ChunkReport {
            events: batch.events.len() as u64,
            seq_last: last.map_or(seq_before, |e| e.seq),
            ts_last_ns: last.map_or(0, |e| e.ts_recv_ns),
            partitions_created: created.len() as u64,
        };
        watermark::advance(
            &mut tx,
            &batch.stream,
            report.seq_last,
            report.ts_last_ns,
            report.events,
            batch.stream_finished,
        )
        .map_err(db("advance the watermark"))?;
        tx.commit().map_err(db("commit chunk"))?;
        self.partitions.extend(created);
        self.chunks_loaded += 1;
        Ok(report)
    }
}

fn check_consecutive(batch: &Batch) -> Result<(), DrainError> {
    for pair in batch.events.windows(2) {
        if pair[1].seq != pair[0].seq + 1 {
            return Err(DrainError::ChunkGap {
                stream: batch.stream.clone(),
                seq_before: pair[0].seq,
                seq_after: pair[1].seq,
            });
        }
    }
    Ok(())
}

fn copy_events(
    tx: &mut Transaction<'_>,
    batch: &Batch,
    fault: Option<FaultInjection>,
    chunk_index: u64,
    url: &DbUrl,
) -> Result<(), DrainError> {
    if batch.events.is_empty() {
        return Ok(());
    }
    let db = |what| move |e: postgres::Error| url.db_error(what, &e);
    let sink = tx
        .copy_in(rows::EVENTS_COPY)
        .map_err(db("start COPY events"))?;
    let mut writer = BinaryCopyInWriter::new(sink, &rows::EVENT_TYPES);
    for (index, event) in batch.events.iter().enumerate() {
        if let Some(fault) = fault.filter(|f| f.after_rows == index) {
            // Dropping the writer unfinished aborts the COPY; the caller's
            // transaction then rolls back, as after a crash mid-chunk.
            drop(writer);
            return Err(DrainError::InjectedFault {
                chunk_index,
                rows: fault.after_rows,
            });
        }
        rows::write_event(&mut writer, &batch.stream, event).map_err(db("COPY events"))?;
    }
    writer.finish().map_err(db("finish COPY events"))?;
    Ok(())
}

/// Fills, orders and positions for the chunk, from the rows as committed.
fn write_derived(tx: &mut Transaction<'_>, batch: &Batch, url: &DbUrl) -> Result<(), DrainError> {
    let (order_ids, instruments) = derive::touched(&batch.events);
    if order_ids.is_empty() && instruments.is_empty() {
        return Ok(());
    }
    let orders =
        read_orders(tx, &batch.stream, &order_ids).map_err(|e| url.db_error("read orders", &e))?;
    let positions = read_positions(tx, &batch.stream, &instruments)
        .map_err(|e| url.db_error("read positions", &e))?;
    let derived = derive::derive(&batch.events, orders, positions);
    copy_fills(tx, &batch.stream, &derived.fills).map_err(|e| url.db_error("COPY fills", &e))?;
    upsert_orders(tx, &batch.stream, derived.orders.values())
        .map_err(|e| url.db_error("update orders", &e))?;
    for row in derived.positions.values() {
        upsert_position(tx, &batch.stream, row)
            .map_err(|e| url.db_error("update positions", &e))?;
    }
    Ok(())
}

fn read_orders(
    tx: &mut Transaction<'_>,
    stream: &str,
    ids: &[i64],
) -> Result<BTreeMap<u64, OrderRow>, postgres::Error> {
    let rows = tx.query(
        &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE stream = $1 AND order_id = ANY($2)"),
        &[&stream, &ids],
    )?;
    let micros_to_ns = |time: std::time::SystemTime| {
        time.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    };
    Ok(rows
        .iter()
        .map(|row| {
            let status_text: &str = row.get(7);
            let before_text: &str = row.get(8);
            let order = OrderRow {
                order_id: row.get::<_, i64>(1) as u64,
                instrument: u16::try_from(row.get::<_, i32>(2)).unwrap_or(u16::MAX),
                side: u8::try_from(row.get::<_, i16>(3))
                    .ok()
                    .and_then(Side::from_u8)
                    .unwrap_or(Side::None),
                price: row.get(4),
                qty: row.get(5),
                filled_qty: row.get(6),
                status: derive::status_from_text(status_text).unwrap_or(derive::status::NEW),
                status_before: derive::status_from_text(before_text).unwrap_or(derive::status::NEW),
                replace_price: row.get(9),
                replace_qty: row.get(10),
                venue_order_id: row.get::<_, Option<i64>>(11).map(|v| v as u64),
                reject_reason: u8::try_from(row.get::<_, i16>(12))
                    .ok()
                    .and_then(genesis_engine::decision::RejectReason::from_u8)
                    .unwrap_or_default(),
                created_ns: micros_to_ns(row.get(13)),
                updated_ns: micros_to_ns(row.get(14)),
                seq_created: row.get::<_, i64>(15) as u64,
                seq_updated: row.get::<_, i64>(16) as u64,
            };
            (order.order_id, order)
        })
        .collect())
}

fn read_positions(
    tx: &mut Transaction<'_>,
    stream: &str,
    instruments: &[i32],
) -> Result<BTreeMap<u16, PositionRow>, postgres::Error> {
    let rows = tx.query(
        "SELECT instrument, qty, cost_tick_lots::text, realized_tick_lots::text, fills, seq_updated
         FROM positions WHERE stream = $1 AND instrument = ANY($2)",
        &[&stream, &instruments],
    )?;
    Ok(rows
        .iter()
        .map(|row| {
            let instrument = u16::try_from(row.get::<_, i32>(0)).unwrap_or(u16::MAX);
            let big = |index: usize| row.get::<_, &str>(index).parse::<i128>().unwrap_or(0);
            let position_row = PositionRow {
                instrument,
                position: Position {
                    qty: Qty(row.get(1)),
                    cost_tick_lots: big(2),
                    realized_tick_lots: big(3),
                },
                fills: row.get(4),
                updated_ns: 0,
                seq_updated: row.get::<_, i64>(5) as u64,
            };
            (instrument, position_row)
        })
        .collect())
}

fn copy_fills(
    tx: &mut Transaction<'_>,
    stream: &str,
    fills: &[derive::FillRow],
) -> Result<(), postgres::Error> {
    if fills.is_empty() {
        return Ok(());
    }
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(FILLS_COPY)?, &FILL_TYPES);
    for fill in fills {
        writer.write(&[
            &stream,
            &(fill.seq as i64),
            &timestamp(fill.ts_ns),
            &(fill.order_id as i64),
            &(fill.exec_id as i64),
            &i32::from(fill.instrument),
            &(fill.side as i16),
            &fill.price,
            &fill.qty,
            &fill.duplicate,
            &(fill.outcome as i16),
        ])?;
    }
    writer.finish()?;
    Ok(())
}

fn upsert_orders<'a>(
    tx: &mut Transaction<'_>,
    stream: &str,
    orders: impl Iterator<Item = &'a OrderRow>,
) -> Result<(), postgres::Error> {
    let mut orders = orders.peekable();
    if orders.peek().is_none() {
        return Ok(());
    }
    let copy = format!("COPY orders_stage ({ORDER_COLUMNS}) FROM STDIN BINARY");
    let mut writer = BinaryCopyInWriter::new(tx.copy_in(&copy)?, &ORDER_TYPES);
    for order in orders {
        writer.write(&[
            &stream,
            &(order.order_id as i64),
            &i32::from(order.instrument),
            &(order.side as i16),
            &order.price,
            &order.qty,
            &order.filled_qty,
            &order.status,
            &order.status_before,
            &order.replace_price,
            &order.replace_qty,
            &order.venue_order_id.map(|v| v as i64),
            &(order.reject_reason as i16),
            &timestamp(order.created_ns),
            &timestamp(order.updated_ns),
            &(order.seq_created as i64),
            &(order.seq_updated as i64),
        ])?;
    }
    writer.finish()?;
    tx.batch_execute(&format!(
        "INSERT INTO orders ({ORDER_COLUMNS}) SELECT {ORDER_COLUMNS} FROM orders_stage
         ON CONFLICT (stream, order_id) DO UPDATE SET
             price = EXCLUDED.price, qty = EXCLUDED.qty, filled_qty = EXCLUDED.filled_qty,
             status = EXCLUDED.status, status_before = EXCLUDED.status_before,
             replace_price = EXCLUDED.replace_price, replace_qty = EXCLUDED.replace_qty,
             venue_order_id = EXCLUDED.venue_order_id, updated_at = EXCLUDED.updated_at,
             seq_updated = EXCLUDED.seq_updated;
         TRUNCATE orders_stage;"
    ))
}

fn upsert_position(
    tx: &mut Transaction<'_>,
    stream: &str,
    row: &PositionRow,
) -> Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO positions (stream, instrument, symbol, qty, cost_tick_lots, realized_tick_lots,
                                status, fills, updated_at, seq_updated)
         VALUES ($1, $2, COALESCE((SELECT symbol FROM instruments WHERE instrument = $2), '#' || $2::text),
                 $3, $4::text::numeric, $5::text::numeric, $6, $7, $8, $9)
         ON CONFLICT (stream, instrument) DO UPDATE SET
             qty = EXCLUDED.qty, cost_tick_lots = EXCLUDED.cost_tick_lots,
             realized_tick_lots = EXCLUDED.realized_tick_lots, status = EXCLUDED.status,
             fills = EXCLUDED.fills, updated_at = EXCLUDED.updated_at,
             seq_updated = EXCLUDED.seq_updated",
        &[
            &stream,
            &i32::from(row.instrument),
            &row.position.qty.0,
            &row.position.cost_tick_lots.to_string(),
            &row.position.realized_tick_lots.to_string(),
            &row.status(),
            &row.fills,
            &timestamp(row.updated_ns),
            &(row.seq_updated as i64),
        ],
    )?;
    Ok(())
}
