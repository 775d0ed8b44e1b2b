//! NASDAQ TotalView-ITCH 5.0 messages carried in MoldUDP64 packets.
//!
//! Role: turn datagrams into sequenced ITCH messages and keep L3 books from
//! them. Owning thread: the ingest thread; nothing here is shared.
//!
//! Layers, bottom up:
//! - [`mold`]: MoldUDP64 downstream packets and request packets (framing only).
//! - [`SequenceTracker`]: sequence numbers, gap detection, retransmission requests.
//! - [`decode`] / [`encode_message`]: ITCH 5.0 message bodies (big-endian,
//!   prices `u32` with 4 implied decimals, 48-bit nanosecond timestamps).
//! - [`ItchFeed`]: all of the above plus routing by stock locate into
//!   preallocated [`crate::book::L3Book`]s, with counters.
//!
//! Bad-input policy (nothing panics, everything is counted in [`FeedStats`]):
//! - A datagram shorter than the 20-byte header, whose message blocks run past
//!   its end, or with bytes left after the last block, is dropped whole and
//!   not sequenced; the next good packet then shows a gap and is re-requested.
//! - A message of an unknown type is skipped by its length prefix.
//! - A known message whose length differs from the spec, or with an invalid
//!   side byte, is skipped; it still consumes its sequence number.
//! - A packet from another session is dropped.

pub mod arith;
mod decode;
mod encode;
mod error;
mod feed;
mod message;
pub mod mold;
mod sequence;

pub use decode::{decode, message_len};
pub use encode::{encode_message, MoldPacketBuilder};
pub use error::{ItchError, MoldError};
pub use feed::{apply_to_book, FeedStats, ItchFeed, ItchFeedConfig, PacketOutcome};
pub use message::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, Price4, StockDirectory, StockSymbol, SystemEvent, Trade,
};
pub use mold::{MoldHeader, MoldPacket, MoldRequest, Session};
pub use sequence::{PacketVerdict, SequenceStats, SequenceTracker};
