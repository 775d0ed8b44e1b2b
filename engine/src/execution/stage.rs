//! The execution stage: applies venue messages to the order table, mass
//! cancels when risk's gates demand it, sends accepted intents, and
//! reconciles the table with the venue's status answers ([`reconcile`]).
//!
//! Owned by the thread its core runs; reads no clock. A mass cancel sends
//! its cancels in order-id order, whatever order the table's hash map
//! holds them in, so that a restored table sends exactly what the live one
//! would. Carried across a restart (`save_state`/`restore_state`): the
//! order table, the gates last seen, the positions, and reconciliation's
//! round (the orders the venue mentioned so far) and the highest own order
//! id; counters are per run.

mod reconcile;

pub use reconcile::ReconcileCounters;

use crate::config::Config;
use crate::decision::{Action, ExecResult, Gate, GateMode, Intent, Outcome};
use crate::event::{ControlCommand, Event, EventKind, Fill, Input, Lane, OrderAck};
use crate::execution::gateway::{Gateway, OrderRequest, RequestKind};
use crate::orders::{Order, OrderTerms, Orders};
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionCounters {
    pub orders_sent: u64,
    pub cancels_sent: u64,
    pub replaces_sent: u64,
    pub send_failed: u64,
    pub intents_refused: u64,
    pub acks: u64,
    pub fills: u64,
    pub fills_duplicate: u64,
    pub fills_unknown_order: u64,
    pub overfills: u64,
    pub late_messages: u64,
    pub invalid_transitions: u64,
    pub venue_rejects: u64,
    pub cancel_acks: u64,
    pub mass_cancels: u64,
    /// Reconciliation with the venue (status requests at logon).
    pub reconcile: ReconcileCounters,
}

pub struct ExecutionStage {
    orders: Orders,
    gateway: Box<dyn Gateway>,
    gate_global_last: Gate,
    gate_instrument_last: Vec<Gate>,
    positions: Vec<i64>,
    /// Scratch list for mass cancels, preallocated to the open-order capacity.
    cancel_ids: Vec<OrderId>,
    reconciliation: reconcile::Reconciliation,
    /// `ts_recv_ns` of the event being processed: requests carry it.
    ts_event_recv_ns: u64,
    /// `seq` of the event being processed: requests name it.
    event_seq: u64,
    pub counters: ExecutionCounters,
}

impl ExecutionStage {
    pub fn new(config: &Config, gateway: Box<dyn Gateway>) -> ExecutionStage {
        let count = config.instruments.len();
        let open_capacity = config.risk.max_open_orders * 2 + 16;
        ExecutionStage {
            orders: Orders::for_config(config),
            gateway,
            gate_global_last: Gate::Open,
            gate_instrument_last: vec![Gate::Open; count],
            positions: vec![0; count],
            cancel_ids: Vec::with_capacity(open_capacity),
            reconciliation: reconcile::Reconciliation::new(config, open_capacity),
            ts_event_recv_ns: 0,
            event_seq: 0,
            counters: ExecutionCounters::default(),
        }
    }

    // Always inlined into the chain: for market data with no intent it is
    // a few compares, less than a call's register saves and restores.
    #[inline(always)]
    pub fn on_event(&mut self, ev: &mut Event) {
        // Market data changes no order (the common case, decided here
        // without the call): its outcome is `None`, as `apply_input` says.
        ev.outcome = if ev.kind.lane() == Lane::MarketData {
            Outcome::None
        } else {
            self.take_event(ev);
            self.apply_input(ev)
        };
        // Gates as last seen change nothing: only a change takes the call.
        let index = ev.instrument.index();
        if ev.gate_global != self.gate_global_last
            || self.gate_instrument_last.get(index) != Some(&ev.gate_instrument)
        {
            self.take_event(ev);
            self.apply_gates(ev);
        }
        // Most events carry no intent (the strategy fills the slots from the
        // first): only an event with one takes the call.
        if ev.intents.iter().any(|intent| !intent.is_empty()) {
            self.take_event(ev);
            self.execute_intents(ev);
        }
    }

    /// Notes the event whose work may send: requests carry its time and number.
    #[inline]
    fn take_event(&mut self, ev: &Event) {
        self.ts_event_recv_ns = ev.ts_recv_ns;
        self.event_seq = ev.seq;
    }

    /// Sends the accepted intents and counts the refused ones.
    #[inline(never)]
    fn execute_intents(&mut self, ev: &mut Event) {
        let ts_ns = if ev.ts_venue_ns > 0 {
            ev.ts_venue_ns
        } else {
            ev.ts_recv_ns
        };
        for intent in ev.intents.iter_mut() {
            if intent.is_accepted() {
                intent.exec = self.execute(intent, ts_ns);
            } else if !intent.is_empty() {
                self.counters.intents_refused += 1;
            }
        }
    }

    /// Called when the thread runs dry.
    pub fn on_idle(&mut self) {
        self.gateway.flush();
    }

    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// A venue's reply to an order (an ack, a cancel ack, a fill), most of
    /// the events that are not market data, applied from its words by its
    /// kind; every other input, and a reply made by reconciliation, through
    /// [`ExecutionStage::apply_input_general`]. The same arms, the same
    /// order of tests and the same counts as the general path (a test holds
    /// the two to each other), without decoding the event into an [`Input`]
    /// and matching it a second time.
    #[inline(never)]
    fn apply_input(&mut self, ev: &Event) -> Outcome {
        if ev.is_reconciled() {
            return self.apply_input_general(ev);
        }
        let d = ev.data;
        let outcome = match ev.kind {
            EventKind::OrderAck => {
                self.counters.acks += 1;
                self.orders.on_ack(&OrderAck {
                    order_id: OrderId(d[0] as u64),
                    venue_order_id: d[1] as u64,
                    price: Price(d[2]),
                    qty: Qty(d[3]),
                })
            }
            EventKind::CancelAck => {
                self.counters.cancel_acks += 1;
                self.orders.on_cancel_ack(OrderId(d[0] as u64))
            }
            EventKind::Fill if !ev.is_duplicate() => {
                let fill = Fill {
                    order_id: OrderId(d[0] as u64),
                    exec_id: ExecId(d[1] as u64),
                    price: Price(d[2]),
                    qty: Qty(d[3]),
                };
                self.apply_fill(ev, &fill)
            }
            _ => return self.apply_input_general(ev),
        };
        self.count_outcome(outcome, ev.kind);
        outcome
    }

    /// A fill that is neither a duplicate nor reconciliation's: the
    /// position, the order table, and an unknown order noted for
    /// reconciliation.
    #[inline(always)]
    fn apply_fill(&mut self, ev: &Event, fill: &Fill) -> Outcome {
        self.counters.fills += 1;
        if let Some(position) = self.positions.get_mut(ev.instrument.index()) {
            *position += ev.side.sign() * fill.qty.0;
        }
        let outcome = self.orders.on_fill(ev.side, fill);
        if outcome == Outcome::UnknownOrder {
            self.reconciliation
                .note_unknown_fill(fill.order_id, fill.qty.0);
        }
        outcome
    }

    /// Every input, decoded: what [`ExecutionStage::apply_input`] does for
    /// the kinds it does not read from their words.
    #[cold]
    #[inline(never)]
    fn apply_input_general(&mut self, ev: &Event) -> Outcome {
        let outcome = match ev.input() {
            // Missed fill quantity noted from a venue answer, applied as it
            // comes back journaled (`reconcile`).
            Input::Fill(fill) if ev.is_reconciled() => self.on_reconciled_fill(&fill, ev),
            // Applied when execution read the venue's answer (`reconcile`).
            _ if ev.is_reconciled() => Outcome::None,
            Input::Reconcile(phase) => self.on_reconcile_phase(&phase, ev),
            Input::VenueOrder(order) => self.on_venue_order(&order, ev),
            Input::Control(ControlCommand::ReconcileRelease) => {
                self.on_reconcile_release();
                Outcome::None
            }
            Input::OrderAck(ack) => {
                self.counters.acks += 1;
                self.orders.on_ack(&ack)
            }
            Input::Fill(_) if ev.is_duplicate() => Outcome::DuplicateFill,
            Input::Fill(fill) => self.apply_fill(ev, &fill),
            Input::OrderReject(reject) => {
                self.counters.venue_rejects += 1;
                self.orders.on_reject(&reject)
            }
            Input::CancelAck(id) => {
                self.counters.cancel_acks += 1;
                self.orders.on_cancel_ack(id)
            }
            _ => Outcome::None,
        };
        self.count_outcome(outcome, ev.kind);
        outcome
    }

    /// Counts what an applied input's outcome says went wrong, if anything.
    #[inline(always)]
    fn count_outcome(&mut self, outcome: Outcome, kind: EventKind) {
        match outcome {
            Outcome::DuplicateFill => self.counters.fills_duplicate += 1,
            Outcome::UnknownOrder if kind == EventKind::Fill => {
                self.counters.fills_unknown_order += 1
            }
            Outcome::Overfill => self.counters.overfills += 1,
            Outcome::LateForClosedOrder | Outcome::UnknownOrder => self.counters.late_messages += 1,
            Outcome::InvalidTransition => self.counters.invalid_transitions += 1,
            _ => {}
        }
    }

    /// Mass cancels when the global gate turns to cancel-all, and cancels
    /// exposure-increasing orders when an instrument turns reduce-only or halts.
    #[inline(never)]
    fn apply_gates(&mut self, ev: &mut Event) {
        let global = ev.gate_global;
        if global.mode() == GateMode::CancelAll
            && self.gate_global_last.mode() != GateMode::CancelAll
        {
            self.cancel_where(ev.ts_recv_ns, |_| true);
            if ev.outcome == Outcome::None {
                ev.outcome = Outcome::MassCancel;
            }
        }
        self.gate_global_last = global;
        let index = ev.instrument.index();
        let Some(&last) = self.gate_instrument_last.get(index) else {
            return;
        };
        let own = ev.gate_instrument;
        if own != last && own.mode() != GateMode::Open {
            let instrument = ev.instrument;
            let position = self.positions[index];
            let halt = own.mode() >= GateMode::Halt;
            self.cancel_where(ev.ts_recv_ns, |order| {
                order.instrument == instrument && (halt || grows(position, order.side))
            });
            if ev.outcome == Outcome::None {
                ev.outcome = Outcome::MassCancel;
            }
        }
        self.gate_instrument_last[index] = own;
    }

    fn cancel_where(&mut self, ts_ns: u64, select: impl Fn(&Order) -> bool) {
        self.counters.mass_cancels += 1;
        self.cancel_ids.clear();
        for order in self.orders.iter_open() {
            if select(order) && self.cancel_ids.len() < self.cancel_ids.capacity() {
                self.cancel_ids.push(order.id);
            }
        }
        // The table's iteration order depends on its history; the venue must not.
        self.cancel_ids.sort_unstable();
        for index in 0..self.cancel_ids.len() {
            let id = self.cancel_ids[index];
            if let Ok(order) = self.orders.request_cancel(id) {
                self.send(RequestKind::Cancel, &order, order.price, order.qty, ts_ns);
            }
        }
    }

    fn execute(&mut self, intent: &Intent, ts_ns: u64) -> ExecResult {
        match intent.action {
            Action::New => {
                let order = match self.orders.open_new(
                    intent.order_id,
                    intent.instrument,
                    intent.side,
                    intent.price,
                    intent.qty,
                ) {
                    Ok(order) => order,
                    Err(result) => return result,
                };
                self.reconciliation.note_own(intent.order_id);
                self.send(RequestKind::New, &order, order.price, order.qty, ts_ns)
            }
            Action::Cancel => match self.orders.request_cancel(intent.order_id) {
                Ok(order) => self.send(RequestKind::Cancel, &order, order.price, order.qty, ts_ns),
                Err(result) => result,
            },
            Action::Replace => {
                match self
                    .orders
                    .request_replace(intent.order_id, intent.price, intent.qty)
                {
                    Ok(order) => self.send(
                        RequestKind::Replace,
                        &order,
                        intent.price,
                        intent.qty,
                        ts_ns,
                    ),
                    Err(result) => result,
                }
            }
            Action::None => ExecResult::NotSent,
        }
    }

    fn send(
        &mut self,
        kind: RequestKind,
        order: &OrderTerms,
        price: crate::units::Price,
        qty: crate::units::Qty,
        ts_ns: u64,
    ) -> ExecResult {
        let request = OrderRequest {
            kind,
            order_id: order.id,
            instrument: order.instrument,
            side: order.side,
            price,
            qty,
            ts_trigger_ns: ts_ns,
            ts_decided_ns: self.ts_event_recv_ns,
            trigger_seq: self.event_seq,
        };
        match self.gateway.send(&request) {
            Ok(()) => {
                match kind {
                    RequestKind::New => self.counters.orders_sent += 1,
                    RequestKind::Cancel => self.counters.cancels_sent += 1,
                    RequestKind::Replace => self.counters.replaces_sent += 1,
                    _ => {}
                }
                ExecResult::Sent
            }
            Err(_) => {
                self.counters.send_failed += 1;
                ExecResult::SendFailed
            }
        }
    }

    pub fn position(&self, instrument: InstrumentId) -> i64 {
        self.positions.get(instrument.index()).copied().unwrap_or(0)
    }

    pub fn save_state(&self, out: &mut StateWriter) {
        self.orders.save_state(out);
        out.u8(self.gate_global_last as u8);
        out.count(self.positions.len());
        for index in 0..self.positions.len() {
            out.u8(self.gate_instrument_last[index] as u8);
            out.i64(self.positions[index]);
        }
        self.reconciliation.save_state(out);
    }

    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.orders.restore_state(input)?;
        self.gate_global_last = input.code("execution.gate_global_last", Gate::from_u8)?;
        input.count_exact("instruments", self.positions.len())?;
        for index in 0..self.positions.len() {
            self.gate_instrument_last[index] =
                input.code("execution.gate_instrument_last", Gate::from_u8)?;
            self.positions[index] = input.i64("execution.position")?;
        }
        self.reconciliation.restore_state(input)
    }

    /// A new run begins with this state: no reconciliation round is under
    /// way (the run's venue lane starts its own at logon).
    pub fn begin_run(&mut self) {
        self.reconciliation.begin_run();
    }
}

/// Would a fill of an order on `side` grow the absolute position?
fn grows(position: i64, side: Side) -> bool {
    match side {
        Side::Buy => position >= 0,
        Side::Sell => position <= 0,
        Side::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{OrderReject, RejectedRequest, FLAG_DUPLICATE, FLAG_RECONCILED};
    use crate::execution::gateway::NullGateway;
    use proptest::prelude::*;

    /// One step of a stream: a new order opened straight in the table (what
    /// an intent's send does), or a venue message about one of a few ids.
    #[derive(Clone, Debug)]
    enum Step {
        Open {
            id: u64,
            buy: bool,
            qty: i64,
        },
        Message {
            kind: u8,
            id: u64,
            qty: i64,
            flags: u8,
            instrument: u16,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u64..12, any::<bool>(), 1i64..5).prop_map(|(id, buy, qty)| Step::Open {
                id,
                buy,
                qty
            }),
            (0u8..6, 1u64..14, 0i64..6, 0u8..4, 0u16..6).prop_map(
                |(kind, id, qty, flags, instrument)| Step::Message {
                    kind,
                    id,
                    qty,
                    flags,
                    instrument,
                }
            ),
        ]
    }

    fn message(kind: u8, id: u64, qty: i64, flags: u8, instrument: u16, exec: u64) -> Event {
        let order_id = OrderId(id);
        let input = match kind {
            0 => Input::OrderAck(OrderAck {
                order_id,
                venue_order_id: id + 100,
                price: Price(1_000),
                qty: Qty(qty),
            }),
            1 | 2 => Input::Fill(Fill {
                order_id,
                exec_id: ExecId(exec),
                price: Price(999 + kind as i64),
                qty: Qty(qty),
            }),
            3 => Input::CancelAck(order_id),
            4 => Input::OrderReject(OrderReject {
                order_id,
                request: RejectedRequest::Cancel,
                venue_reason: 1,
            }),
            _ => Input::Timer(id),
        };
        let side = if id.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let mut ev = Event::new(InstrumentId(instrument), side, input);
        ev.flags = (if flags & 1 != 0 { FLAG_DUPLICATE } else { 0 })
            | (if flags & 2 != 0 { FLAG_RECONCILED } else { 0 });
        ev
    }

    fn state(stage: &ExecutionStage) -> Vec<u8> {
        let mut out = StateWriter::new();
        stage.save_state(&mut out);
        out.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The replies read by their kind (`apply_input`) answer, count and
        /// change the order table, the positions and reconciliation's
        /// notes exactly as every input decoded (`apply_input_general`):
        /// acks, fills (duplicate, reconciled, unknown, over), cancel acks,
        /// rejects and timers, on orders opened, filled and closed.
        #[test]
        fn a_reply_read_by_its_kind_is_applied_as_decoded(
            steps in proptest::collection::vec(step(), 1..120)
        ) {
            let config = Config::builtin();
            let mut fast = ExecutionStage::new(&config, Box::new(NullGateway));
            let mut general = ExecutionStage::new(&config, Box::new(NullGateway));
            for (index, step) in steps.iter().enumerate() {
                match *step {
                    Step::Open { id, buy, qty } => {
                        let side = if buy { Side::Buy } else { Side::Sell };
                        let open = |stage: &mut ExecutionStage| {
                            stage
                                .orders
                                .open_new(OrderId(id), InstrumentId(0), side, Price(1_000), Qty(qty))
                                .map(|terms| terms.id)
                        };
                        prop_assert_eq!(open(&mut fast), open(&mut general));
                    }
                    Step::Message { kind, id, qty, flags, instrument } => {
                        // Every third fill repeats an exec id.
                        let exec = if index % 3 == 0 { 7 } else { index as u64 };
                        let ev = message(kind, id, qty, flags, instrument, exec);
                        let a = fast.apply_input(&ev);
                        let b = general.apply_input_general(&ev);
                        prop_assert_eq!(a, b, "event {:?}", ev.input());
                    }
                }
                prop_assert_eq!(fast.counters, general.counters);
                prop_assert_eq!(&fast.positions, &general.positions);
                prop_assert_eq!(state(&fast), state(&general));
            }
        }
    }
}
