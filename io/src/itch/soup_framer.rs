//! SoupBinTCP stream framing: whole packets out of a TCP byte stream.
//!
//! Owning thread: the connection's owner. Invariants: the buffer is
//! allocated in [`SoupFramer::with_capacity`] and never grows; only whole
//! packets are handed out; a length prefix of 0 or longer than the buffer
//! is an error (the stream cannot be resynchronised after it).

use super::error::SoupError;
use super::soup::SOUP_LENGTH_PREFIX_LEN;

/// Reassembles SoupBinTCP packets from a byte stream in one fixed buffer.
///
/// The owner reads from its socket into [`SoupFramer::spare_mut`], reports
/// the count with [`SoupFramer::commit`], then takes whole frames with
/// [`SoupFramer::next_frame`]. A frame longer than the buffer is an error
/// (the stream cannot be resynchronised after it).
#[derive(Debug)]
pub struct SoupFramer {
    buffer: Box<[u8]>,
    read_at: usize,
    write_at: usize,
}

impl SoupFramer {
    /// A framer whose buffer holds `capacity_bytes` (at least one packet of
    /// the largest size the owner accepts, prefix included).
    pub fn with_capacity(capacity_bytes: usize) -> SoupFramer {
        assert!(
            capacity_bytes > SOUP_LENGTH_PREFIX_LEN,
            "a framer holds at least a prefix and a type byte"
        );
        SoupFramer {
            buffer: vec![0u8; capacity_bytes].into_boxed_slice(),
            read_at: 0,
            write_at: 0,
        }
    }

    /// Forget everything buffered (a new connection).
    pub fn clear(&mut self) {
        self.read_at = 0;
        self.write_at = 0;
    }

    /// Bytes received and not yet taken as frames.
    pub fn buffered_len(&self) -> usize {
        self.write_at - self.read_at
    }

    /// The free tail to read into, after moving unread bytes to the front.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.read_at > 0 {
            self.buffer.copy_within(self.read_at..self.write_at, 0);
            self.write_at -= self.read_at;
            self.read_at = 0;
        }
        &mut self.buffer[self.write_at..]
    }

    /// `count` bytes were written into the slice [`SoupFramer::spare_mut`] returned.
    pub fn commit(&mut self, count: usize) {
        assert!(
            self.write_at + count <= self.buffer.len(),
            "committed past the buffer"
        );
        self.write_at += count;
    }

    /// The next whole frame (type byte and payload), `None` if more bytes
    /// are needed, or an error for a frame that can never be whole.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], SoupError>> {
        let pending = &self.buffer[self.read_at..self.write_at];
        let prefix = pending.get(..SOUP_LENGTH_PREFIX_LEN)?;
        let length = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if length == 0 {
            return Some(Err(SoupError::EmptyPacket));
        }
        let capacity = self.buffer.len() - SOUP_LENGTH_PREFIX_LEN;
        if length > capacity {
            return Some(Err(SoupError::TooLong { length, capacity }));
        }
        let end = SOUP_LENGTH_PREFIX_LEN + length;
        if pending.len() < end {
            return None;
        }
        let start = self.read_at + SOUP_LENGTH_PREFIX_LEN;
        self.read_at += end;
        Some(Ok(&self.buffer[start..start + length]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itch::soup::SoupPacket;

    // Frames split at every byte come out whole and in order; a packet
    // longer than the buffer is an error.
    #[test]
    fn framer_reassembles_split_frames() {
        let mut stream = Vec::new();
        SoupPacket::SequencedData { message: b"first" }.encode(&mut stream);
        SoupPacket::ServerHeartbeat.encode(&mut stream);
        SoupPacket::SequencedData { message: b"third!" }.encode(&mut stream);
        let mut framer = SoupFramer::with_capacity(16);
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for byte in &stream {
            framer.spare_mut()[0] = *byte;
            framer.commit(1);
            while let Some(frame) = framer.next_frame() {
                frames.push(frame.unwrap().to_vec());
            }
        }
        assert_eq!(
            frames,
            vec![b"Sfirst".to_vec(), b"H".to_vec(), b"Sthird!".to_vec()]
        );
        assert_eq!(framer.buffered_len(), 0);

        let mut long = Vec::new();
        SoupPacket::SequencedData { message: &[7; 20] }.encode(&mut long);
        framer.spare_mut()[..3].copy_from_slice(&long[..3]);
        framer.commit(3);
        assert_eq!(
            framer.next_frame(),
            Some(Err(SoupError::TooLong {
                length: 21,
                capacity: 14
            }))
        );
    }
}
