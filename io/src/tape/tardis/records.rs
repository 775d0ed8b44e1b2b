//! The records the Tardis readers yield: one L2 level update or one trade,
//! in exact integers, as `Copy` values with no heap pointers.
//!
//! Units: prices in ticks and amounts in lots of the instrument's grid
//! ([`super::TardisInstruments`]), timestamps in nanoseconds since the Unix
//! epoch (Tardis writes microseconds). `instrument_index` indexes the
//! instrument table the reader was given.

use crate::book::{L2Book, Price, Qty, Side};

/// Longest trade id kept (Tardis ids are numbers, GUIDs or other strings).
pub const TRADE_ID_BYTES_MAX: usize = 47;

/// One row of `incremental_book_L2`: set a price level's amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Update {
    /// Index in the reader's instrument table.
    pub instrument_index: u16,
    /// Exchange timestamp (`timestamp`), nanoseconds since the epoch.
    pub ts_exchange_ns: u64,
    /// Arrival timestamp (`local_timestamp`), nanoseconds since the epoch.
    pub ts_local_ns: u64,
    /// `bid` or `ask`.
    pub side: Side,
    /// Level price in ticks.
    pub price: Price,
    /// New level amount in lots (not a delta); zero removes the level.
    pub qty: Qty,
    /// Part of a snapshot (`is_snapshot=true`).
    pub is_snapshot: bool,
    /// First row of a snapshot for this instrument: the book held so far
    /// must be discarded before this row is applied.
    pub starts_snapshot: bool,
    /// 1-based line in its file (the header is line 1).
    pub line: u64,
}

impl L2Update {
    /// Apply to `book`: clear it first when a snapshot starts, then set the
    /// level. The caller ends a feed message with `finish_update`.
    #[inline]
    pub fn apply(&self, book: &mut L2Book) {
        if self.starts_snapshot {
            book.clear();
        }
        book.set_level(self.side, self.price, self.qty);
    }
}

/// The liquidity taker's side of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggressor {
    /// `buy`: the taker bought (lifted an ask).
    Buy,
    /// `sell`: the taker sold (hit a bid).
    Sell,
    /// `unknown`: the exchange did not say.
    Unknown,
}

/// A trade id, stored inline (at most [`TRADE_ID_BYTES_MAX`] bytes;
/// empty when the exchange gives none).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TradeId {
    len: u8,
    bytes: [u8; TRADE_ID_BYTES_MAX],
}

impl TradeId {
    /// The id `bytes`, or `None` if longer than [`TRADE_ID_BYTES_MAX`].
    #[inline]
    pub fn new(bytes: &[u8]) -> Option<TradeId> {
        let mut id = TradeId {
            len: u8::try_from(bytes.len()).ok()?,
            bytes: [0; TRADE_ID_BYTES_MAX],
        };
        id.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(id)
    }

    /// The id as written in the file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for TradeId {
    fn default() -> TradeId {
        TradeId {
            len: 0,
            bytes: [0; TRADE_ID_BYTES_MAX],
        }
    }
}

impl std::fmt::Debug for TradeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TradeId({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One row of `trades`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TardisTrade {
    /// Index in the reader's instrument table.
    pub instrument_index: u16,
    /// Exchange timestamp (`timestamp`), nanoseconds since the epoch.
    pub ts_exchange_ns: u64,
    /// Arrival timestamp (`local_timestamp`), nanoseconds since the epoch.
    pub ts_local_ns: u64,
    /// Exchange trade id.
    pub id: TradeId,
    /// Taker side.
    pub aggressor: Aggressor,
    /// Trade price in ticks.
    pub price: Price,
    /// Trade amount in lots.
    pub qty: Qty,
    /// 1-based line in its file (the header is line 1).
    pub line: u64,
}

/// One event of a Tardis tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapeEvent {
    /// A book level update.
    Book(L2Update),
    /// A trade.
    Trade(TardisTrade),
}

impl TapeEvent {
    /// Arrival timestamp, nanoseconds.
    #[inline]
    pub fn ts_local_ns(&self) -> u64 {
        match self {
            TapeEvent::Book(update) => update.ts_local_ns,
            TapeEvent::Trade(trade) => trade.ts_local_ns,
        }
    }

    /// Exchange timestamp, nanoseconds.
    #[inline]
    pub fn ts_exchange_ns(&self) -> u64 {
        match self {
            TapeEvent::Book(update) => update.ts_exchange_ns,
            TapeEvent::Trade(trade) => trade.ts_exchange_ns,
        }
    }

    /// Instrument index.
    #[inline]
    pub fn instrument_index(&self) -> u16 {
        match self {
            TapeEvent::Book(update) => update.instrument_index,
            TapeEvent::Trade(trade) => trade.instrument_index,
        }
    }

    /// Line in its file.
    #[inline]
    pub fn line(&self) -> u64 {
        match self {
            TapeEvent::Book(update) => update.line,
            TapeEvent::Trade(trade) => trade.line,
        }
    }
}
