//! ITCH recovery end to end on loopback: a venue (matching books, MoldUDP64
//! publisher with a request port, GLIMPSE server) and a `MoldReceiver` with
//! its `ItchFeed`, driven by one loop and one clock the test advances
//! (100 µs a step), so every deadline is a number of steps, not a race.
//!
//! - a late join, with and without a known sequence, gets fresh books equal
//!   to the venue's from a snapshot;
//! - 1 % and 10 % seeded packet loss, and a 4 KiB receive buffer under
//!   bursts: the books return to fresh and equal the venue's;
//! - a gap larger than the retransmission store: retransmission cannot
//!   answer, so it times out to a snapshot;
//! - a snapshot server that refuses connections, or dies mid-snapshot:
//!   retried with backoff and counted, then recovered;
//! - the snapshot server serves several clients at once.

#[path = "support/itch_venue.rs"]
mod itch_venue;

use genesis_io::itch::glimpse::write_snapshot;
use genesis_io::itch::{
    Credentials, ItchFeed, ItchFeedConfig, LoginRejectReason, LoginRequest, RecoveryConfig,
    Session, SnapshotFailure, SnapshotOrder, SoupPacket,
};
use genesis_io::net::{GlimpseServer, GlimpseServerConfig, MoldReceiver, SocketOptions};
use itch_venue::{loopback_receiver, snapshot_client, symbols, Venue, VenueConfig, SESSION};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

const STEP_NS: u64 = 100_000;
const STEPS_MAX: u64 = 200_000;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn recovery_config() -> RecoveryConfig {
    RecoveryConfig {
        snapshot_gap_messages_min: 2_000,
        retransmit_timeout_ns: 20_000_000,
        request_interval_min_ns: 200_000,
        snapshot_backoff_initial_ns: 5_000_000,
        snapshot_backoff_max_ns: 40_000_000,
        ..RecoveryConfig::default()
    }
}

fn feed(instrument_count: usize, next_sequence: Option<u64>) -> ItchFeed {
    ItchFeed::new(ItchFeedConfig {
        symbols: symbols(instrument_count),
        orders_max: 8_192,
        levels_max: 512,
        next_sequence,
        request_retry_ns: 5_000_000,
        request_count_max: 256,
    })
}

struct Setup {
    instrument_count: usize,
    store_capacity: usize,
    seed: u64,
    loss_per_mille: u64,
    recv_buffer_bytes: Option<u32>,
    next_sequence: Option<u64>,
    recovery: RecoveryConfig,
    /// Snapshot server address override (default: the venue's GLIMPSE server).
    snapshot_addr: Option<SocketAddr>,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            instrument_count: 3,
            store_capacity: 1 << 16,
            seed: 7,
            loss_per_mille: 0,
            recv_buffer_bytes: Some(4 << 20),
            next_sequence: Some(1),
            recovery: recovery_config(),
            snapshot_addr: None,
        }
    }
}

struct Rig {
    venue: Venue,
    receiver: MoldReceiver,
    feed: ItchFeed,
    now_ns: u64,
    messages_seen: u64,
    ts_recv_ns_last: u64,
}

impl Rig {
    fn new(setup: Setup) -> Rig {
        let probe = std::net::UdpSocket::bind(loopback()).unwrap();
        let feed_addr = probe.local_addr().unwrap();
        drop(probe);
        let mut rig = Rig::joining_at(setup, feed_addr, None);
        rig.venue.open_session();
        rig
    }

    /// A receiver bound at `feed_addr` for a venue (new, or already running).
    fn joining_at(setup: Setup, feed_addr: SocketAddr, venue: Option<Venue>) -> Rig {
        let mut venue = venue.unwrap_or_else(|| {
            Venue::new(
                VenueConfig {
                    instrument_count: setup.instrument_count,
                    store_capacity: setup.store_capacity,
                    seed: setup.seed,
                    loss_per_mille: setup.loss_per_mille,
                    glimpse_addr: loopback(),
                },
                feed_addr,
            )
        });
        venue.loss_per_mille = setup.loss_per_mille;
        let options = SocketOptions {
            busy_poll_us: None,
            recv_buffer_bytes: setup.recv_buffer_bytes,
            tcp_nodelay: true,
        };
        let mut receiver = loopback_receiver(feed_addr, venue.request_addr(), options);
        let snapshot_addr = setup.snapshot_addr.unwrap_or_else(|| venue.glimpse_addr());
        receiver.configure_recovery(setup.recovery, Some(snapshot_client(snapshot_addr)));
        Rig {
            venue,
            receiver,
            feed: feed(setup.instrument_count, setup.next_sequence),
            now_ns: 1_000_000_000,
            messages_seen: 0,
            ts_recv_ns_last: 0,
        }
    }

    /// One loop iteration: the venue serves, the receiver polls, time moves.
    fn step(&mut self) {
        self.venue.serve(self.now_ns);
        let now_ns = self.now_ns;
        let mut seen = 0;
        let mut ts_last = self.ts_recv_ns_last;
        self.receiver
            .poll(&mut self.feed, &mut || now_ns, |ts_recv_ns, _, _| {
                seen += 1;
                ts_last = ts_last.max(ts_recv_ns);
            });
        self.messages_seen += seen;
        self.ts_recv_ns_last = ts_last;
        self.now_ns += STEP_NS;
    }

    fn trade_steps(&mut self, steps: u64, operations_per_step: usize) {
        for _ in 0..steps {
            self.venue.trade(operations_per_step);
            self.step();
        }
    }

    /// Stop trading, announce the end of the stream, and wait until the
    /// books are fresh and have applied everything published.
    fn settle(&mut self, what: &str) {
        self.venue.publisher.send_heartbeat();
        let end = self.venue.publisher.next_sequence();
        self.wait_until(what, |r| {
            !r.receiver.is_recovering()
                && r.feed.tracker().next_sequence() == Some(end)
                && r.feed.books().iter().all(|b| !b.is_stale())
        });
    }

    fn wait_until(&mut self, what: &str, done: impl Fn(&Rig) -> bool) {
        for step in 0..STEPS_MAX {
            if done(self) {
                return;
            }
            if step % 100 == 99 {
                // A tail loss is seen only through a heartbeat.
                self.venue.publisher.send_heartbeat();
            }
            self.step();
        }
        panic!(
            "{what}: not reached in {STEPS_MAX} steps: recovery {:?}, receiver {:?}, feed {:?}, next {:?} of {}",
            self.receiver.recovery_stats(),
            self.receiver.stats(),
            self.feed.stats(),
            self.feed.tracker().next_sequence(),
            self.venue.publisher.next_sequence(),
        );
    }
}

/// A venue that has run for a while before anyone listened at the
/// returned address (a probe socket soaked up and dropped its feed).
fn venue_running_before_join(seed: u64) -> (Venue, SocketAddr) {
    let probe = std::net::UdpSocket::bind(loopback()).unwrap();
    let feed_addr = probe.local_addr().unwrap();
    let mut venue = Venue::new(
        VenueConfig {
            instrument_count: 3,
            store_capacity: 1 << 16,
            seed,
            loss_per_mille: 0,
            glimpse_addr: loopback(),
        },
        feed_addr,
    );
    venue.open_session();
    let mut sink = [0u8; 2048];
    probe.set_nonblocking(true).unwrap();
    for _ in 0..200 {
        venue.trade(20);
        while probe.recv(&mut sink).is_ok() {}
    }
    assert!(
        venue.publisher.next_sequence() > 2_000,
        "the venue is well into its session"
    );
    (venue, feed_addr)
}

// Late join against a venue already at sequence N: the receiver, bound
// afterwards with no known sequence, takes a snapshot at once and ends with
// fresh books equal to the venue's; then keeps up with the live feed.
#[test]
fn late_join_without_sequence_gets_the_venue_books() {
    let (venue, feed_addr) = venue_running_before_join(11);
    let setup = Setup {
        next_sequence: None,
        ..Setup::default()
    };
    let mut rig = Rig::joining_at(setup, feed_addr, Some(venue));
    rig.step();
    assert!(
        rig.feed.books().iter().all(|b| b.is_stale()),
        "stale until the snapshot"
    );
    rig.wait_until("the snapshot", |r| {
        r.receiver.recovery_stats().snapshots_applied == 1
    });
    rig.trade_steps(200, 5);
    rig.settle("fresh after a late join");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert_eq!(stats.late_joins, 1);
    assert_eq!(stats.snapshots_failed, 0);
    assert!(stats.resyncs >= 1);
    assert!(rig.venue.glimpse.stats().snapshots_sent >= 1);
    assert!(rig.ts_recv_ns_last > 0);
}

// Late join expecting sequence 1: the first datagram is far past it, a gap
// beyond the snapshot threshold, so the books come from a snapshot rather
// than a replay of the whole session through the request port.
#[test]
fn late_join_far_past_the_expected_sequence_uses_a_snapshot() {
    let (venue, feed_addr) = venue_running_before_join(12);
    let mut rig = Rig::joining_at(Setup::default(), feed_addr, Some(venue));
    rig.trade_steps(1, 1);
    assert!(rig.receiver.is_recovering());
    rig.wait_until("the snapshot", |r| {
        r.receiver.recovery_stats().snapshots_applied >= 1
    });
    rig.trade_steps(100, 5);
    rig.settle("fresh after the snapshot");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert_eq!((stats.gaps, stats.late_joins), (1, 1));
    assert_eq!(stats.requests_sent, 0, "no retransmission of the session");
}

/// Trade with seeded packet loss, then stop and settle: the books end fresh
/// and equal the venue's, and market data never stalls for long.
fn recovers_from_loss(loss_per_mille: u64, seed: u64) -> Rig {
    let mut rig = Rig::new(Setup {
        loss_per_mille,
        seed,
        ..Setup::default()
    });
    let mut stall_steps_max = 0;
    let mut stall_steps = 0;
    for _ in 0..2_000 {
        let before = rig.messages_seen;
        rig.trade_steps(1, 5);
        stall_steps = if rig.messages_seen == before {
            stall_steps + 1
        } else {
            0
        };
        stall_steps_max = stall_steps_max.max(stall_steps);
    }
    assert!(
        stall_steps_max < 100,
        "market data stalled {stall_steps_max} steps (seed {seed})"
    );
    rig.venue.loss_per_mille = 0;
    rig.settle("fresh after the losses");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert!(stats.gaps > 0, "seed {seed}: losses opened gaps");
    assert!(stats.resyncs > 0, "seed {seed}: and were recovered");
    assert!(rig.venue.publisher.stats().packets_dropped > 0);
    assert_eq!(stats.snapshots_requested, 0, "small gaps: retransmission");
    assert_eq!(
        rig.messages_seen,
        rig.venue.publisher.next_sequence() - 1,
        "every message handed on exactly once"
    );
    rig
}

// 1 % of packets lost at the publisher (seeded): retransmission refills
// every gap.
#[test]
fn one_percent_loss_recovered() {
    let rig = recovers_from_loss(10, 101);
    assert!(rig.receiver.recovery_stats().messages_recovered_retransmit > 0);
}

// 10 % of packets lost at the publisher (seeded).
#[test]
fn ten_percent_loss_recovered() {
    let rig = recovers_from_loss(100, 102);
    assert!(rig.receiver.recovery_stats().messages_recovered_retransmit > 0);
}

// A 4 KiB receive buffer under bursts: the kernel drops datagrams on both
// sockets (feed and retransmissions); the receiver recovers anyway.
#[test]
fn four_kib_receive_buffer_recovered() {
    let mut rig = Rig::new(Setup {
        recv_buffer_bytes: Some(4_096),
        seed: 103,
        ..Setup::default()
    });
    for _ in 0..300 {
        rig.venue.trade(40);
        rig.step();
    }
    rig.settle("fresh after kernel drops");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert!(
        stats.gaps > 0,
        "the small buffer dropped datagrams: {stats:?}"
    );
    assert!(stats.resyncs > 0);
}

// A gap larger than the retransmission store: the request port cannot
// answer it, retransmission makes no progress, and after the timeout a
// snapshot heals the books.
#[test]
fn gap_larger_than_the_store_is_healed_by_snapshot() {
    let mut rig = Rig::new(Setup {
        store_capacity: 256,
        recovery: RecoveryConfig {
            snapshot_gap_messages_min: u64::MAX,
            ..recovery_config()
        },
        seed: 104,
        ..Setup::default()
    });
    rig.trade_steps(20, 5);
    let before = rig.venue.publisher.next_sequence();
    rig.venue.loss_per_mille = 1_000;
    rig.trade_steps(100, 5);
    assert!(rig.venue.publisher.next_sequence() - before > 256);
    rig.venue.loss_per_mille = 0;
    rig.trade_steps(50, 5);
    rig.settle("fresh after the snapshot");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert!(stats.retransmit_timeouts >= 1, "{stats:?}");
    assert!(stats.snapshots_applied >= 1, "{stats:?}");
    assert!(
        rig.venue.request_server.stats().requests_unavailable
            + rig.venue.request_server.stats().requests_answered
            > 0
    );
}

/// What the test's own snapshot server does with its next connection.
#[derive(Clone, Copy, Debug)]
enum Misbehave {
    RejectLogin,
    DieMidSnapshot,
    Serve,
}

/// A snapshot server written in the test: reads the login, then rejects
/// it, dies half way through the snapshot, or serves all of it.
fn serve_one(listener: &TcpListener, venue: &Venue, how: Misbehave) -> bool {
    let Ok((mut stream, _)) = listener.accept() else {
        return false;
    };
    stream.set_nonblocking(false).unwrap();
    let mut login = [0u8; 49];
    stream.read_exact(&mut login).unwrap();
    assert!(matches!(
        SoupPacket::parse(&login[2..]),
        Ok(SoupPacket::LoginRequest(_))
    ));
    let mut out = Vec::new();
    match how {
        Misbehave::RejectLogin => {
            SoupPacket::LoginRejected {
                reason: LoginRejectReason::NotAuthorized,
            }
            .encode(&mut out);
        }
        Misbehave::DieMidSnapshot | Misbehave::Serve => {
            SoupPacket::LoginAccepted {
                session: SESSION,
                sequence_number: 1,
            }
            .encode(&mut out);
            let orders = |index: usize, f: &mut dyn FnMut(SnapshotOrder)| {
                venue.instruments[index].for_each_resting_order(&venue.books[index], f);
            };
            write_snapshot(
                &mut out,
                &venue.instruments,
                &orders,
                venue.publisher.next_sequence(),
                3,
            );
            if let Misbehave::DieMidSnapshot = how {
                out.truncate(out.len() / 2);
            }
        }
    }
    stream.write_all(&out).unwrap();
    true
}

// The snapshot server first refuses connections (nothing listens), then
// rejects the login, then dies mid-snapshot, then serves: every failure is
// counted and retried after a growing backoff, the books stay stale until
// the good snapshot, and end equal to the venue's.
#[test]
fn failing_snapshot_server_retried_with_backoff() {
    let reserved = TcpListener::bind(loopback()).unwrap();
    let snapshot_addr = reserved.local_addr().unwrap();
    drop(reserved);
    let mut rig = Rig::new(Setup {
        next_sequence: None,
        snapshot_addr: Some(snapshot_addr),
        seed: 105,
        ..Setup::default()
    });
    // After failure k the next attempt waits a backoff doubling from 5 ms
    // to the 40 ms cap, jittered in [base/2, base]. Measured from the poll
    // that saw the failure to the poll that started the next attempt
    // (a step before the rig's clock after each wait).
    for k in 1..=4u64 {
        rig.wait_until("a refused connection", |r| {
            r.receiver.recovery_stats().snapshots_failed == k
        });
        let failed_ns = rig.now_ns - STEP_NS;
        assert!(rig.feed.books().iter().all(|b| b.is_stale()));
        rig.wait_until("the next attempt", |r| {
            r.receiver.recovery_stats().snapshots_requested == k + 1
        });
        let waited = rig.now_ns - STEP_NS - failed_ns;
        let base_ns = (5_000_000u64 << (k - 1)).min(40_000_000);
        assert!(
            waited >= base_ns / 2 && waited <= base_ns + STEP_NS,
            "waited {waited} ns after failure {k}, base {base_ns}"
        );
    }
    let stats = *rig.receiver.recovery_stats();
    assert!(
        matches!(
            stats.snapshot_failure_last,
            Some(SnapshotFailure::ConnectFailed { errno }) if errno == libc_econnrefused()
        ),
        "{stats:?}"
    );
    rig.wait_until("the fifth refusal", |r| {
        r.receiver.recovery_stats().snapshots_failed == 5
    });
    let refused = rig.receiver.recovery_stats().snapshots_failed;

    let listener = TcpListener::bind(snapshot_addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    for how in [
        Misbehave::RejectLogin,
        Misbehave::DieMidSnapshot,
        Misbehave::Serve,
    ] {
        let failed = rig.receiver.recovery_stats().snapshots_failed;
        let applied = rig.receiver.recovery_stats().snapshots_applied;
        let mut served = false;
        for _ in 0..STEPS_MAX {
            if !served {
                served = serve_one(&listener, &rig.venue, how);
            }
            let stats = rig.receiver.recovery_stats();
            if served && (stats.snapshots_failed > failed || stats.snapshots_applied > applied) {
                break;
            }
            rig.step();
        }
        let stats = *rig.receiver.recovery_stats();
        match how {
            Misbehave::RejectLogin => assert_eq!(
                stats.snapshot_failure_last,
                Some(SnapshotFailure::LoginRejected(
                    LoginRejectReason::NotAuthorized
                ))
            ),
            Misbehave::DieMidSnapshot => {
                assert_eq!(stats.snapshot_failure_last, Some(SnapshotFailure::Closed));
                assert!(rig.feed.books().iter().all(|b| b.is_stale()));
            }
            Misbehave::Serve => assert_eq!(stats.snapshots_applied, 1),
        }
    }
    rig.trade_steps(50, 5);
    rig.settle("fresh after the good snapshot");
    rig.venue.assert_books_equal(&rig.feed);
    let stats = *rig.receiver.recovery_stats();
    assert_eq!(stats.snapshots_failed, refused + 2, "{stats:?}");
    assert_eq!(stats.snapshots_requested, refused + 3);
}

fn libc_econnrefused() -> i32 {
    std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        .raw_os_error()
        .unwrap_or(111)
}

// Two receivers join at once: the server serves both snapshots without
// blocking, and both sets of books equal the venue's.
#[test]
fn snapshot_server_serves_several_clients() {
    let (venue, feed_addr) = venue_running_before_join(106);
    let setup = Setup {
        next_sequence: None,
        ..Setup::default()
    };
    let mut rig = Rig::joining_at(setup, feed_addr, Some(venue));
    let mut other = loopback_receiver(
        loopback(),
        rig.venue.request_addr(),
        SocketOptions::default(),
    );
    other.configure_recovery(
        recovery_config(),
        Some(snapshot_client(rig.venue.glimpse_addr())),
    );
    let mut other_feed = feed(3, None);
    for _ in 0..STEPS_MAX {
        let now_ns = rig.now_ns;
        other.poll(&mut other_feed, &mut || now_ns, |_, _, _| {});
        rig.step();
        if !other.is_recovering() && !rig.receiver.is_recovering() {
            break;
        }
    }
    assert!(!other.is_recovering() && !rig.receiver.is_recovering());
    rig.venue.assert_books_equal(&rig.feed);
    rig.venue.assert_books_equal(&other_feed);
    let server = *rig.venue.glimpse.stats();
    assert_eq!((server.logins_accepted, server.snapshots_sent), (2, 2));
}

// The server refuses a wrong password with Login Rejected, and closes a
// connection that never logs in once its login deadline passes.
#[test]
fn snapshot_server_rejects_bad_logins_and_idle_connections() {
    let mut server = GlimpseServer::bind(GlimpseServerConfig {
        bind_addr: loopback(),
        session: SESSION,
        credentials: Credentials::new("user", "right"),
        instruments: Vec::new(),
        clients_max: 2,
        login_timeout_ns: 1_000,
        idle_timeout_ns: 1_000,
    })
    .unwrap();
    let addr = server.local_addr().unwrap();
    let no_orders = |_: usize, _: &mut dyn FnMut(SnapshotOrder)| {};
    let mut wrong = std::net::TcpStream::connect(addr).unwrap();
    let idle = std::net::TcpStream::connect(addr).unwrap();
    let mut login = Vec::new();
    SoupPacket::LoginRequest(LoginRequest {
        credentials: Credentials::new("user", "wrong").unwrap(),
        requested_session: Session([b' '; 10]),
        requested_sequence_number: 1,
    })
    .encode(&mut login);
    wrong.write_all(&login).unwrap();
    let mut now_ns = 0;
    while server.stats().logins_rejected == 0 {
        server.poll(now_ns, 1, &no_orders);
        assert!(now_ns < 500, "login not read");
        now_ns += 1;
    }
    let mut reply = [0u8; 4];
    wrong.read_exact(&mut reply).unwrap();
    assert_eq!(
        SoupPacket::parse(&reply[2..]),
        Ok(SoupPacket::LoginRejected {
            reason: LoginRejectReason::NotAuthorized
        })
    );
    server.poll(2_000, 1, &no_orders);
    assert_eq!(server.client_count(), 0);
    assert_eq!(server.stats().timeouts, 1, "{:?}", server.stats());
    drop(idle);
}
