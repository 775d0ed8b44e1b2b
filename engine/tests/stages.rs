//! Execution and strategy stages on hand-made events: sends, mass cancels,
//! fill classification, and how a strategy's intents get their verdicts.

mod common;

use common::{ack, fill, top};
use genesis_engine::decision::{Action, ExecResult, Gate, Intent, Outcome, RejectReason};
use genesis_engine::event::{Event, FLAG_DUPLICATE};
use genesis_engine::execution::{ExecutionStage, Gateway, OrderRequest, RequestKind, SendError};
use genesis_engine::strategy::{Actions, Strategy, StrategyStage};
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};
use std::sync::{Arc, Mutex};

/// A gateway whose requests the test can read, and which can be told to refuse.
#[derive(Clone, Default)]
struct SharedGateway {
    sent: Arc<Mutex<Vec<OrderRequest>>>,
    refuse: Arc<Mutex<bool>>,
}

impl Gateway for SharedGateway {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        if *self.refuse.lock().unwrap() {
            return Err(SendError::Backpressure);
        }
        self.sent.lock().unwrap().push(*request);
        Ok(())
    }
}

fn execution() -> (ExecutionStage, SharedGateway) {
    let dir = tempfile::tempdir().unwrap();
    let gateway = SharedGateway::default();
    let stage = ExecutionStage::new(&common::test_config(dir.path()), Box::new(gateway.clone()));
    (stage, gateway)
}

fn new_intent(id: u64, instrument: u16, side: Side, qty: i64) -> Intent {
    Intent {
        order_id: OrderId(id),
        price: Price(10_000),
        qty: Qty(qty),
        instrument: InstrumentId(instrument),
        action: Action::New,
        side,
        ..Intent::EMPTY
    }
}

/// An event carrying the given intents, as strategy would hand it over.
fn with_intents(intents: &[Intent]) -> Event {
    let mut event = top(0, 9_999, 10_001, 1);
    for (slot, intent) in event.intents.iter_mut().zip(intents) {
        *slot = *intent;
    }
    event
}

// Accepted intents are sent; refused ones are not, and say so.
#[test]
fn accepted_intents_are_sent_refused_are_not() {
    let (mut exec, gateway) = execution();
    let refused = Intent {
        reject: RejectReason::PriceBand,
        ..new_intent(2, 0, Side::Sell, 5)
    };
    let mut event = with_intents(&[new_intent(1, 0, Side::Buy, 5), refused]);
    exec.on_event(&mut event);
    assert_eq!(event.intents[0].exec, ExecResult::Sent);
    assert_eq!(event.intents[1].exec, ExecResult::NotSent);
    let sent = gateway.sent.lock().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].kind, sent[0].order_id),
        (RequestKind::New, OrderId(1))
    );
}

// A gateway that cannot take the order: the failure is recorded on the intent and counted.
#[test]
fn send_failure_is_journaled() {
    let (mut exec, gateway) = execution();
    *gateway.refuse.lock().unwrap() = true;
    let mut event = with_intents(&[new_intent(1, 0, Side::Buy, 5)]);
    exec.on_event(&mut event);
    assert_eq!(event.intents[0].exec, ExecResult::SendFailed);
    assert_eq!(exec.counters.send_failed, 1);
}

// Kill switch cancel-all: every open order gets a cancel, once.
#[test]
fn cancel_all_cancels_every_open_order() {
    let (mut exec, gateway) = execution();
    let mut event = with_intents(&[
        new_intent(1, 0, Side::Buy, 5),
        new_intent(2, 1, Side::Sell, 5),
    ]);
    exec.on_event(&mut event);
    let mut kill = top(0, 9_999, 10_001, 2);
    kill.gate_global = Gate::CancelAllKillSwitch;
    exec.on_event(&mut kill);
    assert_eq!(kill.outcome, Outcome::MassCancel);
    let mut again = top(1, 9_999, 10_001, 3);
    again.gate_global = Gate::CancelAllKillSwitch;
    exec.on_event(&mut again);
    let sent = gateway.sent.lock().unwrap();
    let cancels: Vec<OrderId> = sent
        .iter()
        .filter(|r| r.kind == RequestKind::Cancel)
        .map(|r| r.order_id)
        .collect();
    assert_eq!(cancels.len(), 2, "{cancels:?}");
    assert!(cancels.contains(&OrderId(1)) && cancels.contains(&OrderId(2)));
}

// A stop-loss on a long instrument cancels its buys, keeps its sells and other instruments' orders.
#[test]
fn stop_loss_cancels_only_growing_orders() {
    let (mut exec, gateway) = execution();
    exec.on_event(&mut fill(0, Side::Buy, 99, 1, 10_000, 10, 1));
    let mut event = with_intents(&[
        new_intent(1, 0, Side::Buy, 5),
        new_intent(2, 0, Side::Sell, 5),
    ]);
    exec.on_event(&mut event);
    exec.on_event(&mut with_intents(&[new_intent(3, 1, Side::Buy, 5)]));
    let mut stop = top(0, 9_000, 9_002, 2);
    stop.gate_instrument = Gate::ReduceOnlyStopLoss;
    exec.on_event(&mut stop);
    let sent = gateway.sent.lock().unwrap();
    let cancels: Vec<OrderId> = sent
        .iter()
        .filter(|r| r.kind == RequestKind::Cancel)
        .map(|r| r.order_id)
        .collect();
    assert_eq!(cancels, vec![OrderId(1)]);
}

// Fills: an unknown order id is counted and marked, a duplicate-flagged fill is not applied.
#[test]
fn fills_are_classified() {
    let (mut exec, _) = execution();
    let mut unknown = fill(0, Side::Buy, 42, 7, 10_000, 1, 1);
    exec.on_event(&mut unknown);
    assert_eq!(unknown.outcome, Outcome::UnknownOrder);
    assert_eq!(exec.counters.fills_unknown_order, 1);
    exec.on_event(&mut with_intents(&[new_intent(1, 0, Side::Buy, 5)]));
    exec.on_event(&mut ack(0, Side::Buy, 1, 10_000, 5, 2));
    let mut first = fill(0, Side::Buy, 1, 8, 10_000, 2, 3);
    exec.on_event(&mut first);
    assert_eq!(first.outcome, Outcome::Applied);
    let mut duplicate = fill(0, Side::Buy, 1, 8, 10_000, 2, 4);
    duplicate.flags |= FLAG_DUPLICATE;
    exec.on_event(&mut duplicate);
    assert_eq!(duplicate.outcome, Outcome::DuplicateFill);
    assert_eq!(exec.orders().get(OrderId(1)).unwrap().filled, Qty(2));
    assert_eq!(exec.position(InstrumentId(0)), 3);
}

/// A strategy that runs a scripted closure on market data.
struct Scripted<F: FnMut(&mut Actions) + Send>(F);

impl<F: FnMut(&mut Actions) + Send> Strategy for Scripted<F> {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn on_market_data(&mut self, _event: &Event, act: &mut Actions) {
        (self.0)(act)
    }
}

fn strategy_stage(script: impl FnMut(&mut Actions) + Send + 'static) -> StrategyStage {
    let dir = tempfile::tempdir().unwrap();
    StrategyStage::new(&common::test_config(dir.path()), Box::new(Scripted(script)))
}

// Under a halt a new order is refused but a cancel still goes: getting out is never blocked.
#[test]
fn cancel_passes_under_halt() {
    let results = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&results);
    let mut step = 0;
    let mut stage = strategy_stage(move |act| {
        step += 1;
        if step == 1 {
            let id = act
                .new_order(InstrumentId(0), Side::Buy, Price(10_000), Qty(1))
                .unwrap();
            seen.lock().unwrap().push(format!("new {}", id.0));
        } else {
            let refused = act.new_order(InstrumentId(0), Side::Buy, Price(10_000), Qty(1));
            let cancel = act.cancel(OrderId(1));
            seen.lock().unwrap().push(format!("{refused:?} {cancel:?}"));
        }
    });
    stage.on_event(&mut top(0, 9_999, 10_001, 1));
    let mut halted = top(0, 9_999, 10_001, 2);
    halted.gate_global = Gate::HaltKillSwitch;
    stage.on_event(&mut halted);
    assert_eq!(
        *results.lock().unwrap(),
        vec![
            "new 1".to_string(),
            "Err(KillSwitchHalt) Ok(())".to_string()
        ]
    );
    assert_eq!(halted.intents[0].reject, RejectReason::KillSwitchHalt);
    assert_eq!(
        (halted.intents[1].action, halted.intents[1].reject),
        (Action::Cancel, RejectReason::None)
    );
}

// A third intent in one event does not fit: the strategy hears so and nothing is overwritten.
#[test]
fn third_intent_is_refused() {
    let result = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&result);
    let mut stage = strategy_stage(move |act| {
        let _ = act.new_order(InstrumentId(0), Side::Buy, Price(10_000), Qty(1));
        let _ = act.new_order(InstrumentId(0), Side::Sell, Price(10_001), Qty(1));
        *seen.lock().unwrap() =
            Some(act.new_order(InstrumentId(1), Side::Buy, Price(10_000), Qty(1)));
    });
    let mut event = top(0, 9_999, 10_001, 1);
    stage.on_event(&mut event);
    assert_eq!(
        *result.lock().unwrap(),
        Some(Err(RejectReason::IntentSlotsFull))
    );
    assert_eq!(event.intents[0].side, Side::Buy);
    assert_eq!(event.intents[1].side, Side::Sell);
    assert_eq!(stage.counters.intents_overflow, 1);
}

// Orders the strategy already has open count against the next check at once, before any ack.
#[test]
fn open_orders_count_before_ack() {
    let mut stage = strategy_stage(|act| {
        let _ = act.new_order(InstrumentId(0), Side::Buy, Price(10_000), Qty(100));
    });
    let mut verdicts = Vec::new();
    for ts in 1..=6 {
        let mut event = top(0, 9_999, 10_001, ts);
        stage.on_event(&mut event);
        verdicts.push(event.intents[0].reject);
    }
    // Five orders of 100 reach the 500-lot position limit; the sixth is refused.
    assert_eq!(&verdicts[..5], &[RejectReason::None; 5]);
    assert_eq!(verdicts[5], RejectReason::PositionLimit);
}
