//! Encoding FIX 4.4 messages into a reusable fixed-capacity buffer.
//!
//! Owning thread: whoever owns the [`Encoder`] (the session's thread).
//! Invariants: after [`Encoder::with_capacity`] nothing allocates; writing
//! past the capacity never panics but marks the message as overflowed and
//! [`Encoder::finish`] refuses it; BodyLength(9) and CheckSum(10) are always
//! computed from the bytes actually written.
//!
//! The body is written after a reserved gap; `finish` writes
//! `8=FIX.4.4<SOH>9=<len><SOH>` right-aligned into the gap, so the message is
//! one contiguous slice without moving the body.

use crate::fix::decimal::{Step, DECIMAL_TEXT_LEN_MAX};
use crate::fix::decode::{checksum, BEGIN_PREFIX, SOH, TRAILER_LEN};
use crate::fix::error::SendError;
use crate::fix::time::{format_utc_timestamp, UTC_TIMESTAMP_LEN};

/// Room before the body for BeginString and BodyLength (12 + 9 digits + SOH).
const HEADER_RESERVE: usize = 24;

/// A reusable message encoder.
#[derive(Debug)]
pub struct Encoder {
    buffer: Box<[u8]>,
    cursor: usize,
    overflowed: bool,
}

/// Writes the decimal digits of `value` into the end of `digits`; returns
/// the index of the first digit.
fn digits_u64(mut value: u64, digits: &mut [u8; 20]) -> usize {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return start;
        }
    }
}

impl Encoder {
    /// An encoder for messages of at most `capacity_bytes` (allocated once here).
    pub fn with_capacity(capacity_bytes: usize) -> Encoder {
        let capacity = capacity_bytes.max(HEADER_RESERVE + 64);
        Encoder {
            buffer: vec![0u8; capacity].into_boxed_slice(),
            cursor: HEADER_RESERVE,
            overflowed: false,
        }
    }

    /// Starts a message of type `msg_type` (the MsgType(35) value).
    pub fn begin(&mut self, msg_type: &[u8]) {
        self.cursor = HEADER_RESERVE;
        self.overflowed = false;
        self.field(crate::fix::tags::MSG_TYPE, msg_type);
    }

    fn put(&mut self, bytes: &[u8]) {
        let end = self.cursor + bytes.len();
        match self.buffer.get_mut(self.cursor..end) {
            Some(slot) => {
                slot.copy_from_slice(bytes);
                self.cursor = end;
            }
            None => self.overflowed = true,
        }
    }

    fn put_tag(&mut self, tag: u32) {
        let mut digits = [0u8; 20];
        let start = digits_u64(u64::from(tag), &mut digits);
        self.put(&digits[start..]);
        self.put(b"=");
    }

    /// Appends `tag=value<SOH>`. The value must not contain SOH.
    pub fn field(&mut self, tag: u32, value: &[u8]) {
        debug_assert!(!value.contains(&SOH), "tag {tag}: values never contain SOH");
        self.put_tag(tag);
        self.put(value);
        self.put(&[SOH]);
    }

    /// Appends an unsigned integer field.
    pub fn field_u64(&mut self, tag: u32, value: u64) {
        let mut digits = [0u8; 20];
        let start = digits_u64(value, &mut digits);
        self.field(tag, &digits[start..]);
    }

    /// Appends a one-character field.
    pub fn field_char(&mut self, tag: u32, value: u8) {
        self.field(tag, &[value]);
    }

    /// Appends a UTCTimestamp field from nanoseconds since the Unix epoch.
    pub fn field_timestamp(&mut self, tag: u32, unix_ns: u64) {
        let mut text = [0u8; UTC_TIMESTAMP_LEN];
        format_utc_timestamp(unix_ns, &mut text);
        self.field(tag, &text);
    }

    /// Appends `count × step` as an exact decimal (a price in ticks or a
    /// quantity in lots).
    pub fn field_decimal(&mut self, tag: u32, step: Step, count: i64) {
        let mut text = [0u8; DECIMAL_TEXT_LEN_MAX];
        let length = step.write(count, &mut text);
        self.field(tag, &text[..length]);
    }

    /// Completes the message with BeginString, BodyLength and CheckSum and
    /// returns it. Errors when the message did not fit.
    pub fn finish(&mut self) -> Result<&[u8], SendError> {
        let capacity_bytes = self.buffer.len();
        if self.overflowed || self.cursor + TRAILER_LEN > capacity_bytes {
            return Err(SendError::MessageTooLarge { capacity_bytes });
        }
        let body_length = (self.cursor - HEADER_RESERVE) as u64;
        let mut digits = [0u8; 20];
        let digits_start = digits_u64(body_length, &mut digits);
        let length_digits = &digits[digits_start..];
        let start = HEADER_RESERVE - BEGIN_PREFIX.len() - length_digits.len() - 1;
        let prefix_end = start + BEGIN_PREFIX.len();
        self.buffer[start..prefix_end].copy_from_slice(BEGIN_PREFIX);
        self.buffer[prefix_end..HEADER_RESERVE - 1].copy_from_slice(length_digits);
        self.buffer[HEADER_RESERVE - 1] = SOH;
        let sum = checksum(&self.buffer[start..self.cursor]);
        let trailer = [
            b'1',
            b'0',
            b'=',
            b'0' + sum / 100,
            b'0' + (sum / 10) % 10,
            b'0' + sum % 10,
            SOH,
        ];
        let end = self.cursor + TRAILER_LEN;
        self.buffer[self.cursor..end].copy_from_slice(&trailer);
        Ok(&self.buffer[start..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fix::decode::FieldTable;
    use crate::fix::tags::{self, MsgType};

    #[test]
    fn heartbeat_round_trips() {
        // Encode a heartbeat, decode it, and read the same fields back.
        let mut encoder = Encoder::with_capacity(256);
        encoder.begin(MsgType::Heartbeat.as_bytes());
        encoder.field_u64(tags::MSG_SEQ_NUM, 7);
        encoder.field(tags::SENDER_COMP_ID, b"GEN");
        encoder.field(tags::TARGET_COMP_ID, b"EXEC");
        encoder.field_timestamp(tags::SENDING_TIME, 0);
        let bytes = encoder.finish().unwrap().to_vec();
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        assert_eq!(message.msg_type(), Some(MsgType::Heartbeat));
        assert_eq!(message.seq_num(), Ok(7));
        assert_eq!(
            message.get(tags::SENDING_TIME),
            Some(&b"19700101-00:00:00.000"[..])
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        // A value larger than the buffer makes finish() fail.
        let mut encoder = Encoder::with_capacity(100);
        encoder.begin(b"0");
        encoder.field(tags::TEXT, &[b'x'; 200]);
        assert!(matches!(
            encoder.finish(),
            Err(SendError::MessageTooLarge { .. })
        ));
        encoder.begin(b"0");
        assert!(
            encoder.finish().is_ok(),
            "the encoder is reusable after an overflow"
        );
    }
}
