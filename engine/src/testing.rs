//! Helpers shared by the tests of this crate and of the workspace's other
//! crates; not part of the engine's interface.

use crate::{Event, Gate, Intent, OrderId, Outcome, MAX_INTENTS};

/// Leaves decisions in a lent event as a fused sink does (sequence, gates,
/// outcome, flags, intents), so that a source reusing its slot would pass
/// them on if it did not write every field of the next one.
pub fn scribble_decisions(event: &mut Event) {
    *event = Event {
        seq: u64::MAX,
        flags: u8::MAX,
        gate_global: Gate::HaltCircuitBreaker,
        gate_instrument: Gate::HaltCircuitBreaker,
        outcome: Outcome::Applied,
        intents: [Intent {
            order_id: OrderId(u64::MAX),
            ..Intent::EMPTY
        }; MAX_INTENTS],
        ..*event
    };
}
