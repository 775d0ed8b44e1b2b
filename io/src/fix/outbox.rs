//! The session's outgoing bytes: messages are encoded where they wait for
//! the socket, in the encoder's own buffer, so queuing one copies nothing.
//!
//! Owning thread: the session's thread.
//! Invariants: fixed capacity allocated once; a message is queued whole or
//! not at all ([`SendError::OutputFull`] when the buffer has no room for it,
//! [`SendError::MessageTooLarge`] when it exceeds the message capacity), so
//! a partial socket write never loses or splits a message: the unwritten
//! tail stays here until the next write. Pending bytes are the
//! [`PendingSpan`] of the encoder's buffer (the cursor
//! [`OutBuffer`](crate::fix::out_buffer::OutBuffer) uses too); while nothing is pending, the next message is
//! encoded at the buffer's start and queued where it lies; otherwise it is
//! encoded after the pending bytes and slid down over its unused header
//! gap (at most 11 bytes), the only copy, and only while output waits.

use crate::fix::encode::{Encoder, Overflow};
use crate::fix::error::SendError;
use crate::fix::out_buffer::PendingSpan;

/// Encoder and send queue in one buffer.
#[derive(Debug)]
pub struct Outbox {
    encoder: Encoder,
    pending: PendingSpan,
    /// The most bytes one message may span, its header gap included.
    message_capacity: usize,
}

impl Outbox {
    /// Messages of up to `message_capacity_bytes` (as [`Encoder::with_capacity`]),
    /// and up to `capacity_bytes` pending.
    pub fn with_capacity(message_capacity_bytes: usize, capacity_bytes: usize) -> Outbox {
        let encoder = Encoder::queue(message_capacity_bytes, capacity_bytes);
        let message_capacity = encoder.buffer().len().min(message_capacity_bytes.max(1));
        Outbox {
            encoder,
            pending: PendingSpan::default(),
            message_capacity,
        }
    }

    /// The encoder, positioned for the next message after the pending
    /// bytes (moved to the buffer's start first if the worst-case message
    /// would not fit behind them). Complete the message with [`Outbox::commit`].
    #[inline]
    pub fn encoder(&mut self) -> &mut Encoder {
        self.pending
            .make_room(self.encoder.buffer_mut(), self.message_capacity);
        self.encoder.set_base(self.pending.end());
        &mut self.encoder
    }

    /// Completes the message begun on [`Outbox::encoder`] (BeginString,
    /// BodyLength, CheckSum) and queues it.
    #[inline]
    pub fn commit(&mut self) -> Result<(), SendError> {
        let (start, end) = match self.encoder.finish_span() {
            Ok(span) => span,
            Err(Overflow::Message(capacity_bytes)) => {
                return Err(SendError::MessageTooLarge { capacity_bytes })
            }
            Err(Overflow::Room) => {
                return Err(SendError::OutputFull {
                    pending_bytes: self.pending.len(),
                })
            }
        };
        self.pending
            .append_within(self.encoder.buffer_mut(), start..end);
        Ok(())
    }

    /// The bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.encoder.buffer()[self.pending.range()]
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
    use crate::fix::tags;

    fn message(outbox: &mut Outbox, text_len: usize) -> Result<(), SendError> {
        let encoder = outbox.encoder();
        encoder.begin(b"0");
        encoder.field(tags::TEXT, &vec![b'x'; text_len]);
        outbox.commit()
    }

    fn plain(text_len: usize) -> Vec<u8> {
        let mut encoder = Encoder::with_capacity(1024);
        encoder.begin(b"0");
        encoder.field(tags::TEXT, &vec![b'x'; text_len]);
        encoder.finish().unwrap().to_vec()
    }

    #[test]
    fn queued_messages_are_the_plain_encoders_bytes_in_order() {
        // Behind pending output, after a partial write, and alone again.
        let mut outbox = Outbox::with_capacity(256, 1024);
        message(&mut outbox, 3).unwrap();
        assert_eq!(outbox.pending(), plain(3));
        message(&mut outbox, 150).unwrap();
        let mut expected = [plain(3), plain(150)].concat();
        assert_eq!(outbox.pending(), expected);
        outbox.consume(10);
        message(&mut outbox, 7).unwrap();
        expected = [&expected[10..], &plain(7)].concat();
        assert_eq!(outbox.pending(), expected);
        outbox.consume(expected.len());
        assert!(outbox.pending().is_empty());
        message(&mut outbox, 90).unwrap();
        assert_eq!(outbox.pending(), plain(90));
    }

    #[test]
    fn a_full_queue_refuses_whole_messages_and_keeps_what_is_pending() {
        // Full is OutputFull (retry later); too long is MessageTooLarge.
        let mut outbox = Outbox::with_capacity(256, 512);
        let mut expected = Vec::new();
        while message(&mut outbox, 100).is_ok() {
            expected.extend(plain(100));
        }
        assert_eq!(outbox.pending(), expected);
        assert_eq!(
            message(&mut outbox, 100),
            Err(SendError::OutputFull {
                pending_bytes: expected.len()
            })
        );
        assert_eq!(outbox.pending(), expected, "nothing partial was queued");
        outbox.consume(plain(100).len());
        message(&mut outbox, 100).unwrap();
        assert_eq!(
            outbox.pending(),
            [&expected[plain(100).len()..], &plain(100)].concat()
        );
        outbox.clear();
        assert!(matches!(
            message(&mut outbox, 300),
            Err(SendError::MessageTooLarge {
                capacity_bytes: 256
            })
        ));
        message(&mut outbox, 5).unwrap();
        assert_eq!(outbox.pending(), plain(5));
    }
}
