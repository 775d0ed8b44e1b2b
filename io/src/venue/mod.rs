//! The simulated venue's exchange side: a price-time-priority matching
//! engine per instrument ([`MatchingEngine`]).
//!
//! Role: given order entry requests from the venue's sessions, decide trades
//! and book changes and report them as [`BookEvent`]s, from which the venue
//! builds its execution reports and market data (ITCH, Binance JSON).
//! Owning thread: the venue's matching thread; engines are plain
//! single-threaded structs.
//!
//! Invariants: prices are integer ticks and quantities integer lots, both
//! positive; all memory is allocated at construction and no request allocates;
//! the book is never crossed; a refused request ([`Reject`]) changes
//! nothing and emits nothing. There is no self-trade prevention: an owner
//! may trade with itself.

mod levels;
mod matching;
mod orders;
mod query;
mod types;

pub use matching::MatchingEngine;
pub use types::{
    BookEvent, Ids, NewOrder, OrderRef, Reject, RestingOrder, Side, Submitted, TimeInForce,
};
