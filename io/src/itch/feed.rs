//! The ITCH feed handler: MoldUDP64 datagrams in, L3 books updated, every
//! decoded message handed to the caller.
//!
//! Executions: an order executed ('E') is handed to the caller as an order
//! executed with price ('C', printable) carrying the resting order's price,
//! read before the execution is applied, so the caller can print the trade.
//!
//! Owning thread: the ingest thread. Used alone, the caller passes every
//! datagram to [`ItchFeed::on_datagram`] and sends what
//! [`ItchFeed::poll_request`] returns to the request port (live datagrams
//! past a gap are then dropped and re-requested). Inside
//! `net::MoldReceiver`, [`super::Recovery`] drives it instead: it buffers
//! datagrams past a gap, hands them on early with
//! [`ItchFeed::deliver_unapplied`], applies them later with
//! [`ItchFeed::on_datagram_delivering`], and rebuilds the books from
//! snapshots ([`ItchFeed::begin_snapshot`] and the functions after it).
//!
//! Invariants: one L3 book per configured symbol, allocated in
//! [`ItchFeed::new`] with the locate table; processing a datagram does not
//! allocate; a sequence gap marks every book [`StaleFlags::GAP`] until the
//! retransmissions fill it (the missing messages could concern any book);
//! the bad-input policy of the module docs applies and every case is counted
//! in [`FeedStats`].

use super::decode::decode;
use super::error::ItchError;
use super::message::{BuySell, ItchMessage, OrderExecutedWithPrice, Price4, StockSymbol};
use super::mold::{MoldPacket, MoldRequest};
use super::sequence::{PacketVerdict, SequenceStats, SequenceTracker};
use crate::book::{BookReject, L3Book, Price, Qty, Side, StaleFlags};
use core::ops::Range;

const LOCATE_UNBOUND: u16 = u16::MAX;

/// How to build an [`ItchFeed`].
#[derive(Clone, Debug)]
pub struct ItchFeedConfig {
    /// Symbols to keep books for; book index = position in this list.
    pub symbols: Vec<StockSymbol>,
    /// Orders each book can hold.
    pub orders_max: usize,
    /// Price levels per side each book can hold.
    pub levels_max: usize,
    /// First sequence number expected, or `None` to join mid-stream.
    pub next_sequence: Option<u64>,
    /// Repeat an unanswered retransmission request after this long.
    pub request_retry_ns: u64,
    /// Most messages asked for in one request.
    pub request_count_max: u16,
}

/// Counters of the feed, read by the engine once per reporting interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Datagrams dropped whole for bad framing (too short, truncated, trailing bytes).
    pub datagrams_malformed: u64,
    /// Messages decoded and processed.
    pub messages_decoded: u64,
    /// Messages skipped because their type is not decoded here.
    pub messages_unknown_type: u64,
    /// Messages skipped for a wrong length, an invalid field or zero length.
    pub messages_malformed: u64,
    /// Messages for a locate with no book (not configured or no directory yet).
    pub messages_unrouted: u64,
    /// Book updates rejected (see each book's counters for the kinds).
    pub book_rejects: u64,
}

/// What a datagram did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketOutcome {
    /// Messages were applied; `gap_closed` when it filled the last gap.
    Applied {
        /// Messages processed from this packet.
        message_count: u16,
        /// The outstanding gap is now filled and the books are live again.
        gap_closed: bool,
    },
    /// All messages had been applied before.
    Duplicate,
    /// A gap: nothing applied, books are stale, a request is due.
    Gap,
    /// Heartbeat.
    Heartbeat,
    /// End of session.
    EndOfSession,
    /// Dropped: bad framing or another session.
    Dropped,
}

/// MoldUDP64 + ITCH 5.0 feed with its books.
#[derive(Clone, Debug)]
pub struct ItchFeed {
    tracker: SequenceTracker,
    symbols: Vec<StockSymbol>,
    books: Vec<L3Book>,
    book_by_locate: Vec<u16>,
    stats: FeedStats,
}

impl ItchFeed {
    /// Allocate the books and the locate table.
    pub fn new(config: ItchFeedConfig) -> ItchFeed {
        assert!(
            config.symbols.len() < usize::from(LOCATE_UNBOUND),
            "too many symbols"
        );
        let tracker = match config.next_sequence {
            Some(next) => {
                SequenceTracker::new(next, config.request_retry_ns, config.request_count_max)
            }
            None => SequenceTracker::joining(config.request_retry_ns, config.request_count_max),
        };
        let books = config
            .symbols
            .iter()
            .map(|_| L3Book::with_capacity(config.orders_max, config.levels_max))
            .collect();
        ItchFeed {
            tracker,
            symbols: config.symbols,
            books,
            book_by_locate: vec![LOCATE_UNBOUND; usize::from(u16::MAX) + 1],
            stats: FeedStats::default(),
        }
    }

    /// Route `stock_locate` to book `book_index` without waiting for the
    /// stock directory message (joining mid-day). `false` if out of range.
    pub fn bind_locate(&mut self, stock_locate: u16, book_index: usize) -> bool {
        if book_index >= self.books.len() {
            return false;
        }
        self.book_by_locate[usize::from(stock_locate)] = book_index as u16;
        true
    }

    /// The book index of a locate, once bound.
    pub fn book_index(&self, stock_locate: u16) -> Option<usize> {
        let index = self.book_by_locate[usize::from(stock_locate)];
        (index != LOCATE_UNBOUND).then_some(usize::from(index))
    }

    /// Book `book_index` (position in the configured symbols).
    pub fn book(&self, book_index: usize) -> Option<&L3Book> {
        self.books.get(book_index)
    }

    /// All books, in configured symbol order.
    pub fn books(&self) -> &[L3Book] {
        &self.books
    }

    /// Counters.
    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }

    /// Sequence counters.
    pub fn sequence_stats(&self) -> &SequenceStats {
        self.tracker.stats()
    }

    /// The sequence tracker (gap range, next sequence).
    pub fn tracker(&self) -> &SequenceTracker {
        &self.tracker
    }

    /// Start sequencing afresh (a new session, or after a snapshot rebuild):
    /// `Some(next)` expects that sequence number, `None` joins at the next
    /// packet. Books and locate bindings are kept.
    pub fn reset_sequence(&mut self, next_sequence: Option<u64>) {
        let (retry_ns, count_max) = self.tracker.request_settings();
        self.tracker = match next_sequence {
            Some(next) => SequenceTracker::new(next, retry_ns, count_max),
            None => SequenceTracker::joining(retry_ns, count_max),
        };
    }

    /// Set `flags` on every book (a gap or a snapshot pending: the missing
    /// messages could concern any book).
    pub fn mark_stale_all(&mut self, flags: StaleFlags) {
        self.books.iter_mut().for_each(|b| b.mark_stale(flags));
    }

    /// Clear `flags` on every book once the cause is recovered.
    pub fn clear_stale_all(&mut self, flags: StaleFlags) {
        self.books.iter_mut().for_each(|b| b.clear_stale(flags));
    }

    /// A snapshot is about to rebuild the books: empty them, drop every
    /// stale flag (the rebuild replaces whatever was wrong) and mark them
    /// [`StaleFlags::NOT_SYNCED`] and [`StaleFlags::GAP`] until the snapshot
    /// and the buffered live messages after it are applied. Locate
    /// bindings are kept; the snapshot's directory messages rebind them.
    pub fn begin_snapshot(&mut self) {
        for book in &mut self.books {
            book.clear();
            book.clear_stale(StaleFlags::all());
            book.mark_stale(StaleFlags::NOT_SYNCED | StaleFlags::GAP);
        }
    }

    /// Apply one ITCH message body from a snapshot (no MoldUDP64 framing,
    /// no sequencing), exactly as a live message: decoded, routed, applied,
    /// counted, handed to `on_message`.
    pub fn apply_snapshot_message<F>(&mut self, body: &[u8], mut on_message: F)
    where
        F: FnMut(Option<usize>, &ItchMessage),
    {
        self.on_message_bytes(body, true, &mut on_message);
    }

    /// Hand the messages of a datagram that cannot be applied yet (it lies
    /// beyond a gap) to `on_message`, those whose sequence number is in
    /// `deliver`, without sequencing or applying them: decoded, routed by
    /// the current locate bindings, an order executed priced from the book
    /// when the book knows the order. Nothing is counted here; the messages
    /// are counted when the datagram is applied.
    pub fn deliver_unapplied<F>(&self, datagram: &[u8], deliver: Range<u64>, mut on_message: F)
    where
        F: FnMut(Option<usize>, &ItchMessage),
    {
        let Ok(packet) = MoldPacket::parse(datagram) else {
            return;
        };
        let first = packet.header().sequence_number;
        for (index, body) in packet.messages().enumerate() {
            if !deliver.contains(&first.saturating_add(index as u64)) {
                continue;
            }
            let Ok(msg) = decode(body) else {
                continue;
            };
            let book_index = self.book_index(msg.header().stock_locate);
            let executed_at = self.execution_price(&msg, book_index);
            on_message(book_index, &with_execution_price(msg, executed_at));
        }
    }

    /// The snapshot is complete: the live stream resumes at
    /// `next_sequence` (the books stay stale until the caller clears them).
    pub fn finish_snapshot(&mut self, next_sequence: u64) {
        self.reset_sequence(Some(next_sequence));
    }

    /// A retransmission request to send now, if one is due (see
    /// [`SequenceTracker::poll_request`]).
    pub fn poll_request(&mut self, now_ns: u64) -> Option<MoldRequest> {
        self.tracker.poll_request(now_ns)
    }

    /// Process one datagram: frame, sequence, decode, update books, and call
    /// `on_message(book_index, message)` for each decoded message in order.
    pub fn on_datagram<F>(&mut self, datagram: &[u8], on_message: F) -> PacketOutcome
    where
        F: FnMut(Option<usize>, &ItchMessage),
    {
        self.on_datagram_delivering(datagram, 0..u64::MAX, on_message)
    }

    /// [`ItchFeed::on_datagram`], but only messages whose sequence number
    /// is in `deliver` are handed to `on_message`; the others are applied
    /// silently (they were handed on by [`ItchFeed::deliver_unapplied`]
    /// when they arrived past a gap).
    pub fn on_datagram_delivering<F>(
        &mut self,
        datagram: &[u8],
        deliver: Range<u64>,
        mut on_message: F,
    ) -> PacketOutcome
    where
        F: FnMut(Option<usize>, &ItchMessage),
    {
        self.stats.datagrams += 1;
        let Ok(packet) = MoldPacket::parse(datagram) else {
            self.stats.datagrams_malformed += 1;
            return PacketOutcome::Dropped;
        };
        match self.tracker.on_packet(packet.header()) {
            PacketVerdict::Apply {
                skip_count,
                gap_closed,
            } => {
                if gap_closed {
                    self.books
                        .iter_mut()
                        .for_each(|b| b.clear_stale(StaleFlags::GAP));
                }
                let first = packet.header().sequence_number;
                let mut message_count = 0u16;
                for (index, body) in packet.messages().enumerate().skip(usize::from(skip_count)) {
                    let handed_on = deliver.contains(&first.saturating_add(index as u64));
                    self.on_message_bytes(body, handed_on, &mut on_message);
                    message_count += 1;
                }
                PacketOutcome::Applied {
                    message_count,
                    gap_closed,
                }
            }
            PacketVerdict::Gap { gap_opened } => {
                if gap_opened {
                    self.books
                        .iter_mut()
                        .for_each(|b| b.mark_stale(StaleFlags::GAP));
                }
                PacketOutcome::Gap
            }
            PacketVerdict::Duplicate => PacketOutcome::Duplicate,
            PacketVerdict::Heartbeat => PacketOutcome::Heartbeat,
            PacketVerdict::EndOfSession => PacketOutcome::EndOfSession,
            PacketVerdict::WrongSession => PacketOutcome::Dropped,
        }
    }

    /// The resting order's price for an order executed ('E') on a known
    /// book (read before the execution is applied: the book forgets the
    /// order when it is used up).
    fn execution_price(&self, msg: &ItchMessage, book_index: Option<usize>) -> Option<Price> {
        match (msg, book_index) {
            (ItchMessage::OrderExecuted(m), Some(index)) => self.books[index]
                .order(m.order_ref)
                .map(|order| order.price),
            _ => None,
        }
    }

    #[inline]
    fn on_message_bytes<F>(&mut self, body: &[u8], deliver: bool, on_message: &mut F)
    where
        F: FnMut(Option<usize>, &ItchMessage),
    {
        let msg = match decode(body) {
            Ok(msg) => msg,
            Err(ItchError::UnknownType { .. }) => {
                self.stats.messages_unknown_type += 1;
                return;
            }
            Err(_) => {
                self.stats.messages_malformed += 1;
                return;
            }
        };
        self.stats.messages_decoded += 1;
        if let ItchMessage::StockDirectory(dir) = &msg {
            if let Some(index) = self.symbols.iter().position(|s| *s == dir.stock) {
                self.bind_locate(dir.header.stock_locate, index);
            }
        }
        let book_index = self.book_index(msg.header().stock_locate);
        let executed_at = self.execution_price(&msg, book_index);
        let applied = match book_index {
            Some(index) if apply_to_book(&mut self.books[index], &msg).is_err() => {
                self.stats.book_rejects += 1;
                false
            }
            Some(_) => true,
            None if is_book_update(&msg) => {
                self.stats.messages_unrouted += 1;
                false
            }
            None => true,
        };
        if deliver {
            // Only an execution the book took prints a trade.
            let executed_at = executed_at.filter(|_| applied);
            on_message(book_index, &with_execution_price(msg, executed_at));
        }
    }
}

/// An order executed ('E') whose order was in the book is handed on as an
/// order executed with price ('C', printable) at the order's price, so
/// consumers see every execution's price; anything else as it came.
fn with_execution_price(msg: ItchMessage, executed_at: Option<Price>) -> ItchMessage {
    match (msg, executed_at) {
        (ItchMessage::OrderExecuted(m), Some(price)) => {
            ItchMessage::OrderExecutedWithPrice(OrderExecutedWithPrice {
                header: m.header,
                order_ref: m.order_ref,
                executed_shares: m.executed_shares,
                match_number: m.match_number,
                printable: b'Y',
                execution_price: Price4(u32::try_from(price.0).unwrap_or(u32::MAX)),
            })
        }
        (msg, _) => msg,
    }
}

fn is_book_update(msg: &ItchMessage) -> bool {
    !matches!(
        msg,
        ItchMessage::SystemEvent(_) | ItchMessage::StockDirectory(_) | ItchMessage::Trade(_)
    )
}

fn side_of(side: BuySell) -> Side {
    match side {
        BuySell::Buy => Side::Bid,
        BuySell::Sell => Side::Ask,
    }
}

/// Apply one ITCH message to an L3 book (prices stay in 1/10000 ticks).
/// Messages that do not change the displayed book are ignored.
#[inline]
pub fn apply_to_book(book: &mut L3Book, msg: &ItchMessage) -> Result<(), BookReject> {
    match msg {
        ItchMessage::AddOrder(m) => book.add(
            m.order_ref,
            side_of(m.side),
            Price(i64::from(m.price.0)),
            Qty(i64::from(m.shares)),
        ),
        ItchMessage::OrderExecuted(m) => {
            book.reduce(m.order_ref, Qty(i64::from(m.executed_shares)))
        }
        ItchMessage::OrderExecutedWithPrice(m) => {
            book.reduce(m.order_ref, Qty(i64::from(m.executed_shares)))
        }
        ItchMessage::OrderCancel(m) => book.reduce(m.order_ref, Qty(i64::from(m.cancelled_shares))),
        ItchMessage::OrderDelete(m) => book.delete(m.order_ref),
        ItchMessage::OrderReplace(m) => book.replace(
            m.original_order_ref,
            m.new_order_ref,
            Price(i64::from(m.price.0)),
            Qty(i64::from(m.shares)),
        ),
        ItchMessage::SystemEvent(_) | ItchMessage::StockDirectory(_) | ItchMessage::Trade(_) => {
            Ok(())
        }
    }
}
