//! Newtypes for money, size, time and identities. Integers only: prices are
//! ticks and quantities are lots of their instrument, never `f64`.

use serde::{Deserialize, Serialize};

macro_rules! newtype {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[repr(transparent)]
        #[serde(transparent)]
        pub struct $name(pub $inner);
    };
}

newtype!(
    /// A price in ticks of its instrument.
    Price(i64)
);
newtype!(
    /// A quantity in lots of its instrument (signed where it is a position).
    Qty(i64)
);
newtype!(
    /// Nanoseconds: a duration, or a time since the Unix epoch where the name says so.
    Nanos(u64)
);
newtype!(
    /// Index of an instrument in the configured list.
    InstrumentId(u16)
);
newtype!(
    /// The engine's own order identifier (ClOrdID on the wire).
    OrderId(u64)
);
newtype!(
    /// The venue's execution identifier, unique per fill.
    ExecId(u64)
);

impl InstrumentId {
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Set in the id of an order adopted from the venue under a ClOrdID the
/// engine did not make (`adapters::fix::cl_ord_id`): the engine's own order
/// ids (four per journal sequence) never reach it.
pub const ADOPTED_ORDER_ID_FLAG: u64 = 1 << 62;

impl OrderId {
    /// One of the engine's own orders, not one adopted under a foreign ClOrdID.
    #[inline]
    pub fn is_own(self) -> bool {
        self.0 < ADOPTED_ORDER_ID_FLAG
    }
}

/// Side of an order, a fill or a book entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Side {
    #[default]
    None = 0,
    Buy = 1,
    Sell = 2,
}

impl Side {
    /// +1 for a buy, -1 for a sell, 0 otherwise.
    #[inline]
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
            Side::None => 0,
        }
    }

    pub fn from_u8(value: u8) -> Option<Side> {
        match value {
            0 => Some(Side::None),
            1 => Some(Side::Buy),
            2 => Some(Side::Sell),
            _ => None,
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
            Side::None => Side::None,
        }
    }
}
