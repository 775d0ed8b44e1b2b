//! The engine's own tick-to-trade: from the kernel's receive stamp of the
//! market data that triggered an order to the moment the order's bytes were
//! handed to the kernel, split in three parts:
//!
//! | part | from | to |
//! |---|---|---|
//! | `recv-read` | the kernel's receive stamp (`Event::ts_recv_ns`) | ingest took the input from its source (first hand-off of the poll that read it) |
//! | `read-decide` | that read | execution handed the request to its gateway |
//! | `decide-send` | that hand-over | the kernel handed the order's last byte to the device (its `SO_TIMESTAMPING` TX software stamp), or, where the kernel gives none, the session's `write` returned |
//! | `decide-return` | that hand-over | the session's `write` of the bytes returned (always; beside the stamp, so nothing is hidden) |
//!
//! Which send stamp the total uses is [`SendStamp`], named in every
//! report. On loopback the TX stamp comes before `write` returns (the
//! receiver's TCP input runs inside the sender's system call after it).
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
//! With TX stamps, a written order waits for its stamp, matched by the
//! byte counter of `SOF_TIMESTAMPING_OPT_ID` (the session counts the bytes
//! it wrote since the stamps were enabled); one whose stamp has not come
//! within [`TX_STAMP_WAIT_NS`] of its write is counted in
//! `tx_stamps_missed` (its `decide-return` is recorded all the same).
//! An order decided on anything but market data (a fill, a timer) is not
//! counted; nor is one whose slot was overwritten before it was sent
//! (counted as `stamps_missed`).
//!
//! Which triggers waited behind a write: an order's trigger *waited
//! behind a write* when the latest order-carrying `write` that returned
//! before the trigger was read ([`WRITES_REMEMBERED`] are kept) returned
//! after the trigger's kernel receive stamp: the datagram landed while the
//! thread was still busy up to that write's return (the venue's TCP input
//! runs inside the sender's system call on loopback) and was read only
//! after it. More histograms ([`WAITS`]): receive → read of those
//! orders, that write's return → read for them, receive → read of the
//! others, and of the others split by whether they were received within
//! [`WAKE_NS`] of that write's return (in a burst's wake) or later; their
//! counts are exact, so the share behind a write is
//! `behind.count / (behind.count + clear.count)`. The same test against
//! the polls whose read of the session's socket brought bytes (the
//! venue's answers, read and handed on before market data:
//! [`TickToTrade::on_venue_read`]) gives two more: receive → read of the
//! triggers behind such a read, and of those behind neither. A handful of compares
//! per order over a fixed array: nothing allocated.
//!
//! What the triggers behind neither waited for, counted per trigger
//! ([`Ahead`]): the market-data events ingest handed over between the
//! trigger's receive and its read (earlier polls' events, found in the
//! stamp table by sequence: read at or after the receive, before the
//! trigger's read), the loop iterations begun in between (the session's
//! full polls, one per iteration of ingest's loop, [`POLLS_REMEMBERED`]
//! kept), and the system calls on the session's socket made by the polls
//! whose work ended after the landing (`recv`, and `recvmsg` of the
//! TX-stamp queue; the poll in progress at the landing counts when its
//! work ended after it: one clock read at its end, only when it made
//! one). Those triggers are split four ways: behind market-data events,
//! else behind a TX-stamp read, else behind `recv`s, else behind the loop
//! alone; and the three counts go into histograms of their own.
//!
//! Owning thread: ingest's (the table's writer, and the venue session that
//! records, polled by ingest). The recorder hands finished intervals to the
//! reporter the way stages do (`metrics`): sets swapped through two bounded
//! queues, nothing allocated after start-up. Orders are few beside events,
//! so values are recorded into the histograms directly.

use crate::telemetry::metrics::{new_histogram, Percentiles};
use crossbeam_queue::ArrayQueue;
use genesis_io::net::TxKey;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The interval log's tags, in part order: the total, then the three parts.
pub const TAGS: [&str; PARTS] = [
    "engine-t2t",
    "engine-t2t.recv-read",
    "engine-t2t.read-decide",
    "engine-t2t.decide-send",
    "engine-t2t.decide-return",
];
/// The `part` label of each histogram on `/metrics`, in the same order.
pub const PART_NAMES: [&str; PARTS] = [
    "total",
    "recv_read",
    "read_decide",
    "decide_send",
    "decide_return",
];
/// The total, its three parts, and decision → `write` returned.
pub const PARTS: usize = 5;
/// Receive → read behind a write, that write's return → read, receive →
/// read of the rest, and of the rest split at [`WAKE_NS`] after the write;
/// then receive → read of triggers behind a read of the venue's answers,
/// and of those behind neither a write nor such a read; of those, receive
/// → read behind market-data events, behind `recv`s of the session's
/// socket, behind the loop alone; then, for them, the counts of events,
/// session reads and loop iterations ahead ([`Ahead`]); last, receive →
/// read of those behind a read of the TX-stamp queue.
pub const WAITS: usize = 14;

/// Where each of the [`WAITS`] classes sits in the recorder's array: the
/// recorder writes and [`TriggerWaits::of`] reads by these names.
mod wait {
    pub const BEHIND_WRITE: usize = 0;
    pub const BEHIND_WRITE_RETURN: usize = 1;
    pub const CLEAR: usize = 2;
    pub const IN_WAKE: usize = 3;
    pub const AFTER_WAKE: usize = 4;
    pub const BEHIND_VENUE_READ: usize = 5;
    pub const BEHIND_NEITHER: usize = 6;
    pub const EVENTS_AHEAD: usize = 7;
    pub const SOCKET_READS_AHEAD: usize = 8;
    pub const LOOP_ONLY: usize = 9;
    pub const EVENTS_AHEAD_COUNT: usize = 10;
    pub const SESSION_READS_COUNT: usize = 11;
    pub const POLLS_COUNT: usize = 12;
    pub const TX_STAMP_READS_AHEAD: usize = 13;
    const _: () = assert!(TX_STAMP_READS_AHEAD + 1 == super::WAITS);
}
/// A histogram of one of the [`WAITS`] classes: two significant digits (1 %)
/// up to the latency histograms' 100 s, 31 KiB of counts against their
/// 216 KiB. The classes are a diagnosis beside the parts, and seven of them
/// live in the recorder, the interval exchange and the reporter's totals:
/// at three digits they cost the process ~4.5 MiB resident.
pub fn new_wait_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, genesis_histlog::LATENCY_NS_MAX, 2)
        .expect("static histogram bounds are valid")
}

/// A trigger received this soon after an order's write returned came in
/// its wake (the burst the previous round counted: writes < 100 µs apart).
pub const WAKE_NS: u64 = 100_000;
/// Order-carrying writes (and venue reads) whose stamps are kept to
/// classify triggers.
pub const WRITES_REMEMBERED: usize = 16;
const _: () = assert!(WRITES_REMEMBERED.is_power_of_two());
/// Loop iterations (the session's full polls) whose stamps are kept to
/// count what a trigger waited behind; a trigger that waited longer
/// counts this many.
pub const POLLS_REMEMBERED: usize = 64;
const _: () = assert!(POLLS_REMEMBERED.is_power_of_two());
/// Sequence numbers looked back for market-data events ahead of a trigger.
pub const EVENTS_AHEAD_SCAN: u64 = 64;

/// The latest [`POLLS_REMEMBERED`] full polls of the session: when each
/// began, how many system calls it made on the session's socket, and, for
/// one that made some, when its work ended (else when it began).
#[derive(Clone, Copy, Debug)]
struct PollRing {
    stamps_ns: [u64; POLLS_REMEMBERED],
    ends_ns: [u64; POLLS_REMEMBERED],
    session_reads: [u32; POLLS_REMEMBERED],
    /// Of those, reads of the TX-stamp queue.
    tx_stamp_reads: [u32; POLLS_REMEMBERED],
    count: u64,
    /// The session's reads counted up to the last poll.
    totals: SessionReads,
}

/// System calls the session made on its socket, counted since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionReads {
    /// `recv` of the socket (answers, or nothing).
    pub socket: u64,
    /// `recvmsg` of its TX-stamp queue (the send stamps).
    pub tx_stamps: u64,
}

impl Default for PollRing {
    fn default() -> PollRing {
        PollRing {
            stamps_ns: [0; POLLS_REMEMBERED],
            ends_ns: [0; POLLS_REMEMBERED],
            session_reads: [0; POLLS_REMEMBERED],
            tx_stamp_reads: [0; POLLS_REMEMBERED],
            count: 0,
            totals: SessionReads::default(),
        }
    }
}

impl PollRing {
    /// A poll that began at `stamp_ns`; `end_ns` is read (only) if it
    /// made a session read.
    #[inline]
    fn push(&mut self, stamp_ns: u64, totals: SessionReads, end_ns: impl FnOnce() -> u64) {
        let slot = self.count as usize & (POLLS_REMEMBERED - 1);
        let socket = totals.socket.saturating_sub(self.totals.socket);
        let tx_stamps = totals.tx_stamps.saturating_sub(self.totals.tx_stamps);
        let reads = socket + tx_stamps;
        self.stamps_ns[slot] = stamp_ns;
        self.ends_ns[slot] = if reads > 0 { end_ns() } else { stamp_ns };
        self.session_reads[slot] = u32::try_from(reads).unwrap_or(u32::MAX);
        self.tx_stamp_reads[slot] = u32::try_from(tx_stamps).unwrap_or(u32::MAX);
        self.totals = totals;
        self.count += 1;
    }

    /// The polls begun after `recv_ns` and at or before `read_ns`, and the
    /// session reads of the polls whose work ended after `recv_ns` and
    /// began at or before `read_ns` (the poll in progress when the trigger
    /// landed included: its reads may have come after the landing).
    #[inline]
    fn between(&self, recv_ns: u64, read_ns: u64) -> Ahead {
        let mut ahead = Ahead::default();
        for slot in 0..POLLS_REMEMBERED {
            let (began_ns, end_ns) = (self.stamps_ns[slot], self.ends_ns[slot]);
            if began_ns == 0 || began_ns > read_ns {
                continue;
            }
            ahead.polls += u32::from(began_ns > recv_ns);
            if end_ns > recv_ns {
                ahead.session_reads = ahead.session_reads.saturating_add(self.session_reads[slot]);
                ahead.tx_stamp_reads = ahead
                    .tx_stamp_reads
                    .saturating_add(self.tx_stamp_reads[slot]);
            }
        }
        ahead
    }
}

/// What ingest did between a trigger's kernel receive and its read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ahead {
    /// Market-data events handed over by earlier polls after the trigger
    /// landed (up to [`EVENTS_AHEAD_SCAN`]).
    pub events: u32,
    /// Loop iterations begun after it landed, the one that read it
    /// included (up to [`POLLS_REMEMBERED`]).
    pub polls: u32,
    /// System calls on the session's socket made by the polls whose work
    /// ended after it landed, up to the one that read it.
    pub session_reads: u32,
    /// Of those, reads of the TX-stamp queue.
    pub tx_stamp_reads: u32,
}

/// The stamps of the latest [`WRITES_REMEMBERED`] events of one kind (a
/// ring; 0: an empty slot).
#[derive(Clone, Copy, Debug, Default)]
struct StampRing {
    stamps_ns: [u64; WRITES_REMEMBERED],
    count: u64,
}

impl StampRing {
    #[inline]
    fn push(&mut self, stamp_ns: u64) {
        self.stamps_ns[self.count as usize & (WRITES_REMEMBERED - 1)] = stamp_ns;
        self.count += 1;
    }

    /// The stamp pushed last, if any.
    #[inline]
    fn last(&self) -> Option<u64> {
        let slot = self.count.checked_sub(1)? as usize & (WRITES_REMEMBERED - 1);
        Some(self.stamps_ns[slot])
    }

    /// The latest stamp at or before `read_ns`, or 0.
    #[inline]
    fn latest_at_or_before(&self, read_ns: u64) -> u64 {
        self.stamps_ns
            .iter()
            .copied()
            .filter(|&stamp| stamp != 0 && stamp <= read_ns)
            .max()
            .unwrap_or(0)
    }
}
/// A written order waits this long for its TX stamp before it is counted
/// as missed (on loopback the stamp is there before `write` returns).
pub const TX_STAMP_WAIT_NS: u64 = 10_000_000;

/// Which instant ends `decide-send` (and the total).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendStamp {
    /// The kernel's `SO_TIMESTAMPING` TX software stamp of the order's last byte.
    TxSoftware,
    /// The clock when the session's `write` returned (the kernel gives no
    /// TX stamp, or nothing was measured).
    #[default]
    SendReturn,
}

impl SendStamp {
    /// The name reports and metrics print.
    pub fn name(self) -> &'static str {
        match self {
            SendStamp::TxSoftware => "tx_software",
            SendStamp::SendReturn => "send_return",
        }
    }
}
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

    /// Market-data events numbered before `seq` whose read stamp is at or
    /// after `recv_ns` and before `read_ns`: handed over by earlier polls
    /// while event `seq` waited. Read stamps rise with sequence numbers, so
    /// the look back stops at the first one read before `recv_ns` (or
    /// after [`EVENTS_AHEAD_SCAN`] numbers); numbers without a market-data
    /// slot (the venue's answers, timers) are passed over.
    pub fn events_between(&self, seq: u64, recv_ns: u64, read_ns: u64) -> u32 {
        let mut events = 0;
        for earlier in (seq.saturating_sub(EVENTS_AHEAD_SCAN)..seq).rev() {
            let Some((_, earlier_read_ns)) = self.get(earlier) else {
                continue;
            };
            if earlier_read_ns < recv_ns {
                break;
            }
            if earlier_read_ns < read_ns {
                events += 1;
            }
        }
        events
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
    /// The total and the three parts up to `sent_ns`, then decision →
    /// `returned_ns`, in [`TAGS`] order. Stamps out of order (a read before
    /// its receive) count as zero, and the parts still add up to the total.
    pub fn parts(&self, sent_ns: u64, returned_ns: u64) -> [u64; PARTS] {
        let read_ns = self.read_ns.max(self.recv_ns);
        let decided_ns = self.decided_ns.max(read_ns);
        let sent_ns = sent_ns.max(decided_ns);
        [
            sent_ns - self.recv_ns,
            read_ns - self.recv_ns,
            decided_ns - read_ns,
            sent_ns - decided_ns,
            returned_ns.saturating_sub(decided_ns),
        ]
    }
}

/// The latest order-carrying write that returned at or before a
/// trigger's read (`returned_ns`, 0: none remembered), and so whether the
/// trigger waited behind it or came in its wake.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteBefore {
    pub returned_ns: u64,
}

/// How a trigger stands to the write before its read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerWait {
    /// Received before that write returned, read after it.
    BehindWrite,
    /// Received after it returned, within [`WAKE_NS`].
    InWake,
    /// Received later, or no write remembered.
    Clear,
}

impl WriteBefore {
    /// How a trigger received at `recv_ns` stands to this write.
    #[inline]
    pub fn classify(self, recv_ns: u64) -> TriggerWait {
        if self.returned_ns == 0 {
            TriggerWait::Clear
        } else if self.returned_ns > recv_ns {
            TriggerWait::BehindWrite
        } else if recv_ns - self.returned_ns < WAKE_NS {
            TriggerWait::InWake
        } else {
            TriggerWait::Clear
        }
    }
}

/// One interval of the four histograms: what travels to the reporter.
pub struct T2tInterval {
    pub histograms: [Histogram<u64>; PARTS],
    /// The triggers' receive → read by whether they waited behind a write.
    pub waits: [Histogram<u64>; WAITS],
    pub start_ns: u64,
    pub end_ns: u64,
    /// What ended `decide-send` in this interval.
    pub send_stamp: SendStamp,
}

impl T2tInterval {
    pub fn new() -> T2tInterval {
        T2tInterval {
            histograms: std::array::from_fn(|_| new_histogram()),
            waits: std::array::from_fn(|_| new_wait_histogram()),
            start_ns: 0,
            end_ns: 0,
            send_stamp: SendStamp::default(),
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

/// An order on its way out: its stamps, where its bytes end (counted
/// from the connection's first byte) and, once written, when `write`
/// returned.
#[derive(Clone, Copy, Debug)]
struct Outgoing {
    stamps: OrderStamps,
    write_before: WriteBefore,
    /// The latest poll that read the venue's answers at or before the
    /// trigger's read (its stamp; 0: none remembered).
    venue_read_ns: u64,
    ahead: Ahead,
    end_offset: u64,
    returned_ns: u64,
}

/// What the venue session measured: the histograms, the table ingest
/// fills, the orders encoded but not yet written, and those written but
/// not yet stamped.
pub struct TickToTrade {
    pub histograms: [Histogram<u64>; PARTS],
    /// The triggers' receive → read by whether they waited behind a write.
    pub waits: [Histogram<u64>; WAITS],
    stamps: Arc<TriggerStamps>,
    /// Return stamps of the latest order-carrying writes.
    writes_returned: StampRing,
    /// Stamps of the latest polls whose read of the session's socket
    /// brought bytes.
    venue_reads: StampRing,
    /// The latest full polls, with their session reads.
    polls: PollRing,
    awaiting_write: Vec<Outgoing>,
    /// Written, waiting for the kernel's TX stamp (oldest first).
    awaiting_stamp: VecDeque<Outgoing>,
    send_stamp: SendStamp,
    /// Orders on market data whose trigger's stamps were gone when sent.
    pub stamps_missed: u64,
    /// Written orders whose TX stamp never came (not in the total).
    pub tx_stamps_missed: u64,
    interval_start_ns: u64,
    records_since_check: u32,
    polls_since_check: u32,
    exchange: Option<T2tExchange>,
}

impl TickToTrade {
    pub fn new() -> TickToTrade {
        TickToTrade {
            histograms: std::array::from_fn(|_| new_histogram()),
            waits: std::array::from_fn(|_| new_wait_histogram()),
            stamps: Arc::new(TriggerStamps::new()),
            writes_returned: StampRing::default(),
            venue_reads: StampRing::default(),
            polls: PollRing::default(),
            awaiting_write: Vec::with_capacity(AWAITING_WRITE_MAX),
            awaiting_stamp: VecDeque::with_capacity(AWAITING_WRITE_MAX),
            send_stamp: SendStamp::default(),
            stamps_missed: 0,
            tx_stamps_missed: 0,
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

    /// What ends `decide-send` from now on (set at each connection, when
    /// the session knows whether the kernel stamps its sends); orders still
    /// in flight are forgotten.
    pub fn set_send_stamp(&mut self, send_stamp: SendStamp) {
        self.send_stamp = send_stamp;
        self.awaiting_write.clear();
        self.awaiting_stamp.clear();
    }

    /// What ends `decide-send` now.
    pub fn send_stamp(&self) -> SendStamp {
        self.send_stamp
    }

    /// An order on event `trigger_seq`, decided at `decided_ns`, was
    /// encoded, its bytes ending at `end_offset` of the connection's
    /// output: its stamps wait for the write (nothing if the trigger was
    /// not market data).
    #[inline]
    pub fn on_encoded(&mut self, trigger_seq: u64, decided_ns: u64, end_offset: u64) {
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
        let ahead = Ahead {
            events: self.stamps.events_between(trigger_seq, recv_ns, read_ns),
            ..self.polls.between(recv_ns, read_ns)
        };
        self.awaiting_write.push(Outgoing {
            stamps: OrderStamps {
                recv_ns,
                read_ns,
                decided_ns,
            },
            write_before: WriteBefore {
                returned_ns: self.writes_returned.latest_at_or_before(read_ns),
            },
            venue_read_ns: self.venue_reads.latest_at_or_before(read_ns),
            ahead,
            end_offset,
            returned_ns: 0,
        });
    }

    /// The session's socket brought bytes (the venue's answers, handled
    /// before market data) on the poll stamped `now_ns`.
    #[inline]
    pub fn on_venue_read(&mut self, now_ns: u64) {
        if self.venue_reads.last() != Some(now_ns) {
            // One poll, several reads: remembered once.
            self.venue_reads.push(now_ns);
        }
    }

    /// Everything encoded was handed to the kernel by a `write` that
    /// returned at `returned_ns`: recorded now at send return, or left to
    /// wait for the TX stamp.
    pub fn on_written(&mut self, returned_ns: u64) {
        if self.awaiting_write.is_empty() {
            return;
        }
        for index in 0..self.awaiting_write.len() {
            let mut order = self.awaiting_write[index];
            order.returned_ns = returned_ns;
            match self.send_stamp {
                SendStamp::SendReturn => self.record(&order, returned_ns),
                SendStamp::TxSoftware if self.awaiting_stamp.len() < AWAITING_WRITE_MAX => {
                    self.awaiting_stamp.push_back(order);
                }
                SendStamp::TxSoftware => self.tx_stamps_missed += 1,
            }
        }
        self.awaiting_write.clear();
        self.writes_returned.push(returned_ns);
        self.check_rotation(returned_ns);
    }

    /// The kernel stamped a send whose last byte is `key` at `sent_ns`
    /// (converted to the engine's clock): every waiting order it covers is
    /// recorded with it.
    pub fn on_tx_stamp(&mut self, key: TxKey, sent_ns: u64) {
        debug_assert!(
            self.send_stamp == SendStamp::TxSoftware || self.awaiting_stamp.is_empty(),
            "orders wait for a stamp only when sends are stamped"
        );
        while let Some(order) = self.awaiting_stamp.front().copied() {
            if !key.covers(order.end_offset) {
                break;
            }
            self.awaiting_stamp.pop_front();
            self.record(&order, sent_ns);
        }
        self.check_rotation(sent_ns);
    }

    /// Written orders still without a stamp [`TX_STAMP_WAIT_NS`] after
    /// their write are counted as missed and dropped.
    pub fn expire_tx_stamps(&mut self, now_ns: u64) {
        while let Some(order) = self.awaiting_stamp.front() {
            if now_ns.saturating_sub(order.returned_ns) < TX_STAMP_WAIT_NS {
                break;
            }
            self.awaiting_stamp.pop_front();
            self.tx_stamps_missed += 1;
        }
    }

    /// Written orders that wait for their TX stamp.
    pub fn awaiting_tx_stamp(&self) -> usize {
        self.awaiting_stamp.len()
    }

    fn record(&mut self, order: &Outgoing, sent_ns: u64) {
        let parts = order.stamps.parts(sent_ns, order.returned_ns);
        for (histogram, value) in self.histograms.iter_mut().zip(parts) {
            histogram.saturating_record(value.max(1));
        }
        self.record_wait(order, parts[1].max(1));
        self.records_since_check += 1;
    }

    fn record_wait(&mut self, order: &Outgoing, recv_read_ns: u64) {
        let write_returned_ns = order.write_before.returned_ns;
        let wait = order.write_before.classify(order.stamps.recv_ns);
        let behind_venue_read = order.venue_read_ns > order.stamps.recv_ns;
        if behind_venue_read {
            self.waits[wait::BEHIND_VENUE_READ].saturating_record(recv_read_ns);
        } else if wait != TriggerWait::BehindWrite {
            self.waits[wait::BEHIND_NEITHER].saturating_record(recv_read_ns);
            self.record_ahead(order.ahead, recv_read_ns);
        }
        match wait {
            TriggerWait::BehindWrite => {
                self.waits[wait::BEHIND_WRITE].saturating_record(recv_read_ns);
                let after_ns = order.stamps.read_ns.saturating_sub(write_returned_ns);
                self.waits[wait::BEHIND_WRITE_RETURN].saturating_record(after_ns.max(1));
                return;
            }
            TriggerWait::InWake => self.waits[wait::IN_WAKE].saturating_record(recv_read_ns),
            TriggerWait::Clear => self.waits[wait::AFTER_WAKE].saturating_record(recv_read_ns),
        }
        self.waits[wait::CLEAR].saturating_record(recv_read_ns);
    }

    /// A trigger behind neither a write nor a venue read: by what ingest
    /// did while it waited, and the counts.
    fn record_ahead(&mut self, ahead: Ahead, recv_read_ns: u64) {
        let class = if ahead.events > 0 {
            wait::EVENTS_AHEAD
        } else if ahead.tx_stamp_reads > 0 {
            wait::TX_STAMP_READS_AHEAD
        } else if ahead.session_reads > 0 {
            wait::SOCKET_READS_AHEAD
        } else {
            wait::LOOP_ONLY
        };
        self.waits[class].saturating_record(recv_read_ns);
        self.waits[wait::EVENTS_AHEAD_COUNT].saturating_record(u64::from(ahead.events));
        self.waits[wait::SESSION_READS_COUNT].saturating_record(u64::from(ahead.session_reads));
        self.waits[wait::POLLS_COUNT].saturating_record(u64::from(ahead.polls));
    }

    fn check_rotation(&mut self, now_ns: u64) {
        if self.records_since_check >= ROTATE_CHECK_EVERY {
            self.rotate_if_offered(now_ns);
        }
    }

    /// The connection went: orders not yet written, or not yet stamped, are
    /// not counted.
    pub fn on_lost(&mut self) {
        self.awaiting_write.clear();
        self.awaiting_stamp.clear();
    }

    /// The session's full poll that began at `now_ns` (one per iteration
    /// of ingest's loop) is done; `totals` counts the system calls the
    /// session has made on its socket so far (`recv`, and `recvmsg` of
    /// the TX-stamp queue); `end_ns` (the clock now: when the
    /// poll's work ended) is asked only if this poll made one. An interval
    /// ends within ~1,024 polls of the reporter's offer even while no order
    /// goes.
    #[inline]
    pub fn on_poll(&mut self, now_ns: u64, totals: SessionReads, end_ns: impl FnOnce() -> u64) {
        self.polls.push(now_ns, totals, end_ns);
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
        std::mem::swap(&mut self.waits, &mut spare.waits);
        spare.start_ns = self.interval_start_ns;
        spare.end_ns = now_ns;
        spare.send_stamp = self.send_stamp;
        self.interval_start_ns = now_ns;
        // As for stages: the reporter drains `full` before offering again.
        let _ = exchange.full.push(spare);
    }

    /// The last, unrotated interval, for the reporter's finish.
    pub fn last_interval(&self, now_ns: u64) -> T2tInterval {
        T2tInterval {
            histograms: self.histograms.clone(),
            waits: self.waits.clone(),
            start_ns: self.interval_start_ns,
            end_ns: now_ns.max(self.interval_start_ns),
            send_stamp: self.send_stamp,
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
    /// Decision → `write` returned, whatever ends `decide_send`.
    pub decide_return: Percentiles,
    /// What ends `decide_send` and the total.
    pub send_stamp: SendStamp,
    /// `recv_read` split by whether the trigger waited behind a write
    /// (empty where nobody classified, as for the floor).
    pub waits: TriggerWaits,
}

/// The triggers' receive → read, split by whether each waited behind an
/// order-carrying write (see the module header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TriggerWaits {
    /// Receive → read of the triggers that waited behind a write.
    pub behind_write_recv_read: Percentiles,
    /// For those, the write's return → read.
    pub behind_write_return_read: Percentiles,
    /// Receive → read of the others.
    pub clear_recv_read: Percentiles,
    /// Of the others, those received within [`WAKE_NS`] after the write.
    pub in_wake_recv_read: Percentiles,
    /// Of the others, those received later (or with no write before).
    pub after_wake_recv_read: Percentiles,
    /// Receive → read of the triggers received before a poll that read
    /// the venue's answers and read after it (whatever their write class).
    pub behind_venue_read_recv_read: Percentiles,
    /// Receive → read of the triggers behind neither a write nor such a read.
    pub behind_neither_recv_read: Percentiles,
    /// Of those, the triggers behind market-data events handed over by
    /// earlier polls after they landed ([`Ahead::events`] ≥ 1).
    pub neither_events_ahead_recv_read: Percentiles,
    /// Of the rest, those behind a read of the TX-stamp queue.
    pub neither_tx_stamp_reads_ahead_recv_read: Percentiles,
    /// Of the rest, those behind `recv`s of the session's socket.
    pub neither_socket_reads_ahead_recv_read: Percentiles,
    /// The rest: behind the loop alone (its feed reads, its waits).
    pub neither_loop_only_recv_read: Percentiles,
    /// For the triggers behind neither: market-data events ahead (a count).
    pub neither_events_ahead: Percentiles,
    /// For them: system calls on the session's socket ahead (a count).
    pub neither_session_reads_ahead: Percentiles,
    /// For them: loop iterations begun after the receive (a count).
    pub neither_polls_ahead: Percentiles,
}

impl TriggerWaits {
    pub fn of(waits: &[Histogram<u64>; WAITS]) -> TriggerWaits {
        TriggerWaits {
            behind_write_recv_read: Percentiles::of(&waits[wait::BEHIND_WRITE]),
            behind_write_return_read: Percentiles::of(&waits[wait::BEHIND_WRITE_RETURN]),
            clear_recv_read: Percentiles::of(&waits[wait::CLEAR]),
            in_wake_recv_read: Percentiles::of(&waits[wait::IN_WAKE]),
            after_wake_recv_read: Percentiles::of(&waits[wait::AFTER_WAKE]),
            behind_venue_read_recv_read: Percentiles::of(&waits[wait::BEHIND_VENUE_READ]),
            behind_neither_recv_read: Percentiles::of(&waits[wait::BEHIND_NEITHER]),
            neither_events_ahead_recv_read: Percentiles::of(&waits[wait::EVENTS_AHEAD]),
            neither_tx_stamp_reads_ahead_recv_read: Percentiles::of(
                &waits[wait::TX_STAMP_READS_AHEAD],
            ),
            neither_socket_reads_ahead_recv_read: Percentiles::of(&waits[wait::SOCKET_READS_AHEAD]),
            neither_loop_only_recv_read: Percentiles::of(&waits[wait::LOOP_ONLY]),
            neither_events_ahead: Percentiles::of(&waits[wait::EVENTS_AHEAD_COUNT]),
            neither_session_reads_ahead: Percentiles::of(&waits[wait::SESSION_READS_COUNT]),
            neither_polls_ahead: Percentiles::of(&waits[wait::POLLS_COUNT]),
        }
    }

    /// The share of classified orders whose trigger waited behind a write.
    pub fn behind_write_share(&self) -> Option<f64> {
        let behind = self.behind_write_recv_read.count;
        let all = behind + self.clear_recv_read.count;
        (all > 0).then(|| behind as f64 / all as f64)
    }
}

impl T2tSplit {
    pub fn of(histograms: &[Histogram<u64>; PARTS], send_stamp: SendStamp) -> T2tSplit {
        T2tSplit {
            total: Percentiles::of(&histograms[0]),
            recv_read: Percentiles::of(&histograms[1]),
            read_decide: Percentiles::of(&histograms[2]),
            decide_send: Percentiles::of(&histograms[3]),
            decide_return: Percentiles::of(&histograms[4]),
            send_stamp,
            waits: TriggerWaits::default(),
        }
    }

    /// The same, with the triggers' receive → read split by their waits.
    pub fn with_waits(mut self, waits: &[Histogram<u64>; WAITS]) -> T2tSplit {
        self.waits = TriggerWaits::of(waits);
        self
    }

    /// The five, in [`TAGS`] order.
    pub fn parts(&self) -> [&Percentiles; PARTS] {
        [
            &self.total,
            &self.recv_read,
            &self.read_decide,
            &self.decide_send,
            &self.decide_return,
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
        assert_eq!(stamps.parts(2_500, 2_600), [1_500, 300, 400, 800, 900]);
        let odd = OrderStamps {
            recv_ns: 1_000,
            read_ns: 900,
            decided_ns: 1_200,
        };
        let parts = odd.parts(1_100, 1_300);
        assert_eq!(parts, [200, 0, 200, 0, 100]);
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
        t2t.on_encoded(7, 1_500, 100);
        t2t.on_encoded(8, 1_500, 200);
        t2t.on_encoded(9, 1_500, 300);
        t2t.on_encoded(0, 1_500, 400);
        assert_eq!(t2t.stamps_missed, 1, "event 9 was never stamped");
        assert!(t2t.histograms[0].is_empty(), "nothing before the write");
        t2t.on_written(2_000);
        let split = T2tSplit::of(&t2t.histograms, t2t.send_stamp());
        assert_eq!(split.total.count, 1);
        assert_eq!(split.total.max, 1_000);
        assert_eq!(split.recv_read.max, 200);
        assert_eq!(split.read_decide.max, 300);
        assert_eq!(split.decide_send.max, 500);
        assert_eq!(split.decide_return.max, 500, "send return ends both");
        assert_eq!(split.send_stamp, SendStamp::SendReturn);
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
        t2t.on_encoded(1, 120, 50);
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

    // With TX stamps, a written order waits for the stamp that covers its
    // last byte; decide-send ends at the stamp, decide-return at `write`
    // return; one never stamped is counted, not recorded.
    #[test]
    fn tx_stamps_end_decide_send() {
        let mut t2t = TickToTrade::new();
        t2t.set_send_stamp(SendStamp::TxSoftware);
        let table = t2t.stamps();
        for seq in 1..=3 {
            table.put(seq, 1_000, 1_100);
        }
        t2t.on_encoded(1, 1_200, 150);
        t2t.on_encoded(2, 1_200, 300);
        t2t.on_written(2_200);
        assert!(t2t.histograms[0].is_empty(), "nothing before the stamp");
        t2t.on_tx_stamp(TxKey(149), 1_500);
        assert_eq!(t2t.histograms[0].len(), 1, "the first order's last byte");
        t2t.on_tx_stamp(TxKey(299), 1_700);
        let split = T2tSplit::of(&t2t.histograms, t2t.send_stamp());
        assert_eq!(split.decide_send.max, 500);
        assert_eq!(split.decide_return.max, 1_000);
        assert_eq!(split.total.max, 700);
        assert_eq!(split.send_stamp, SendStamp::TxSoftware);
        t2t.on_encoded(3, 1_200, 450);
        t2t.on_written(6_000);
        t2t.expire_tx_stamps(6_000 + TX_STAMP_WAIT_NS - 1);
        assert_eq!(t2t.awaiting_tx_stamp(), 1);
        t2t.expire_tx_stamps(6_000 + TX_STAMP_WAIT_NS);
        assert_eq!((t2t.awaiting_tx_stamp(), t2t.tx_stamps_missed), (0, 1));
        assert_eq!(t2t.histograms[0].len(), 2, "the missed one is not recorded");
    }

    // A trigger received before an order's write returned and read after
    // it waited behind that write; one received after it, or read before
    // it, did not; only the latest write returned before the read counts;
    // of the others, one received soon after a write came in its wake.
    #[test]
    fn triggers_are_classified_by_the_write_before_their_read() {
        let mut t2t = TickToTrade::new();
        let table = t2t.stamps();
        table.put(1, 1_000, 1_100);
        t2t.on_encoded(1, 1_200, 100);
        t2t.on_written(2_000);
        table.put(2, 1_900, 2_100); // landed during the write
        table.put(3, 2_050, 2_100); // landed after it returned
        table.put(4, 1_500, 1_800); // read before it returned
        for seq in 2..=4 {
            t2t.on_encoded(seq, 2_200, 100 + seq * 100);
        }
        t2t.on_written(3_000);
        t2t.on_venue_read(3_050); // an answer read after the second write
        t2t.on_venue_read(3_050); // the same poll: remembered once
        table.put(5, 2_500, 3_100); // behind the second write, not the first
        table.put(6, 1_950, 2_900); // behind the first: the second returned after its read
        t2t.on_encoded(5, 3_200, 600);
        t2t.on_encoded(6, 3_200, 700);
        t2t.on_written(4_000);
        table.put(7, 4_000 + WAKE_NS, 4_000 + WAKE_NS + 10); // long after
        t2t.on_encoded(7, 4_000 + WAKE_NS + 20, 800);
        t2t.on_written(4_000 + WAKE_NS + 30);
        let waits = T2tSplit::of(&t2t.histograms, t2t.send_stamp())
            .with_waits(&t2t.waits)
            .waits;
        assert_eq!(waits.behind_write_recv_read.count, 3, "orders 2, 5 and 6");
        assert_eq!(waits.clear_recv_read.count, 4, "orders 1, 3, 4 and 7");
        assert_eq!(waits.behind_write_share(), Some(3.0 / 7.0));
        // Wait classes keep two significant digits: maxima are compared
        // as the histograms' equivalent values.
        let same = |got: u64, want: u64| t2t.waits[wait::BEHIND_WRITE].equivalent(got, want);
        assert!(
            same(waits.behind_write_recv_read.max, 950),
            "order 6: 1,950 → 2,900"
        );
        assert_eq!(
            t2t.waits[wait::BEHIND_WRITE_RETURN].min(),
            100,
            "orders 2 and 5"
        );
        assert!(
            same(waits.behind_write_return_read.max, 900),
            "order 6: 2,000 → 2,900"
        );
        assert!(
            same(waits.clear_recv_read.max, 300),
            "order 4: 1,500 → 1,800"
        );
        assert_eq!(
            waits.in_wake_recv_read.count, 1,
            "order 3: 50 ns after the write"
        );
        assert_eq!(
            waits.after_wake_recv_read.count, 3,
            "1 and 4: no write before; 7"
        );
        assert_eq!(
            t2t.histograms[1].len(),
            7,
            "every order in recv-read as before"
        );
    }

    // Market-data events read by earlier polls after a trigger landed are
    // counted up to the first one read before it; numbers without a
    // market-data slot are passed over.
    #[test]
    fn events_ahead_are_those_read_while_the_trigger_waited() {
        let table = TriggerStamps::new();
        table.put(15, 1_000, 1_100); // read after the landing, but behind the stop
        table.put(16, 800, 900); // read before the landing: the look back stops
        table.put(17, 950, 1_200);
        table.put(18, 990, 1_200);
        // 19: a venue answer, no market-data slot
        table.put(20, 1_000, 1_500);
        table.put(21, 1_010, 1_500); // the same poll as the trigger: not ahead
        assert_eq!(
            table.events_between(20, 1_000, 1_500),
            2,
            "events 17 and 18"
        );
        assert_eq!(
            table.events_between(21, 1_010, 1_500),
            2,
            "20 shares its read"
        );
        assert_eq!(table.events_between(17, 950, 1_200), 0, "16 was read first");
    }

    // A trigger behind neither a write nor a venue read is split by what
    // ingest did while it waited: events read by earlier polls, else
    // session reads by polls that ended after it landed, else the loop
    // alone; the three counts are kept for each.
    #[test]
    fn triggers_behind_neither_are_split_by_what_came_ahead() {
        let mut t2t = TickToTrade::new();
        let table = t2t.stamps();
        let no_clock = || -> u64 { panic!("read only after a session read") };
        let reads = |socket, tx_stamps| SessionReads { socket, tx_stamps };
        t2t.on_poll(950, reads(1, 0), || 990); // its read ended before trigger 20 landed
        t2t.on_poll(1_100, reads(1, 0), no_clock);
        t2t.on_poll(1_450, reads(1, 0), no_clock);
        table.put(16, 800, 900);
        table.put(17, 950, 1_200);
        table.put(18, 990, 1_200);
        table.put(20, 1_000, 1_500);
        t2t.on_encoded(20, 1_550, 100);
        t2t.on_written(1_600);
        t2t.on_poll(1_980, reads(2, 0), || 2_050); // in progress at trigger 30's landing
        t2t.on_poll(2_200, reads(3, 0), || 2_210);
        table.put(29, 1_900, 1_990);
        table.put(30, 2_000, 2_300);
        t2t.on_encoded(30, 2_350, 200);
        t2t.on_written(2_400);
        t2t.on_poll(2_990, reads(3, 0), no_clock);
        table.put(39, 2_900, 2_950);
        table.put(40, 3_000, 3_100);
        t2t.on_encoded(40, 3_150, 300);
        t2t.on_written(3_200);
        t2t.on_poll(3_250, reads(4, 1), || 3_260); // the stamp, and a recv
        table.put(50, 3_255, 3_400);
        t2t.on_encoded(50, 3_450, 400);
        t2t.on_written(3_500);
        let waits = T2tSplit::of(&t2t.histograms, t2t.send_stamp())
            .with_waits(&t2t.waits)
            .waits;
        assert_eq!(waits.behind_neither_recv_read.count, 4);
        // Counts exact; values at the wait classes' two significant digits.
        let class = |p: &Percentiles, index: usize, recv_read_ns: u64| {
            p.count == 1 && t2t.waits[index].equivalent(p.max, recv_read_ns)
        };
        assert!(
            class(
                &waits.neither_events_ahead_recv_read,
                wait::EVENTS_AHEAD,
                500
            ),
            "20"
        );
        assert!(
            class(
                &waits.neither_socket_reads_ahead_recv_read,
                wait::SOCKET_READS_AHEAD,
                300
            ),
            "30: reads at 1,980 (ended 2,050) and 2,200"
        );
        assert!(
            class(&waits.neither_loop_only_recv_read, wait::LOOP_ONLY, 100),
            "40"
        );
        assert!(
            class(
                &waits.neither_tx_stamp_reads_ahead_recv_read,
                wait::TX_STAMP_READS_AHEAD,
                145
            ),
            "50: behind the TX-stamp read of the poll at 3,250"
        );
        let values = |histogram: &Histogram<u64>| -> Vec<u64> {
            histogram
                .iter_recorded()
                .flat_map(|v| {
                    std::iter::repeat_n(v.value_iterated_to(), v.count_at_value() as usize)
                })
                .collect()
        };
        assert_eq!(
            values(&t2t.waits[wait::EVENTS_AHEAD_COUNT]),
            [0, 0, 0, 2],
            "events ahead"
        );
        assert_eq!(
            values(&t2t.waits[wait::SESSION_READS_COUNT]),
            [0, 0, 2, 2],
            "session reads ahead: 20 and 40 none, 30 and 50 two"
        );
        assert_eq!(
            values(&t2t.waits[wait::POLLS_COUNT]),
            [0, 0, 1, 2],
            "polls begun: 40 and 50 none, 30 one, 20 two"
        );
    }
}
