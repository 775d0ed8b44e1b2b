//! The paper venue (`venue.kind = "paper"`): in-process, no sockets,
//! polled by ingest as its venue lane. It takes order requests from
//! execution through a bounded queue ([`PaperGateway`]), acks them, and
//! fills them against the market ingest reads (an order that crosses the
//! touch fills at the touch, up to the touch's size; the rest rests and
//! fills when the market reaches it).
//!
//! It sees the market through a tap on the market-data source
//! ([`PaperVenue::market_tap`], wrapped around it with
//! `ingest::Tapped`): every top of book, on ingest's thread, before the
//! event is routed. The venue lane and the tap share the venue's state
//! behind a mutex that only ingest's thread ever takes, so it is never
//! contended.
//!
//! Its replies wait in a preallocated outbox; it takes a new request only
//! when the outbox has room for every reply that request can cause.
//!
//! It lives and dies with the process: after a restart it holds nothing, so
//! it answers every order the engine restored as open with a cancel ack
//! (a venue that cancels on disconnect), journaled like any venue message.
//! Invariants, asserted in debug builds: the outbox never outgrows its
//! capacity, and the resting count is the orders the books hold, at most
//! `venue.resting_orders_max`.

use crate::clock::EpochClock;
use crate::config::Config;
use crate::event::{Event, Fill, Input, OrderAck, OrderReject, RejectedRequest};
use crate::execution::gateway::{Gateway, OrderRequest, RequestKind, SendError};
use crate::ingest::source::{Restored, Source, Tap};
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};
use crossbeam_queue::ArrayQueue;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::event::venue_reason;

/// Replies one request can cause: an ack and a fill.
const REPLIES_PER_REQUEST_MAX: usize = 2;

/// Execution's end of the paper venue.
pub struct PaperGateway {
    queue: Arc<ArrayQueue<OrderRequest>>,
}

impl Gateway for PaperGateway {
    fn send(&mut self, request: &OrderRequest) -> Result<(), SendError> {
        self.queue
            .push(*request)
            .map_err(|_| SendError::Backpressure)
    }
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    order_id: OrderId,
    side: Side,
    price: Price,
    leaves: i64,
    filled: i64,
}

#[derive(Default)]
struct PaperBook {
    bid: Option<(Price, Qty)>,
    ask: Option<(Price, Qty)>,
    resting: Vec<Resting>,
}

/// The venue lane's end: a source of acks, fills and rejects.
pub struct PaperVenue {
    state: Arc<Mutex<Paper>>,
}

/// Everything the venue holds, shared by its lane and its market tap.
struct Paper {
    inbound: Arc<ArrayQueue<OrderRequest>>,
    books: Vec<PaperBook>,
    outbox: VecDeque<Event>,
    resting_count: usize,
    resting_max: usize,
    exec_id_next: u64,
    venue_order_id_next: u64,
    now_ns: u64,
}

impl PaperVenue {
    /// The venue and the gateway execution sends through.
    pub fn new(config: &Config) -> (PaperVenue, PaperGateway) {
        let queue = Arc::new(ArrayQueue::new(config.venue.queue_capacity));
        let resting_max = config.venue.resting_orders_max;
        let books = (0..config.instruments.len())
            .map(|_| PaperBook {
                resting: Vec::with_capacity(resting_max),
                ..PaperBook::default()
            })
            .collect();
        let paper = Paper {
            inbound: Arc::clone(&queue),
            books,
            outbox: VecDeque::with_capacity(resting_max * REPLIES_PER_REQUEST_MAX + 64),
            resting_count: 0,
            resting_max,
            exec_id_next: 1,
            venue_order_id_next: 1,
            now_ns: 0,
        };
        let venue = PaperVenue {
            state: Arc::new(Mutex::new(paper)),
        };
        (venue, PaperGateway { queue })
    }

    /// What the market-data source's events go through (see the module
    /// header): every top of book moves the touch and fills what it reached.
    pub fn market_tap(&self) -> Tap {
        let state = Arc::clone(&self.state);
        Box::new(move |event: &Event| {
            if let Input::TopOfBook(top) = event.input() {
                lock(&state).on_market(event.instrument, top, event.ts_recv_ns);
            }
        })
    }
}

/// The venue's state; a panic while it was held leaves it as it was.
fn lock(state: &Mutex<Paper>) -> MutexGuard<'_, Paper> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Paper {
    /// The market moved: remember the touch and fill resting orders it reached.
    fn on_market(&mut self, instrument: InstrumentId, top: crate::event::TopOfBook, now_ns: u64) {
        let Some(book) = self.books.get_mut(instrument.index()) else {
            return;
        };
        book.bid = Some((top.bid_px, top.bid_qty));
        book.ask = Some((top.ask_px, top.ask_qty));
        if !book.resting.is_empty() {
            self.now_ns = now_ns;
            self.match_instrument(instrument);
        }
    }

    fn reply(&mut self, instrument: InstrumentId, side: Side, input: Input) {
        let mut event = Event::new(instrument, side, input);
        event.ts_venue_ns = self.now_ns;
        debug_assert!(
            self.outbox.len() < self.outbox.capacity(),
            "outbox room is checked before taking work"
        );
        self.outbox.push_back(event);
    }

    fn handle(&mut self, request: OrderRequest) {
        let instrument = request.instrument;
        if instrument.index() >= self.books.len() {
            let reject = OrderReject {
                order_id: request.order_id,
                request: RejectedRequest::New,
                venue_reason: venue_reason::UNKNOWN_SYMBOL,
            };
            self.reply(instrument, request.side, Input::OrderReject(reject));
            return;
        }
        match request.kind {
            RequestKind::New => self.handle_new(request),
            RequestKind::Cancel => self.handle_cancel(request),
            RequestKind::Replace => self.handle_replace(request),
            // Reconciliation is a FIX venue's: the paper venue never asks.
            _ => {}
        }
        debug_assert!(self.resting_count_is_right(), "resting orders are counted");
    }

    fn handle_new(&mut self, request: OrderRequest) {
        let reject = |reason| {
            Input::OrderReject(OrderReject {
                order_id: request.order_id,
                request: RejectedRequest::New,
                venue_reason: reason,
            })
        };
        if request.qty.0 <= 0 {
            return self.reply(
                request.instrument,
                request.side,
                reject(venue_reason::INCORRECT_QTY),
            );
        }
        if self.resting_count >= self.resting_max {
            return self.reply(
                request.instrument,
                request.side,
                reject(venue_reason::EXCEEDS_LIMIT),
            );
        }
        let venue_order_id = self.venue_order_id_next;
        self.venue_order_id_next += 1;
        let ack = OrderAck {
            order_id: request.order_id,
            venue_order_id,
            price: request.price,
            qty: request.qty,
        };
        self.reply(request.instrument, request.side, Input::OrderAck(ack));
        self.books[request.instrument.index()]
            .resting
            .push(Resting {
                order_id: request.order_id,
                side: request.side,
                price: request.price,
                leaves: request.qty.0,
                filled: 0,
            });
        self.resting_count += 1;
        self.match_instrument(request.instrument);
    }

    fn handle_cancel(&mut self, request: OrderRequest) {
        let book = &mut self.books[request.instrument.index()];
        match book
            .resting
            .iter()
            .position(|r| r.order_id == request.order_id)
        {
            Some(index) => {
                book.resting.swap_remove(index);
                self.resting_count -= 1;
                self.reply(
                    request.instrument,
                    request.side,
                    Input::CancelAck(request.order_id),
                );
            }
            None => {
                let reject = OrderReject {
                    order_id: request.order_id,
                    request: RejectedRequest::Cancel,
                    venue_reason: venue_reason::UNKNOWN_ORDER,
                };
                self.reply(request.instrument, request.side, Input::OrderReject(reject));
            }
        }
    }

    fn handle_replace(&mut self, request: OrderRequest) {
        let book = &mut self.books[request.instrument.index()];
        let found = book
            .resting
            .iter_mut()
            .find(|r| r.order_id == request.order_id);
        let reason = match found {
            Some(resting) if request.qty.0 > resting.filled => {
                resting.price = request.price;
                resting.leaves = request.qty.0 - resting.filled;
                None
            }
            Some(_) => Some(venue_reason::OTHER),
            None => Some(venue_reason::UNKNOWN_ORDER),
        };
        let input = match reason {
            None => Input::OrderAck(OrderAck {
                order_id: request.order_id,
                venue_order_id: 0,
                price: request.price,
                qty: request.qty,
            }),
            Some(venue_reason) => Input::OrderReject(OrderReject {
                order_id: request.order_id,
                request: RejectedRequest::Replace,
                venue_reason,
            }),
        };
        self.reply(request.instrument, request.side, input);
        if reason.is_none() {
            self.match_instrument(request.instrument);
        }
    }

    /// Resting orders counted as they are held (a walk over the books: for debug assertions).
    fn resting_count_is_right(&self) -> bool {
        let held: usize = self.books.iter().map(|book| book.resting.len()).sum();
        held == self.resting_count && held <= self.resting_max
    }

    /// Fills resting orders the market has reached, while the outbox has room.
    fn match_instrument(&mut self, instrument: InstrumentId) {
        let book = &mut self.books[instrument.index()];
        let mut index = 0;
        while index < book.resting.len() && self.outbox.len() < self.outbox.capacity() {
            let resting = book.resting[index];
            let touch = match resting.side {
                Side::Buy => book.ask.filter(|(price, _)| *price <= resting.price),
                Side::Sell => book.bid.filter(|(price, _)| *price >= resting.price),
                Side::None => None,
            };
            let Some((price, size)) = touch else {
                index += 1;
                continue;
            };
            let qty = resting.leaves.min(size.0.max(1));
            let exec_id = ExecId(self.exec_id_next);
            self.exec_id_next += 1;
            let fill = Fill {
                order_id: resting.order_id,
                exec_id,
                price,
                qty: Qty(qty),
            };
            let mut event = Event::new(instrument, resting.side, Input::Fill(fill));
            event.ts_venue_ns = self.now_ns;
            self.outbox.push_back(event);
            let resting = &mut book.resting[index];
            resting.leaves -= qty;
            resting.filled += qty;
            if resting.leaves == 0 {
                book.resting.swap_remove(index);
                self.resting_count -= 1;
            } else {
                index += 1;
            }
        }
        debug_assert!(self.resting_count_is_right(), "resting orders are counted");
    }
}

impl Source for PaperVenue {
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        lock(&self.state).poll(clock, budget, emit)
    }

    /// Orders the engine restored are not in this (new) venue: cancelled.
    fn on_restored(&mut self, restored: &Restored<'_>) {
        let mut paper = lock(&self.state);
        // At start-up, before the hot path: room for these replies too.
        paper.outbox.reserve(restored.open_orders.len());
        for order in restored.open_orders {
            let mut event = Event::new(order.instrument, order.side, Input::CancelAck(order.id));
            event.ts_venue_ns = paper.now_ns;
            paper.outbox.push_back(event);
        }
    }
}

impl Paper {
    /// Takes the requests the outbox has room for, then emits up to `budget` replies.
    fn poll(&mut self, clock: &EpochClock, budget: usize, emit: &mut dyn FnMut(Event)) -> usize {
        self.now_ns = clock.now_ns();
        while self.outbox.capacity() - self.outbox.len() > REPLIES_PER_REQUEST_MAX {
            let Some(request) = self.inbound.pop() else {
                break;
            };
            self.handle(request);
        }
        let mut emitted = 0;
        while emitted < budget {
            let Some(mut event) = self.outbox.pop_front() else {
                break;
            };
            event.ts_recv_ns = clock.now_ns();
            emit(event);
            emitted += 1;
        }
        emitted
    }
}
