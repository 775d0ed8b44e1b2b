//! Ingest's priority lanes when the ring is full: control and venue events
//! wait and are never dropped; market data is conflated per instrument and
//! every conflation counted; sequence numbers stay consecutive.

mod common;

use common::{fill, top};
use genesis_engine::clock::EpochClock;
use genesis_engine::event::{
    ControlCommand, Event, EventKind, Input, FLAG_CONFLATED, FLAG_DUPLICATE,
};
use genesis_engine::ingest::{ControlInbox, Ingest, ScriptedSource, Sink, Sources};
use genesis_engine::units::Side;

/// A ring stand-in that can be made full.
struct Gate {
    open: bool,
    taken: Vec<Event>,
}

impl Sink for Gate {
    fn offer(&mut self, event: &Event) -> bool {
        if self.open {
            self.taken.push(*event);
        }
        self.open
    }
}

fn ingest(
    conflate: bool,
    market: Vec<Event>,
    venue: Vec<Event>,
) -> (Ingest, genesis_engine::ingest::ControlSender) {
    let (sender, inbox) = ControlInbox::new();
    let sources = Sources {
        control: Box::new(inbox),
        venue: Box::new(ScriptedSource::new(venue)),
        market: Box::new(ScriptedSource::new(market)),
    };
    (
        Ingest::new(sources, EpochClock::new(), 2, conflate, 64, 0),
        sender,
    )
}

fn market_burst() -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..5 {
        events.push(top(0, 100 + i, 102 + i, 10 + i as u64));
    }
    for i in 0..3 {
        events.push(top(1, 200 + i, 202 + i, 20 + i as u64));
    }
    events
}

// Ring full: venue fills and a kill switch wait, market data collapses to the latest per instrument.
#[test]
fn full_ring_conflates_market_data_and_keeps_priority_events() {
    let venue = vec![
        fill(0, Side::Buy, 1, 77, 100, 1, 1),
        fill(0, Side::Buy, 1, 77, 100, 1, 2),
    ];
    let (mut ingest, control) = ingest(true, market_burst(), venue);
    control.send(ControlCommand::KillSwitchHalt).unwrap();
    let mut ring = Gate {
        open: false,
        taken: Vec::new(),
    };
    for _ in 0..3 {
        ingest.poll(&mut ring);
    }
    assert_eq!(ingest.counters().conflated, 4 + 2);
    assert_eq!(
        ingest.waiting(),
        3 + 2,
        "three priority events and two parked instruments wait"
    );

    ring.open = true;
    while ingest.poll(&mut ring) > 0 {}
    let kinds: Vec<EventKind> = ring.taken.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Control,
            EventKind::Fill,
            EventKind::Fill,
            EventKind::TopOfBook,
            EventKind::TopOfBook
        ]
    );
    let seqs: Vec<u64> = ring.taken.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    // The second fill repeats exec id 77: flagged, still delivered.
    assert_eq!(ring.taken[1].flags & FLAG_DUPLICATE, 0);
    assert_ne!(ring.taken[2].flags & FLAG_DUPLICATE, 0);
    // The survivors are the newest updates, marked conflated.
    assert_eq!(ring.taken[3].input(), top(0, 104, 106, 0).input());
    assert_eq!(ring.taken[4].input(), top(1, 202, 204, 0).input());
    assert!(ring.taken[3..]
        .iter()
        .all(|e| e.flags & FLAG_CONFLATED != 0));
    assert_eq!(ingest.counters().dropped, 0);
}

// With conflation off (backtests), nothing is merged: every update waits its turn, in order.
#[test]
fn without_conflation_every_update_is_delivered_in_order() {
    let (mut ingest, _control) = ingest(false, market_burst(), Vec::new());
    let mut ring = Gate {
        open: false,
        taken: Vec::new(),
    };
    ingest.poll(&mut ring);
    ring.open = true;
    while ingest.poll(&mut ring) > 0 {}
    assert_eq!(ingest.counters().conflated, 0);
    let received: Vec<u64> = ring.taken.iter().map(|e| e.ts_recv_ns).collect();
    assert_eq!(received, vec![10, 11, 12, 13, 14, 20, 21, 22]);
    assert!(ingest.is_drained() || ingest.waiting() == 0);
}

// A control command is published before market data read in the same round.
#[test]
fn control_goes_first() {
    let (mut ingest, control) = ingest(true, market_burst(), Vec::new());
    control.send(ControlCommand::KillSwitchCancelAll).unwrap();
    let mut ring = Gate {
        open: true,
        taken: Vec::new(),
    };
    ingest.poll(&mut ring);
    assert_eq!(
        ring.taken[0].input(),
        Input::Control(ControlCommand::KillSwitchCancelAll)
    );
    assert_eq!(ring.taken.len(), 9);
}
