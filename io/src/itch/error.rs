//! Errors of the ITCH and MoldUDP64 decoders. Both are `Copy`, say what was
//! wrong and where, and are counted by the feed rather than propagated.

use thiserror::Error;

/// A MoldUDP64 datagram that cannot be framed; the whole datagram is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum MoldError {
    /// Shorter than the 20-byte downstream header.
    #[error("MoldUDP64 datagram of {length} bytes is shorter than the 20-byte header")]
    TooShort {
        /// Datagram length in bytes.
        length: usize,
    },
    /// A message block's length prefix or body runs past the datagram end.
    #[error("MoldUDP64 message block {block_index} at byte {offset} runs past the datagram end")]
    TruncatedBlock {
        /// Zero-based index of the block within the packet.
        block_index: u16,
        /// Byte offset of the block's length prefix.
        offset: usize,
    },
    /// Bytes follow the last message block the header announced.
    #[error("MoldUDP64 datagram has {count} bytes after its last message block")]
    TrailingBytes {
        /// Number of unexpected bytes.
        count: usize,
    },
    /// Sequence number plus message count overflows `u64`.
    #[error("MoldUDP64 sequence number {sequence_number} overflows with {message_count} messages")]
    SequenceOverflow {
        /// Sequence number of the first message.
        sequence_number: u64,
        /// Message count from the header.
        message_count: u16,
    },
    /// A request packet that is not exactly 20 bytes.
    #[error("MoldUDP64 request packet is {length} bytes, expected 20")]
    BadRequestLength {
        /// Packet length in bytes.
        length: usize,
    },
}

/// An ITCH message that cannot be decoded; the message is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ItchError {
    /// A zero-length message block.
    #[error("empty ITCH message")]
    Empty,
    /// A message type this decoder does not handle.
    #[error("unknown ITCH message type {msg_type:#04x} ({length} bytes)")]
    UnknownType {
        /// The type byte.
        msg_type: u8,
        /// Length of the skipped message.
        length: usize,
    },
    /// A known type whose length differs from the ITCH 5.0 spec.
    #[error("ITCH message type '{}' is {got} bytes, the spec says {expected}", *msg_type as char)]
    WrongLength {
        /// The type byte.
        msg_type: u8,
        /// Length from the spec.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A field holds a value the spec does not allow.
    #[error("ITCH message type '{}' has invalid {field} byte {value:#04x}", *msg_type as char)]
    InvalidField {
        /// The type byte.
        msg_type: u8,
        /// Field name.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
}

/// A SoupBinTCP packet (or a GLIMPSE end-of-snapshot message) that cannot be
/// decoded. On a stream there is no resynchronising after a bad frame, so
/// the session that sees one ends (counted by its owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SoupError {
    /// A length prefix of zero: every packet has at least its type byte.
    #[error("SoupBinTCP packet with length 0 (a packet holds at least its type byte)")]
    EmptyPacket,
    /// A packet longer than the receive buffer can hold.
    #[error("SoupBinTCP packet of {length} bytes exceeds the {capacity}-byte receive buffer")]
    TooLong {
        /// Length from the prefix (type byte and payload).
        length: usize,
        /// Largest packet the buffer holds.
        capacity: usize,
    },
    /// A packet type the protocol does not define.
    #[error("unknown SoupBinTCP packet type {packet_type:#04x} ({length} bytes)")]
    UnknownType {
        /// The type byte.
        packet_type: u8,
        /// Length of the packet (type byte and payload).
        length: usize,
    },
    /// A fixed-size packet whose length differs from the spec.
    #[error("SoupBinTCP packet '{}' is {got} bytes, the spec says {expected}", *packet_type as char)]
    WrongLength {
        /// The type byte.
        packet_type: u8,
        /// Length from the spec (type byte and payload).
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A numeric field that is not space-padded ASCII digits fitting `u64`.
    #[error("SoupBinTCP/GLIMPSE field {field} is not a space-padded decimal number")]
    BadNumber {
        /// Field name.
        field: &'static str,
    },
}
