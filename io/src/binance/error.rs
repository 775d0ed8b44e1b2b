//! Errors of the Binance JSON parsers: what was wrong and at which byte.

use thiserror::Error;

/// A Binance message that could not be parsed; the message is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BinanceError {
    /// The bytes are not the JSON shape expected.
    #[error("invalid JSON at byte {at}: expected {expected}")]
    Json {
        /// Byte offset in the message.
        at: usize,
        /// What the parser expected there.
        expected: &'static str,
    },
    /// A required field is absent.
    #[error("field \"{field}\" missing")]
    MissingField {
        /// JSON key.
        field: &'static str,
    },
    /// A decimal string is malformed or too large.
    #[error("{field} is not a valid decimal")]
    BadDecimal {
        /// Which value ("price", "quantity", "tick size").
        field: &'static str,
    },
    /// A decimal is not a whole number of ticks or lots.
    #[error("{field} is off the instrument's grid")]
    OffGrid {
        /// Which value ("price" or "quantity").
        field: &'static str,
    },
}
