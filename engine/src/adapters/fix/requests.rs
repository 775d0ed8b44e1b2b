//! Execution's requests on their way out: queued while the session is not
//! up (bounded; the oldest is answered with a local reject when full); a
//! new order or replace made longer ago than `pending_age_max_ms` rejected
//! locally, on any poll, rather than sent on old prices; a new order or
//! replace that reaches the session during a reconciliation round refused
//! locally too; each request encoded with the ClOrdID of the order's
//! version the venue accepted last (or the venue's own, for an order
//! adopted from it). A replace's ClOrdID names the order's next version, a
//! cancel's the journal sequence of the event that decided it: both come
//! from the journal, never repeat across restarts, and replay names them
//! as they were sent. Reconciliation's notes from execution go to the round.
//!
//! Owning thread: ingest's, inside `FixClient::poll`.

use super::cl_ord_id::ClOrdId;
use super::ledger::{Ledger, Versions};
use super::reconcile::Venue;
use super::{push_event, FixClient, PENDING_MAX};
use crate::event::{venue_reason, Input, OrderReject, RejectedRequest};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::units::Side;
use genesis_io::fix::order::{
    NewOrderSingle, OrdType, OrderCancelReplaceRequest, OrderCancelRequest, Side as FixSide,
    TimeInForce,
};
use genesis_io::fix::session::{Session, SessionState};
use genesis_io::fix::{InstrumentScale, Lots, SendError, Ticks};

/// What every request of one order carries: its instrument's symbol and
/// scale, its side, and the ClOrdID the venue knows it by now.
struct Addressed<'a> {
    symbol: &'a [u8],
    scale: InstrumentScale,
    side: FixSide,
    current: ClOrdId,
    versions: Versions,
}

/// A limit day order for `request` under `cl_ord_id`, as a new order or a replace's new terms.
fn limit_order<'a>(
    request: &OrderRequest,
    addressed: &Addressed<'a>,
    cl_ord_id: &'a [u8],
) -> NewOrderSingle<'a> {
    NewOrderSingle {
        cl_ord_id,
        account: None,
        symbol: addressed.symbol,
        side: addressed.side,
        qty_lots: Lots(request.qty.0),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(request.price.0)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: request.ts_trigger_ns,
        trigger_ns: Some(request.ts_trigger_ns),
    }
}

impl FixClient {
    /// Takes what execution queued, rejects what is too old to send, then,
    /// with the session up, sends what waits in order.
    pub(super) fn send_requests(&mut self, now_ns: u64) {
        while let Some(request) = self.requests.pop() {
            if !request.kind.is_order_entry() {
                self.on_note(&request, now_ns);
                continue;
            }
            if self.pending.len() == PENDING_MAX {
                let oldest = self.pending.pop_front().expect("pending is full");
                self.reject_locally(&oldest, venue_reason::NOT_CONNECTED, now_ns);
            }
            self.pending.push_back(request);
        }
        debug_assert!(self.pending.len() <= PENDING_MAX, "pending is bounded");
        self.expire_pending(now_ns);
        if self.session.state() != SessionState::Active {
            return;
        }
        while let Some(request) = self.pending.front().copied() {
            if request.kind != RequestKind::Cancel && self.round.gating() {
                // Made before the gate closed; the venue's orders are not known yet.
                self.pending.pop_front();
                self.counters.rejected_reconciling += 1;
                self.reject_locally(&request, venue_reason::RECONCILING, now_ns);
                continue;
            }
            match self.send_one(&request, now_ns) {
                Ok(()) => {
                    self.pending.pop_front();
                    self.counters.requests_sent += 1;
                    self.link.on_request_sent(now_ns);
                    let end_offset =
                        self.bytes_written + self.session.pending_output().len() as u64;
                    self.tick_to_trade.on_encoded(
                        request.trigger_seq,
                        request.ts_decided_ns,
                        end_offset,
                    );
                }
                Err(SendError::OutputFull { .. }) => break,
                Err(err) => {
                    tracing::warn!(%err, order = request.order_id.0, "FIX request not sent");
                    self.pending.pop_front();
                    self.reject_locally(&request, venue_reason::NOT_CONNECTED, now_ns);
                }
            }
        }
    }

    /// Rejects every new order or replace made longer ago than the limit.
    fn expire_pending(&mut self, now_ns: u64) {
        let mut index = 0;
        while index < self.pending.len() {
            let request = self.pending[index];
            // A request without a decision time (0) is not aged.
            let age_ns = now_ns.saturating_sub(request.ts_decided_ns.max(1))
                * u64::from(request.ts_decided_ns > 0);
            if request.kind == RequestKind::Cancel || age_ns <= self.pending_age_max_ns {
                index += 1;
                continue;
            }
            self.pending.remove(index);
            self.counters.requests_expired += 1;
            self.reject_locally(&request, venue_reason::NOT_CONNECTED, now_ns);
        }
    }

    /// A reconciliation note from execution, for the round.
    fn on_note(&mut self, note: &OrderRequest, now_ns: u64) {
        let active = self.session.state() == SessionState::Active;
        let venue = Venue {
            outbox: &mut self.outbox,
            ledger: &mut self.ledger,
            instruments: &self.instruments,
            sender: active.then(|| self.session.sender()),
        };
        self.round.on_note(note, venue, now_ns);
    }

    fn send_one(&mut self, request: &OrderRequest, now_ns: u64) -> Result<(), SendError> {
        let instrument = request
            .instrument
            .index()
            .min(self.instruments.scales.len() - 1);
        let addressed = Addressed {
            symbol: self.instruments.symbols[instrument].as_bytes(),
            scale: self.instruments.scales[instrument],
            side: if request.side == Side::Buy {
                FixSide::Buy
            } else {
                FixSide::Sell
            },
            current: self.ledger.current_cl_ord_id(request.order_id),
            versions: self.ledger.versions(request.order_id),
        };
        match request.kind {
            RequestKind::New => {
                self.ledger
                    .remember_instrument(request.order_id, instrument);
                let order = limit_order(request, &addressed, addressed.current.as_bytes());
                let sender = self.session.sender();
                sender
                    .send_new_order(&order, &addressed.scale, now_ns)
                    .map(|_| ())
            }
            RequestKind::Cancel => {
                self.cancels_sent += 1;
                // Numbered by the event that decided it (an order is
                // cancelled at most once per event): unique across
                // restarts, and the journal names it. Without one, a count.
                let number = match request.trigger_seq {
                    0 => self.cancels_sent,
                    seq => seq,
                };
                let cancel_id = self
                    .ledger
                    .cl_ord_id(request.order_id, Some((b'c', number)));
                let cancel = OrderCancelRequest {
                    orig_cl_ord_id: addressed.current.as_bytes(),
                    cl_ord_id: cancel_id.as_bytes(),
                    symbol: addressed.symbol,
                    side: addressed.side,
                    qty_lots: Lots(request.qty.0),
                    transact_time_ns: request.ts_trigger_ns,
                };
                let sender = self.session.sender();
                sender
                    .send_cancel(&cancel, &addressed.scale, now_ns)
                    .map(|_| ())
            }
            RequestKind::Replace => send_replace(
                &mut self.session,
                &mut self.ledger,
                request,
                &addressed,
                now_ns,
            ),
            _ => unreachable!("only order entry waits to be sent"),
        }
    }

    /// Answers a request that never left with a reject event, so the order does not hang.
    pub(super) fn reject_locally(&mut self, request: &OrderRequest, reason: i64, now_ns: u64) {
        debug_assert!(reason < 0, "local rejects carry the engine's own codes");
        self.counters.rejected_not_connected += 1;
        let rejected = match request.kind {
            RequestKind::Cancel => RejectedRequest::Cancel,
            RequestKind::Replace => RejectedRequest::Replace,
            _ => RejectedRequest::New,
        };
        let input = Input::OrderReject(OrderReject {
            order_id: request.order_id,
            request: rejected,
            venue_reason: reason,
        });
        let key = (request.instrument, request.side);
        push_event(&mut self.outbox, key, input, 0, now_ns);
    }
}

/// A replace asks for the order's next version; sent, it is remembered
/// (the accepted one moves only when the venue acknowledges it).
fn send_replace(
    session: &mut Session,
    ledger: &mut Ledger,
    request: &OrderRequest,
    addressed: &Addressed<'_>,
    now_ns: u64,
) -> Result<(), SendError> {
    let versions = addressed.versions;
    let next = ledger.cl_ord_id(request.order_id, Some((b'r', versions.sent + 1)));
    let replace = OrderCancelReplaceRequest {
        orig_cl_ord_id: addressed.current.as_bytes(),
        order: limit_order(request, addressed, next.as_bytes()),
    };
    session
        .sender()
        .send_replace(&replace, &addressed.scale, now_ns)?;
    let sent = versions.sent + 1;
    ledger.replace_sent(request.order_id, Versions { sent, ..versions });
    Ok(())
}
