//! Every call into the operating system that needs `unsafe` lives here, as
//! in mio's `src/sys/`: preallocation, advisory locks and memory maps. Each
//! function is a small safe wrapper with the soundness argument beside it.

pub mod fs;
pub mod map;
pub mod prefetch;
