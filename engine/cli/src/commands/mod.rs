//! The operator commands behind `genesis journal …`, `genesis replay`,
//! `genesis backtest`, `genesis tape convert` and `genesis venue-sim`:
//! library functions that print to a writer and return whether all was well,
//! so the binary stays a thin parser and tests can call them directly.

pub mod backtest;
pub mod journal;
pub mod journal_archive;
pub mod journal_input;
pub mod journal_truncate;
pub mod replay;
pub mod venue_sim;
