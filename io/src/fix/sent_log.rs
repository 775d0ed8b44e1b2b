//! The recent requests a session sent, by MsgSeqNum: the map from a
//! Reject's RefSeqNum(45) back to the request's type and ClOrdID.
//!
//! Owning thread: the session's thread (inside its sender).
//! Invariants: preallocated in [`SentLog::with_capacity`] and never grown;
//! the slot count is the capacity rounded up to a power of two (a mask, not
//! a 64-bit division, picks the slot); slot `seq_num & mask` holds the last
//! request recorded with a number of that residue, so a lookup answers
//! exactly for a request sent within the last `capacity` MsgSeqNums (of all
//! messages, heartbeats included; up to the slot count, in fact) and
//! `None` for anything older, for an admin message, or after a reset;
//! recording copies at most [`REQUEST_ID_LEN_MAX`] bytes and never allocates.

use crate::fix::tags::MsgType;

/// Longest request id (ClOrdID, MassStatusReqID) a session sends; longer
/// ones are refused at send time, so every logged id is whole.
pub const REQUEST_ID_LEN_MAX: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// 0 when empty (MsgSeqNum starts at 1).
    seq_num: u64,
    msg_type: MsgType,
    id_len: u8,
    id: [u8; REQUEST_ID_LEN_MAX],
}

const EMPTY: Slot = Slot {
    seq_num: 0,
    msg_type: MsgType::Heartbeat,
    id_len: 0,
    id: [0; REQUEST_ID_LEN_MAX],
};

/// A request found in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentRequest<'a> {
    /// Its MsgType.
    pub msg_type: MsgType,
    /// Its ClOrdID or MassStatusReqID.
    pub id: &'a [u8],
}

/// A direct-mapped ring of recent requests keyed by MsgSeqNum.
#[derive(Debug)]
pub struct SentLog {
    slots: Box<[Slot]>,
    /// `slots.len() - 1`, the length a power of two.
    mask: u64,
}

impl SentLog {
    /// A log covering at least the last `capacity` MsgSeqNums (at least 1;
    /// rounded up to a power of two).
    pub fn with_capacity(capacity: usize) -> SentLog {
        let len = capacity.max(1).next_power_of_two();
        SentLog {
            slots: vec![EMPTY; len].into_boxed_slice(),
            mask: len as u64 - 1,
        }
    }

    #[inline]
    fn index(&self, seq_num: u64) -> usize {
        let index = (seq_num & self.mask) as usize;
        debug_assert!(
            index < self.slots.len(),
            "the mask keeps the index in range"
        );
        index
    }

    /// Records the request sent with `seq_num`. `id` must be at most
    /// [`REQUEST_ID_LEN_MAX`] bytes (the sender checks before sending).
    #[inline]
    pub fn record(&mut self, seq_num: u64, msg_type: MsgType, id: &[u8]) {
        debug_assert!(seq_num > 0, "MsgSeqNum starts at 1");
        debug_assert!(
            id.len() <= REQUEST_ID_LEN_MAX,
            "the sender refuses longer ids"
        );
        let index = self.index(seq_num);
        let slot = &mut self.slots[index];
        let id_len = id.len().min(REQUEST_ID_LEN_MAX);
        slot.seq_num = seq_num;
        slot.msg_type = msg_type;
        slot.id_len = id_len as u8;
        crate::fix::encode::copy_short(&mut slot.id[..id_len], &id[..id_len]);
    }

    /// The request sent with `seq_num`, if it is still in the log.
    pub fn get(&self, seq_num: u64) -> Option<SentRequest<'_>> {
        let slot = &self.slots[self.index(seq_num)];
        (seq_num != 0 && slot.seq_num == seq_num).then(|| SentRequest {
            msg_type: slot.msg_type,
            id: &slot.id[..usize::from(slot.id_len)],
        })
    }

    /// Forgets everything (sequence numbers were reset).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_requests_are_found_old_ones_are_not() {
        // Capacity 4: numbers 5..=8 are found, 4 was overwritten by 8.
        let mut log = SentLog::with_capacity(4);
        for seq_num in 1..=8u64 {
            log.record(
                seq_num,
                MsgType::NewOrderSingle,
                format!("C{seq_num}").as_bytes(),
            );
        }
        assert_eq!(
            log.get(6),
            Some(SentRequest {
                msg_type: MsgType::NewOrderSingle,
                id: b"C6"
            })
        );
        assert_eq!(log.get(4), None, "overwritten by 8");
        assert_eq!(log.get(9), None, "never sent");
        assert_eq!(log.get(0), None);
        log.clear();
        assert_eq!(log.get(8), None, "cleared by a reset");
    }

    #[test]
    fn capacity_rounds_up_to_a_power_of_two() {
        // Capacity 3 keeps 4 slots: the last 4 numbers are found, the 5th back is not.
        let mut log = SentLog::with_capacity(3);
        for seq_num in 1..=9u64 {
            log.record(seq_num, MsgType::NewOrderSingle, &seq_num.to_be_bytes());
        }
        for seq_num in 6..=9u64 {
            assert_eq!(
                log.get(seq_num).map(|sent| sent.id),
                Some(&seq_num.to_be_bytes()[..])
            );
        }
        assert_eq!(log.get(5), None, "overwritten by 9");
    }

    #[test]
    fn admin_numbers_in_between_do_not_confuse_lookups() {
        // Heartbeats take numbers 2 and 3 and are not recorded.
        let mut log = SentLog::with_capacity(8);
        log.record(1, MsgType::OrderCancelRequest, b"C1.c1");
        log.record(4, MsgType::OrderMassStatusRequest, b"MS1");
        assert_eq!(log.get(2), None);
        assert_eq!(log.get(4).map(|sent| sent.id), Some(&b"MS1"[..]));
        assert_eq!(
            log.get(1).map(|sent| sent.msg_type),
            Some(MsgType::OrderCancelRequest)
        );
    }
}
