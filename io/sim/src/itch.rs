//! The simulated venue's market data over UDP: every change to its books
//! published as NASDAQ TotalView-ITCH 5.0 in MoldUDP64 packets on UDP
//! loopback, a request port answering retransmission requests, and a
//! GLIMPSE-style snapshot server (SoupBinTCP over TCP) that answers each
//! login with the current books as Add Order messages and the sequence to
//! resume from, so a late joiner or a receiver past a large gap catches up.
//!
//! Owning thread: the simulator's (`venue`). The mapping from book events
//! to ITCH messages is `genesis_io::itch::ItchInstrument`'s, the one the
//! snapshots use too (locate = index + 1, prices in 4-decimal fixed point,
//! shares = lots). A stock directory message per instrument opens the session.
//!
//! Loss on purpose, for tests: one packet in `itch_drop_every`, and/or a
//! seeded share `itch_loss_ppm` (SplitMix64 from `itch_loss_seed`); a lost
//! packet is kept for retransmission. Every packet is sent through that
//! decision: a packet is closed after each market move
//! ([`ItchOut::send_packet`]), at [`PACKET_MESSAGES_MAX`] messages, well
//! before the publisher would close it by size on its own, and at each poll. With nothing
//! sent for [`HEARTBEAT_INTERVAL_NS`] a heartbeat goes out, so a loss at
//! the tail of the stream shows as a gap.

use crate::config::SimConfig;
use crate::exchange::{Exchange, MarketDataOut};
use crate::wait::Readiness;
use genesis_io::itch::arith::{price4_per_tick, timestamp_ns_of};
use genesis_io::itch::{ItchInstrument, Session, SnapshotOrder, StockSymbol};
use genesis_io::net::{
    GlimpseServer, GlimpseServerConfig, MoldPublisher, MoldPublisherConfig, MoldRequestServer,
};
use genesis_io::venue::{BookEvent, MatchingEngine};
use std::net::SocketAddr;

/// The MoldUDP64 session the simulator publishes.
pub const SESSION: Session = Session(*b"GENESIS001");
/// Messages per packet: 24 of ITCH's longest (39 bytes plus a 2-byte
/// length) stay under the 1,400-byte payload with room to spare.
pub const PACKET_MESSAGES_MAX: u16 = 24;
/// A heartbeat goes out after this long without a packet.
pub const HEARTBEAT_INTERVAL_NS: u64 = 100_000_000;
const PAYLOAD_BYTES_MAX: usize = 1_400;

/// The ports receivers reach the venue at, bound before the receiver
/// exists (it needs their addresses): the request port and the snapshot server.
pub struct ItchPorts {
    server: MoldRequestServer,
    glimpse: GlimpseServer,
    pub request_addr: SocketAddr,
    pub snapshot_addr: SocketAddr,
}

impl ItchPorts {
    /// Binds the request port at `request_addr` and the snapshot server at
    /// `snapshot_addr` (port 0 picks a free one).
    pub fn bind(
        config: &SimConfig,
        request_addr: SocketAddr,
        snapshot_addr: SocketAddr,
    ) -> std::io::Result<ItchPorts> {
        let server = MoldRequestServer::bind(request_addr, SESSION, PAYLOAD_BYTES_MAX)
            .map_err(std::io::Error::other)?;
        let glimpse = GlimpseServer::bind(GlimpseServerConfig {
            bind_addr: snapshot_addr,
            session: SESSION,
            credentials: None,
            instruments: instruments(config),
            clients_max: 16,
            login_timeout_ns: 5_000_000_000,
            idle_timeout_ns: 5_000_000_000,
        })
        .map_err(std::io::Error::other)?;
        Ok(ItchPorts {
            request_addr: server.local_addr().map_err(std::io::Error::other)?,
            snapshot_addr: glimpse.local_addr().map_err(std::io::Error::other)?,
            server,
            glimpse,
        })
    }
}

/// How each instrument appears on the feed.
fn instruments(config: &SimConfig) -> Vec<ItchInstrument> {
    config
        .instruments
        .iter()
        .enumerate()
        .map(|(index, i)| ItchInstrument {
            stock_locate: index as u16 + 1,
            stock: StockSymbol::from_str_padded(&i.symbol).unwrap_or_default(),
            price4_per_tick: price4_per_tick(&i.tick_size).unwrap_or(1),
        })
        .collect()
}

/// Counters of the ITCH side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ItchOutCounters {
    pub packets_sent: u64,
    pub packets_dropped: u64,
    pub heartbeats_sent: u64,
    pub retransmissions_answered: u64,
    pub snapshots_sent: u64,
}

/// Which packets are lost on purpose.
struct Loss {
    drop_every: u64,
    loss_ppm: u64,
    /// SplitMix64 state.
    state: u64,
    packets: u64,
}

impl Loss {
    /// Whether the next packet is lost.
    fn next_lost(&mut self) -> bool {
        self.packets += 1;
        let periodic = self.drop_every > 0 && self.packets.is_multiple_of(self.drop_every);
        periodic || (self.loss_ppm > 0 && self.next_random() % 1_000_000 < self.loss_ppm)
    }

    fn next_random(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The ITCH side of the simulator: publisher, request port, snapshot server.
pub struct ItchOut {
    publisher: MoldPublisher,
    server: MoldRequestServer,
    glimpse: GlimpseServer,
    instruments: Vec<ItchInstrument>,
    loss: Loss,
    sent_last_ns: u64,
    pub counters: ItchOutCounters,
}

impl ItchOut {
    /// Publishes to `destination` (the engine's feed socket) and answers
    /// requests and snapshot logins on the already bound ports.
    pub fn new(
        config: &SimConfig,
        ports: ItchPorts,
        destination: SocketAddr,
    ) -> std::io::Result<ItchOut> {
        let publisher = MoldPublisher::bind(MoldPublisherConfig {
            session: SESSION,
            bind_addr: "127.0.0.1:0".parse().expect("literal address"),
            destination,
            first_sequence: 1,
            store_capacity: 1 << 17,
            payload_bytes_max: PAYLOAD_BYTES_MAX,
        })
        .map_err(std::io::Error::other)?;
        Ok(ItchOut {
            publisher,
            server: ports.server,
            glimpse: ports.glimpse,
            instruments: instruments(config),
            loss: Loss {
                drop_every: config.itch_drop_every,
                loss_ppm: config.itch_loss_ppm,
                state: config.itch_loss_seed,
                packets: 0,
            },
            sent_last_ns: 0,
            counters: ItchOutCounters::default(),
        })
    }

    /// A stock directory message per instrument: the session opens.
    pub fn directory(&mut self, now_ns: u64) {
        let timestamp_ns = timestamp_ns_of(now_ns);
        for index in 0..self.instruments.len() {
            let message = self.instruments[index].directory(timestamp_ns);
            self.publisher.push(&message);
        }
        self.finish_packet(now_ns);
    }

    /// Sends what this loop iteration queued (losing some on purpose, see
    /// the module docs), a heartbeat when the feed was quiet, answers
    /// retransmission requests, and serves snapshot logins from `exchange`.
    pub fn poll(&mut self, exchange: &Exchange, now_ns: u64) {
        self.finish_packet(now_ns);
        if now_ns.saturating_sub(self.sent_last_ns) >= HEARTBEAT_INTERVAL_NS {
            self.publisher.send_heartbeat();
            self.counters.heartbeats_sent += 1;
            self.sent_last_ns = now_ns;
        }
        self.server.poll(self.publisher.store());
        let instruments = &self.instruments;
        let orders = |index: usize, f: &mut dyn FnMut(SnapshotOrder)| {
            if let (Some(book), Some(instrument)) = (exchange.book(index), instruments.get(index)) {
                instrument.for_each_resting_order(book, f);
            }
        };
        self.glimpse
            .poll(now_ns, self.publisher.next_sequence(), &orders);
        self.counters.retransmissions_answered = self.server.stats().requests_answered;
        self.counters.snapshots_sent = self.glimpse.stats().snapshots_sent;
    }

    /// Lists what the simulator's wait wakes for: the request port and
    /// the snapshot server's listener and sessions (their input, and their
    /// output while a snapshot waits for room in the socket).
    pub fn list_fds(&self, readiness: &mut Readiness) {
        let mut list = |fd, wait_for| readiness.wait_for(fd, wait_for);
        self.server.list_fds(&mut list);
        self.glimpse.list_fds(&mut list);
    }

    /// How long the simulator may wait before a poll is due here: the
    /// heartbeat of a quiet feed, or a snapshot session's login or
    /// progress deadline. Never `None`: the heartbeat always comes.
    pub fn timer_wait_ns(&self, now_ns: u64) -> u64 {
        let heartbeat_ns = self
            .sent_last_ns
            .saturating_add(HEARTBEAT_INTERVAL_NS)
            .saturating_sub(now_ns);
        let deadline_ns = self
            .glimpse
            .deadline_ns()
            .map_or(u64::MAX, |deadline_ns| deadline_ns.saturating_sub(now_ns));
        heartbeat_ns.min(deadline_ns)
    }

    /// Sends what is queued now, as one packet (or loses it on purpose):
    /// the venue calls it after each market move, so no message waits for
    /// the moves after it.
    pub fn send_packet(&mut self, now_ns: u64) {
        self.finish_packet(now_ns);
    }

    /// Closes the current packet: sent, or lost on purpose.
    fn finish_packet(&mut self, now_ns: u64) {
        if self.publisher.pending_message_count() == 0 {
            return;
        }
        if self.loss.next_lost() {
            self.publisher.flush_dropped();
            self.counters.packets_dropped += 1;
        } else {
            self.publisher.flush();
            self.counters.packets_sent += 1;
        }
        self.sent_last_ns = now_ns;
    }
}

impl MarketDataOut for ItchOut {
    fn on_book_event(
        &mut self,
        instrument: usize,
        event: &BookEvent,
        _book: &MatchingEngine,
        now_ns: u64,
    ) {
        let Some(itch) = self.instruments.get(instrument) else {
            return;
        };
        let message = itch.book_event_message(event, timestamp_ns_of(now_ns));
        self.publisher.push(&message);
        if self.publisher.pending_message_count() >= PACKET_MESSAGES_MAX {
            self.finish_packet(now_ns);
        }
    }

    fn on_operation_done(&mut self, _instrument: usize, _book: &MatchingEngine, _now_ns: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    // A quiet feed's heartbeat is the ITCH side's only timer without a
    // snapshot session: due one interval after the last packet, and again
    // one interval after the heartbeat.
    #[test]
    fn the_heartbeat_is_timed_from_the_last_packet() {
        let config = crate::tests::config();
        let any = "127.0.0.1:0".parse().unwrap();
        let feed = std::net::UdpSocket::bind(any).unwrap();
        let ports = ItchPorts::bind(&config, any, any).unwrap();
        let mut out = ItchOut::new(&config, ports, feed.local_addr().unwrap()).unwrap();
        let exchange = Exchange::new(config.instruments.len(), 64);
        out.directory(1_000);
        assert_eq!(out.timer_wait_ns(1_000), HEARTBEAT_INTERVAL_NS);
        assert_eq!(out.timer_wait_ns(2_000), HEARTBEAT_INTERVAL_NS - 1_000);
        let due_ns = 1_000 + HEARTBEAT_INTERVAL_NS;
        assert_eq!(out.timer_wait_ns(due_ns + 7), 0, "overdue");
        out.poll(&exchange, due_ns + 7);
        assert_eq!(out.counters.heartbeats_sent, 1);
        assert_eq!(out.timer_wait_ns(due_ns + 7), HEARTBEAT_INTERVAL_NS);
    }

    // One in ten dropped periodically; a seeded 10 % lands near 10 % and
    // repeats with the seed.
    #[test]
    fn losses_follow_the_settings() {
        let mut periodic = Loss {
            drop_every: 10,
            loss_ppm: 0,
            state: 1,
            packets: 0,
        };
        let lost = (0..1_000).filter(|_| periodic.next_lost()).count();
        assert_eq!(lost, 100);
        let seeded = |seed| {
            let mut loss = Loss {
                drop_every: 0,
                loss_ppm: 100_000,
                state: seed,
                packets: 0,
            };
            (0..100_000).map(|_| loss.next_lost()).collect::<Vec<_>>()
        };
        let first = seeded(42);
        let share = first.iter().filter(|l| **l).count();
        assert!((9_000..11_000).contains(&share), "{share}");
        assert_eq!(first, seeded(42));
    }
}
