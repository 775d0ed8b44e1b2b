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
