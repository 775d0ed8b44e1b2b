//! Execution's requests on their way out: queued while the session is not
//! up (bounded; the oldest is answered with a local reject when full), a
//! new order or replace that waited too long rejected locally rather than
//! sent on old prices, and each request encoded with the ClOrdID of the
//! order's version the venue accepted last.
//!
//! Owning thread: ingest's, inside `FixClient::poll`.

use super::cl_ord_id::ClOrdId;
use super::inbox::Versions;
use super::{FixClient, OUTBOX_MAX, PENDING_MAX, VENUE_REJECT_NOT_CONNECTED};
use crate::event::{Event, Input, OrderReject, RejectedRequest};
use crate::execution::gateway::{OrderRequest, RequestKind};
use crate::units::Side;
use genesis_io::fix::order::{
    NewOrderSingle, OrdType, OrderCancelReplaceRequest, OrderCancelRequest, Side as FixSide,
    TimeInForce,
};
use genesis_io::fix::session::{Session, SessionState};
use genesis_io::fix::{InstrumentScale, Lots, SendError, Ticks};
use rustc_hash::FxHashMap;

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
    /// Takes what execution queued, then, with the session up, sends what
    /// waits in order (or rejects it locally if it waited too long).
    pub(super) fn send_requests(&mut self, now_ns: u64) {
        while let Some(request) = self.requests.pop() {
            if self.pending.len() == PENDING_MAX {
                let (oldest, _) = self.pending.pop_front().expect("pending is full");
                self.reject_locally(&oldest, now_ns);
            }
            self.pending.push_back((request, now_ns));
        }
        debug_assert!(self.pending.len() <= PENDING_MAX, "pending is bounded");
        if self.session.state() != SessionState::Active {
            return;
        }
        while let Some((request, queued_ns)) = self.pending.front().copied() {
            if request.kind != RequestKind::Cancel
                && now_ns.saturating_sub(queued_ns) > self.pending_age_max_ns
            {
                self.pending.pop_front();
                self.counters.requests_expired += 1;
                self.reject_locally(&request, now_ns);
                continue;
            }
            match self.send_one(&request, now_ns) {
                Ok(()) => {
                    self.pending.pop_front();
                    self.counters.requests_sent += 1;
                }
                Err(SendError::OutputFull { .. }) => break,
                Err(err) => {
                    tracing::warn!(%err, order = request.order_id.0, "FIX request not sent");
                    self.pending.pop_front();
                    self.reject_locally(&request, now_ns);
                }
            }
        }
    }

    fn send_one(&mut self, request: &OrderRequest, now_ns: u64) -> Result<(), SendError> {
        let instrument = request.instrument.index().min(self.scales.len() - 1);
        let versions = self
            .versions
            .get(&request.order_id.0)
            .copied()
            .unwrap_or_default();
        debug_assert!(
            versions.accepted <= versions.sent,
            "the accepted version is one this client sent"
        );
        let addressed = Addressed {
            symbol: self.symbols[instrument].as_bytes(),
            scale: self.scales[instrument],
            side: if request.side == Side::Buy {
                FixSide::Buy
            } else {
                FixSide::Sell
            },
            current: ClOrdId::new(
                request.order_id,
                (versions.accepted > 0).then_some((b'r', versions.accepted)),
            ),
            versions,
        };
        match request.kind {
            RequestKind::New => {
                self.instruments
                    .insert(request.order_id.0, instrument as u16);
                let order = limit_order(request, &addressed, addressed.current.as_bytes());
                let sender = self.session.sender();
                sender
                    .send_new_order(&order, &addressed.scale, now_ns)
                    .map(|_| ())
            }
            RequestKind::Cancel => {
                self.cancels_sent += 1;
                let cancel_id = ClOrdId::new(request.order_id, Some((b'c', self.cancels_sent)));
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
                &mut self.versions,
                request,
                &addressed,
                now_ns,
            ),
        }
    }

    /// Answers a request that never left with a reject event, so the order does not hang.
    pub(super) fn reject_locally(&mut self, request: &OrderRequest, now_ns: u64) {
        self.counters.rejected_not_connected += 1;
        let rejected = match request.kind {
            RequestKind::New => RejectedRequest::New,
            RequestKind::Cancel => RejectedRequest::Cancel,
            RequestKind::Replace => RejectedRequest::Replace,
        };
        let input = Input::OrderReject(OrderReject {
            order_id: request.order_id,
            request: rejected,
            venue_reason: VENUE_REJECT_NOT_CONNECTED,
        });
        let mut event = Event::new(request.instrument, request.side, input);
        event.ts_venue_ns = now_ns;
        if self.outbox.len() < OUTBOX_MAX {
            self.outbox.push_back(event);
        }
    }
}

/// A replace asks for the order's next version; sent, it is remembered
/// (the accepted one moves only when the venue acknowledges it).
fn send_replace(
    session: &mut Session,
    versions_of: &mut FxHashMap<u64, Versions>,
    request: &OrderRequest,
    addressed: &Addressed<'_>,
    now_ns: u64,
) -> Result<(), SendError> {
    let versions = addressed.versions;
    let next = ClOrdId::new(request.order_id, Some((b'r', versions.sent + 1)));
    let replace = OrderCancelReplaceRequest {
        orig_cl_ord_id: addressed.current.as_bytes(),
        order: limit_order(request, addressed, next.as_bytes()),
    };
    session
        .sender()
        .send_replace(&replace, &addressed.scale, now_ns)?;
    let sent = versions.sent + 1;
    versions_of.insert(request.order_id.0, Versions { sent, ..versions });
    Ok(())
}
