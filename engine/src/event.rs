//! The one event type that flows through every ring: 128 bytes, `Copy`, no
//! heap pointers. It carries its input (market data, a venue message, a
//! control command or a timer) in four integer words, and the decisions the
//! stages take on it, so that the journal, written last, holds the whole story.
//!
//! Layout (little endian on disk, see `docs/journal-format.md`):
//! `seq, ts_recv_ns, ts_venue_ns` (24 bytes), eight one-byte/two-byte header
//! fields, the input words (32 bytes) and two intents (64 bytes).

use crate::decision::{
    code_enum, Action, ExecResult, Gate, Intent, Outcome, RejectReason, MAX_INTENTS,
};
use crate::units::{ExecId, InstrumentId, OrderId, Price, Qty, Side};

/// Size of an event in memory and of its journal payload.
pub const EVENT_BYTES: usize = 128;
const _: () = assert!(core::mem::size_of::<Event>() == EVENT_BYTES);
const _: () = assert!(core::mem::align_of::<Event>() == 8);
/// Where the flags byte sits in the encoding (and in memory).
const FLAGS_OFFSET: usize = 28;
// The encoding is the event's memory on a little-endian machine
// (`Event::encode`): every field where the encoding puts it, with its size,
// the offsets leaving no gap.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(Event, seq) == 0);
    assert!(offset_of!(Event, ts_recv_ns) == 8);
    assert!(offset_of!(Event, ts_venue_ns) == 16);
    assert!(offset_of!(Event, kind) == 24 && size_of::<EventKind>() == 1);
    assert!(offset_of!(Event, side) == 25 && size_of::<Side>() == 1);
    assert!(offset_of!(Event, instrument) == 26 && size_of::<InstrumentId>() == 2);
    assert!(offset_of!(Event, flags) == FLAGS_OFFSET);
    assert!(offset_of!(Event, gate_global) == 29 && size_of::<Gate>() == 1);
    assert!(offset_of!(Event, gate_instrument) == 30);
    assert!(offset_of!(Event, outcome) == 31 && size_of::<Outcome>() == 1);
    assert!(offset_of!(Event, data) == 32);
    assert!(offset_of!(Event, intents) == 64 && MAX_INTENTS == 2);
    assert!(size_of::<Intent>() == 32);
    assert!(offset_of!(Intent, order_id) == 0 && size_of::<OrderId>() == 8);
    assert!(offset_of!(Intent, price) == 8 && size_of::<Price>() == 8);
    assert!(offset_of!(Intent, qty) == 16 && size_of::<Qty>() == 8);
    assert!(offset_of!(Intent, instrument) == 24);
    assert!(offset_of!(Intent, action) == 26 && size_of::<Action>() == 1);
    assert!(offset_of!(Intent, side) == 27);
    assert!(offset_of!(Intent, reject) == 28 && size_of::<RejectReason>() == 1);
    assert!(offset_of!(Intent, exec) == 29 && size_of::<ExecResult>() == 1);
    assert!(offset_of!(Intent, reserved) == 30);
};

code_enum! {
    /// What the event's input is.
    pub enum EventKind {
        Empty = 0 => "empty",
        TopOfBook = 1 => "top_of_book",
        Trade = 2 => "trade",
        BookDelta = 3 => "book_delta",
        OrderAck = 4 => "order_ack",
        Fill = 5 => "fill",
        OrderReject = 6 => "order_reject",
        CancelAck = 7 => "cancel_ack",
        Control = 8 => "control",
        Timer = 9 => "timer",
        /// Reconciliation with the venue moved on a step (see [`ReconcilePhase`]).
        Reconcile = 10 => "reconcile",
        /// The venue's view of one order, answering a status request (see [`VenueOrder`]).
        VenueOrder = 11 => "venue_order",
    }
}

/// The priority lane an input travels in when rings fill up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Kill switch and other commands: never queued behind market data, never dropped.
    Control,
    /// Acks, fills, rejects and timers: never dropped or conflated.
    Venue,
    /// Quotes, trades and book deltas: may be conflated per instrument.
    MarketData,
}

impl EventKind {
    pub fn lane(self) -> Lane {
        match self {
            EventKind::Control => Lane::Control,
            EventKind::TopOfBook | EventKind::Trade | EventKind::BookDelta => Lane::MarketData,
            _ => Lane::Venue,
        }
    }
}

code_enum! {
    /// Operator commands carried by control events.
    pub enum ControlCommand {
        None = 0 => "none",
        KillSwitchHalt = 1 => "kill_switch_halt",
        KillSwitchReduceOnly = 2 => "kill_switch_reduce_only",
        KillSwitchCancelAll = 3 => "kill_switch_cancel_all",
        KillSwitchOff = 4 => "kill_switch_off",
        /// The operator opens the gate a reconciliation that timed out left closed.
        ReconcileRelease = 5 => "reconcile_release",
    }
}

code_enum! {
    /// Which request a venue reject refers to.
    pub enum RejectedRequest {
        New = 0 => "new",
        Cancel = 1 => "cancel",
        Replace = 2 => "replace",
    }
}

/// Event flag: ingest saw this fill's exec id before; stages must not apply it twice.
pub const FLAG_DUPLICATE: u8 = 1;
/// Event flag: newer market data replaced older updates while a ring was full.
pub const FLAG_CONFLATED: u8 = 2;
/// Event flag: the book this market data comes from is stale (a feed gap not
/// yet recovered); nothing new may be traded on the instrument.
pub const FLAG_STALE: u8 = 4;
/// Event flag: more book deltas of the same feed message follow (the rows of
/// a snapshot); the book is whole again only after the delta without it.
pub const FLAG_MESSAGE_CONTINUES: u8 = 8;
/// Event flag: made by reconciliation with the venue, not read from a live
/// ExecutionReport: a fill the engine missed, an order it adopted, synced
/// or closed after the venue's status answers (`docs/restart.md`). Execution
/// applied it when it read the venue's answer ([`Input::VenueOrder`]); risk
/// and strategy apply it as they read it, once.
pub const FLAG_RECONCILED: u8 = 16;
/// Event flag, for timing only and never written to the journal
/// ([`Event::encode`] leaves it out): the event is on the sample every
/// stage times lap by lap. Ingest sets it once, as it numbers the event
/// (`telemetry::metrics::mark_lap_sample`, by its `LapSampler`), so every
/// chain of a pipelined plan times the same events by reading one bit.
pub const FLAG_LAP_SAMPLE: u8 = 32;

code_enum! {
    /// A step of reconciliation with the venue (FIX status requests at logon).
    pub enum ReconcileStep {
        None = 0 => "none",
        /// The session is down or not yet reconciled: new orders and replaces are gated.
        Pending = 1 => "pending",
        /// Logged on; the venue is asked (`ReconcilePhase::request` says how).
        Started = 2 => "started",
        /// The venue answered every request of one kind: execution asks about
        /// the open orders it did not mention, or finishes.
        Answered = 3 => "answered",
        /// Every answer is applied: the gate opens.
        Complete = 4 => "complete",
        /// The deadline passed: the gate stays closed until the operator releases it.
        TimedOut = 5 => "timed_out",
    }
}

code_enum! {
    /// How the venue is asked in a reconciliation step.
    pub enum StatusRequestKind {
        None = 0 => "none",
        /// One OrderMassStatusRequest (35=AF) for every order the venue holds.
        MassStatus = 1 => "mass_status",
        /// One OrderStatusRequest (35=H) per order execution believes open.
        OrderStatus = 2 => "order_status",
    }
}

code_enum! {
    /// An order's state as the venue reports it.
    pub enum VenueOrderState {
        /// Working (new, partially filled, or a request pending on it).
        Open = 0 => "open",
        Filled = 1 => "filled",
        /// Cancelled, expired or done for the day.
        Cancelled = 2 => "cancelled",
        Rejected = 3 => "rejected",
        /// The venue does not know the order (an OrderStatusRequest's answer).
        Unknown = 4 => "unknown",
    }
}

/// A step of reconciliation, with what the venue answered in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconcilePhase {
    pub step: ReconcileStep,
    pub request: StatusRequestKind,
    /// Status requests sent in the step just answered (`Answered` only).
    pub requests: u64,
    /// Status reports that answered them (`Answered` only).
    pub reports: u64,
}

/// The venue's view of one order (ExecType=I); side and instrument in the
/// event header. `order_id` is the engine's id its ClOrdID names, or an
/// adoption id for a ClOrdID the engine never made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueOrder {
    pub order_id: OrderId,
    /// Limit price (ticks); 0 when the venue gave none.
    pub price: Price,
    /// Total quantity (CumQty + LeavesQty; lots).
    pub qty: Qty,
    /// Filled so far at the venue (CumQty), below [`VENUE_CUM_QTY_MAX`].
    pub cum_qty: Qty,
    pub state: VenueOrderState,
}

/// CumQty shares its word with the state (the top byte): lots below 2^56.
pub const VENUE_CUM_QTY_MAX: i64 = (1 << 56) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Event {
    /// Assigned by ingest: consecutive from 1 in a run.
    pub seq: u64,
    /// When ingest read the input, nanoseconds since the Unix epoch.
    pub ts_recv_ns: u64,
    /// The venue's own timestamp of the input, when it has one.
    pub ts_venue_ns: u64,
    pub kind: EventKind,
    pub side: Side,
    pub instrument: InstrumentId,
    pub flags: u8,
    /// Risk's gate for all instruments, after this event.
    pub gate_global: Gate,
    /// Risk's gate for this event's instrument, after this event.
    pub gate_instrument: Gate,
    /// Execution's classification of a venue input.
    pub outcome: Outcome,
    /// The input, interpreted by `kind` (see the typed views below).
    pub data: [i64; 4],
    pub intents: [Intent; MAX_INTENTS],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopOfBook {
    pub bid_px: Price,
    pub bid_qty: Qty,
    pub ask_px: Price,
    pub ask_qty: Qty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    pub price: Price,
    pub qty: Qty,
    pub trade_id: u64,
}

/// A price level's new total size (zero removes the level); side in the
/// event header. `bid_px` and `ask_px` are the touch once the level is set
/// (`Price(0)`: that side of the book is empty), so a strategy needs no book
/// of its own to quote at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookDelta {
    pub price: Price,
    pub qty: Qty,
    pub bid_px: Price,
    pub ask_px: Price,
}

/// The venue accepted a new order or a replace; `price`/`qty` are what now works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderAck {
    pub order_id: OrderId,
    pub venue_order_id: u64,
    pub price: Price,
    pub qty: Qty,
}

/// An execution; side in the event header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub order_id: OrderId,
    pub exec_id: ExecId,
    pub price: Price,
    pub qty: Qty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderReject {
    pub order_id: OrderId,
    pub request: RejectedRequest,
    /// The venue's reason, in FIX's codes (see [`venue_reason`]).
    pub venue_reason: i64,
}

/// Reason codes in [`OrderReject::venue_reason`]: FIX's own. A rejected new
/// order carries OrdRejReason(103), a rejected cancel or replace
/// CxlRejReason(102), as the venue sent them (codes below 1000, shared with
/// the simulated venue through `genesis_io::fix::reasons`); a request the
/// venue refused at session level or as a business message carries
/// [`SESSION_REJECT`](venue_reason::SESSION_REJECT) or
/// [`BUSINESS_REJECT`](venue_reason::BUSINESS_REJECT) plus FIX's reason;
/// negative codes are the engine's own (the request never left).
pub mod venue_reason {
    /// CxlRejReason 1: the venue does not know the order, so it is not live
    /// there; the engine closes it (a fill still in flight is still applied).
    pub use genesis_io::fix::reasons::UNKNOWN_ORDER;
    pub use genesis_io::fix::reasons::{
        DUPLICATE_ORDER, EXCEEDS_LIMIT, INCORRECT_QTY, OTHER, UNKNOWN_SYMBOL,
    };
    /// The request never left: the session was down, or it waited longer
    /// than `venue.fix.pending_age_max_ms` since it was made.
    pub const NOT_CONNECTED: i64 = -1;
    /// A new order or replace reached the session while it reconciled with
    /// the venue (made before the gate closed): not sent.
    pub const RECONCILING: i64 = -2;
    /// A session-level Reject (35=3): 1000 + SessionRejectReason(373)
    /// (1099 when the Reject gave none). QuickFIX refusing an undefined tag
    /// answers 373=0 (1000), a tag without value 373=4 (1004).
    pub const SESSION_REJECT: i64 = 1_000;
    /// A BusinessMessageReject (35=j): 2000 + BusinessRejectReason(380).
    pub const BUSINESS_REJECT: i64 = 2_000;
}

/// The typed input of an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Empty,
    TopOfBook(TopOfBook),
    Trade(Trade),
    BookDelta(BookDelta),
    OrderAck(OrderAck),
    Fill(Fill),
    OrderReject(OrderReject),
    CancelAck(OrderId),
    Control(ControlCommand),
    Timer(u64),
    Reconcile(ReconcilePhase),
    VenueOrder(VenueOrder),
}

impl Default for Event {
    fn default() -> Event {
        Event::EMPTY
    }
}

impl Event {
    pub const EMPTY: Event = Event {
        seq: 0,
        ts_recv_ns: 0,
        ts_venue_ns: 0,
        kind: EventKind::Empty,
        side: Side::None,
        instrument: InstrumentId(0),
        flags: 0,
        gate_global: Gate::Open,
        gate_instrument: Gate::Open,
        outcome: Outcome::None,
        data: [0; 4],
        intents: [Intent::EMPTY; MAX_INTENTS],
    };

    /// A new event with this input and no decisions yet. Inlined: a caller
    /// that names the input's kind (a tape row, a venue reply) builds the
    /// event without the match over every kind.
    #[inline]
    pub fn new(instrument: InstrumentId, side: Side, input: Input) -> Event {
        let (kind, data) = match input {
            Input::Empty => (EventKind::Empty, [0; 4]),
            Input::TopOfBook(t) => (
                EventKind::TopOfBook,
                [t.bid_px.0, t.bid_qty.0, t.ask_px.0, t.ask_qty.0],
            ),
            Input::Trade(t) => (EventKind::Trade, [t.price.0, t.qty.0, t.trade_id as i64, 0]),
            Input::BookDelta(d) => (
                EventKind::BookDelta,
                [d.price.0, d.qty.0, d.bid_px.0, d.ask_px.0],
            ),
            Input::OrderAck(a) => (
                EventKind::OrderAck,
                [
                    a.order_id.0 as i64,
                    a.venue_order_id as i64,
                    a.price.0,
                    a.qty.0,
                ],
            ),
            Input::Fill(f) => (
                EventKind::Fill,
                [f.order_id.0 as i64, f.exec_id.0 as i64, f.price.0, f.qty.0],
            ),
            Input::OrderReject(r) => (
                EventKind::OrderReject,
                [r.order_id.0 as i64, r.request as i64, r.venue_reason, 0],
            ),
            Input::CancelAck(id) => (EventKind::CancelAck, [id.0 as i64, 0, 0, 0]),
            Input::Control(c) => (EventKind::Control, [c as i64, 0, 0, 0]),
            Input::Timer(id) => (EventKind::Timer, [id as i64, 0, 0, 0]),
            Input::Reconcile(p) => (
                EventKind::Reconcile,
                [
                    p.step as i64 | (p.request as i64) << 8,
                    p.requests as i64,
                    p.reports as i64,
                    0,
                ],
            ),
            Input::VenueOrder(o) => (EventKind::VenueOrder, venue_order_words(&o)),
        };
        Event {
            kind,
            side,
            instrument,
            data,
            ..Event::EMPTY
        }
    }

    /// The typed input. Words that do not decode (only possible in a corrupt
    /// journal, which `decode` refuses) read as neutral values.
    #[inline]
    pub fn input(&self) -> Input {
        let d = self.data;
        match self.kind {
            EventKind::Empty => Input::Empty,
            EventKind::TopOfBook => Input::TopOfBook(TopOfBook {
                bid_px: Price(d[0]),
                bid_qty: Qty(d[1]),
                ask_px: Price(d[2]),
                ask_qty: Qty(d[3]),
            }),
            EventKind::Trade => Input::Trade(Trade {
                price: Price(d[0]),
                qty: Qty(d[1]),
                trade_id: d[2] as u64,
            }),
            EventKind::BookDelta => Input::BookDelta(BookDelta {
                price: Price(d[0]),
                qty: Qty(d[1]),
                bid_px: Price(d[2]),
                ask_px: Price(d[3]),
            }),
            EventKind::OrderAck => Input::OrderAck(OrderAck {
                order_id: OrderId(d[0] as u64),
                venue_order_id: d[1] as u64,
                price: Price(d[2]),
                qty: Qty(d[3]),
            }),
            EventKind::Fill => Input::Fill(Fill {
                order_id: OrderId(d[0] as u64),
                exec_id: ExecId(d[1] as u64),
                price: Price(d[2]),
                qty: Qty(d[3]),
            }),
            EventKind::OrderReject => Input::OrderReject(OrderReject {
                order_id: OrderId(d[0] as u64),
                request: u8::try_from(d[1])
                    .ok()
                    .and_then(RejectedRequest::from_u8)
                    .unwrap_or(RejectedRequest::New),
                venue_reason: d[2],
            }),
            EventKind::CancelAck => Input::CancelAck(OrderId(d[0] as u64)),
            EventKind::Control => Input::Control(
                u8::try_from(d[0])
                    .ok()
                    .and_then(ControlCommand::from_u8)
                    .unwrap_or(ControlCommand::None),
            ),
            EventKind::Timer => Input::Timer(d[0] as u64),
            EventKind::Reconcile => Input::Reconcile(ReconcilePhase {
                step: ReconcileStep::from_u8(d[0] as u8).unwrap_or(ReconcileStep::None),
                request: StatusRequestKind::from_u8((d[0] >> 8) as u8)
                    .unwrap_or(StatusRequestKind::None),
                requests: d[1] as u64,
                reports: d[2] as u64,
            }),
            EventKind::VenueOrder => Input::VenueOrder(VenueOrder {
                order_id: OrderId(d[0] as u64),
                price: Price(d[1]),
                qty: Qty(d[2]),
                cum_qty: Qty(d[3] & VENUE_CUM_QTY_MAX),
                state: VenueOrderState::from_u8((d[3] >> 56) as u8)
                    .unwrap_or(VenueOrderState::Unknown),
            }),
        }
    }

    /// The book delta this event carries, if it is one: read from its words
    /// without decoding the other kinds (what a stage that acts on book
    /// rows alone asks on every event).
    #[inline]
    pub fn book_delta(&self) -> Option<BookDelta> {
        if self.kind != EventKind::BookDelta {
            return None;
        }
        let d = self.data;
        Some(BookDelta {
            price: Price(d[0]),
            qty: Qty(d[1]),
            bid_px: Price(d[2]),
            ask_px: Price(d[3]),
        })
    }

    /// The top of book this event carries, if it is one, read as
    /// [`Event::book_delta`] reads.
    #[inline]
    pub fn top_of_book(&self) -> Option<TopOfBook> {
        if self.kind != EventKind::TopOfBook {
            return None;
        }
        let d = self.data;
        Some(TopOfBook {
            bid_px: Price(d[0]),
            bid_qty: Qty(d[1]),
            ask_px: Price(d[2]),
            ask_qty: Qty(d[3]),
        })
    }

    /// The fill this event carries, if it is one, read as [`Event::book_delta`] reads.
    #[inline]
    pub fn fill(&self) -> Option<Fill> {
        if self.kind != EventKind::Fill {
            return None;
        }
        let d = self.data;
        Some(Fill {
            order_id: OrderId(d[0] as u64),
            exec_id: ExecId(d[1] as u64),
            price: Price(d[2]),
            qty: Qty(d[3]),
        })
    }

    #[inline]
    pub fn is_duplicate(&self) -> bool {
        self.flags & FLAG_DUPLICATE != 0
    }

    /// Made by reconciliation with the venue (see [`FLAG_RECONCILED`]).
    #[inline]
    pub fn is_reconciled(&self) -> bool {
        self.flags & FLAG_RECONCILED != 0
    }

    /// On the lap sample (see [`FLAG_LAP_SAMPLE`]).
    #[inline]
    pub fn on_lap_sample(&self) -> bool {
        self.flags & FLAG_LAP_SAMPLE != 0
    }

    /// Clears every decision, keeping the input: what replay starts from.
    pub fn clear_decisions(&mut self) {
        self.gate_global = Gate::Open;
        self.gate_instrument = Gate::Open;
        self.outcome = Outcome::None;
        self.intents = [Intent::EMPTY; MAX_INTENTS];
    }

    /// Writes the event's exact bytes, little endian, no padding; the
    /// timing-only [`FLAG_LAP_SAMPLE`] is left out, so a journal does not
    /// depend on which events were timed. On a little-endian machine the
    /// encoding is the event's memory (`repr(C)`, every field where the
    /// encoding puts it: asserted at compile time), so it is one 128-byte
    /// copy instead of a store per field (the journal's per-event cost).
    /// The flag is cleared in the 16 bytes that hold it before they are
    /// stored, so every byte written comes from one store: the frame's CRC
    /// reads the payload back at once, and an 8-byte load that needs two
    /// stores (the copy's and a one-byte clear after it) cannot be
    /// forwarded from them; it waited for both to reach the cache, whose
    /// line the journal's buffer often had yet to fetch (measured in
    /// `docs/performance.md`, "Fourteenth round: the read-ahead's window").
    #[inline]
    pub fn encode(&self, out: &mut [u8; EVENT_BYTES]) {
        #[cfg(target_endian = "little")]
        {
            const FLAGS_CHUNK: usize = FLAGS_OFFSET / 16 * 16;
            const KEEP: u128 = !((FLAG_LAP_SAMPLE as u128) << ((FLAGS_OFFSET - FLAGS_CHUNK) * 8));
            let bytes = self.memory_bytes();
            let (head, rest) = out.split_at_mut(FLAGS_CHUNK);
            let (chunk, tail) = rest.split_at_mut(16);
            head.copy_from_slice(&bytes[..FLAGS_CHUNK]);
            let mut flags_chunk = [0u8; 16];
            flags_chunk.copy_from_slice(&bytes[FLAGS_CHUNK..FLAGS_CHUNK + 16]);
            chunk.copy_from_slice(&(u128::from_le_bytes(flags_chunk) & KEEP).to_le_bytes());
            tail.copy_from_slice(&bytes[FLAGS_CHUNK + 16..]);
        }
        #[cfg(not(target_endian = "little"))]
        self.encode_by_field(out);
    }

    /// The event's memory, byte for byte: its encoding on a little-endian
    /// machine (but for [`FLAG_LAP_SAMPLE`]).
    #[cfg(target_endian = "little")]
    #[allow(unsafe_code)]
    #[inline]
    fn memory_bytes(&self) -> &[u8; EVENT_BYTES] {
        // SAFETY: `Event` is `repr(C)` and `EVENT_BYTES` long; the layout
        // assertions beside its definition put every field, and every field
        // of its intents, at the offset and size its encoding gives it, and
        // those fill the 128 bytes with no gap, so there is no padding byte.
        // Every field is an integer, an array of integers, a one-integer
        // newtype of the integer's size, a `repr(u8)` enum or an `Intent`
        // made of the same, so every byte is initialised. `[u8; N]` has
        // alignment 1, and the reference borrows `self`, which cannot change
        // while it lives.
        unsafe { &*(self as *const Event).cast::<[u8; EVENT_BYTES]>() }
    }

    /// The encoding written field by field, little endian: what
    /// [`Event::encode`] does on a big-endian machine, and the reference the
    /// tests hold the memory copy to.
    #[cfg_attr(target_endian = "little", allow(dead_code))]
    fn encode_by_field(&self, out: &mut [u8; EVENT_BYTES]) {
        out[0..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.ts_recv_ns.to_le_bytes());
        out[16..24].copy_from_slice(&self.ts_venue_ns.to_le_bytes());
        out[24] = self.kind as u8;
        out[25] = self.side as u8;
        out[26..28].copy_from_slice(&self.instrument.0.to_le_bytes());
        out[FLAGS_OFFSET] = self.flags & !FLAG_LAP_SAMPLE;
        out[29] = self.gate_global as u8;
        out[30] = self.gate_instrument as u8;
        out[31] = self.outcome as u8;
        for (i, word) in self.data.iter().enumerate() {
            out[32 + i * 8..40 + i * 8].copy_from_slice(&word.to_le_bytes());
        }
        for (i, intent) in self.intents.iter().enumerate() {
            encode_intent(intent, &mut out[64 + i * 32..96 + i * 32]);
        }
    }

    /// Reads an event back, refusing any byte that is not a valid code.
    pub fn decode(bytes: &[u8; EVENT_BYTES]) -> Result<Event, DecodeError> {
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let code = |field: &'static str, at: usize| DecodeError {
            field,
            offset: at,
            value: bytes[at],
        };
        let mut data = [0i64; 4];
        for (i, word) in data.iter_mut().enumerate() {
            *word = u64_at(32 + i * 8) as i64;
        }
        let mut intents = [Intent::EMPTY; MAX_INTENTS];
        for (i, intent) in intents.iter_mut().enumerate() {
            *intent = decode_intent(bytes, 64 + i * 32)?;
        }
        Ok(Event {
            seq: u64_at(0),
            ts_recv_ns: u64_at(8),
            ts_venue_ns: u64_at(16),
            kind: EventKind::from_u8(bytes[24]).ok_or(code("kind", 24))?,
            side: Side::from_u8(bytes[25]).ok_or(code("side", 25))?,
            instrument: InstrumentId(u16::from_le_bytes([bytes[26], bytes[27]])),
            flags: bytes[28],
            gate_global: Gate::from_u8(bytes[29]).ok_or(code("gate_global", 29))?,
            gate_instrument: Gate::from_u8(bytes[30]).ok_or(code("gate_instrument", 30))?,
            outcome: Outcome::from_u8(bytes[31]).ok_or(code("outcome", 31))?,
            data,
            intents,
        })
    }
}

/// A venue order's words: id, price, total quantity, and CumQty with the
/// state in the top byte.
fn venue_order_words(order: &VenueOrder) -> [i64; 4] {
    debug_assert!(
        (0..=VENUE_CUM_QTY_MAX).contains(&order.cum_qty.0),
        "CumQty fits its 56 bits"
    );
    let cum_qty = order.cum_qty.0.clamp(0, VENUE_CUM_QTY_MAX);
    [
        order.order_id.0 as i64,
        order.price.0,
        order.qty.0,
        cum_qty | (order.state as i64) << 56,
    ]
}

fn encode_intent(intent: &Intent, out: &mut [u8]) {
    out[0..8].copy_from_slice(&intent.order_id.0.to_le_bytes());
    out[8..16].copy_from_slice(&intent.price.0.to_le_bytes());
    out[16..24].copy_from_slice(&intent.qty.0.to_le_bytes());
    out[24..26].copy_from_slice(&intent.instrument.0.to_le_bytes());
    out[26] = intent.action as u8;
    out[27] = intent.side as u8;
    out[28] = intent.reject as u8;
    out[29] = intent.exec as u8;
    out[30..32].copy_from_slice(&intent.reserved);
}

fn decode_intent(bytes: &[u8; EVENT_BYTES], at: usize) -> Result<Intent, DecodeError> {
    let word = |offset: usize| {
        u64::from_le_bytes(
            bytes[at + offset..at + offset + 8]
                .try_into()
                .expect("8 bytes"),
        )
    };
    let code = |field: &'static str, offset: usize| DecodeError {
        field,
        offset: at + offset,
        value: bytes[at + offset],
    };
    Ok(Intent {
        order_id: OrderId(word(0)),
        price: Price(word(8) as i64),
        qty: Qty(word(16) as i64),
        instrument: InstrumentId(u16::from_le_bytes([bytes[at + 24], bytes[at + 25]])),
        action: Action::from_u8(bytes[at + 26]).ok_or(code("intent.action", 26))?,
        side: Side::from_u8(bytes[at + 27]).ok_or(code("intent.side", 27))?,
        reject: RejectReason::from_u8(bytes[at + 28]).ok_or(code("intent.reject", 28))?,
        exec: ExecResult::from_u8(bytes[at + 29]).ok_or(code("intent.exec", 29))?,
        reserved: [bytes[at + 30], bytes[at + 31]],
    })
}

/// A byte in an encoded event that is not a valid code for its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` at byte {offset} of the event holds {value}, which is not a valid code")]
pub struct DecodeError {
    pub field: &'static str,
    pub offset: usize,
    pub value: u8,
}

#[cfg(test)]
impl Event {
    /// A top of book, 100 bid and 102 ask for one lot each on instrument 0,
    /// numbered `seq`: the market-data event the crate's tests feed stages.
    pub(crate) fn test_quote(seq: u64) -> Event {
        let mut ev = Event::new(
            InstrumentId(0),
            Side::None,
            Input::TopOfBook(TopOfBook {
                bid_px: Price(100),
                bid_qty: Qty(1),
                ask_px: Price(102),
                ask_qty: Qty(1),
            }),
        );
        ev.seq = seq;
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_input() -> impl Strategy<Value = Input> {
        let p = any::<i64>().prop_map(Price);
        let q = any::<i64>().prop_map(Qty);
        prop_oneof![
            (p.clone(), q.clone(), p.clone(), q.clone()).prop_map(|(a, b, c, d)| Input::TopOfBook(
                TopOfBook {
                    bid_px: a,
                    bid_qty: b,
                    ask_px: c,
                    ask_qty: d
                }
            )),
            (p.clone(), q.clone(), any::<u64>()).prop_map(|(price, qty, trade_id)| Input::Trade(
                Trade {
                    price,
                    qty,
                    trade_id
                }
            )),
            (p.clone(), q.clone(), p.clone(), p.clone()).prop_map(
                |(price, qty, bid_px, ask_px)| {
                    Input::BookDelta(BookDelta {
                        price,
                        qty,
                        bid_px,
                        ask_px,
                    })
                }
            ),
            (any::<u64>(), any::<u64>(), p.clone(), q.clone()).prop_map(|(o, e, price, qty)| {
                Input::Fill(Fill {
                    order_id: OrderId(o),
                    exec_id: ExecId(e),
                    price,
                    qty,
                })
            }),
            (any::<u64>(), 0u8..3, any::<i64>()).prop_map(|(o, r, venue_reason)| {
                Input::OrderReject(OrderReject {
                    order_id: OrderId(o),
                    request: RejectedRequest::from_u8(r).unwrap(),
                    venue_reason,
                })
            }),
            any::<u64>().prop_map(|o| Input::CancelAck(OrderId(o))),
            (0u8..6).prop_map(|c| Input::Control(ControlCommand::from_u8(c).unwrap())),
            any::<u64>().prop_map(Input::Timer),
            (1u8..6, 0u8..3, any::<u32>(), any::<u32>()).prop_map(
                |(step, request, requests, reports)| {
                    Input::Reconcile(ReconcilePhase {
                        step: ReconcileStep::from_u8(step).unwrap(),
                        request: StatusRequestKind::from_u8(request).unwrap(),
                        requests: u64::from(requests),
                        reports: u64::from(reports),
                    })
                }
            ),
            (
                any::<u64>(),
                p.clone(),
                q.clone(),
                0..=VENUE_CUM_QTY_MAX,
                0u8..5
            )
                .prop_map(|(o, price, qty, cum, state)| {
                    Input::VenueOrder(VenueOrder {
                        order_id: OrderId(o),
                        price,
                        qty,
                        cum_qty: Qty(cum),
                        state: VenueOrderState::from_u8(state).unwrap(),
                    })
                }),
        ]
    }

    proptest! {
        // Any event encodes to bytes and decodes to the same event and the
        // same input, and its book-delta, top-of-book and fill views agree
        // with the input.
        #[test]
        fn event_round_trips(input in arb_input(), seq in any::<u64>(), ts in any::<u64>(), instrument in any::<u16>()) {
            let mut event = Event::new(InstrumentId(instrument), Side::Sell, input);
            event.seq = seq;
            event.ts_recv_ns = ts;
            event.intents[1] = Intent { order_id: OrderId(seq), price: Price(-3), qty: Qty(7), instrument: InstrumentId(2),
                action: Action::Replace, side: Side::Buy, reject: RejectReason::PriceBand, exec: ExecResult::NotSent, reserved: [0; 2] };
            let mut bytes = [0u8; EVENT_BYTES];
            event.encode(&mut bytes);
            let back = Event::decode(&bytes).unwrap();
            prop_assert_eq!(back, event);
            prop_assert_eq!(back.input(), input);
            let delta = match input {
                Input::BookDelta(delta) => Some(delta),
                _ => None,
            };
            prop_assert_eq!(back.book_delta(), delta);
            let top = match input {
                Input::TopOfBook(top) => Some(top),
                _ => None,
            };
            prop_assert_eq!(back.top_of_book(), top);
            let fill = match input {
                Input::Fill(fill) => Some(fill),
                _ => None,
            };
            prop_assert_eq!(back.fill(), fill);
        }

        // The encoding (the event's memory on this machine) is byte for byte
        // the one written field by field, whatever the fields hold, every
        // code of every enum included; the lap-sample flag is left out.
        #[test]
        fn encode_equals_the_field_by_field_encoding(
            input in arb_input(),
            words in any::<[u64; 3]>(),
            header in (0u8..12, 0u8..3, any::<u16>(), any::<u8>(), 0u8..8, 0u8..8, 0u8..8),
            intents in proptest::collection::vec((any::<[u64; 3]>(), any::<u16>(), 0u8..4, 0u8..3, 0u8..22, 0u8..6, any::<[u8; 2]>()), MAX_INTENTS),
        ) {
            let mut event = Event::new(InstrumentId(header.2), Side::from_u8(header.1).unwrap(), input);
            [event.seq, event.ts_recv_ns, event.ts_venue_ns] = words;
            event.kind = EventKind::from_u8(header.0).unwrap();
            event.flags = header.3;
            event.gate_global = Gate::from_u8(header.4).unwrap();
            event.gate_instrument = Gate::from_u8(header.5).unwrap();
            event.outcome = Outcome::from_u8(header.6).unwrap();
            for (intent, (ids, instrument, action, side, reject, exec, reserved)) in event.intents.iter_mut().zip(intents) {
                *intent = Intent {
                    order_id: OrderId(ids[0]),
                    price: Price(ids[1] as i64),
                    qty: Qty(ids[2] as i64),
                    instrument: InstrumentId(instrument),
                    action: Action::from_u8(action).unwrap(),
                    side: Side::from_u8(side).unwrap(),
                    reject: RejectReason::from_u8(reject).unwrap(),
                    exec: ExecResult::from_u8(exec).unwrap(),
                    reserved,
                };
            }
            let (mut copied, mut by_field) = ([0u8; EVENT_BYTES], [0u8; EVENT_BYTES]);
            event.encode(&mut copied);
            event.encode_by_field(&mut by_field);
            prop_assert_eq!(copied, by_field);
            prop_assert_eq!(copied[FLAGS_OFFSET], header.3 & !FLAG_LAP_SAMPLE);
        }

        // Arbitrary bytes never panic the decoder: they decode or name the bad field.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), EVENT_BYTES)) {
            let bytes: [u8; EVENT_BYTES] = bytes.try_into().unwrap();
            match Event::decode(&bytes) {
                Ok(event) => { let _ = event.input(); }
                Err(err) => prop_assert!(err.to_string().contains("not a valid code")),
            }
        }
    }

    // The lap-sample flag is timing only: an event on the sample encodes to
    // the same bytes as the same event off it, other flags kept.
    #[test]
    fn the_lap_sample_flag_is_not_journaled() {
        let mut event = Event::new(InstrumentId(3), Side::Buy, Input::Timer(7));
        event.seq = 42;
        event.flags = FLAG_STALE;
        let (mut plain, mut sampled) = ([0u8; EVENT_BYTES], [0u8; EVENT_BYTES]);
        event.encode(&mut plain);
        event.flags |= FLAG_LAP_SAMPLE;
        assert!(event.on_lap_sample());
        event.encode(&mut sampled);
        assert_eq!(plain, sampled);
        assert_eq!(Event::decode(&sampled).unwrap().flags, FLAG_STALE);
    }

    // A bad kind byte is refused and the error names the field.
    #[test]
    fn bad_kind_is_named() {
        let mut bytes = [0u8; EVENT_BYTES];
        Event::EMPTY.encode(&mut bytes);
        bytes[24] = 200;
        let err = Event::decode(&bytes).unwrap_err();
        assert_eq!(err.field, "kind");
    }
}
