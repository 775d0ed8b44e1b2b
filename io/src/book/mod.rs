//! Order books: fixed-capacity L3 (order by order) and L2 (price level) books,
//! and an L2 book kept as a price-indexed ladder ([`LadderBook`]) that answers
//! as [`L2Book`] does, for the backtest venue.
//!
//! Role: keep the state of one instrument's book from a market-data feed and
//! answer best bid/ask in O(1). Owning thread: the ingest thread that decodes
//! the feed; books are plain single-threaded structs with no interior
//! mutability.
//!
//! Invariants:
//! - Every buffer (orders, order-id map, price levels) is allocated in the
//!   constructor; applying an update never allocates.
//! - Price levels on each side are kept sorted with the best level last, so
//!   the best bid and ask are O(1) and changes near the top move few levels.
//! - Bad input never panics: an update that references an unknown order,
//!   repeats an order id, overfills, exceeds capacity or crosses the book is
//!   counted per [`BookReject`] kind and sets a sticky [`StaleFlags`] bit. The
//!   engine must not trade on a book whose [`StaleFlags`] are not empty; the
//!   feed handler clears them when the book is recovered.

mod l2;
mod l3;
mod ladder;
mod order_map;
mod side;
mod types;

pub use l2::L2Book;
pub use l3::{L3Book, Order};
pub use ladder::{LadderBook, LadderLevels, LADDER_TICKS_DEFAULT};
pub use order_map::OrderMap;
pub use side::LevelSide;
pub use types::{BookReject, Level, Price, Qty, RejectCounts, Side, StaleFlags};
