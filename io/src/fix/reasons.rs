//! FIX's reason codes for refused orders, in one place for the engine (which
//! journals them) and the simulated venue (which sends them):
//! OrdRejReason(103) on a rejected new order, CxlRejReason(102) on a refused
//! cancel or replace.
//!
//! Owning thread: none (constants).

/// OrdRejReason 1: unknown symbol.
pub const UNKNOWN_SYMBOL: i64 = 1;
/// OrdRejReason 3: order exceeds limit (the venue holds no more orders).
pub const EXCEEDS_LIMIT: i64 = 3;
/// OrdRejReason 6: duplicate order (its ClOrdID is still live).
pub const DUPLICATE_ORDER: i64 = 6;
/// OrdRejReason 13: incorrect quantity.
pub const INCORRECT_QTY: i64 = 13;
/// CxlRejReason 1: the venue does not know the order, so it is not live there.
pub const UNKNOWN_ORDER: i64 = 1;
/// OrdRejReason and CxlRejReason 99: other (a bad price, a replace below the filled quantity).
pub const OTHER: i64 = 99;
