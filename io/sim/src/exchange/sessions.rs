//! The exchange's side of a FIX session: new orders, cancels and replaces
//! from `Exchange::submit`, and the replies they queue. Same owning thread
//! as the exchange.
//!
//! Each session order is remembered from its acceptance, live until it
//! closes (filled, cancelled, expired on arrival) and done for a while
//! after, so its replies carry FIX's CumQty and LeavesQty and a status
//! request about it can be answered.

use super::{
    reason, Answer, Exchange, MarketDataOut, Reply, Request, RequestKind, SessionOrder, Side,
    ViewState, OWNER_SESSION, PRICE_TICKS_MAX, QTY_LOTS_MAX,
};
use genesis_io::venue::{NewOrder, Reject, TimeInForce};

impl Exchange {
    /// One request from `session` (`OWNER_SESSION + n`); its replies wait
    /// in the reply queue.
    pub fn submit(
        &mut self,
        session: u32,
        request: Request,
        now_ns: u64,
        out: &mut dyn MarketDataOut,
    ) {
        assert!(
            session >= OWNER_SESSION,
            "sessions own from OWNER_SESSION up"
        );
        self.now_ns = now_ns;
        self.session = session;
        let instrument = request.instrument;
        if instrument >= self.books.len() {
            let reason = match request.kind {
                RequestKind::New => reason::UNKNOWN_SYMBOL,
                RequestKind::Cancel | RequestKind::Replace => reason::UNKNOWN_ORDER,
            };
            return self.reject(&request, reason);
        }
        match request.kind {
            RequestKind::New => self.session_new(&request),
            RequestKind::Cancel => self.session_cancel(&request),
            RequestKind::Replace => self.session_replace(&request),
        }
        self.dispatch(instrument, out);
        if let Some((order, expired_qty)) = self.done_on_arrival.take() {
            // What could not rest expired: the session hears it after the fills.
            if expired_qty > 0 {
                self.reply(&request, Answer::Cancelled { order }, false);
            }
            let state = if expired_qty > 0 {
                ViewState::Cancelled
            } else {
                ViewState::Filled
            };
            self.retire((self.session, order), state);
        }
    }

    fn session_new(&mut self, request: &Request) {
        let reason = if request.qty <= 0 || request.qty > QTY_LOTS_MAX {
            Some(reason::INCORRECT_QTY)
        } else if request.price <= 0 || request.price > PRICE_TICKS_MAX {
            Some(reason::OTHER)
        } else if self
            .session_orders
            .get(&(self.session, request.order))
            .is_some_and(|order| order.done.is_none())
        {
            Some(reason::DUPLICATE_ORDER)
        } else {
            None
        };
        if let Some(reason) = reason {
            return self.reject(request, reason);
        }
        let order = NewOrder {
            owner: self.session,
            client_id: request.order,
            side: request.side,
            price: request.price,
            qty: request.qty,
            tif: TimeInForce::Day,
        };
        let scratch = &mut self.scratch;
        let result = self.books[request.instrument]
            .submit(order, &mut self.ids, &mut |event| scratch.push(*event));
        match result {
            Ok(submitted) => {
                self.session_orders.insert(
                    (self.session, request.order),
                    SessionOrder {
                        instrument: request.instrument,
                        side: request.side,
                        price: request.price,
                        order_ref: submitted.order_ref,
                        qty: request.qty,
                        filled: 0,
                        notional: 0,
                        done: None,
                    },
                );
                if submitted.order_ref.is_none() {
                    self.done_on_arrival = Some((request.order, submitted.expired_qty));
                }
                // The ack goes out before the fills the order took on arrival.
                self.reply(request, accepted(request), false);
            }
            Err(refusal) => self.reject(request, new_reason_of(refusal)),
        }
    }

    fn session_cancel(&mut self, request: &Request) {
        let Some((order, order_ref)) = self.resting_session_order(request) else {
            return self.reject(request, reason::UNKNOWN_ORDER);
        };
        let scratch = &mut self.scratch;
        match self.books[order.instrument].cancel(order_ref, &mut |event| scratch.push(*event)) {
            Ok(_) => {
                let cancelled = Answer::Cancelled {
                    order: request.order,
                };
                self.reply(request, cancelled, false);
                self.retire((self.session, request.order), ViewState::Cancelled);
            }
            Err(refusal) => self.reject(request, cancel_reason_of(refusal)),
        }
    }

    fn session_replace(&mut self, request: &Request) {
        let Some((order, order_ref)) = self.resting_session_order(request) else {
            return self.reject(request, reason::UNKNOWN_ORDER);
        };
        // FIX gives the new total quantity; the book takes what is left of it.
        let leaves = request.qty - order.filled;
        if leaves <= 0 || request.qty > QTY_LOTS_MAX {
            return self.reject(request, reason::OTHER);
        }
        if request.price <= 0 || request.price > PRICE_TICKS_MAX {
            return self.reject(request, reason::OTHER);
        }
        let scratch = &mut self.scratch;
        let result = self.books[order.instrument].replace(
            order_ref,
            request.price,
            leaves,
            &mut self.ids,
            &mut |event| scratch.push(*event),
        );
        match result {
            Ok(submitted) => {
                let key = (self.session, request.order);
                if let Some(entry) = self.session_orders.get_mut(&key) {
                    entry.order_ref = submitted.order_ref;
                    entry.qty = request.qty;
                    entry.price = request.price;
                }
                if submitted.order_ref.is_none() {
                    self.done_on_arrival = Some((request.order, submitted.expired_qty));
                }
                // Queued before the fills the replacement takes (sent at dispatch).
                self.reply(request, accepted(request), true);
            }
            Err(refusal) => self.reject(request, cancel_reason_of(refusal)),
        }
    }

    /// The session's order a cancel or replace names, if it rests in the
    /// book of the instrument the request names.
    fn resting_session_order(
        &self,
        request: &Request,
    ) -> Option<(SessionOrder, genesis_io::venue::OrderRef)> {
        let order = self
            .session_orders
            .get(&(self.session, request.order))
            .copied()
            .filter(|order| order.instrument == request.instrument && order.done.is_none())?;
        Some((order, order.order_ref?))
    }

    fn reject(&mut self, request: &Request, reason: i64) {
        self.counters.session_rejects += 1;
        let rejected = Answer::Rejected {
            order: request.order,
            request: request.kind,
            reason,
        };
        self.reply(request, rejected, false);
    }

    /// A reply to the current session about `request`'s order; its totals
    /// are the order's now.
    fn reply(&mut self, request: &Request, answer: Answer, replaced: bool) {
        let (qty, filled) = self
            .session_orders
            .get(&(self.session, request.order))
            .map_or((0, 0), |order| (order.qty, order.filled));
        let leaves_qty = match answer {
            Answer::Accepted { .. } => qty - filled,
            _ => 0,
        };
        self.reply_to(
            self.session,
            request.instrument,
            request.side,
            answer,
            filled,
            leaves_qty,
        );
        if let Some(last) = self.replies.back_mut() {
            last.replaced = replaced;
        }
    }

    pub(super) fn reply_to(
        &mut self,
        session: u32,
        instrument: usize,
        side: Side,
        answer: Answer,
        cum_qty: i64,
        leaves_qty: i64,
    ) {
        debug_assert!(
            cum_qty >= 0 && leaves_qty >= 0,
            "order totals are never negative"
        );
        self.replies.push_back(Reply {
            session,
            instrument,
            side,
            answer,
            cum_qty,
            leaves_qty,
            replaced: false,
        });
    }
}

/// The acceptance of a new order or replace: its price and total quantity.
fn accepted(request: &Request) -> Answer {
    Answer::Accepted {
        order: request.order,
        price: request.price,
        qty: request.qty,
    }
}

/// OrdRejReason(103) for a refused new order.
fn new_reason_of(refusal: Reject) -> i64 {
    match refusal {
        Reject::BadQty => reason::INCORRECT_QTY,
        Reject::BookFull | Reject::LevelsFull => reason::EXCEEDS_LIMIT,
        Reject::BadPrice | Reject::UnknownOrder => reason::OTHER,
    }
}

/// CxlRejReason(102) for a refused cancel or replace.
fn cancel_reason_of(refusal: Reject) -> i64 {
    match refusal {
        Reject::UnknownOrder => reason::UNKNOWN_ORDER,
        _ => reason::OTHER,
    }
}
