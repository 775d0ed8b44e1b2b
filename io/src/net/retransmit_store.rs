//! A bounded store of the last messages a MoldUDP64 publisher sent, by
//! sequence number, for answering retransmission requests.
//!
//! Owning thread: the venue simulator's publishing thread (the request
//! server borrows it on the same thread). Invariants: it holds exactly the
//! sequence numbers `[first_sequence, end_sequence)`, at most `capacity`
//! of them; when full, pushing evicts the oldest (a later request for it is
//! answered with nothing, as a real venue does past its window). Slots are
//! allocated once and reused, so a warm store does not allocate.

/// The last `capacity` messages, by sequence number.
#[derive(Clone, Debug)]
pub struct RetransmitStore {
    slots: Vec<Vec<u8>>,
    first_sequence: u64,
    end_sequence: u64,
}

impl RetransmitStore {
    /// An empty store whose next message gets `first_sequence`; each slot
    /// preallocates `message_bytes_max` bytes (ITCH messages are under 64).
    pub fn new(first_sequence: u64, capacity: usize, message_bytes_max: usize) -> RetransmitStore {
        assert!(
            capacity > 0,
            "a retransmission store holds at least one message"
        );
        RetransmitStore {
            slots: (0..capacity)
                .map(|_| Vec::with_capacity(message_bytes_max))
                .collect(),
            first_sequence,
            end_sequence: first_sequence,
        }
    }

    /// Oldest sequence number held (equals `end_sequence` when empty).
    pub fn first_sequence(&self) -> u64 {
        self.first_sequence
    }

    /// Sequence number the next message will get.
    pub fn end_sequence(&self) -> u64 {
        self.end_sequence
    }

    /// Most messages held.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Store a message and return its sequence number.
    pub fn push(&mut self, message: &[u8]) -> u64 {
        let sequence = self.end_sequence;
        let index = self.slot_index(sequence);
        self.slots[index].clear();
        self.slots[index].extend_from_slice(message);
        self.end_sequence += 1;
        if self.end_sequence - self.first_sequence > self.slots.len() as u64 {
            self.first_sequence += 1;
        }
        sequence
    }

    /// The message with `sequence`, if still held.
    pub fn get(&self, sequence: u64) -> Option<&[u8]> {
        if sequence < self.first_sequence || sequence >= self.end_sequence {
            return None;
        }
        Some(&self.slots[self.slot_index(sequence)])
    }

    fn slot_index(&self, sequence: u64) -> usize {
        (sequence % self.slots.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages are found by sequence until evicted by newer ones.
    #[test]
    fn bounded_window() {
        let mut store = RetransmitStore::new(10, 3, 8);
        for byte in 0u8..5 {
            store.push(&[byte]);
        }
        assert_eq!((store.first_sequence(), store.end_sequence()), (12, 15));
        assert_eq!(store.get(11), None);
        assert_eq!(store.get(12), Some(&[2u8][..]));
        assert_eq!(store.get(14), Some(&[4u8][..]));
        assert_eq!(store.get(15), None);
    }
}
