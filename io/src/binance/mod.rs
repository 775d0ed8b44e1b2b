//! Binance-compatible JSON market data: `<symbol>@bookTicker`,
//! `<symbol>@depth@100ms` diffs and the REST depth snapshot
//! (`GET /api/v3/depth`, its error body and request target), kept in an
//! [`crate::book::L2Book`] with the exchange's documented sync procedure.
//!
//! Role: bytes of one WebSocket text frame (or REST body) in, typed messages
//! and a synced book out. Owning thread: the ingest thread; one
//! [`DepthSync`] per instrument.
//!
//! Invariants: prices and quantities are parsed from their decimal strings
//! straight into integer ticks and lots ([`DecimalGrid`]), never through a
//! float; a value off the grid is an error counted per instrument. Parsing
//! reuses caller-owned buffers and does not allocate once they are warm.
//!
//! Bad-input policy: invalid JSON or an off-grid value rejects the whole
//! message (it is counted); for a depth diff the book can no longer be known
//! to be right, so the instrument resyncs from a new snapshot. Nothing panics.

mod decimal;
mod encode;
mod error;
mod json;
mod messages;
mod rest;
mod sync;

pub use decimal::DecimalGrid;
pub use encode::{
    parse_depth_request, write_book_ticker, write_depth_snapshot, write_error_answer,
    write_rest_error, write_snapshot_answer, DepthDiffBuilder, DepthRequest, DiffWindowFull,
    DEPTH_LIMIT_DEFAULT,
};
pub use error::BinanceError;
pub use messages::{
    parse_book_ticker, parse_depth_snapshot, parse_depth_update, BookTicker, DepthSnapshot,
    DepthUpdate, InstrumentGrid, LevelUpdate, Symbol,
};
pub use rest::{parse_depth_query, parse_rest_error, DepthQuery, RestError, DEPTH_PATH};
pub use sync::{DepthSync, SyncOutcome, SyncStats};
