//! Bytes encoded but not yet written to the socket.
//!
//! Owning thread: the session's thread.
//! Invariants: fixed capacity allocated once; a message is appended whole
//! or not at all ([`SendError::OutputFull`]), so a partial socket write
//! never loses or splits a message: the unwritten tail stays here until the
//! next write.

use crate::fix::error::SendError;

/// A fixed-capacity byte queue.
#[derive(Debug)]
pub struct OutBuffer {
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
}

impl OutBuffer {
    /// A buffer of `capacity_bytes`.
    pub fn with_capacity(capacity_bytes: usize) -> OutBuffer {
        OutBuffer {
            buffer: vec![0; capacity_bytes].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Appends a whole message, or refuses it when it does not fit.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if self.buffer.len() - self.end < bytes.len() && self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let slot = self
            .buffer
            .get_mut(self.end..self.end + bytes.len())
            .ok_or(SendError::OutputFull {
                pending_bytes: self.end - self.start,
            })?;
        slot.copy_from_slice(bytes);
        self.end += bytes.len();
        Ok(())
    }

    /// The bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Marks `count` pending bytes as written.
    pub fn consume(&mut self, count: usize) {
        self.start = (self.start + count).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops everything pending (after a disconnect).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
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
}
