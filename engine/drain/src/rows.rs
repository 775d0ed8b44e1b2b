//! Rows as the drain writes them with binary `COPY`: the column lists and
//! types of `events` and `fills`, and one event's values.
//!
//! Called on the drain thread inside a chunk's transaction. Invariant: the
//! column lists here match the `CREATE TABLE`s of `schema.rs` (the
//! migration test loads rows through them), and an event's row holds every
//! byte of the event except the intents' two reserved bytes, so the event
//! can be rebuilt from it (`event_from_row`).

use genesis_engine::decision::{Action, ExecResult, Gate, Intent, Outcome, RejectReason};
use genesis_engine::event::{Event, EventKind};
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `COPY events (…) FROM STDIN BINARY` with `EVENT_TYPES` in order.
pub const EVENTS_COPY: &str = "COPY events (stream, seq, ts, ts_recv_ns, ts_venue_ns, kind, side, \
    instrument, flags, gate_global, gate_instrument, outcome, data0, data1, data2, data3, \
    i0_order_id, i0_price, i0_qty, i0_instrument, i0_action, i0_side, i0_reject, i0_exec, \
    i1_order_id, i1_price, i1_qty, i1_instrument, i1_action, i1_side, i1_reject, i1_exec) \
    FROM STDIN BINARY";

pub const EVENT_TYPES: [Type; 32] = [
    Type::TEXT,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::INT8,
    Type::INT2,
    Type::INT2,
    Type::INT4,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::INT2,
];

/// The columns `SELECT`ed to rebuild an event, in `event_from_row`'s order.
pub const EVENT_SELECT_COLUMNS: &str =
    "seq, ts_recv_ns, ts_venue_ns, kind, side, instrument, flags, \
    gate_global, gate_instrument, outcome, data0, data1, data2, data3, \
    i0_order_id, i0_price, i0_qty, i0_instrument, i0_action, i0_side, i0_reject, i0_exec, \
    i1_order_id, i1_price, i1_qty, i1_instrument, i1_action, i1_side, i1_reject, i1_exec";

/// A time in nanoseconds since the epoch as a `timestamptz` (microseconds kept).
pub fn timestamp(ts_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ts_ns)
}

/// An intent's columns, all NULL for an empty slot.
struct IntentColumns {
    order_id: Option<i64>,
    price: Option<i64>,
    qty: Option<i64>,
    instrument: Option<i32>,
    action: Option<i16>,
    side: Option<i16>,
    reject: Option<i16>,
    exec: Option<i16>,
}

impl IntentColumns {
    fn of(intent: &Intent) -> IntentColumns {
        let present = !intent.is_empty();
        let some = |value| present.then_some(value);
        IntentColumns {
            order_id: some(intent.order_id.0 as i64),
            price: some(intent.price.0),
            qty: some(intent.qty.0),
            instrument: present.then_some(i32::from(intent.instrument.0)),
            action: present.then_some(intent.action as i16),
            side: present.then_some(intent.side as i16),
            reject: present.then_some(intent.reject as i16),
            exec: present.then_some(intent.exec as i16),
        }
    }
}

/// Writes one event as a row of `EVENTS_COPY`.
pub fn write_event(
    writer: &mut BinaryCopyInWriter<'_>,
    stream: &str,
    event: &Event,
) -> Result<(), postgres::Error> {
    let seq = event.seq as i64;
    let ts = timestamp(event.ts_recv_ns);
    let ts_recv_ns = event.ts_recv_ns as i64;
    let ts_venue_ns = event.ts_venue_ns as i64;
    let kind = event.kind as i16;
    let side = event.side as i16;
    let instrument = i32::from(event.instrument.0);
    let flags = i16::from(event.flags);
    let gate_global = event.gate_global as i16;
    let gate_instrument = event.gate_instrument as i16;
    let outcome = event.outcome as i16;
    let [d0, d1, d2, d3] = event.data;
    let a = IntentColumns::of(&event.intents[0]);
    let b = IntentColumns::of(&event.intents[1]);
    let values: [&(dyn ToSql + Sync); 32] = [
        &stream,
        &seq,
        &ts,
        &ts_recv_ns,
        &ts_venue_ns,
        &kind,
        &side,
        &instrument,
        &flags,
        &gate_global,
        &gate_instrument,
        &outcome,
        &d0,
        &d1,
        &d2,
        &d3,
        &a.order_id,
        &a.price,
        &a.qty,
        &a.instrument,
        &a.action,
        &a.side,
        &a.reject,
        &a.exec,
        &b.order_id,
        &b.price,
        &b.qty,
        &b.instrument,
        &b.action,
        &b.side,
        &b.reject,
        &b.exec,
    ];
    writer.write(&values)
}

/// Rebuilds an event from a row of `SELECT {EVENT_SELECT_COLUMNS}`; `None`
/// if a code column holds a value this build does not know.
pub fn event_from_row(row: &postgres::Row) -> Option<Event> {
    let code = |index: usize| u8::try_from(row.get::<_, i16>(index)).ok();
    let intent = |at: usize| -> Option<Intent> {
        let Some(order_id) = row.get::<_, Option<i64>>(at) else {
            return Some(Intent::EMPTY);
        };
        let small = |index: usize| {
            row.get::<_, Option<i16>>(index)
                .and_then(|v| u8::try_from(v).ok())
        };
        Some(Intent {
            order_id: OrderId(order_id as u64),
            price: Price(row.get::<_, Option<i64>>(at + 1)?),
            qty: Qty(row.get::<_, Option<i64>>(at + 2)?),
            instrument: InstrumentId(u16::try_from(row.get::<_, Option<i32>>(at + 3)?).ok()?),
            action: Action::from_u8(small(at + 4)?)?,
            side: Side::from_u8(small(at + 5)?)?,
            reject: RejectReason::from_u8(small(at + 6)?)?,
            exec: ExecResult::from_u8(small(at + 7)?)?,
            reserved: [0; 2],
        })
    };
    Some(Event {
        seq: row.get::<_, i64>(0) as u64,
        ts_recv_ns: row.get::<_, i64>(1) as u64,
        ts_venue_ns: row.get::<_, i64>(2) as u64,
        kind: EventKind::from_u8(code(3)?)?,
        side: Side::from_u8(code(4)?)?,
        instrument: InstrumentId(u16::try_from(row.get::<_, i32>(5)).ok()?),
        flags: code(6)?,
        gate_global: Gate::from_u8(code(7)?)?,
        gate_instrument: Gate::from_u8(code(8)?)?,
        outcome: Outcome::from_u8(code(9)?)?,
        data: [row.get(10), row.get(11), row.get(12), row.get(13)],
        intents: [intent(14)?, intent(22)?],
    })
}
