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
//!
//! The field writers are always inlined: every caller passes a constant
//! tag, so `tag=` folds to constant bytes instead of digits computed per
//! field (measured with callgrind in `docs/performance.md`).

use crate::fix::decimal::{Step, DECIMAL_TEXT_LEN_MAX};
use crate::fix::decode::{checksum, BEGIN_PREFIX, SOH, TRAILER_LEN};
use crate::fix::digits::{digit_count, write_3_digits, write_digits};
use crate::fix::error::SendError;
use crate::fix::time::TimestampCache;

/// Room before the body for BeginString and BodyLength (12 + 9 digits + SOH).
const HEADER_RESERVE: usize = 24;

/// A reusable message encoder.
#[derive(Debug)]
pub struct Encoder {
    buffer: Box<[u8]>,
    cursor: usize,
    overflowed: bool,
    timestamps: TimestampCache,
}

/// Copies `source` into `target` (the same length) without a `memcpy`
/// call for values of up to 16 bytes (ids, symbols, accounts): two
/// overlapping 8- or 4-byte moves, or single bytes below 4. A `memcpy`
/// call costs ~14 instructions of set-up (measured with callgrind in
/// `docs/performance.md`); longer values take it.
#[inline(always)]
pub(crate) fn copy_short(target: &mut [u8], source: &[u8]) {
    debug_assert_eq!(target.len(), source.len(), "same length");
    let length = source.len();
    if length > 16 || target.len() != length {
        target.copy_from_slice(source);
    } else if length >= 8 {
        copy_two::<8>(target, source);
    } else if length >= 4 {
        copy_two::<4>(target, source);
    } else {
        for (to, from) in target.iter_mut().zip(source) {
            *to = *from;
        }
    }
}

/// The first and the last `N` bytes of `source` into `target` (both at
/// least `N` and at most `2 × N` long, the same length): every byte once or twice.
#[inline(always)]
fn copy_two<const N: usize>(target: &mut [u8], source: &[u8]) {
    if let (Some(head), Some(tail)) = (source.first_chunk::<N>(), source.last_chunk::<N>()) {
        let (head, tail) = (*head, *tail);
        if let Some(to) = target.first_chunk_mut::<N>() {
            *to = head;
        }
        if let Some(to) = target.last_chunk_mut::<N>() {
            *to = tail;
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
            timestamps: TimestampCache::new(),
        }
    }

    /// Starts a message of type `msg_type` (the MsgType(35) value).
    pub fn begin(&mut self, msg_type: &[u8]) {
        self.cursor = HEADER_RESERVE;
        self.overflowed = false;
        self.field(crate::fix::tags::MSG_TYPE, msg_type);
    }

    /// Starts a message with `prefix`, its first bytes after BodyLength
    /// exactly as they go on the wire: whole fields from `35=` on, and
    /// possibly the `tag=` of one more, whose value the caller writes next
    /// (a session's `35=D<SOH>49=…<SOH>56=…<SOH>34=`, built once).
    #[inline(always)]
    pub fn begin_with(&mut self, prefix: &[u8]) {
        debug_assert!(prefix.starts_with(b"35="), "a message starts with MsgType");
        self.cursor = HEADER_RESERVE;
        self.overflowed = false;
        if let Some(slot) = self.reserve(prefix.len()) {
            slot.copy_from_slice(prefix);
        }
    }

    /// Appends an unsigned integer and the SOH that ends its field (after
    /// a `tag=` already written, as by [`Encoder::begin_with`]).
    #[inline(always)]
    pub fn value_u64(&mut self, value: u64) {
        let value_len = digit_count(value);
        let Some(slot) = self.reserve(value_len + 1) else {
            return;
        };
        let (value_text, soh) = slot.split_at_mut(value_len);
        write_digits(value, value_text);
        soh[0] = SOH;
    }

    /// The next `len` bytes of the message, or `None` (and the message
    /// marked overflowed) when they do not fit.
    #[inline(always)]
    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.cursor;
        let end = start + len;
        if end > self.buffer.len() {
            self.overflowed = true;
            return None;
        }
        self.cursor = end;
        Some(&mut self.buffer[start..end])
    }

    /// Appends bytes that are already whole fields (`tag=value<SOH>…`),
    /// such as a session's constant CompID fields.
    #[inline(always)]
    pub fn raw(&mut self, fields: &[u8]) {
        debug_assert!(
            fields.last() == Some(&SOH),
            "raw bytes end with a field's SOH"
        );
        if let Some(slot) = self.reserve(fields.len()) {
            slot.copy_from_slice(fields);
        }
    }

    /// Appends `tag=value<SOH>`. The value must not contain SOH.
    #[inline(always)]
    pub fn field(&mut self, tag: u32, value: &[u8]) {
        debug_assert!(!value.contains(&SOH), "tag {tag}: values never contain SOH");
        let tag_len = digit_count(u64::from(tag));
        let Some(slot) = self.reserve(tag_len + value.len() + 2) else {
            return;
        };
        let (tag_text, rest) = slot.split_at_mut(tag_len);
        write_digits(u64::from(tag), tag_text);
        let (equals, rest) = rest.split_at_mut(1);
        equals[0] = b'=';
        let (value_text, soh) = rest.split_at_mut(value.len());
        copy_short(value_text, value);
        soh[0] = SOH;
    }

    /// Appends an unsigned integer field.
    #[inline(always)]
    pub fn field_u64(&mut self, tag: u32, value: u64) {
        let tag_len = digit_count(u64::from(tag));
        let value_len = digit_count(value);
        let Some(slot) = self.reserve(tag_len + value_len + 2) else {
            return;
        };
        let (tag_text, rest) = slot.split_at_mut(tag_len);
        write_digits(u64::from(tag), tag_text);
        let (equals, rest) = rest.split_at_mut(1);
        equals[0] = b'=';
        let (value_text, soh) = rest.split_at_mut(value_len);
        write_digits(value, value_text);
        soh[0] = SOH;
    }

    /// Appends a one-character field.
    #[inline(always)]
    pub fn field_char(&mut self, tag: u32, value: u8) {
        self.field(tag, &[value]);
    }

    /// Appends a UTCTimestamp field from nanoseconds since the Unix epoch.
    #[inline(always)]
    pub fn field_timestamp(&mut self, tag: u32, unix_ns: u64) {
        let text = *self.timestamps.format(unix_ns);
        self.field(tag, &text);
    }

    /// Appends `count × step` as an exact decimal (a price in ticks or a
    /// quantity in lots), written in place when the longest text fits.
    #[inline(always)]
    pub fn field_decimal(&mut self, tag: u32, step: Step, count: i64) {
        let tag_len = digit_count(u64::from(tag));
        let start = self.cursor;
        let text_start = start + tag_len + 1;
        let room = self
            .buffer
            .get_mut(start..text_start + DECIMAL_TEXT_LEN_MAX + 1);
        let Some(room) = room else {
            // Near the end of the buffer: format aside, then copy what fits.
            let mut text = [0u8; DECIMAL_TEXT_LEN_MAX];
            let length = step.write(count, &mut text);
            return self.field(tag, &text[..length]);
        };
        let (tag_text, rest) = room.split_at_mut(tag_len);
        write_digits(u64::from(tag), tag_text);
        rest[0] = b'=';
        let Some(text) = rest[1..].first_chunk_mut::<DECIMAL_TEXT_LEN_MAX>() else {
            // Unreachable: `room` holds the text and its SOH.
            self.overflowed = true;
            return;
        };
        let length = step.write(count, text);
        rest[1 + length] = SOH;
        self.cursor = text_start + length + 1;
    }

    /// Completes the message with BeginString, BodyLength and CheckSum and
    /// returns it. Errors when the message did not fit.
    pub fn finish(&mut self) -> Result<&[u8], SendError> {
        let capacity_bytes = self.buffer.len();
        if self.overflowed || self.cursor + TRAILER_LEN > capacity_bytes {
            return Err(SendError::MessageTooLarge { capacity_bytes });
        }
        let body_length = (self.cursor - HEADER_RESERVE) as u64;
        let length_len = digit_count(body_length);
        debug_assert!(length_len <= 9, "capacity keeps BodyLength within 9 digits");
        let start = HEADER_RESERVE - BEGIN_PREFIX.len() - length_len - 1;
        let prefix_end = start + BEGIN_PREFIX.len();
        self.buffer[start..prefix_end].copy_from_slice(BEGIN_PREFIX);
        let length_text = &mut self.buffer[prefix_end..HEADER_RESERVE - 1];
        match length_text.first_chunk_mut::<3>() {
            Some(digits) if length_len == 3 => write_3_digits(body_length, digits),
            _ => write_digits(body_length, length_text),
        }
        self.buffer[HEADER_RESERVE - 1] = SOH;
        let sum = checksum(&self.buffer[start..self.cursor]);
        let end = self.cursor + TRAILER_LEN;
        let Some(trailer) = self.buffer[self.cursor..end].first_chunk_mut::<TRAILER_LEN>() else {
            // Unreachable: the capacity check above left room for the trailer.
            return Err(SendError::MessageTooLarge { capacity_bytes });
        };
        let mut sum_text = [0u8; 3];
        write_3_digits(u64::from(sum), &mut sum_text);
        let [hundreds, tens, ones] = sum_text;
        *trailer = [b'1', b'0', b'=', hundreds, tens, ones, SOH];
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
