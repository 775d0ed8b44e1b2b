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
//! - [`soup`]: SoupBinTCP 4.x packets and stream framing; [`glimpse`]:
//!   GLIMPSE 5.0 snapshots (the book as ITCH messages, End of Snapshot).
//! - [`Recovery`]: gap recovery by retransmission or snapshot, with a
//!   bounded buffer of live datagrams (driven by `net::MoldReceiver`).
//! - [`ItchInstrument`]: the venue's book events and resting orders as
//!   ITCH messages (the simulator's live feed and its snapshots).
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
mod datagram_ring;
mod decode;
mod encode;
mod error;
mod feed;
pub mod glimpse;
mod message;
pub mod mold;
mod recovery;
mod recovery_config;
mod request_plan;
mod sequence;
pub mod soup;
mod soup_framer;
mod venue_messages;

pub use datagram_ring::DatagramRing;
pub use decode::{decode, message_len};
pub use encode::{encode_message, MoldPacketBuilder};
pub use error::{ItchError, MoldError, SoupError};
pub use feed::{apply_to_book, FeedStats, ItchFeed, ItchFeedConfig, PacketOutcome};
pub use message::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, Price4, StockDirectory, StockSymbol, SystemEvent, Trade,
};
pub use mold::{MoldHeader, MoldPacket, MoldRequest, Session};
pub use recovery::Recovery;
pub use recovery_config::{
    Arrival, DatagramSource, RecoveryConfig, RecoveryStats, SnapshotFailure,
};
pub use sequence::{PacketVerdict, SequenceStats, SequenceTracker};
pub use soup::{Credentials, LoginRejectReason, LoginRequest, SoupPacket};
pub use soup_framer::SoupFramer;
pub use venue_messages::{system_event, ItchInstrument, RestingOrders, SnapshotOrder};
