//! Helpers shared by the tests of this crate and of the workspace's other
//! crates; not part of the engine's interface.

use crate::{Event, EventKind, Gate, InstrumentId, Intent, OrderId, Outcome, Side, MAX_INTENTS};

/// Overwrites every field of a lent event, as a fused sink overwrites its
/// decisions (sequence, gates, outcome, flags, intents) and as nothing
/// should survive into the next event: a source reusing its slot that did
/// not write every field of the next one would pass these values on. The
/// literal names every field, so a new one must be added here.
pub fn scribble_every_field(event: &mut Event) {
    *event = Event {
        seq: u64::MAX,
        ts_recv_ns: u64::MAX,
        ts_venue_ns: u64::MAX,
        kind: EventKind::Fill,
        side: Side::Buy,
        instrument: InstrumentId(u16::MAX),
        flags: u8::MAX,
        gate_global: Gate::HaltCircuitBreaker,
        gate_instrument: Gate::HaltCircuitBreaker,
        outcome: Outcome::Applied,
        data: [-1; 4],
        intents: [Intent {
            order_id: OrderId(u64::MAX),
            ..Intent::EMPTY
        }; MAX_INTENTS],
    };
}
