//! Execution reconciling its order table with the venue's status answers,
//! on hand-made events: fill quantity the engine missed is handed on as a
//! flagged fill and applied once, when that fill comes back journaled (a
//! crash before then leaves it missing, and the next answer finds it
//! again); an order the venue reports done is closed; one it holds and the
//! engine does not know is adopted; one the engine never recorded that
//! filled while it was down has its fills applied; one it recorded and
//! forgot is not applied again; one under another ClOrdID lineage is no
//! order of ours (done: nothing applied; working: adopted for what is left,
//! its earlier fills not ours); and the strategy's replica holds an adopted
//! order exactly as the table does.

mod common;

use common::{ack, fill};
use genesis_engine::decision::{Action, Intent};
use genesis_engine::event::{Event, Input, VenueOrder, VenueOrderState, FLAG_RECONCILED};
use genesis_engine::execution::{ExecutionStage, Gateway, OrderRequest, RequestKind, SendError};
use genesis_engine::orders::OrderState;
use genesis_engine::state_codec::{StateReader, StateWriter};
use genesis_engine::strategy::StrategyStage;
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Notes(Arc<Mutex<Vec<OrderRequest>>>);

impl Gateway for Notes {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        self.0.lock().unwrap().push(*request);
        Ok(())
    }
}

impl Notes {
    /// The reconciliation notes sent since the last call: (kind, order, qty).
    fn take(&self) -> Vec<(RequestKind, u64, i64)> {
        self.take_requests()
            .into_iter()
            .map(|r| (r.kind, r.order_id.0, r.qty.0))
            .collect()
    }

    fn take_requests(&self) -> Vec<OrderRequest> {
        self.0.lock().unwrap().drain(..).collect()
    }
}

/// The flagged events the venue lane makes of execution's notes (as
/// `adapters::fix::reconcile` does): acks, missed fills, closes.
fn served(notes: &[OrderRequest]) -> Vec<Event> {
    let mut events = Vec::new();
    for (index, note) in notes.iter().enumerate() {
        let input = match note.kind {
            RequestKind::ReconciledAck => Input::OrderAck(genesis_engine::event::OrderAck {
                order_id: note.order_id,
                venue_order_id: 0,
                price: note.price,
                qty: note.qty,
            }),
            RequestKind::ReconciledFill => Input::Fill(genesis_engine::event::Fill {
                order_id: note.order_id,
                exec_id: genesis_engine::units::ExecId(900 + index as u64),
                price: note.price,
                qty: note.qty,
            }),
            RequestKind::ReconciledClose => Input::CancelAck(note.order_id),
            _ => continue,
        };
        events.push(reconciled(Event::new(note.instrument, note.side, input)));
    }
    events
}

fn venue_order(order: u64, cum_qty: i64, state: VenueOrderState) -> Event {
    Event::new(
        InstrumentId(0),
        Side::Buy,
        Input::VenueOrder(VenueOrder {
            order_id: OrderId(order),
            price: Price(10_000),
            qty: Qty(5),
            cum_qty: Qty(cum_qty),
            state,
        }),
    )
}

fn reconciled(mut event: Event) -> Event {
    event.flags |= FLAG_RECONCILED;
    event
}

/// Execution holding order 7 (buy 5 at 10,000), acknowledged.
fn holding_order_7() -> (ExecutionStage, Notes) {
    let dir = tempfile::tempdir().unwrap();
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&common::test_config(dir.path()), Box::new(notes.clone()));
    // Adopted, as reconciliation enters an order it did not make, then acked.
    exec.on_event(&mut venue_order(7, 0, VenueOrderState::Open));
    exec.on_event(&mut reconciled(ack(0, Side::Buy, 7, 10_000, 5, 1)));
    notes.take();
    assert_eq!(
        exec.orders().get(OrderId(7)).map(|o| o.filled),
        Some(Qty(0))
    );
    (exec, notes)
}

#[test]
fn missed_fill_is_applied_once_when_it_comes_back() {
    let (mut exec, notes) = holding_order_7();
    exec.on_event(&mut venue_order(7, 3, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![(RequestKind::ReconciledFill, 7, 3)]);
    // Not applied until it comes back journaled: a crash here loses it everywhere.
    assert_eq!(exec.orders().get(OrderId(7)).unwrap().filled, Qty(0));
    // Lost to a crash: the next answer finds it missing again.
    exec.on_event(&mut venue_order(7, 3, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![(RequestKind::ReconciledFill, 7, 3)]);
    exec.on_event(&mut reconciled(fill(0, Side::Buy, 7, 1, 10_000, 3, 2)));
    assert_eq!(exec.orders().get(OrderId(7)).unwrap().filled, Qty(3));
    // Applied: the same answer again finds nothing missing.
    exec.on_event(&mut venue_order(7, 3, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![]);
    assert_eq!(
        exec.counters.reconcile.fill_lots, 6,
        "noted twice, applied once"
    );
}

#[test]
fn order_done_at_the_venue_closes_with_its_last_fill() {
    let (mut exec, notes) = holding_order_7();
    exec.on_event(&mut venue_order(7, 5, VenueOrderState::Filled));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledFill, 7, 5),
            (RequestKind::ReconciledClose, 7, 0)
        ]
    );
    assert_eq!(
        exec.orders().closed_state(OrderId(7)),
        Some(OrderState::Filled)
    );
    // The fill still moves the position when it comes back, on the closed order.
    exec.on_event(&mut reconciled(fill(0, Side::Buy, 7, 1, 10_000, 5, 2)));
    assert_eq!(exec.counters.reconcile.closed, 1);
}

#[test]
fn unknown_venue_order_is_adopted_with_its_fills() {
    let dir = tempfile::tempdir().unwrap();
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&common::test_config(dir.path()), Box::new(notes.clone()));
    exec.on_event(&mut venue_order(9, 2, VenueOrderState::Open));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledAck, 9, 5),
            (RequestKind::ReconciledFill, 9, 2)
        ]
    );
    assert_eq!(exec.counters.reconcile.adopted, 1);
    exec.on_event(&mut reconciled(fill(0, Side::Buy, 9, 1, 10_000, 2, 2)));
    let order = *exec.orders().get(OrderId(9)).unwrap();
    assert_eq!((order.filled, order.leaves()), (Qty(2), 3));
}

#[test]
fn unknown_venue_order_is_cancelled_when_so_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path());
    config.venue.fix.reconcile_unknown = genesis_engine::config::ReconcileUnknown::Cancel;
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&config, Box::new(notes.clone()));
    exec.on_event(&mut venue_order(9, 0, VenueOrderState::Open));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledAck, 9, 5),
            (RequestKind::Cancel, 9, 5)
        ]
    );
    assert_eq!(
        exec.orders().get(OrderId(9)).map(|o| o.state),
        Some(OrderState::PendingCancel)
    );
    assert_eq!(exec.counters.reconcile.cancelled, 1);
    // Closed at the venue without a fill, never known here: nothing to do.
    exec.on_event(&mut venue_order(11, 0, VenueOrderState::Cancelled));
    assert_eq!(notes.take(), vec![]);
}

// An order the engine never recorded (sent just before a crash) that
// filled while it was down: its fill is the account's, applied once, and
// the order closed.
#[test]
fn unrecorded_order_filled_while_down_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&common::test_config(dir.path()), Box::new(notes.clone()));
    exec.on_event(&mut venue_order(11, 5, VenueOrderState::Filled));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledFill, 11, 5),
            (RequestKind::ReconciledClose, 11, 0)
        ]
    );
    assert_eq!(
        exec.orders().closed_state(OrderId(11)),
        Some(OrderState::Filled)
    );
    // Told again (a later round): closed here, nothing more.
    exec.on_event(&mut venue_order(11, 5, VenueOrderState::Filled));
    assert_eq!(notes.take(), vec![]);
}

/// An event carrying the decision to send order `order` (buy 5 at 10,000).
fn decided(order: u64) -> Event {
    let mut event = common::top(0, 9_999, 10_001, 1);
    event.intents[0] = Intent {
        order_id: OrderId(order),
        price: Price(10_000),
        qty: Qty(5),
        instrument: InstrumentId(0),
        action: Action::New,
        side: Side::Buy,
        ..Intent::EMPTY
    };
    event
}

// A mass status answer tells the day's done orders, most of them recorded.
// One at or below the highest order the engine decided to send is in the
// journal (ids rise with it): told again after the table forgot it, it
// changes nothing. One above was sent and never recorded: its fills are
// applied, even after an unrecorded order that still works was adopted
// first in the same answer. The highest decided id survives a restart.
#[test]
fn done_orders_the_journal_recorded_are_not_applied_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path());
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&config, Box::new(notes.clone()));
    exec.on_event(&mut decided(20));
    assert_eq!(notes.take(), vec![(RequestKind::New, 20, 5)]);
    // Recorded (15 <= 20), unknown to the table: nothing.
    exec.on_event(&mut venue_order(15, 5, VenueOrderState::Filled));
    assert_eq!(notes.take(), vec![]);
    // Unrecorded and working (adopted), then unrecorded and done (applied).
    exec.on_event(&mut venue_order(30, 0, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![(RequestKind::ReconciledAck, 30, 5)]);
    exec.on_event(&mut venue_order(25, 5, VenueOrderState::Filled));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledFill, 25, 5),
            (RequestKind::ReconciledClose, 25, 0)
        ]
    );
    // Recorded, still working at the venue, not open here: cancelled there.
    exec.on_event(&mut venue_order(16, 0, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![(RequestKind::Cancel, 16, 5)]);

    // Restored into a new stage: the highest decided id is carried.
    let mut out = StateWriter::new();
    exec.save_state(&mut out);
    let bytes = out.into_bytes();
    let mut restored = ExecutionStage::new(&config, Box::new(notes.clone()));
    let mut input = StateReader::new(&bytes);
    restored.restore_state(&mut input).unwrap();
    input.finish("execution").unwrap();
    let mut again = StateWriter::new();
    restored.save_state(&mut again);
    assert_eq!(
        again.into_bytes(),
        bytes,
        "restore then save gives the bytes back"
    );
    restored.on_event(&mut venue_order(17, 5, VenueOrderState::Filled));
    assert_eq!(notes.take(), vec![], "17 is recorded after a restart too");
}

// The venue delivers a live fill of an order the engine never recorded
// (at logon, before its mass status answer): the position moves then, and
// the answer about that order later applies only what the live fills
// lacked: nothing when they covered its CumQty, the rest otherwise.
#[test]
fn live_fills_of_an_unrecorded_order_are_not_applied_again() {
    let dir = tempfile::tempdir().unwrap();
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&common::test_config(dir.path()), Box::new(notes.clone()));
    exec.on_event(&mut fill(0, Side::Buy, 40, 1, 10_000, 5, 1));
    assert_eq!(exec.position(InstrumentId(0)), 5);
    exec.on_event(&mut venue_order(40, 5, VenueOrderState::Filled));
    assert_eq!(notes.take(), vec![], "its whole CumQty came live");
    // Partly live: 2 of 5, the order still working at the venue. The table
    // takes it on for the 3 lots left after those live ones (it never held
    // them), then the 2 the answer shows missing.
    exec.on_event(&mut fill(0, Side::Buy, 41, 2, 10_000, 2, 2));
    exec.on_event(&mut venue_order(41, 4, VenueOrderState::Open));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledAck, 41, 3),
            (RequestKind::ReconciledFill, 41, 2)
        ]
    );
    exec.on_event(&mut reconciled(fill(0, Side::Buy, 41, 3, 10_000, 2, 3)));
    let order = *exec.orders().get(OrderId(41)).unwrap();
    assert_eq!(
        (order.qty, order.filled, order.leaves()),
        (Qty(3), Qty(2), 1)
    );
    assert_eq!(
        exec.position(InstrumentId(0)),
        5 + 4,
        "the order's CumQty, once"
    );
    // A later answer (the next round) reads the venue's quantities less
    // those live lots: nothing missing, nothing to sync.
    exec.on_event(&mut venue_order(41, 4, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![]);
}

/// Execution and the strategy stage fed the same events, as the pipeline feeds them.
fn both(exec: &mut ExecutionStage, strategy: &mut StrategyStage, event: &Event) {
    let mut for_strategy = *event;
    strategy.on_event(&mut for_strategy);
    let mut for_execution = *event;
    exec.on_event(&mut for_execution);
}

// An order the engine never recorded, partly filled live before
// reconciliation: the strategy's replica holds it exactly as the order
// table does (quantity, filled, leaves), and both stay alike as it fills.
#[test]
fn replica_of_an_unrecorded_partly_filled_order_agrees_with_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path());
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&config, Box::new(notes.clone()));
    let mut strategy = StrategyStage::new(&config, genesis_engine::strategy::from_config(&config));
    both(
        &mut exec,
        &mut strategy,
        &fill(0, Side::Buy, 41, 1, 10_000, 2, 1),
    );
    both(
        &mut exec,
        &mut strategy,
        &venue_order(41, 4, VenueOrderState::Open),
    );
    for event in served(&notes.take_requests()) {
        both(&mut exec, &mut strategy, &event);
    }
    let alike = |exec: &ExecutionStage, strategy: &StrategyStage| {
        let table = exec.orders().get(OrderId(41)).copied();
        let replica = strategy.orders().get(OrderId(41)).copied();
        let terms = |o: Option<genesis_engine::orders::Order>| {
            o.map(|o| (o.state, o.price, o.qty, o.filled, o.leaves()))
        };
        assert!(table.is_some(), "the table holds the order");
        assert_eq!(terms(table), terms(replica), "replica = table");
        assert_eq!(
            strategy.pretrade().position(InstrumentId(0)).0,
            exec.position(InstrumentId(0)),
            "positions alike"
        );
    };
    alike(&exec, &strategy);
    assert_eq!(
        exec.position(InstrumentId(0)),
        4,
        "the venue's CumQty, once"
    );
    assert_eq!(exec.orders().get(OrderId(41)).unwrap().leaves(), 1);
    // The live fill of its last lot closes it in both.
    both(
        &mut exec,
        &mut strategy,
        &fill(0, Side::Buy, 41, 7, 10_000, 1, 4),
    );
    assert_eq!(
        exec.orders().closed_state(OrderId(41)),
        Some(OrderState::Filled)
    );
    assert_eq!(
        strategy.orders().closed_state(OrderId(41)),
        Some(OrderState::Filled)
    );
    assert_eq!(strategy.pretrade().position(InstrumentId(0)).0, 5);
    assert_eq!(exec.position(InstrumentId(0)), 5);
}

/// A ClOrdID another lineage made (a new journal's predecessor): the
/// adoption id the venue client gives it, outside the engine's own ids.
fn their_order(n: u64) -> u64 {
    genesis_engine::adapters::fix::cl_ord_id::adopted_order_id(format!("ab12cd{n}").as_bytes()).0
}

// A new journal against a venue that remembers an earlier lineage's
// orders: a done one (filled) is not ours, and nothing is applied; a
// working one, partly filled, is adopted for what is left, its fills
// before adoption not ours; fills after adoption are.
#[test]
fn another_lineages_orders_are_not_our_fills() {
    let dir = tempfile::tempdir().unwrap();
    let notes = Notes::default();
    let mut exec = ExecutionStage::new(&common::test_config(dir.path()), Box::new(notes.clone()));
    let (done, working) = (their_order(4), their_order(5));
    assert!(!OrderId(done).is_own() && !OrderId(working).is_own());
    exec.on_event(&mut venue_order(done, 5, VenueOrderState::Filled));
    assert_eq!(
        notes.take(),
        vec![],
        "a done order of another lineage changes nothing"
    );
    assert_eq!(exec.counters.reconcile.adopted, 0);
    exec.on_event(&mut venue_order(working, 2, VenueOrderState::Open));
    assert_eq!(
        notes.take(),
        vec![(RequestKind::ReconciledAck, working, 3)],
        "adopted for the 3 lots left, no missed fill"
    );
    let order = *exec.orders().get(OrderId(working)).unwrap();
    assert_eq!((order.qty, order.filled), (Qty(3), Qty(0)));
    assert_eq!(exec.position(InstrumentId(0)), 0, "no fill invented");
    // Told again (the next round): nothing missing.
    exec.on_event(&mut venue_order(working, 2, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![]);
    // A fill after adoption is ours, and the next answer agrees.
    exec.on_event(&mut fill(0, Side::Buy, working, 1, 10_000, 1, 3));
    assert_eq!(exec.position(InstrumentId(0)), 1);
    exec.on_event(&mut venue_order(working, 3, VenueOrderState::Open));
    assert_eq!(notes.take(), vec![]);
    // Done at the venue with one more lot we did not hear of: that lot is ours.
    exec.on_event(&mut venue_order(working, 4, VenueOrderState::Cancelled));
    assert_eq!(
        notes.take(),
        vec![
            (RequestKind::ReconciledFill, working, 1),
            (RequestKind::ReconciledClose, working, 0)
        ]
    );
}
