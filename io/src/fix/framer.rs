//! Finds complete FIX messages in a TCP byte stream.
//!
//! Owning thread: the thread that reads the socket (the session's thread).
//! Invariants: the receive buffer is allocated once in [`Framer::new`] and
//! never grows; every call to [`Framer::next_frame`] either returns `None`
//! (more bytes needed) or consumes at least one byte, so a caller looping
//! until `None` always terminates; no input panics. A frame's bytes stay
//! valid until the next call that mutates the framer.
//!
//! The framer only checks what delimits a message (BeginString prefix,
//! BodyLength, the `10=` trailer); the decoder verifies the checksum.

use std::ops::Range;

use crate::fix::decode::{read_body_length, BEGIN_PREFIX, SOH, TRAILER_LEN};

/// What the framer found at the front of the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete message; read it with [`Framer::bytes`].
    Message(Range<usize>),
    /// Bytes that do not start a FIX 4.4 message, or whose BodyLength does
    /// not land on a `10=` trailer, were skipped up to the next plausible
    /// message start.
    Garbled {
        /// How many bytes were dropped.
        bytes_skipped: usize,
    },
    /// A message declared a BodyLength above the configured maximum; its
    /// first byte was dropped and the framer resynchronises after it.
    TooLong {
        /// The declared BodyLength(9).
        body_length: usize,
    },
}

/// A fixed-capacity reassembly buffer for one TCP stream.
#[derive(Debug)]
pub struct Framer {
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    body_length_max: usize,
}

/// The longest message the framer can hold for a given body length.
const fn message_len_max(body_length_max: usize) -> usize {
    BEGIN_PREFIX.len() + 9 + 1 + body_length_max + TRAILER_LEN
}

impl Framer {
    /// A framer accepting bodies of at most `body_length_max` bytes. Its
    /// buffer holds two maximal messages so one read can always complete one.
    pub fn new(body_length_max: usize) -> Framer {
        let capacity = 2 * message_len_max(body_length_max).max(64);
        Framer {
            buffer: vec![0u8; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            body_length_max,
        }
    }

    /// Free space to read socket bytes into; pass the count read to [`Framer::commit`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buffer[self.end..]
    }

    /// Records that `count` bytes were written into [`Framer::spare`].
    pub fn commit(&mut self, count: usize) {
        self.end = (self.end + count).min(self.buffer.len());
    }

    /// Copies as much of `bytes` as fits; returns how many were taken.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let spare = self.spare();
        let count = bytes.len().min(spare.len());
        spare[..count].copy_from_slice(&bytes[..count]);
        self.commit(count);
        count
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// Forgets everything buffered (after a disconnect).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// The bytes of a frame returned by [`Framer::next_frame`].
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buffer[range]
    }

    /// The next frame, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let available = &self.buffer[self.start..self.end];
        if available.is_empty() {
            return None;
        }
        let prefix_len = available.len().min(BEGIN_PREFIX.len());
        if available[..prefix_len] != BEGIN_PREFIX[..prefix_len] {
            return Some(self.skip_garbage());
        }
        let (body_length, body_start) = match read_body_length(available)? {
            Ok(found) => found,
            Err(()) => return Some(self.skip_garbage()),
        };
        if body_length > self.body_length_max {
            self.start += 1;
            return Some(Frame::TooLong { body_length });
        }
        let total = body_start + body_length + TRAILER_LEN;
        if available.len() < total {
            return None;
        }
        let trailer = &available[body_start + body_length..total];
        if !trailer.starts_with(b"10=") || trailer[TRAILER_LEN - 1] != SOH {
            return Some(self.skip_garbage());
        }
        let range = self.start..self.start + total;
        self.start += total;
        Some(Frame::Message(range))
    }

    /// Drops bytes up to the next position that could start a message
    /// (a full BeginString prefix, or a partial one at the very end).
    fn skip_garbage(&mut self) -> Frame {
        let available = &self.buffer[self.start..self.end];
        let bytes_skipped = (1..available.len())
            .find(|&offset| {
                let rest = &available[offset..];
                let compared = rest.len().min(BEGIN_PREFIX.len());
                rest[..compared] == BEGIN_PREFIX[..compared]
            })
            .unwrap_or(available.len());
        self.start += bytes_skipped;
        Frame::Garbled { bytes_skipped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01";

    fn frames(framer: &mut Framer) -> Vec<Frame> {
        std::iter::from_fn(|| framer.next_frame()).collect()
    }

    #[test]
    fn byte_by_byte_delivery_yields_one_message() {
        // A message split across many reads is found once complete.
        let mut framer = Framer::new(1024);
        for (index, byte) in MESSAGE.iter().enumerate() {
            framer.push(&[*byte]);
            let found = frames(&mut framer);
            if index + 1 < MESSAGE.len() {
                assert!(found.is_empty(), "early frame at byte {index}");
            } else {
                assert_eq!(found, vec![Frame::Message(0..MESSAGE.len())]);
            }
        }
    }

    #[test]
    fn garbage_between_messages_is_skipped() {
        // Two messages in one read with junk before and between them.
        let mut framer = Framer::new(1024);
        let mut stream = b"junk".to_vec();
        stream.extend_from_slice(MESSAGE);
        stream.extend_from_slice(b"8=FIX.4.2\x01");
        stream.extend_from_slice(MESSAGE);
        framer.push(&stream);
        let found = frames(&mut framer);
        let messages = found
            .iter()
            .filter(|frame| matches!(frame, Frame::Message(_)))
            .count();
        assert_eq!(messages, 2, "{found:?}");
        assert_eq!(framer.buffered_len(), 0);
    }

    #[test]
    fn too_long_body_is_reported() {
        // BodyLength above the maximum is reported, then skipped.
        let mut framer = Framer::new(16);
        framer.push(b"8=FIX.4.4\x019=999\x0135=0\x01");
        assert_eq!(
            framer.next_frame(),
            Some(Frame::TooLong { body_length: 999 })
        );
        assert!(matches!(framer.next_frame(), Some(Frame::Garbled { .. })));
    }
}
