//! Value types of the simulated venue's matching engine: orders in, book
//! events and rejections out.
//!
//! Owning thread: whichever thread owns the engine. Every type is `Copy` and
//! holds no heap pointer, so events can be journaled or copied into a ring.

/// A venue-wide order reference (ITCH "order reference number").
pub type OrderRef = u64;

/// The side of an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// A bid; it matches asks priced at or below its price.
    Buy,
    /// An offer; it matches bids priced at or above its price.
    Sell,
}

impl Side {
    /// The side an order of this side trades against.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// How long an order may rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    /// Rests until cancelled (the simulator has no session end).
    Day,
    /// Immediate or cancel: trades what it can, the remainder expires.
    Ioc,
}

/// An order entering the book. `owner` identifies the participant
/// (session), `client_id` is the owner's own id, echoed in events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Participant (session) that owns the order.
    pub owner: u32,
    /// The owner's id for the order, echoed in every event about it.
    pub client_id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Limit price in ticks; must be > 0.
    pub price: i64,
    /// Quantity in lots; must be > 0.
    pub qty: i64,
    /// Day (rest the remainder) or IOC (expire it).
    pub tif: TimeInForce,
}

/// Ids shared by every instrument's engine of one venue (ITCH order refs and
/// match numbers are unique across the venue). Default: both start at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    /// Next order reference handed to an order that rests.
    pub order_ref_next: u64,
    /// Next match number handed to an execution.
    pub match_number_next: u64,
}

impl Default for Ids {
    fn default() -> Ids {
        Ids {
            order_ref_next: 1,
            match_number_next: 1,
        }
    }
}

impl Ids {
    /// Take the next order reference.
    #[inline]
    pub(crate) fn take_order_ref(&mut self) -> OrderRef {
        let order_ref = self.order_ref_next;
        self.order_ref_next += 1;
        order_ref
    }

    /// Take the next match number.
    #[inline]
    pub(crate) fn take_match_number(&mut self) -> u64 {
        let match_number = self.match_number_next;
        self.match_number_next += 1;
        match_number
    }
}

/// What the book did, in the order it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookEvent {
    /// An order (or the remainder of one) now rests, visible in the book.
    Added {
        /// The new resting order's reference.
        order_ref: OrderRef,
        /// Owner of the order.
        owner: u32,
        /// The owner's id for it.
        client_id: u64,
        /// Its side.
        side: Side,
        /// Its price in ticks.
        price: i64,
        /// Quantity now resting, in lots.
        qty: i64,
    },
    /// A resting order (maker) traded with an incoming one (taker), at the
    /// maker's price. `side` is the maker's side.
    Executed {
        /// The maker's reference.
        maker_ref: OrderRef,
        /// Owner of the maker.
        maker_owner: u32,
        /// The maker owner's id for it.
        maker_client_id: u64,
        /// Owner of the taker.
        taker_owner: u32,
        /// The taker owner's id for it.
        taker_client_id: u64,
        /// The maker's side.
        side: Side,
        /// Trade price in ticks (the maker's price).
        price: i64,
        /// Traded quantity in lots.
        qty: i64,
        /// The maker's quantity left after this trade (0: it left the book).
        maker_leaves: i64,
        /// Venue-wide match number.
        match_number: u64,
    },
    /// A resting order was reduced by `cancelled_qty` (leaves > 0) or
    /// removed (leaves == 0) at its owner's request.
    Cancelled {
        /// The order's reference.
        order_ref: OrderRef,
        /// Its owner.
        owner: u32,
        /// The owner's id for it.
        client_id: u64,
        /// Its side.
        side: Side,
        /// Its price in ticks.
        price: i64,
        /// Quantity taken off the book, in lots.
        cancelled_qty: i64,
        /// Quantity still resting (0: the order left the book).
        leaves: i64,
    },
    /// A resting order was replaced by a new one (new ref, new price/qty,
    /// back of the queue), without trading.
    Replaced {
        /// The reference that left the book.
        old_ref: OrderRef,
        /// The reference now resting.
        new_ref: OrderRef,
        /// Owner of the order.
        owner: u32,
        /// The owner's id for it.
        client_id: u64,
        /// Its side.
        side: Side,
        /// The price it left, in ticks (its level lost `old_qty` there).
        old_price: i64,
        /// The quantity it left.
        old_qty: i64,
        /// New price in ticks.
        price: i64,
        /// New resting quantity in lots.
        qty: i64,
    },
}

/// Why a request was refused. A refused request changed nothing and
/// emitted no event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Quantity is zero or negative.
    BadQty,
    /// Price is zero or negative.
    BadPrice,
    /// `orders_max` orders already rest and nothing traded.
    BookFull,
    /// The order needs a new price level, the side already holds
    /// `levels_max`, and nothing traded.
    LevelsFull,
    /// No resting order has this reference.
    UnknownOrder,
}

/// What happened to an incoming order.
///
/// `filled_qty + rested_qty + expired_qty` is the order's quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Submitted {
    /// Some if a remainder rests.
    pub order_ref: Option<OrderRef>,
    /// Quantity traded on entry.
    pub filled_qty: i64,
    /// Quantity now resting.
    pub rested_qty: i64,
    /// Quantity that expired: an IOC remainder, or a Day remainder that
    /// could not rest because the book or its levels were full.
    pub expired_qty: i64,
}

/// A snapshot of one resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Its owner.
    pub owner: u32,
    /// The owner's id for it.
    pub client_id: u64,
    /// Its side.
    pub side: Side,
    /// Its price in ticks.
    pub price: i64,
    /// Quantity resting, in lots.
    pub leaves: i64,
}
