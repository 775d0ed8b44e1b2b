//! Bytes encoded but not yet written to the socket: the [`PendingSpan`]
//! cursor both send queues use ([`OutBuffer`] here, the session's
//! [`crate::fix::outbox::Outbox`]), and the plain byte queue over it.
//!
//! Owning thread: the session's thread.
//! Invariants: fixed capacity allocated once; a message is appended whole
//! or not at all ([`SendError::OutputFull`]), so a partial socket write
//! never loses or splits a message: the unwritten tail stays here until the
//! next write. The pending bytes are `buffer[start..end]` with
//! `start <= end <= buffer.len()`, and an empty span is always `0..0`, so
//! the next message after the queue drains starts at the buffer's start.

use core::ops::Range;

use crate::fix::error::SendError;

/// Which bytes of a caller-owned buffer wait for the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingSpan {
    start: usize,
    end: usize,
}

impl PendingSpan {
    /// Where the pending bytes lie in the buffer.
    #[inline]
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    /// How many bytes wait.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Nothing waits.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The offset just past the pending bytes: where the next message goes.
    #[inline]
    pub fn end(&self) -> usize {
        self.end
    }

    /// Slides the pending bytes down to the buffer's start when fewer than
    /// `room_bytes` remain behind them (and sliding gains room).
    #[inline]
    pub fn make_room(&mut self, buffer: &mut [u8], room_bytes: usize) {
        debug_assert!(self.end <= buffer.len(), "the span lies in the buffer");
        debug_assert!(!self.is_empty() || self.start == 0, "an empty span is 0..0");
        if self.start > 0 && buffer.len() - self.end < room_bytes {
            buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Queues the message at `message` (which lies at or after the pending
    /// bytes): adopted where it lies when nothing waits, else copied down to
    /// follow the pending bytes.
    #[inline]
    pub fn append_within(&mut self, buffer: &mut [u8], message: Range<usize>) {
        debug_assert!(
            message.start >= self.end,
            "a message lies after the pending bytes"
        );
        debug_assert!(
            message.end <= buffer.len(),
            "the message lies in the buffer"
        );
        if self.is_empty() {
            (self.start, self.end) = (message.start, message.end);
        } else {
            let length = message.len();
            buffer.copy_within(message, self.end);
            self.end += length;
        }
    }

    /// Queues a copy of `bytes` behind the pending bytes, or refuses it whole.
    #[inline]
    pub fn append_copy(&mut self, buffer: &mut [u8], bytes: &[u8]) -> Result<(), SendError> {
        self.make_room(buffer, bytes.len());
        let slot =
            buffer
                .get_mut(self.end..self.end + bytes.len())
                .ok_or(SendError::OutputFull {
                    pending_bytes: self.len(),
                })?;
        slot.copy_from_slice(bytes);
        self.end += bytes.len();
        Ok(())
    }

    /// Marks `count` pending bytes as written.
    #[inline]
    pub fn consume(&mut self, count: usize) {
        self.start = (self.start + count).min(self.end);
        if self.is_empty() {
            self.clear();
        }
    }

    /// Drops everything pending (after a disconnect).
    #[inline]
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

/// A fixed-capacity byte queue.
#[derive(Debug)]
pub struct OutBuffer {
    buffer: Box<[u8]>,
    pending: PendingSpan,
}

impl OutBuffer {
    /// A buffer of `capacity_bytes`.
    pub fn with_capacity(capacity_bytes: usize) -> OutBuffer {
        OutBuffer {
            buffer: vec![0; capacity_bytes].into_boxed_slice(),
            pending: PendingSpan::default(),
        }
    }

    /// Appends a whole message, or refuses it when it does not fit.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.pending.append_copy(&mut self.buffer, bytes)
    }

    /// The bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buffer[self.pending.range()]
    }

    /// Marks `count` pending bytes as written.
    pub fn consume(&mut self, count: usize) {
        self.pending.consume(count);
    }

    /// Drops everything pending (after a disconnect).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_consume_keeps_the_tail() {
        // A short socket write leaves the rest pending, in order.
        let mut out = OutBuffer::with_capacity(8);
        out.push(b"abcde").unwrap();
        out.consume(2);
        assert_eq!(out.pending(), b"cde");
        out.push(b"fghij").unwrap();
        assert_eq!(out.pending(), b"cdefghij");
        assert_eq!(
            out.push(b"k"),
            Err(SendError::OutputFull { pending_bytes: 8 })
        );
    }

    #[test]
    fn a_drained_span_starts_again_at_the_buffers_start() {
        // Consuming everything, or more than is pending, empties to 0..0.
        let mut buffer = [0u8; 16];
        let mut span = PendingSpan::default();
        span.append_copy(&mut buffer, b"abc").unwrap();
        span.consume(1);
        assert_eq!(span.range(), 1..3);
        span.consume(10);
        assert_eq!(span, PendingSpan::default());
        span.append_copy(&mut buffer, b"xy").unwrap();
        assert_eq!(&buffer[span.range()], b"xy");
    }

    #[test]
    fn a_message_encoded_in_place_is_adopted_or_slid_behind_the_pending_bytes() {
        // Alone it stays where it was encoded; behind pending bytes it is
        // copied down over the gap between them.
        let mut buffer = *b"..abc...de......";
        let mut span = PendingSpan::default();
        span.append_within(&mut buffer, 2..5);
        assert_eq!(&buffer[span.range()], b"abc");
        span.append_within(&mut buffer, 8..10);
        assert_eq!(&buffer[span.range()], b"abcde");
        assert_eq!(span.end(), 7);
    }

    #[test]
    fn room_is_made_only_when_the_tail_is_short_and_sliding_helps() {
        // Pending bytes move to the start only when the room behind them is
        // less than asked and they do not already start there.
        let mut buffer = *b"....abcd";
        let mut span = PendingSpan::default();
        span.append_within(&mut buffer, 4..8);
        span.make_room(&mut buffer, 0);
        assert_eq!(span.range(), 4..8, "enough room: nothing moves");
        span.make_room(&mut buffer, 3);
        assert_eq!(span.range(), 0..4);
        assert_eq!(&buffer[..4], b"abcd");
        span.make_room(&mut buffer, 8);
        assert_eq!(span.range(), 0..4, "already at the start");
        assert_eq!(
            span.append_copy(&mut buffer, b"12345"),
            Err(SendError::OutputFull { pending_bytes: 4 })
        );
        assert_eq!(&buffer[span.range()], b"abcd", "nothing partial was queued");
    }
}
