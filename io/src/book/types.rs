//! Value types shared by the L2 and L3 books: price, quantity, side, level,
//! stale flags and the per-kind reject counters.
//!
//! Owning thread: whichever thread owns the book. All types are `Copy` and
//! hold no heap pointers.

use thiserror::Error;

/// A price in integer ticks of the instrument (ITCH: 1/10000 dollar).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(pub i64);

/// A quantity in integer lots of the instrument (ITCH: shares).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub i64);

/// The side of the book an order or level rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy orders; the best bid is the highest price.
    Bid,
    /// Sell orders; the best ask is the lowest price.
    Ask,
}

/// One aggregated price level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    /// Price of the level.
    pub price: Price,
    /// Total resting quantity at this price.
    pub qty: Qty,
    /// Number of orders at this price (L3 books; 0 when the feed sends levels).
    pub order_count: u32,
}

/// Why a book refused (or could only partly apply) an update.
///
/// A rejection is data, not a failure of the program: it is counted per kind
/// and marks the book stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum BookReject {
    /// The update references an order id the book does not hold.
    #[error("update references unknown order id")]
    UnknownOrder,
    /// An add used an order id that is already resting.
    #[error("add uses an order id that is already resting")]
    DuplicateOrder,
    /// An execution or cancel removed more than the order's open quantity;
    /// the order was removed.
    #[error("execution or cancel exceeds the order's open quantity")]
    Overfill,
    /// A quantity or price was zero or negative where it must be positive.
    #[error("quantity or price is not positive")]
    NotPositive,
    /// The order pool or the level array of this book is full.
    #[error("book capacity exhausted")]
    Capacity,
    /// After the update the best bid is at or above the best ask.
    #[error("book is crossed")]
    Crossed,
}

impl BookReject {
    /// Number of reject kinds (size of [`RejectCounts`]).
    pub const KIND_COUNT: usize = 6;

    /// Dense index of this kind, for counters.
    pub const fn index(self) -> usize {
        match self {
            BookReject::UnknownOrder => 0,
            BookReject::DuplicateOrder => 1,
            BookReject::Overfill => 2,
            BookReject::NotPositive => 3,
            BookReject::Capacity => 4,
            BookReject::Crossed => 5,
        }
    }

    /// The stale flag this rejection sets.
    pub const fn stale_flag(self) -> StaleFlags {
        match self {
            BookReject::UnknownOrder
            | BookReject::DuplicateOrder
            | BookReject::Overfill
            | BookReject::NotPositive => StaleFlags::INCONSISTENT,
            BookReject::Capacity => StaleFlags::CAPACITY,
            BookReject::Crossed => StaleFlags::CROSSED,
        }
    }
}

/// Counters of rejected updates, one per [`BookReject`] kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RejectCounts([u64; BookReject::KIND_COUNT]);

impl RejectCounts {
    /// Count one rejection.
    pub fn record(&mut self, reject: BookReject) {
        self.0[reject.index()] += 1;
    }

    /// How many rejections of this kind were counted.
    pub fn get(&self, reject: BookReject) -> u64 {
        self.0[reject.index()]
    }

    /// Sum over all kinds.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Why a book must not be traded on. Empty means the book is usable.
///
/// Flags are sticky: they are set by the book or the feed handler and cleared
/// only by the feed handler once the book has been recovered (sequence gap
/// filled, snapshot applied, book rebuilt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StaleFlags(u8);

impl StaleFlags {
    /// A feed sequence gap is outstanding.
    pub const GAP: StaleFlags = StaleFlags(1);
    /// An update crossed the book.
    pub const CROSSED: StaleFlags = StaleFlags(1 << 1);
    /// An update referenced an unknown or duplicate order, or overfilled one.
    pub const INCONSISTENT: StaleFlags = StaleFlags(1 << 2);
    /// The book ran out of preallocated capacity.
    pub const CAPACITY: StaleFlags = StaleFlags(1 << 3);
    /// The book has not been synchronised from a snapshot yet (L2 feeds).
    pub const NOT_SYNCED: StaleFlags = StaleFlags(1 << 4);

    /// Every flag.
    pub const fn all() -> StaleFlags {
        StaleFlags(0x1F)
    }

    /// No flag set: the book is usable.
    pub const fn empty() -> StaleFlags {
        StaleFlags(0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: StaleFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Set the flags in `other`.
    pub fn insert(&mut self, other: StaleFlags) {
        self.0 |= other.0;
    }

    /// Clear the flags in `other`.
    pub fn remove(&mut self, other: StaleFlags) {
        self.0 &= !other.0;
    }

    /// Raw bits, for journaling.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl core::ops::BitOr for StaleFlags {
    type Output = StaleFlags;

    fn bitor(self, other: StaleFlags) -> StaleFlags {
        StaleFlags(self.0 | other.0)
    }
}
