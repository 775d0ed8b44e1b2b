//! The engine's own tick-to-trade: from the kernel's receive stamp of the
//! market data that triggered an order to the moment the order's bytes were
//! handed to the kernel, split in three parts:
//!
//! | part | from | to |
//! |---|---|---|
//! | `recv-read` | the kernel's receive stamp (`Event::ts_recv_ns`) | ingest took the input from its source (first hand-off of the poll that read it) |
//! | `read-decide` | that read | execution handed the request to its gateway |
//! | `decide-send` | that hand-over | the venue session's `write` of the bytes returned |
//!
//! One clock: the kernel's stamps are CLOCK_REALTIME, converted by the
//! source to the engine's [`crate::clock::EpochClock`] with a bridge measured
//! right after the reads; every other stamp is read on an `EpochClock`, and
//! every `EpochClock` of the process shares one anchor. The parts of one
//! order add up to its total exactly.
//!
//! How the stamps travel: ingest writes each market-data event's receive
//! and read stamps into [`TriggerStamps`] under its sequence number (no
//! room in the 128-byte event); execution names the event it decided on
//! (`OrderRequest::trigger_seq`), its gateway stamps the decision
//! (`ts_decided_ns`), and the venue session looks the rest up when it sends.
//! An order decided on anything but market data (a fill, a timer) is not
//! counted; nor is one whose slot was overwritten before it was sent
//! (counted as `stamps_missed`).
//!
//! Owning thread: ingest's (the table's writer, and the venue session that
//! records, polled by ingest). The recorder hands finished intervals to the
//! reporter the way stages do (`metrics`): sets swapped through two bounded
//! queues, nothing allocated after start-up. Orders are few beside events,
//! so values are recorded into the histograms directly.

use crate::telemetry::metrics::{new_histogram, Percentiles};
use crossbeam_queue::ArrayQueue;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The interval log's tags, in part order: the total, then the three parts.
pub const TAGS: [&str; PARTS] = [
    "engine-t2t",
    "engine-t2t.recv-read",
    "engine-t2t.read-decide",
    "engine-t2t.decide-send",
];
/// The `part` label of each histogram on `/metrics`, in the same order.
pub const PART_NAMES: [&str; PARTS] = ["total", "recv_read", "read_decide", "decide_send"];
/// The total and its three parts.
pub const PARTS: usize = 4;
/// Slots of the stamp table: more events than ever sit between ingest's
/// hand-off and the order's send (a ring and a poll budget).
pub const TRIGGER_SLOTS: usize = 1 << 16;
const _: () = assert!(TRIGGER_SLOTS.is_power_of_two());
/// Orders encoded but not yet written, whose stamps wait for the write.
pub const AWAITING_WRITE_MAX: usize = 1_024;
/// Records between two looks for a rotation offer.
const ROTATE_CHECK_EVERY: u32 = 64;
/// Session polls between two looks, when no order goes.
const ROTATE_CHECK_EVERY_POLLS: u32 = 1_024;

/// One slot: the event's sequence (0: empty), its receive and read stamps.
struct Slot {
    seq: AtomicU64,
    recv_ns: AtomicU64,
    read_ns: AtomicU64,
}

/// Receive and read stamps of recent market-data events, by sequence.
/// Written by ingest as it hands each event on; read by the venue session
/// on the same thread. Atomics only because the table is shared through
/// an `Arc` between the two objects.
pub struct TriggerStamps {
    slots: Box<[Slot]>,
}

impl TriggerStamps {
    pub fn new() -> TriggerStamps {
        TriggerStamps {
            slots: (0..TRIGGER_SLOTS)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    recv_ns: AtomicU64::new(0),
                    read_ns: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Remembers event `seq`'s receive and read stamps.
    #[inline]
    pub fn put(&self, seq: u64, recv_ns: u64, read_ns: u64) {
        let slot = &self.slots[seq as usize & (TRIGGER_SLOTS - 1)];
        slot.seq.store(0, Ordering::Relaxed);
        slot.recv_ns.store(recv_ns, Ordering::Relaxed);
        slot.read_ns.store(read_ns, Ordering::Relaxed);
        slot.seq.store(seq, Ordering::Release);
    }

    /// Event `seq`'s (receive, read) stamps, if its slot still holds them.
    #[inline]
    pub fn get(&self, seq: u64) -> Option<(u64, u64)> {
        if seq == 0 {
            return None;
        }
        let slot = &self.slots[seq as usize & (TRIGGER_SLOTS - 1)];
        if slot.seq.load(Ordering::Acquire) != seq {
            return None;
        }
        let stamps = (
            slot.recv_ns.load(Ordering::Relaxed),
            slot.read_ns.load(Ordering::Relaxed),
        );
        (slot.seq.load(Ordering::Acquire) == seq).then_some(stamps)
    }
}

impl Default for TriggerStamps {
    fn default() -> TriggerStamps {
        TriggerStamps::new()
    }
}

/// The stamps of one order, from its trigger's receive to its decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderStamps {
    pub recv_ns: u64,
    pub read_ns: u64,
    pub decided_ns: u64,
}

impl OrderStamps {
    /// The total and the three parts up to `sent_ns`, in [`TAGS`] order.
    /// Stamps out of order (a read before its receive) count as zero, and
    /// the parts still add up to the total.
    pub fn parts(&self, sent_ns: u64) -> [u64; PARTS] {
        let read_ns = self.read_ns.max(self.recv_ns);
        let decided_ns = self.decided_ns.max(read_ns);
        let sent_ns = sent_ns.max(decided_ns);
        [
            sent_ns - self.recv_ns,
            read_ns - self.recv_ns,
            decided_ns - read_ns,
            sent_ns - decided_ns,
        ]
    }
}

/// One interval of the four histograms: what travels to the reporter.
pub struct T2tInterval {
    pub histograms: [Histogram<u64>; PARTS],
    pub start_ns: u64,
    pub end_ns: u64,
}

impl T2tInterval {
    pub fn new() -> T2tInterval {
        T2tInterval {
            histograms: std::array::from_fn(|_| new_histogram()),
            start_ns: 0,
            end_ns: 0,
        }
    }
}

impl Default for T2tInterval {
    fn default() -> T2tInterval {
        T2tInterval::new()
    }
}

/// The recorder's ends of the queues it shares with the reporter.
#[derive(Clone)]
pub struct T2tExchange {
    pub fresh: Arc<ArrayQueue<Box<T2tInterval>>>,
    pub full: Arc<ArrayQueue<Box<T2tInterval>>>,
}

impl T2tExchange {
    pub fn new() -> T2tExchange {
        T2tExchange {
            fresh: Arc::new(ArrayQueue::new(2)),
            full: Arc::new(ArrayQueue::new(4)),
        }
    }
}

impl Default for T2tExchange {
    fn default() -> T2tExchange {
        T2tExchange::new()
    }
}

/// What the venue session measured: the histograms, the table ingest
/// fills, and the orders encoded but not yet written.
pub struct TickToTrade {
    pub histograms: [Histogram<u64>; PARTS],
    stamps: Arc<TriggerStamps>,
    awaiting_write: Vec<OrderStamps>,
    /// Orders on market data whose trigger's stamps were gone when sent.
    pub stamps_missed: u64,
    interval_start_ns: u64,
    records_since_check: u32,
    polls_since_check: u32,
    exchange: Option<T2tExchange>,
}

impl TickToTrade {
    pub fn new() -> TickToTrade {
        TickToTrade {
            histograms: std::array::from_fn(|_| new_histogram()),
            stamps: Arc::new(TriggerStamps::new()),
            awaiting_write: Vec::with_capacity(AWAITING_WRITE_MAX),
            stamps_missed: 0,
            interval_start_ns: 0,
            records_since_check: 0,
            polls_since_check: 0,
            exchange: None,
        }
    }

    /// The table ingest writes the triggers' stamps into.
    pub fn stamps(&self) -> Arc<TriggerStamps> {
        Arc::clone(&self.stamps)
    }

    /// An order on event `trigger_seq`, decided at `decided_ns`, was
    /// encoded: its stamps wait for the write (nothing if the trigger was
    /// not market data).
    #[inline]
    pub fn on_encoded(&mut self, trigger_seq: u64, decided_ns: u64) {
        if trigger_seq == 0 {
            return;
        }
        let Some((recv_ns, read_ns)) = self.stamps.get(trigger_seq) else {
            self.stamps_missed += 1;
            return;
        };
        if read_ns == 0 {
            return; // not market data
        }
        if self.awaiting_write.len() == AWAITING_WRITE_MAX {
            self.stamps_missed += 1;
            return;
        }
        self.awaiting_write.push(OrderStamps {
            recv_ns,
            read_ns,
            decided_ns,
        });
    }

    /// Everything encoded was handed to the kernel at `sent_ns`.
    pub fn on_written(&mut self, sent_ns: u64) {
        if self.awaiting_write.is_empty() {
            return;
        }
        for index in 0..self.awaiting_write.len() {
            let parts = self.awaiting_write[index].parts(sent_ns);
            for (histogram, value) in self.histograms.iter_mut().zip(parts) {
                histogram.saturating_record(value.max(1));
            }
        }
        self.records_since_check += self.awaiting_write.len() as u32;
        self.awaiting_write.clear();
        if self.records_since_check >= ROTATE_CHECK_EVERY {
            self.rotate_if_offered(sent_ns);
        }
    }

    /// The connection went with bytes unwritten: their orders are not counted.
    pub fn on_lost(&mut self) {
        self.awaiting_write.clear();
    }

    /// The session was polled: an interval ends within ~1,024 polls of the
    /// reporter's offer even while no order goes.
    #[inline]
    pub fn on_poll(&mut self, now_ns: u64) {
        self.polls_since_check += 1;
        if self.polls_since_check >= ROTATE_CHECK_EVERY_POLLS {
            self.polls_since_check = 0;
            self.rotate_if_offered(now_ns);
        }
    }

    /// Connects the recorder to a reporter; intervals start at `now_ns`.
    pub fn attach(&mut self, exchange: T2tExchange, now_ns: u64) {
        self.exchange = Some(exchange);
        self.interval_start_ns = now_ns;
    }

    /// Hands the interval to the reporter if it offered an empty set.
    pub fn rotate_if_offered(&mut self, now_ns: u64) {
        self.records_since_check = 0;
        let Some(exchange) = &self.exchange else {
            return;
        };
        let Some(mut spare) = exchange.fresh.pop() else {
            return;
        };
        std::mem::swap(&mut self.histograms, &mut spare.histograms);
        spare.start_ns = self.interval_start_ns;
        spare.end_ns = now_ns;
        self.interval_start_ns = now_ns;
        // As for stages: the reporter drains `full` before offering again.
        let _ = exchange.full.push(spare);
    }

    /// The last, unrotated interval, for the reporter's finish.
    pub fn last_interval(&self, now_ns: u64) -> T2tInterval {
        T2tInterval {
            histograms: self.histograms.clone(),
            start_ns: self.interval_start_ns,
            end_ns: now_ns.max(self.interval_start_ns),
        }
    }
}

impl Default for TickToTrade {
    fn default() -> TickToTrade {
        TickToTrade::new()
    }
}

/// The engine's tick-to-trade and its split, as reports show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct T2tSplit {
    pub total: Percentiles,
    pub recv_read: Percentiles,
    pub read_decide: Percentiles,
    pub decide_send: Percentiles,
}

impl T2tSplit {
    pub fn of(histograms: &[Histogram<u64>; PARTS]) -> T2tSplit {
        T2tSplit {
            total: Percentiles::of(&histograms[0]),
            recv_read: Percentiles::of(&histograms[1]),
            read_decide: Percentiles::of(&histograms[2]),
            decide_send: Percentiles::of(&histograms[3]),
        }
    }

    /// The four, in [`TAGS`] order.
    pub fn parts(&self) -> [&Percentiles; PARTS] {
        [
            &self.total,
            &self.recv_read,
            &self.read_decide,
            &self.decide_send,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The parts of one order add up to its total; stamps out of order count as zero.
    #[test]
    fn parts_add_up_to_the_total() {
        let stamps = OrderStamps {
            recv_ns: 1_000,
            read_ns: 1_300,
            decided_ns: 1_700,
        };
        assert_eq!(stamps.parts(2_500), [1_500, 300, 400, 800]);
        let odd = OrderStamps {
            recv_ns: 1_000,
            read_ns: 900,
            decided_ns: 1_200,
        };
        let parts = odd.parts(1_100);
        assert_eq!(parts, [200, 0, 200, 0]);
        assert_eq!(parts[0], parts[1] + parts[2] + parts[3]);
    }

    // A slot answers for its own sequence only: an overwritten or empty one is missed.
    #[test]
    fn stamps_are_found_by_sequence() {
        let table = TriggerStamps::new();
        assert_eq!(table.get(5), None);
        table.put(5, 100, 150);
        assert_eq!(table.get(5), Some((100, 150)));
        table.put(5 + TRIGGER_SLOTS as u64, 200, 250);
        assert_eq!(table.get(5), None, "overwritten by a later event");
        assert_eq!(table.get(0), None, "sequence 0 names no event");
    }

    // Orders wait for the write; the write records all four histograms;
    // an order on a non-market event is skipped, one whose stamps are gone is counted.
    #[test]
    fn orders_are_recorded_when_written() {
        let mut t2t = TickToTrade::new();
        let table = t2t.stamps();
        table.put(7, 1_000, 1_200);
        table.put(8, 1_100, 0);
        t2t.on_encoded(7, 1_500);
        t2t.on_encoded(8, 1_500);
        t2t.on_encoded(9, 1_500);
        t2t.on_encoded(0, 1_500);
        assert_eq!(t2t.stamps_missed, 1, "event 9 was never stamped");
        assert!(t2t.histograms[0].is_empty(), "nothing before the write");
        t2t.on_written(2_000);
        let split = T2tSplit::of(&t2t.histograms);
        assert_eq!(split.total.count, 1);
        assert_eq!(split.total.max, 1_000);
        assert_eq!(split.recv_read.max, 200);
        assert_eq!(split.read_decide.max, 300);
        assert_eq!(split.decide_send.max, 500);
        t2t.on_written(3_000);
        assert_eq!(t2t.histograms[0].len(), 1, "recorded once");
    }

    // With a reporter's offer, the interval leaves whole and recording starts afresh.
    #[test]
    fn intervals_rotate_on_offer() {
        let mut t2t = TickToTrade::new();
        let exchange = T2tExchange::new();
        t2t.attach(exchange.clone(), 10);
        t2t.stamps().put(1, 100, 110);
        t2t.on_encoded(1, 120);
        t2t.on_written(130);
        exchange
            .fresh
            .push(Box::new(T2tInterval::new()))
            .ok()
            .unwrap();
        t2t.rotate_if_offered(500);
        let full = exchange.full.pop().unwrap();
        assert_eq!((full.start_ns, full.end_ns), (10, 500));
        assert_eq!(full.histograms[0].len(), 1);
        assert!(t2t.histograms.iter().all(Histogram::is_empty));
        assert_eq!(t2t.last_interval(400).end_ns, 500, "never before its start");
    }
}
