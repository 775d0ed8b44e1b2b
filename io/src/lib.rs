//! Genesis I/O: sockets and wire protocols, reusable outside the engine.
//!
//! This crate knows nothing about trading events: it turns bytes into
//! protocol messages and back, and keeps order books. The engine maps these
//! messages onto its own event type.
//!
//! - [`fix`]: FIX 4.4 tag=value codec and initiator/acceptor sessions.
//! - [`itch`]: NASDAQ TotalView-ITCH 5.0 messages inside MoldUDP64 packets.
//! - [`book`]: fixed-capacity L3 (order by order) and L2 (price level) books.
//! - [`binance`]: Binance-compatible JSON market data (bookTicker, depth diffs).
//! - [`net`]: socket transports: mio busy-poll reactor, MoldUDP64 over UDP, WebSocket.
//! - [`venue`]: the simulated venue's price-time-priority matching engine.
//! - [`tape`]: recorded tapes (ITCH 5.0 files, Tardis.dev CSV), read and written.

pub mod binance;
pub mod book;
pub mod fix;
pub mod itch;
pub mod net;
pub mod tape;
pub mod venue;
