//! Reconciliation at logon, the venue lane's side (`docs/restart.md`):
//! after each logon, and before anything new may be sent, the venue is
//! asked for every order it holds, and every step is journaled as an event
//! (`Input::Reconcile`) that risk gates on and execution acts on.
//!
//! A round, driving `genesis_io::fix::reconcile::Reconciler`:
//! 1. Logon: Started; with `mass-status`, one OrderMassStatusRequest (AF).
//!    The venue's answers become `Input::VenueOrder` events.
//! 2. The AF is answered (or refused: the venue does not support it):
//!    Answered(mass status); execution then lists, as `Status` requests,
//!    the open orders the answer did not mention, and each is asked with
//!    an OrderStatusRequest (H), then `StatusListed`. With `order-status`
//!    the round starts here, execution listing every open order.
//! 3. Every H is answered: Answered(order status); execution applies what
//!    it must and queues `Reconciled` behind its last follow-up.
//! 4. `Reconciled` reaches us: Complete; risk opens the gate.
//!
//! Past `reconcile_timeout_ms` at any step the round ends TimedOut: the
//! gate stays closed and execution raises the alert until the operator
//! releases the gate (SIGHUP, a control command). A disconnect abandons the
//! round (Pending: the gate closes until the next one).
//!
//! Owning thread: ingest's, inside `FixClient::poll`. Invariants, asserted:
//! a round moves Idle → Asking → Applying → Done, or to TimedOut, and
//! back to Idle only by a disconnect; new orders and replaces are held
//! back exactly while Asking or Applying.

use super::ledger::Ledger;
use super::{push_event, Instruments};
use crate::config::{FixVenueConfig, ReconcileMode};
use crate::event::{
    Event, Fill, Input, OrderAck, ReconcilePhase, ReconcileStep, StatusRequestKind, FLAG_RECONCILED,
};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::units::{ExecId, InstrumentId, Side};
use genesis_io::fix::exec_dedup::ExecKey;
use genesis_io::fix::order::Side as FixSide;
use genesis_io::fix::reconcile::{ReconcileMode as AskMode, ReconcileState, Reconciler};
use genesis_io::fix::reject::RequestReject;
use genesis_io::fix::session::Sender;
use genesis_io::fix::status::StatusReport;
use std::collections::VecDeque;

/// Where the venue lane's round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RoundState {
    /// No round: before the first logon, or the session is down.
    Idle,
    /// Requests of this kind are out; answers come in.
    Asking(StatusRequestKind),
    /// The venue answered everything; execution applies and says `Reconciled`.
    Applying,
    /// Complete: the gate is open.
    Done,
    /// The deadline passed; the gate stays closed until the operator releases it.
    TimedOut,
}

pub(super) struct Round {
    mode: ReconcileMode,
    reconciler: Reconciler,
    state: RoundState,
    timeout_ns: u64,
    deadline_ns: u64,
    /// The reconciler's requests and reports when the current step began.
    counted_at_step: (u64, u64),
}

impl Round {
    pub fn new(settings: &FixVenueConfig, orders_max: usize) -> Round {
        // A prefix of this process's own, so that a status answer from an
        // earlier run's round (resent) never answers this run's.
        let prefix = format!("G{:x}-", std::process::id() & 0xf_ffff);
        Round {
            mode: settings.reconcile,
            reconciler: Reconciler::new(orders_max.max(1), &prefix),
            state: RoundState::Idle,
            timeout_ns: settings.reconcile_timeout_ms.saturating_mul(1_000_000),
            deadline_ns: 0,
            counted_at_step: (0, 0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.mode != ReconcileMode::Off
    }

    /// New orders and replaces wait (are refused locally) while true.
    pub fn gating(&self) -> bool {
        matches!(self.state, RoundState::Asking(_) | RoundState::Applying)
    }

    /// The session logged on: a round begins.
    pub fn start(&mut self, sender: &mut Sender, outbox: &mut VecDeque<Event>, now_ns: u64) {
        if !self.enabled() {
            return;
        }
        self.deadline_ns = now_ns.saturating_add(self.timeout_ns);
        let request = match self.mode {
            ReconcileMode::MassStatus => StatusRequestKind::MassStatus,
            _ => StatusRequestKind::OrderStatus,
        };
        self.step_begins();
        emit_phase(outbox, ReconcileStep::Started, request, (0, 0), now_ns);
        self.state = RoundState::Asking(request);
        if request == StatusRequestKind::MassStatus {
            if let Err(err) = self
                .reconciler
                .start_mass_status(sender, now_ns, self.timeout_ns)
            {
                tracing::error!(%err, "OrderMassStatusRequest not sent: the round will time out");
            }
        } else {
            self.reconciler.start_order_status(now_ns, self.timeout_ns);
        }
        tracing::info!(mode = ?self.mode, "reconciling orders with the venue");
    }

    fn step_begins(&mut self) {
        let counters = self.reconciler.counters();
        self.counted_at_step = (counters.requests_sent, counters.reports);
    }

    /// Requests and reports of the step that just ended.
    fn step_counts(&self) -> (u64, u64) {
        let counters = self.reconciler.counters();
        (
            counters.requests_sent - self.counted_at_step.0,
            counters.reports - self.counted_at_step.1,
        )
    }

    /// Deadlines and steps the answers completed.
    pub fn poll(&mut self, outbox: &mut VecDeque<Event>, now_ns: u64) {
        match self.state {
            RoundState::Asking(request) => match self.reconciler.poll(now_ns) {
                ReconcileState::Complete | ReconcileState::MassStatusRefused => {
                    self.answered(request, outbox, now_ns)
                }
                ReconcileState::TimedOut => self.time_out(outbox, now_ns),
                ReconcileState::Awaiting | ReconcileState::Idle => {}
            },
            RoundState::Applying if now_ns >= self.deadline_ns => self.time_out(outbox, now_ns),
            _ => {}
        }
    }

    /// Every request of one kind is answered.
    fn answered(&mut self, request: StatusRequestKind, outbox: &mut VecDeque<Event>, now_ns: u64) {
        if self.reconciler.state() == ReconcileState::MassStatusRefused {
            tracing::warn!("the venue refused OrderMassStatusRequest: asking order by order");
        }
        let counts = self.step_counts();
        emit_phase(outbox, ReconcileStep::Answered, request, counts, now_ns);
        if request == StatusRequestKind::MassStatus {
            self.step_begins();
            let remaining_ns = self.deadline_ns.saturating_sub(now_ns).max(1);
            self.reconciler.start_order_status(now_ns, remaining_ns);
            self.state = RoundState::Asking(StatusRequestKind::OrderStatus);
        } else {
            self.state = RoundState::Applying;
        }
    }

    fn time_out(&mut self, outbox: &mut VecDeque<Event>, now_ns: u64) {
        tracing::error!(
            timeout_ms = self.timeout_ns / 1_000_000,
            "reconciliation with the venue timed out: new orders stay gated until the operator releases them (SIGHUP)"
        );
        emit_phase(
            outbox,
            ReconcileStep::TimedOut,
            StatusRequestKind::None,
            (0, 0),
            now_ns,
        );
        self.state = RoundState::TimedOut;
    }

    /// The session is gone (or never was): the gate closes until the next round.
    pub fn on_disconnect(&mut self, outbox: &mut VecDeque<Event>, now_ns: u64) {
        if !self.enabled() {
            return;
        }
        if self.reconciler.state() != ReconcileState::Idle {
            self.reconciler.release();
        }
        self.state = RoundState::Idle;
        emit_phase(
            outbox,
            ReconcileStep::Pending,
            StatusRequestKind::None,
            (0, 0),
            now_ns,
        );
    }

    /// A status answer arrived: true when it answers this round.
    pub fn on_report(&mut self, report: &StatusReport<'_>) -> bool {
        matches!(self.state, RoundState::Asking(_)) && self.reconciler.on_report(report)
    }

    /// A status request of ours was refused: true when it was one of this round's.
    pub fn on_request_rejected(&mut self, reject: &RequestReject<'_>) -> bool {
        let ours = self.reconciler.on_request_rejected(reject);
        if ours {
            tracing::warn!(?reject, "the venue refused a status request");
        }
        ours
    }

    /// Execution's reconciliation notes: status requests to send, and what
    /// it applied, handed on as flagged events.
    pub fn on_note(&mut self, note: &OrderRequest, venue: Venue<'_>, now_ns: u64) {
        match note.kind {
            RequestKind::Status => self.ask_order_status(note, venue, now_ns),
            RequestKind::StatusListed if self.asking_order_status() => {
                self.reconciler.finish_requests()
            }
            RequestKind::ReconciledAck => emit_followup(venue.outbox, note, ack(note), now_ns),
            RequestKind::ReconciledFill => {
                let fill = missed_fill(note, venue.ledger);
                emit_followup(venue.outbox, note, fill, now_ns)
            }
            RequestKind::ReconciledClose => {
                venue.ledger.forget(note.order_id);
                emit_followup(venue.outbox, note, Input::CancelAck(note.order_id), now_ns)
            }
            RequestKind::Reconciled if self.state == RoundState::Applying => {
                emit_phase(
                    venue.outbox,
                    ReconcileStep::Complete,
                    StatusRequestKind::None,
                    (0, 0),
                    now_ns,
                );
                self.state = RoundState::Done;
                tracing::info!("reconciliation with the venue complete: new orders may go");
            }
            _ => {}
        }
    }

    fn asking_order_status(&self) -> bool {
        self.state == RoundState::Asking(StatusRequestKind::OrderStatus)
            && self.reconciler.state() == ReconcileState::Awaiting
            && self.reconciler.mode() == AskMode::OrderStatus
    }

    /// One OrderStatusRequest, for an order execution believes open.
    fn ask_order_status(&mut self, note: &OrderRequest, venue: Venue<'_>, now_ns: u64) {
        if !self.asking_order_status() {
            return;
        }
        let Some(sender) = venue.sender else { return };
        let instrument = note
            .instrument
            .index()
            .min(venue.instruments.symbols.len() - 1);
        let cl_ord_id = venue.ledger.current_cl_ord_id(note.order_id);
        let side = if note.side == Side::Buy {
            FixSide::Buy
        } else {
            FixSide::Sell
        };
        venue.ledger.remember_instrument(note.order_id, instrument);
        let symbol = venue.instruments.symbols[instrument].as_bytes();
        let asked = self.reconciler.request_order_status(
            sender,
            (cl_ord_id.as_bytes(), None),
            (symbol, side),
            now_ns,
        );
        if let Err(err) = asked {
            tracing::warn!(%err, order = note.order_id.0, "OrderStatusRequest not sent");
        }
    }
}

/// What a note needs beside the round.
pub(super) struct Venue<'a> {
    pub outbox: &'a mut VecDeque<Event>,
    pub ledger: &'a mut Ledger,
    pub instruments: &'a Instruments,
    /// The session's sender while logged on.
    pub sender: Option<&'a mut Sender>,
}

fn emit_phase(
    outbox: &mut VecDeque<Event>,
    step: ReconcileStep,
    request: StatusRequestKind,
    (requests, reports): (u64, u64),
    now_ns: u64,
) {
    let phase = ReconcilePhase {
        step,
        request,
        requests,
        reports,
    };
    let key = (InstrumentId(0), Side::None);
    push_event(outbox, key, Input::Reconcile(phase), 0, now_ns);
}

fn emit_followup(outbox: &mut VecDeque<Event>, note: &OrderRequest, input: Input, now_ns: u64) {
    let key = (note.instrument, note.side);
    push_event(outbox, key, input, FLAG_RECONCILED, now_ns);
}

/// Execution adopted the order, or it took the venue's terms.
fn ack(note: &OrderRequest) -> Input {
    Input::OrderAck(OrderAck {
        order_id: note.order_id,
        venue_order_id: 0,
        price: note.price,
        qty: note.qty,
    })
}

/// Fill quantity the engine missed, at the venue's average price for the
/// order when it gave one. Its exec id is its own (no venue ExecID names
/// it): the order and the CumQty it brings the order to, so the same
/// missed quantity is one fill however often it is noted.
fn missed_fill(note: &OrderRequest, ledger: &Ledger) -> Input {
    let mut order_text = [0u8; 20];
    let mut cum_text = [0u8; 20];
    let cum_qty = ledger.status_cum_qty(note.order_id).unwrap_or(note.qty.0);
    let key = ExecKey::new(
        Some(digits(note.order_id.0, &mut order_text)),
        None,
        digits(cum_qty.unsigned_abs(), &mut cum_text),
    );
    Input::Fill(Fill {
        order_id: note.order_id,
        exec_id: ExecId(key.hash() ^ RECONCILED_EXEC_SALT),
        price: ledger.missed_fill_price(note.order_id, note.price),
        qty: note.qty,
    })
}

/// Keeps reconciled fills' exec ids apart from any venue ExecID's.
const RECONCILED_EXEC_SALT: u64 = 0x5245_434f_4e43_494c;

/// `value` in decimal, in `buffer`.
fn digits(mut value: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buffer[start..]
}
