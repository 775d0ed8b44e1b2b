//! Execution's side of reconciliation with the venue (`docs/restart.md`):
//! it reads the venue's answers ([`Input::VenueOrder`]) against the order
//! table it owns, applies what differs, and hands the venue lane what it
//! applied, so that risk and the strategy stage hear it once, as events
//! flagged [`FLAG_RECONCILED`](crate::event::FLAG_RECONCILED).
//!
//! Steps, as the venue lane journals them ([`Input::Reconcile`]):
//! - Started (order status), or Answered (mass status): ask about every
//!   open order the venue has not mentioned in this round (`Status`
//!   requests, then `StatusListed`), so an order the mass answer left out
//!   (filled or cancelled meanwhile) is asked about by its own id.
//! - Answered (order status): every answer is in; `Reconciled` follows the
//!   last follow-up through the same queue, so the gate opens only once
//!   risk has applied them all.
//! - Each VenueOrder about an order the table holds: it takes the venue's
//!   terms if it works there; fill quantity the table misses (CumQty above
//!   its filled) is handed on as a flagged fill, applied when it comes back
//!   journaled; and it closes as the venue says if the venue works it no
//!   more. About an order the table does not hold and the venue
//!   works: adopted (then cancelled with `reconcile_unknown = "cancel"`).
//!   About an order the table does not hold and the venue has done with:
//!   applied only if it is ours and unrecorded (below); an order under
//!   another ClOrdID lineage (a new journal's predecessor, another system)
//!   is no order of ours, and its fills are not our fills.
//! - An adopted order enters the table (and the strategy's replica, through
//!   the flagged ack) for the quantity not yet filled when the table took
//!   it on: lots filled before are kept as the order's offset, subtracted
//!   from every later answer's quantities. For another lineage's order
//!   that is its whole CumQty (its fills before adoption are not ours);
//!   for an unrecorded order of ours, the lots its live fills brought.
//!
//! Owning thread: execution's; reads no clock. Every decision is a function
//! of journaled events, so replay reproduces it; the follow-ups go through
//! the gateway (nowhere in replay, where the journal holds the flagged
//! events they became).
//! A live fill about an own order above the mark (one sent and never
//! recorded, whose reports the venue still delivers, often at logon before
//! it answers the mass status request) moves the positions as it comes,
//! and is remembered: a status answer about that order applies only the
//! CumQty those fills lack.
//!
//! Invariants: missed fill quantity is applied once, when its flagged fill
//! comes back journaled (the table's filled then equals the venue's CumQty
//! less the order's offset, so a later answer finds nothing missing; one
//! lost to a crash before it was journaled is found missing again); the
//! table and the strategy's replica hold an adopted order alike (same
//! quantity, same fills); the gate is reported held only between a
//! timeout and the next completion or release.

use super::ExecutionStage;
use crate::config::{Config, ReconcileMode, ReconcileUnknown};
use crate::decision::Outcome;
use crate::event::{
    Event, Fill, ReconcilePhase, ReconcileStep, StatusRequestKind, VenueOrder, VenueOrderState,
};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::orders::{Order, OrderState, OrderTerms};
use crate::recent::RecentMap;
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{InstrumentId, OrderId, Price, Qty, Side};
use rustc_hash::FxHashSet;

/// What reconciliation did, for the run report and the metrics endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileCounters {
    /// Rounds started (one per logon).
    pub rounds: u64,
    /// Status requests sent (AF and H).
    pub requests: u64,
    /// Status reports that answered them.
    pub reports: u64,
    /// Orders the venue held and the table did not: entered.
    pub adopted: u64,
    /// Orders cancelled at the venue by reconciliation (adopted with
    /// `reconcile_unknown = "cancel"`, or closed here and open there).
    pub cancelled: u64,
    /// Orders closed because the venue works them no more.
    pub closed: u64,
    /// Orders that took the venue's terms (a lost ack, replace or cancel reject).
    pub synced: u64,
    /// Missed fills applied, and their lots.
    pub fills: u64,
    pub fill_lots: u64,
    /// Rounds that hit `reconcile_timeout_ms`.
    pub timeouts: u64,
    /// Operator releases of the gate.
    pub releases: u64,
    /// 1 while a timed-out round holds the gate closed.
    pub gate_held: u64,
    /// Follow-ups the gateway could not take (the round then never completes).
    pub followups_lost: u64,
}

/// Execution's reconciliation state.
pub(super) struct Reconciliation {
    enabled: bool,
    cancel_unknown: bool,
    /// Orders the venue answered about in this round.
    mentioned: FxHashSet<u64>,
    /// Open orders to ask about (scratch, preallocated).
    listing: Vec<Order>,
    /// Follow-ups lost in this round.
    lost_in_round: u64,
    /// The highest id of the orders the engine decided to send (journaled
    /// decisions only: never raised by an adoption, which would hide the
    /// unrecorded orders below it in the same answer). The journal records
    /// every order at or below it (ids rise with the journal's sequence),
    /// so a venue report of one that is neither open nor remembered closed
    /// tells nothing new; one above it was sent but never journaled.
    own_id_max: u64,
    /// Lots an order had filled before the table took it on: live fills
    /// about own orders above `own_id_max` (sent, never recorded, their
    /// reports still arriving; already applied, so a status answer about
    /// such an order applies only what they lack), or another lineage's
    /// CumQty at adoption (not ours). The table holds such an order for
    /// the rest; every answer about it is read less these lots.
    unrecorded_filled: RecentMap<i64>,
}

/// Unrecorded orders whose live fills are remembered.
const UNRECORDED_MEMORY: usize = 1_024;

impl Reconciliation {
    pub(super) fn new(config: &Config, open_capacity: usize) -> Reconciliation {
        let mut mentioned = FxHashSet::default();
        mentioned.reserve(open_capacity);
        Reconciliation {
            enabled: config.venue.fix.reconcile != ReconcileMode::Off,
            cancel_unknown: config.venue.fix.reconcile_unknown == ReconcileUnknown::Cancel,
            mentioned,
            listing: Vec::with_capacity(open_capacity),
            lost_in_round: 0,
            own_id_max: 0,
            unrecorded_filled: RecentMap::with_capacity(UNRECORDED_MEMORY),
        }
    }

    /// A live fill about an order the table does not hold: remembered if
    /// the order is one of ours the journal never recorded.
    pub(super) fn note_unknown_fill(&mut self, id: OrderId, lots: i64) {
        if id.is_own() && id.0 > self.own_id_max {
            let before = self.unrecorded_filled.get(id.0).unwrap_or(0);
            self.unrecorded_filled.set(id.0, before + lots);
        }
    }

    /// Lots the order had filled before the table took it on (its offset).
    fn unrecorded_filled(&self, id: OrderId) -> i64 {
        self.unrecorded_filled.get(id.0).unwrap_or(0)
    }

    /// Another lineage's order adopted with `lots` filled before: not ours.
    fn note_filled_before_adoption(&mut self, id: OrderId, lots: i64) {
        if lots > 0 {
            self.unrecorded_filled.set(id.0, lots);
        }
    }

    /// The engine decided to send a new order.
    pub(super) fn note_own(&mut self, id: OrderId) {
        if id.is_own() {
            self.own_id_max = self.own_id_max.max(id.0);
        }
    }

    /// The journal holds the order's record: it is one of the engine's own
    /// orders at or below the highest the table held.
    fn recorded(&self, id: OrderId) -> bool {
        id.is_own() && id.0 <= self.own_id_max
    }

    /// A new run begins: no round is under way (the venue lane starts its own).
    pub(super) fn begin_run(&mut self) {
        self.mentioned.clear();
        self.lost_in_round = 0;
    }

    /// The round's state and the highest own order id, ids sorted.
    pub(super) fn save_state(&self, out: &mut StateWriter) {
        out.u64(self.own_id_max);
        out.u64(self.lost_in_round);
        let mut mentioned: Vec<u64> = self.mentioned.iter().copied().collect();
        mentioned.sort_unstable();
        out.count(mentioned.len());
        for id in mentioned {
            out.u64(id);
        }
        self.unrecorded_filled
            .save_state(out, |out, lots| out.i64(lots));
    }

    pub(super) fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.own_id_max = input.u64("execution.own_order_id_max")?;
        self.lost_in_round = input.u64("execution.reconcile_lost_in_round")?;
        let count = input.count("orders mentioned in the round", MENTIONED_MAX)?;
        self.mentioned.clear();
        for _ in 0..count {
            if !self
                .mentioned
                .insert(input.u64("execution.reconcile_mentioned")?)
            {
                return Err(StateError::Inconsistent {
                    what: "execution reconciliation",
                    detail: "an order is listed twice among those the venue mentioned",
                });
            }
        }
        self.unrecorded_filled
            .restore_state(input, "execution.unrecorded_filled", |input| {
                input.i64("execution.unrecorded_filled_lots")
            })
    }
}

/// Orders one round may hear about (live and recently done at the venue), at most.
const MENTIONED_MAX: usize = 1 << 20;

impl ExecutionStage {
    /// A step of the round, as the venue lane journaled it.
    pub(super) fn on_reconcile_phase(&mut self, phase: &ReconcilePhase, ev: &Event) -> Outcome {
        let counters = &mut self.counters.reconcile;
        match (phase.step, phase.request) {
            (ReconcileStep::Started, request) => {
                counters.rounds += 1;
                self.reconciliation.mentioned.clear();
                self.reconciliation.lost_in_round = 0;
                if request == StatusRequestKind::OrderStatus {
                    self.list_unmentioned(ev);
                }
            }
            (ReconcileStep::Answered, request) => {
                counters.requests += phase.requests;
                counters.reports += phase.reports;
                if request == StatusRequestKind::MassStatus {
                    self.list_unmentioned(ev);
                } else if self.reconciliation.lost_in_round == 0 {
                    self.note(RequestKind::Reconciled, &marker(), Price(0), Qty(0), ev);
                } else {
                    tracing::error!(
                        lost = self.reconciliation.lost_in_round,
                        "reconciliation follow-ups were lost: the gate stays closed until released"
                    );
                }
            }
            (ReconcileStep::Complete, _) => counters.gate_held = 0,
            (ReconcileStep::TimedOut, _) => {
                counters.timeouts += 1;
                counters.gate_held = 1;
            }
            _ => {}
        }
        Outcome::None
    }

    /// The operator released the gate.
    pub(super) fn on_reconcile_release(&mut self) {
        self.counters.reconcile.releases += 1;
        self.counters.reconcile.gate_held = 0;
    }

    /// Asks the venue about every open order it has not answered about in this round.
    fn list_unmentioned(&mut self, ev: &Event) {
        let mut listing = std::mem::take(&mut self.reconciliation.listing);
        listing.clear();
        let mentioned = &self.reconciliation.mentioned;
        listing.extend(
            self.orders
                .iter_open()
                .filter(|order| !mentioned.contains(&order.id.0))
                .take(listing.capacity()),
        );
        for order in &listing {
            self.note(RequestKind::Status, order, order.price, order.qty, ev);
        }
        self.note(RequestKind::StatusListed, &marker(), Price(0), Qty(0), ev);
        self.reconciliation.listing = listing;
    }

    /// The venue's view of one order, against the table's.
    pub(super) fn on_venue_order(&mut self, report: &VenueOrder, ev: &Event) -> Outcome {
        if !self.reconciliation.enabled {
            return Outcome::None;
        }
        let id = report.order_id;
        self.reconciliation.mentioned.insert(id.0);
        if let Some(order) = self.orders.get(id).copied() {
            return self.reconcile_known(order, report, ev);
        }
        if report.state != VenueOrderState::Open {
            return self.closed_unknown(report, ev);
        }
        if self.orders.closed_state(id).is_some() || self.reconciliation.recorded(id) {
            // Closed here, working there: it is no order of ours any more.
            tracing::warn!(
                order = id.0,
                "the venue works an order the engine closed: cancelling it"
            );
            let order = venue_order(report, ev.instrument, ev.side);
            self.counters.reconcile.cancelled += 1;
            return self.request_cancel_at_venue(&order, ev);
        }
        self.adopt(report, ev)
    }

    /// Closed at the venue and not open here. One the journal recorded
    /// (the table closed it, or it is at or below the highest own id) is
    /// done with: a mass answer tells the day's done orders, most of them
    /// known. One of ours never recorded that traded is an order sent in
    /// the moment before a crash, whose decision never reached the journal:
    /// its fills are the account's, so it is entered, its fills applied,
    /// and closed as the venue says. One under another lineage (or
    /// another system's) is not ours: nothing is applied.
    fn closed_unknown(&mut self, report: &VenueOrder, ev: &Event) -> Outcome {
        let id = report.order_id;
        if !id.is_own() {
            // Another lineage's or system's order, done before we took it
            // on: its fills are not ours.
            return Outcome::None;
        }
        if self.orders.closed_state(id).is_some() || self.reconciliation.recorded(id) {
            return Outcome::None;
        }
        if report.cum_qty.0 <= 0 {
            return Outcome::LateForClosedOrder;
        }
        // Its live reports may have come first (the venue sends what it
        // holds for the session at logon): those lots are applied already.
        let missed = report.cum_qty.0 - self.reconciliation.unrecorded_filled(id);
        if missed <= 0 {
            return Outcome::None;
        }
        let order = venue_order(report, ev.instrument, ev.side);
        if self
            .orders
            .adopt(id, order.instrument, order.side, order.price, order.qty)
            != Outcome::Applied
        {
            return Outcome::InvalidTransition;
        }
        tracing::warn!(
            order = id.0,
            cum_qty = report.cum_qty.0,
            "the venue reports fills of an order the engine never recorded: applied"
        );
        self.counters.reconcile.adopted += 1;
        self.apply_missed_fill(&order, missed, ev);
        self.orders.close_as(id, closed_state(report.state));
        self.counters.reconcile.closed += 1;
        self.note(
            RequestKind::ReconciledClose,
            &order,
            order.price,
            Qty(0),
            ev,
        );
        Outcome::Applied
    }

    /// An order the table holds: terms, missed fills, close, in that order.
    fn reconcile_known(&mut self, order: Order, report: &VenueOrder, ev: &Event) -> Outcome {
        let working = report.state == VenueOrderState::Open;
        // The venue's quantities less what was filled before the table held it.
        let offset = self.reconciliation.unrecorded_filled(order.id);
        let venue_qty = Qty(if report.qty.0 > 0 {
            report.qty.0 - offset
        } else {
            0
        });
        let terms_differ = (report.price.0 > 0 && report.price != order.price)
            || (venue_qty.0 > 0 && venue_qty != order.qty);
        if working && (terms_differ || !order.state.is_working()) {
            self.orders.adopt(
                order.id,
                order.instrument,
                order.side,
                report.price,
                venue_qty,
            );
            self.counters.reconcile.synced += 1;
            let synced = *self.orders.get(order.id).unwrap_or(&order);
            self.note(
                RequestKind::ReconciledAck,
                &synced,
                synced.price,
                synced.qty,
                ev,
            );
        }
        let missed = report.cum_qty.0 - offset - order.filled.0;
        if missed > 0 {
            self.apply_missed_fill(&order, missed, ev);
        } else if missed < 0 {
            tracing::warn!(
                order = order.id.0,
                engine = order.filled.0 + offset,
                venue = report.cum_qty.0,
                "the engine counts more filled than the venue reports"
            );
        }
        if !working && self.orders.get(order.id).is_some() {
            self.orders.close_as(order.id, closed_state(report.state));
            self.counters.reconcile.closed += 1;
            self.note(
                RequestKind::ReconciledClose,
                &order,
                order.price,
                Qty(0),
                ev,
            );
        }
        Outcome::Applied
    }

    /// Fill quantity the engine never heard of: handed on, and applied
    /// when it comes back journaled ([`Self::on_reconciled_fill`]), so a
    /// crash before it is journaled leaves it missing everywhere, and the
    /// next round finds it again.
    fn apply_missed_fill(&mut self, order: &Order, lots: i64, ev: &Event) {
        self.counters.reconcile.fills += 1;
        self.counters.reconcile.fill_lots += lots as u64;
        self.note(
            RequestKind::ReconciledFill,
            order,
            order.price,
            Qty(lots),
            ev,
        );
    }

    /// A missed fill, journaled: the position and the order move now, once
    /// (ingest flags a repeat of its exec id duplicate, and the table's
    /// filled quantity then equals the venue's CumQty).
    pub(super) fn on_reconciled_fill(&mut self, fill: &Fill, ev: &Event) -> Outcome {
        if ev.is_duplicate() {
            return Outcome::DuplicateFill;
        }
        if let Some(position) = self.positions.get_mut(ev.instrument.index()) {
            *position += ev.side.sign() * fill.qty.0;
        }
        self.orders.on_fill(ev.side, fill)
    }

    /// An order the venue works and the table does not hold: entered for
    /// what was not yet filled when the table took it on (see the header).
    fn adopt(&mut self, report: &VenueOrder, ev: &Event) -> Outcome {
        let id = report.order_id;
        // Ours and unrecorded: the lots its live fills brought (applied
        // then). Another lineage's: its whole CumQty (never ours).
        let before = if id.is_own() {
            self.reconciliation.unrecorded_filled(id)
        } else {
            report.cum_qty.0
        };
        let mut order = venue_order(report, ev.instrument, ev.side);
        order.qty = Qty(report.qty.0 - before);
        let adopted = self.orders.adopt(
            order.id,
            order.instrument,
            order.side,
            order.price,
            order.qty,
        );
        if adopted != Outcome::Applied {
            tracing::error!(
                order = order.id.0,
                ?adopted,
                "a venue order could not be adopted"
            );
            return adopted;
        }
        if !id.is_own() {
            self.reconciliation.note_filled_before_adoption(id, before);
        }
        self.counters.reconcile.adopted += 1;
        self.note(
            RequestKind::ReconciledAck,
            &order,
            order.price,
            order.qty,
            ev,
        );
        if report.cum_qty.0 > before {
            self.apply_missed_fill(&order, report.cum_qty.0 - before, ev);
        }
        if self.reconciliation.cancel_unknown && self.orders.get(order.id).is_some() {
            self.counters.reconcile.cancelled += 1;
            if let Ok(pending) = self.orders.request_cancel(order.id) {
                self.send_cancel(&pending, ev);
            }
        }
        Outcome::Applied
    }

    fn request_cancel_at_venue(&mut self, order: &Order, ev: &Event) -> Outcome {
        self.send_cancel(&OrderTerms::of(order), ev)
    }

    fn send_cancel(&mut self, order: &OrderTerms, ev: &Event) -> Outcome {
        self.ts_event_recv_ns = ev.ts_recv_ns;
        match self.send(
            RequestKind::Cancel,
            order,
            order.price,
            order.qty,
            ev.ts_recv_ns,
        ) {
            crate::decision::ExecResult::Sent => Outcome::Applied,
            _ => Outcome::InvalidTransition,
        }
    }

    /// Hands a reconciliation note to the venue lane (never refused by limits).
    fn note(&mut self, kind: RequestKind, order: &Order, price: Price, qty: Qty, ev: &Event) {
        let request = OrderRequest {
            kind,
            order_id: order.id,
            instrument: order.instrument,
            side: order.side,
            price,
            qty,
            ts_trigger_ns: ev.ts_recv_ns,
            ts_decided_ns: ev.ts_recv_ns,
            trigger_seq: ev.seq,
        };
        if self.gateway.send(&request).is_err() {
            self.counters.reconcile.followups_lost += 1;
            self.reconciliation.lost_in_round += 1;
        }
    }
}

/// The order a venue report describes, as the table would hold it.
fn venue_order(report: &VenueOrder, instrument: InstrumentId, side: Side) -> Order {
    Order {
        state: OrderState::New,
        state_before: OrderState::New,
        ..Order::pending_new(report.order_id, instrument, side, report.price, report.qty)
    }
}

/// A note about no order (a round's markers).
fn marker() -> Order {
    venue_order(
        &VenueOrder {
            order_id: OrderId(0),
            price: Price(0),
            qty: Qty(0),
            cum_qty: Qty(0),
            state: VenueOrderState::Unknown,
        },
        InstrumentId(0),
        Side::None,
    )
}

/// The table's closed state for what the venue reports.
fn closed_state(state: VenueOrderState) -> OrderState {
    match state {
        VenueOrderState::Filled => OrderState::Filled,
        VenueOrderState::Rejected | VenueOrderState::Unknown => OrderState::Rejected,
        VenueOrderState::Cancelled | VenueOrderState::Open => OrderState::Cancelled,
    }
}
