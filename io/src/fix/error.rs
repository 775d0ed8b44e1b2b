//! Error types of the FIX module: what went wrong and where.
//!
//! Owning thread: none. Invariant: every error is `Copy` or cheap to build
//! (no allocation on the hot path); the [`FixError`] variants that carry a
//! path or an `io::Error` only occur on control paths (start-up, persistence).

use std::path::PathBuf;

use crate::fix::session::SeqNumTooLow;

/// Why a byte buffer is not a well-formed FIX 4.4 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message does not start with `8=FIX.4.4<SOH>9=`.
    #[error("BeginString(8) is not FIX.4.4 at byte 0")]
    BadBeginString,
    /// BodyLength(9) is missing, not a number, or does not match the bytes.
    #[error("BodyLength(9) {declared} does not match the {actual} body bytes found")]
    BodyLengthMismatch {
        /// The length the message declares (0 when it is unreadable).
        declared: usize,
        /// The body length actually found between BodyLength and CheckSum.
        actual: usize,
    },
    /// CheckSum(10) differs from the sum of the bytes before it.
    #[error("CheckSum(10) is {declared:03} but the bytes sum to {computed:03}")]
    ChecksumMismatch {
        /// The checksum written in the message (or 1000 when unreadable).
        declared: u16,
        /// The checksum computed over the message.
        computed: u8,
    },
    /// A field is not `tag=value<SOH>` at the given byte offset.
    #[error("malformed field at byte {offset}")]
    MalformedField {
        /// Byte offset of the field in the message.
        offset: usize,
    },
    /// A field has a tag but an empty value.
    #[error("tag {tag} has no value")]
    EmptyValue {
        /// The tag without a value.
        tag: u32,
    },
    /// MsgType(35) is not the first field of the body.
    #[error("MsgType(35) is not the third field")]
    MsgTypeNotThird,
    /// More fields than the fixed-capacity field table holds.
    #[error("more than {capacity} fields")]
    TooManyFields {
        /// The capacity of the field table.
        capacity: usize,
    },
}

/// Why an integer or decimal field value could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The tag is not in the message.
    #[error("tag {tag} is missing")]
    Missing {
        /// The missing tag.
        tag: u32,
    },
    /// The value is not a number of the expected form.
    #[error("tag {tag} is not a valid number")]
    NotANumber {
        /// The offending tag.
        tag: u32,
    },
    /// The value does not fit the integer type.
    #[error("tag {tag} is out of range")]
    OutOfRange {
        /// The offending tag.
        tag: u32,
    },
    /// The decimal is not a whole multiple of the tick or lot size.
    #[error("tag {tag} is not a multiple of the tick or lot size")]
    OffGrid {
        /// The offending tag.
        tag: u32,
    },
    /// The value is not one of the enumerated values of the tag.
    #[error("tag {tag} has an unknown enumerated value")]
    UnknownValue {
        /// The offending tag.
        tag: u32,
    },
}

impl ValueError {
    /// The tag the error is about.
    pub fn tag(self) -> u32 {
        match self {
            ValueError::Missing { tag }
            | ValueError::NotANumber { tag }
            | ValueError::OutOfRange { tag }
            | ValueError::OffGrid { tag }
            | ValueError::UnknownValue { tag } => tag,
        }
    }
}

/// Why a message could not be sent. Nothing was queued when this is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Business messages wait until the counterparty acknowledged Logon.
    #[error("the session is not logged on")]
    NotLoggedOn,
    /// The outgoing buffer is full; retry after the socket drained it.
    #[error("the outgoing buffer is full ({pending_bytes} bytes pending)")]
    OutputFull {
        /// Bytes waiting to be written to the socket.
        pending_bytes: usize,
    },
    /// The message does not fit the encoder's buffer.
    #[error("the encoded message exceeds {capacity_bytes} bytes")]
    MessageTooLarge {
        /// The encoder capacity.
        capacity_bytes: usize,
    },
    /// A price or quantity is not representable with this instrument's scale.
    #[error("tag {tag}: value not representable with the instrument scale")]
    BadValue {
        /// The tag being encoded.
        tag: u32,
    },
    /// Persisting the sequence numbers failed, so no sequence number could be
    /// reserved for the message.
    #[error("the sequence-number file could not be written")]
    SeqStoreFailed,
}

/// Operating errors of the FIX module (configuration and persistence).
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// The session configuration is invalid.
    #[error("invalid FIX session config: {0}")]
    Config(&'static str),
    /// A tick or lot size is not a positive decimal.
    #[error("invalid {what} {value:?}: expected a positive decimal like \"0.01\"")]
    Scale {
        /// "tick size" or "lot size".
        what: &'static str,
        /// The text given.
        value: String,
    },
    /// Reading or writing the sequence-number file failed.
    #[error("sequence-number file {path}: {source}")]
    SeqStoreIo {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The sequence-number file exists but is not in the expected format.
    #[error("sequence-number file {path}: line {line}: {reason}")]
    SeqStoreCorrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A reset was refused because a running session holds the store.
    #[error(
        "sequence-number file {path} is in use by a running FIX session: stop it first, then reset"
    )]
    SeqStoreInUse {
        /// The file.
        path: PathBuf,
    },
    /// The sequence numbers of the two sides disagree in a way no reconnect
    /// can fix; the message names the remedy.
    #[error(
        "FIX MsgSeqNum too low: {problem}. Reconnecting cannot fix this, so the session stops. \
         Remedy: stop genesis, then run `genesis fix reset-seq {seq_file}` (both sequence numbers \
         back to 1; the next Logon sends ResetSeqNumFlag(141)=Y), or set \
         venue.fix.reset_on_logon = true",
        seq_file = seq_file_text(seq_file)
    )]
    SeqNumTooLow {
        /// Which side's number was too low, and the numbers.
        problem: SeqNumTooLow,
        /// The session's sequence-number file, if it has one.
        seq_file: Option<PathBuf>,
    },
    /// A socket operation of the TCP driver failed.
    #[error("FIX TCP {what} {addr}: {source}")]
    Socket {
        /// What the driver was doing ("connect to", "accept on", ...).
        what: &'static str,
        /// The peer or local address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn seq_file_text(seq_file: &Option<PathBuf>) -> String {
    match seq_file {
        Some(path) => format!("--seq-file {}", path.display()),
        None => "--seq-file <venue.fix.seq_file>".to_owned(),
    }
}
