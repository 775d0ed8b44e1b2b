//! A bounded first-in first-out store of whole datagrams with their receive
//! stamps, in one preallocated byte arena: live MoldUDP64 datagrams wait
//! here while a gap is filled or a snapshot loads.
//!
//! Owning thread: the ingest thread (inside [`super::Recovery`]).
//! Invariants: the arena and the entry table are allocated in
//! [`DatagramRing::new`] and never grow; each datagram occupies one
//! contiguous run of the arena (a datagram that does not fit at the end
//! starts again at offset 0, leaving the tail unused until the ring
//! drains past it); used bytes never overlap; a push that does not fit is
//! refused (`false`) and changes nothing.

/// Where one stored datagram lives.
#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    offset: usize,
    length: usize,
    ts_recv_ns: u64,
}

/// Bounded FIFO of datagrams in a preallocated arena.
#[derive(Debug)]
pub struct DatagramRing {
    arena: Box<[u8]>,
    entries: Box<[Entry]>,
    head: usize,
    len: usize,
    /// Next free byte of the arena.
    write_at: usize,
    /// The used region has wrapped: it is `[head offset, ..) ∪ [0, write_at)`.
    wrapped: bool,
}

impl DatagramRing {
    /// A ring holding at most `datagrams_max` datagrams and `bytes_max`
    /// bytes in total, all allocated now.
    pub fn new(bytes_max: usize, datagrams_max: usize) -> DatagramRing {
        assert!(
            bytes_max > 0 && datagrams_max > 0,
            "a datagram ring holds at least one byte and one datagram"
        );
        DatagramRing {
            arena: vec![0u8; bytes_max].into_boxed_slice(),
            entries: vec![Entry::default(); datagrams_max].into_boxed_slice(),
            head: 0,
            len: 0,
            write_at: 0,
            wrapped: false,
        }
    }

    /// Datagrams stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drop everything.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.write_at = 0;
        self.wrapped = false;
    }

    /// Store a copy of `datagram`; `false` (nothing stored) when full.
    pub fn push(&mut self, datagram: &[u8], ts_recv_ns: u64) -> bool {
        if self.len == self.entries.len() {
            return false;
        }
        let Some((offset, wraps)) = self.place(datagram.len()) else {
            return false;
        };
        self.arena[offset..offset + datagram.len()].copy_from_slice(datagram);
        self.wrapped |= wraps;
        self.write_at = offset + datagram.len();
        let tail = (self.head + self.len) % self.entries.len();
        self.entries[tail] = Entry {
            offset,
            length: datagram.len(),
            ts_recv_ns,
        };
        self.len += 1;
        true
    }

    /// Where `length` bytes fit, if anywhere, and whether placing them
    /// there wraps the used region to the start of the arena.
    fn place(&self, length: usize) -> Option<(usize, bool)> {
        if self.len == 0 {
            return (length <= self.arena.len()).then_some((0, false));
        }
        let head_offset = self.entries[self.head].offset;
        if self.wrapped {
            return (self.write_at + length <= head_offset).then_some((self.write_at, false));
        }
        if self.write_at + length <= self.arena.len() {
            return Some((self.write_at, false));
        }
        (length <= head_offset).then_some((0, true))
    }

    /// The oldest datagram and its receive stamp.
    pub fn front(&self) -> Option<(&[u8], u64)> {
        if self.len == 0 {
            return None;
        }
        let entry = self.entries[self.head];
        Some((
            &self.arena[entry.offset..entry.offset + entry.length],
            entry.ts_recv_ns,
        ))
    }

    /// Every stored datagram with its stamp, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        (0..self.len).map(move |position| {
            let entry = self.entries[(self.head + position) % self.entries.len()];
            (
                &self.arena[entry.offset..entry.offset + entry.length],
                entry.ts_recv_ns,
            )
        })
    }

    /// Drop the oldest datagram.
    pub fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        let old_offset = self.entries[self.head].offset;
        self.head = (self.head + 1) % self.entries.len();
        self.len -= 1;
        if self.len == 0 {
            self.clear();
        } else if self.entries[self.head].offset < old_offset {
            // The head moved past the end of the arena to its start.
            self.wrapped = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Datagrams come out in order with their stamps; full by count or by
    // bytes refuses the push.
    #[test]
    fn fifo_and_bounds() {
        let mut ring = DatagramRing::new(10, 3);
        assert!(ring.push(b"abc", 1));
        assert!(ring.push(b"de", 2));
        assert!(!ring.push(b"fghij0", 3), "six bytes do not fit in five");
        assert!(ring.push(b"fgh", 3));
        assert!(!ring.push(b"i", 4), "three datagrams already");
        assert_eq!(ring.front(), Some((&b"abc"[..], 1)));
        ring.pop_front();
        // Wraps to the start: bytes 0..3 are free again.
        assert!(ring.push(b"xy", 5));
        assert!(!ring.push(b"z", 6), "count is full again");
        let mut out = Vec::new();
        while let Some((bytes, ts)) = ring.front() {
            out.push((bytes.to_vec(), ts));
            ring.pop_front();
        }
        assert_eq!(
            out,
            vec![
                (b"de".to_vec(), 2),
                (b"fgh".to_vec(), 3),
                (b"xy".to_vec(), 5)
            ]
        );
        assert!(ring.is_empty());
    }

    proptest! {
        // Against a VecDeque model: whatever the sequence of pushes and
        // pops, the ring returns exactly what the model holds, and a push
        // is refused only when the model could not be stored contiguously.
        #[test]
        fn matches_a_queue_model(ops in proptest::collection::vec((0usize..40, any::<bool>()), 1..200)) {
            let mut ring = DatagramRing::new(64, 8);
            let mut model: std::collections::VecDeque<(Vec<u8>, u64)> = Default::default();
            for (step, (length, pop)) in ops.into_iter().enumerate() {
                if pop {
                    prop_assert_eq!(ring.front().map(|(b, t)| (b.to_vec(), t)), model.front().cloned());
                    ring.pop_front();
                    model.pop_front();
                } else {
                    let datagram = vec![step as u8; length];
                    if ring.push(&datagram, step as u64) {
                        model.push_back((datagram, step as u64));
                    } else {
                        // Free space is contiguous but for at most one
                        // unused tail (shorter than the longest datagram,
                        // 39 bytes) and, unwrapped, a split between the
                        // two ends: a push of at most half of what is
                        // left after that always fits.
                        let bytes: usize = model.iter().map(|(d, _)| d.len()).sum();
                        let room = 64usize.saturating_sub(bytes + 39);
                        prop_assert!(model.len() == 8 || 2 * length > room,
                            "refused {} bytes with {} used in {} datagrams", length, bytes, model.len());
                    }
                }
                prop_assert_eq!(ring.len(), model.len());
            }
            let stored: Vec<(Vec<u8>, u64)> = ring.iter().map(|(b, t)| (b.to_vec(), t)).collect();
            prop_assert_eq!(&stored, &model.iter().cloned().collect::<Vec<_>>());
            while let Some((bytes, ts)) = ring.front() {
                prop_assert_eq!(Some((bytes.to_vec(), ts)), model.pop_front());
                ring.pop_front();
            }
            prop_assert!(model.is_empty());
        }
    }
}
