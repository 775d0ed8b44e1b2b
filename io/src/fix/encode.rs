//! Encoding FIX 4.4 messages into a reusable fixed-capacity buffer.
//!
//! Owning thread: whoever owns the [`Encoder`] (the session's thread).
//! Invariants: after [`Encoder::with_capacity`] nothing allocates; writing
//! past the capacity never panics: the write is skipped, the cursor still
//! advances past the buffer's end, and [`Encoder::finish`] refuses the
//! message (the cursor only grows within a message, so one check there
//! covers every field); BodyLength(9) and CheckSum(10) are always computed
//! from the bytes actually written.
//!
//! The body is written after a reserved gap; `finish` writes
//! `8=FIX.4.4<SOH>9=<len><SOH>` right-aligned into the gap, so the message is
//! one contiguous slice without moving the body.
//!
//! A message starts at the encoder's base (0 for a plain encoder); the
//! session's [`crate::fix::outbox::Outbox`] moves the base to the end of the
//! bytes still waiting for the socket, so a message is encoded where it is
//! queued and never copied (measured in `docs/performance.md`). A message
//! may span at most `message_capacity` bytes from its base; a write past
//! the buffer still advances the cursor (without writing), so `finish`
//! tells a message too large from a queue too full.
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
pub(crate) const HEADER_RESERVE: usize = 24;

/// The FIX CheckSum (sum mod 256) of `bytes[..len]`, which may zero up to
/// 16 bytes after them (the trailer's place, written afterwards): the sum
/// then runs over whole 16-byte blocks, one vector add each, with no
/// byte-by-byte tail (measured with callgrind in `docs/performance.md`).
/// Without that room, the plain sum.
#[inline(always)]
fn checksum_in_place(bytes: &mut [u8], len: usize) -> u8 {
    let padded = len.next_multiple_of(BLOCK);
    match bytes.get_mut(len..len + BLOCK) {
        Some(after) if padded <= len + BLOCK => after.fill(0),
        _ => return checksum(&bytes[..len]),
    }
    let mut lanes = [0u8; BLOCK];
    for block in bytes[..padded].chunks_exact(BLOCK) {
        for (lane, byte) in lanes.iter_mut().zip(block) {
            *lane = lane.wrapping_add(*byte);
        }
    }
    lanes.iter().fold(0u8, |sum, lane| sum.wrapping_add(*lane))
}

/// Bytes the CheckSum adds at once.
const BLOCK: usize = 16;

/// A reusable message encoder.
#[derive(Debug)]
pub struct Encoder {
    buffer: Box<[u8]>,
    /// Where the current message's reserved gap starts.
    base: usize,
    /// Where the next field goes; past the buffer's end once a write did
    /// not fit.
    cursor: usize,
    /// The most bytes one message may span from `base`.
    message_capacity: usize,
    timestamps: TimestampCache,
}

/// A message that could not be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Longer than the encoder's message capacity (the bytes it may span).
    Message(usize),
    /// Within the message capacity, but past the end of the buffer.
    Room,
}

/// Copies `source` into `target` (the same length) without a `memcpy`
/// call for values of up to 32 bytes (ids, symbols, accounts, a session's
/// header prefix): two overlapping 16-, 8- or 4-byte moves, or single
/// bytes below 4. A `memcpy` call costs ~14 instructions of set-up
/// (measured with callgrind in `docs/performance.md`); longer values take it.
#[inline(always)]
pub(crate) fn copy_short(target: &mut [u8], source: &[u8]) {
    debug_assert_eq!(target.len(), source.len(), "same length");
    let length = source.len();
    if length > 32 || target.len() != length {
        target.copy_from_slice(source);
    } else if length > 16 {
        copy_two::<16>(target, source);
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
        Encoder::queue(capacity, capacity)
    }

    /// An encoder over a buffer of `buffer_bytes` in which each message
    /// spans at most `message_capacity_bytes` from the base
    /// ([`Encoder::set_base`]).
    pub(crate) fn queue(message_capacity_bytes: usize, buffer_bytes: usize) -> Encoder {
        let message_capacity = message_capacity_bytes.max(HEADER_RESERVE + 64);
        Encoder {
            buffer: vec![0u8; buffer_bytes.max(message_capacity)].into_boxed_slice(),
            base: 0,
            cursor: HEADER_RESERVE,
            message_capacity,
            timestamps: TimestampCache::new(),
        }
    }

    /// The next message starts at `base` (its reserved gap first).
    #[inline(always)]
    pub(crate) fn set_base(&mut self, base: usize) {
        debug_assert!(base <= self.buffer.len(), "the base lies in the buffer");
        self.base = base;
    }

    /// The whole buffer (the queue's bytes live in it).
    #[inline(always)]
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buffer
    }

    /// The whole buffer, to move queued bytes within it.
    #[inline(always)]
    pub(crate) fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.buffer
    }

    /// Starts a message of type `msg_type` (the MsgType(35) value).
    pub fn begin(&mut self, msg_type: &[u8]) {
        self.cursor = self.base + HEADER_RESERVE;
        self.field(crate::fix::tags::MSG_TYPE, msg_type);
    }

    /// Starts a message with `prefix`, its first bytes after BodyLength
    /// exactly as they go on the wire: whole fields from `35=` on, and
    /// possibly the `tag=` of one more, whose value the caller writes next
    /// (a session's `35=D<SOH>49=…<SOH>56=…<SOH>34=`, built once).
    #[inline(always)]
    pub fn begin_with(&mut self, prefix: &[u8]) {
        debug_assert!(prefix.starts_with(b"35="), "a message starts with MsgType");
        self.cursor = self.base + HEADER_RESERVE;
        if let Some(slot) = self.reserve(prefix.len()) {
            copy_short(slot, prefix);
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

    /// The next `len` bytes of the message, or `None` when they do not
    /// fit (the cursor advances either way, so `finish` sees the overflow).
    #[inline(always)]
    fn reserve(&mut self, len: usize) -> Option<&mut [u8]> {
        let start = self.cursor;
        let end = start + len;
        self.cursor = end;
        self.buffer.get_mut(start..end)
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
            self.cursor = usize::MAX / 2;
            return;
        };
        let length = step.write(count, text);
        rest[1 + length] = SOH;
        self.cursor = text_start + length + 1;
    }

    /// Completes the message with BeginString, BodyLength and CheckSum and
    /// returns it. Errors when the message did not fit.
    pub fn finish(&mut self) -> Result<&[u8], SendError> {
        match self.finish_span() {
            Ok((start, end)) => Ok(&self.buffer[start..end]),
            Err(Overflow::Message(_) | Overflow::Room) => Err(SendError::MessageTooLarge {
                capacity_bytes: self.message_capacity,
            }),
        }
    }

    /// [`Encoder::finish`], returning where the message lies in the buffer.
    #[inline]
    pub(crate) fn finish_span(&mut self) -> Result<(usize, usize), Overflow> {
        let end = self.cursor + TRAILER_LEN;
        if end - self.base > self.message_capacity {
            return Err(Overflow::Message(self.message_capacity));
        }
        let gap_end = self.base + HEADER_RESERVE;
        let Some(message) = self.buffer.get_mut(self.base..end) else {
            return Err(Overflow::Room);
        };
        let body_length = (self.cursor - gap_end) as u64;
        let length_len = digit_count(body_length);
        debug_assert!(length_len <= 9, "capacity keeps BodyLength within 9 digits");
        let start = HEADER_RESERVE - BEGIN_PREFIX.len() - length_len - 1;
        let prefix_end = start + BEGIN_PREFIX.len();
        message[start..prefix_end].copy_from_slice(BEGIN_PREFIX);
        let length_text = &mut message[prefix_end..HEADER_RESERVE - 1];
        match length_text.first_chunk_mut::<3>() {
            Some(digits) if length_len == 3 => write_3_digits(body_length, digits),
            _ => write_digits(body_length, length_text),
        }
        message[HEADER_RESERVE - 1] = SOH;
        let summed_end = message.len() - TRAILER_LEN;
        let sum = checksum_in_place(&mut self.buffer[self.base + start..], summed_end - start);
        let Some(trailer) = self.buffer.get_mut(self.cursor..end) else {
            return Err(Overflow::Room);
        };
        let mut sum_text = [0u8; 3];
        write_3_digits(u64::from(sum), &mut sum_text);
        let [hundreds, tens, ones] = sum_text;
        trailer.copy_from_slice(&[b'1', b'0', b'=', hundreds, tens, ones, SOH]);
        Ok((self.base + start, end))
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
