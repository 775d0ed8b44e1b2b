//! A fixed-size window over a byte stream: the readers look at
//! `available()`, `consume` what they used, and ask for more with
//! `fill_to` (at least N bytes) or `fill_more` (whatever comes).
//!
//! Owning thread: the tape reader's. Invariants: `start <= end <=
//! buffer.len()`; the buffer is allocated once and never grows (a record
//! longer than it is the caller's error to report); `stream_offset()` is the
//! offset in the stream of the first available byte. Refilling moves the
//! unread tail to the front only when the space behind it is too short.

use std::io::{self, ErrorKind, Read};

pub(crate) struct ByteWindow<R> {
    input: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Stream offset of `buffer[0]`.
    base_offset: u64,
    eof: bool,
}

impl<R: Read> ByteWindow<R> {
    pub(crate) fn new(input: R, capacity: usize) -> ByteWindow<R> {
        assert!(capacity > 0, "a window needs room for a byte");
        ByteWindow {
            input,
            buffer: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            base_offset: 0,
            eof: false,
        }
    }

    /// The unread bytes held now.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Offset in the stream of the first unread byte.
    #[inline]
    pub(crate) fn stream_offset(&self) -> u64 {
        self.base_offset + self.start as u64
    }

    /// Most bytes the window can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.buffer.len()
    }

    /// Whether the stream has ended (nothing more will come).
    pub(crate) fn at_eof(&self) -> bool {
        self.eof
    }

    pub(crate) fn input(&self) -> &R {
        &self.input
    }

    /// Mark `count` available bytes as used.
    #[inline]
    pub(crate) fn consume(&mut self, count: usize) {
        assert!(count <= self.end - self.start, "consume past the window");
        self.start += count;
    }

    /// Read until at least `want` bytes are available or the stream ends.
    #[inline]
    pub(crate) fn fill_to(&mut self, want: usize) -> io::Result<()> {
        assert!(want <= self.buffer.len(), "want exceeds the window");
        while self.end - self.start < want && !self.eof {
            if self.buffer.len() - self.start < want {
                self.compact();
            }
            self.read_once()?;
        }
        Ok(())
    }

    /// Read more bytes behind the available ones, compacting first. Returns
    /// how many came: zero at the end of the stream or when the window is
    /// full of unread bytes.
    pub(crate) fn fill_more(&mut self) -> io::Result<usize> {
        self.compact();
        let before = self.end;
        while self.end == before && !self.eof && self.end < self.buffer.len() {
            self.read_once()?;
        }
        Ok(self.end - before)
    }

    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buffer.copy_within(self.start..self.end, 0);
        self.base_offset += self.start as u64;
        self.end -= self.start;
        self.start = 0;
    }

    fn read_once(&mut self) -> io::Result<()> {
        debug_assert!(self.end < self.buffer.len(), "reading into a full window");
        loop {
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(count) => {
                    self.end += count;
                    return Ok(());
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most three bytes per call.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let count = buf.len().min(3).min(self.0.len());
            buf[..count].copy_from_slice(&self.0[..count]);
            self.0 = &self.0[count..];
            Ok(count)
        }
    }

    // Short reads are gathered; offsets survive compaction.
    #[test]
    fn gathers_short_reads_and_tracks_offsets() {
        let data: Vec<u8> = (0..100).collect();
        let mut window = ByteWindow::new(Trickle(&data), 16);
        window.fill_to(10).unwrap();
        assert!(window.available().len() >= 10);
        window.consume(9);
        window.fill_to(16).unwrap();
        assert_eq!(window.stream_offset(), 9);
        assert_eq!(window.available()[..16], data[9..25]);
        window.consume(16);
        while !window.at_eof() {
            window.fill_to(16).unwrap();
            let n = window.available().len();
            window.consume(n);
        }
        assert_eq!(window.stream_offset(), 100);
    }

    // A full window reports no progress instead of looping.
    #[test]
    fn full_window_stops() {
        let data = [1u8; 64];
        let mut window = ByteWindow::new(&data[..], 8);
        assert_eq!(window.fill_more().unwrap(), 8);
        assert_eq!(window.fill_more().unwrap(), 0);
        assert!(!window.at_eof());
    }
}
