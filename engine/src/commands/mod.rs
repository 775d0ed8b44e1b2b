//! The operator commands behind `genesis journal …` and `genesis replay`:
//! library functions that print to a writer and return whether all was well,
//! so the binary stays a thin parser and tests can call them directly.

pub mod journal;
pub mod replay;
