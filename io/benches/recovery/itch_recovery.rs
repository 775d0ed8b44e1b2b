//! Time from gap detection to a recovered book (every book fresh again,
//! caught up with the live feed), over loopback sockets, with the feed
//! running at 100k and 400k messages/s: one packet lost on purpose per
//! sample, healed either by retransmission (request port) or by a GLIMPSE
//! snapshot plus the buffered datagrams (the snapshot threshold set to 0).
//!
//! Two threads: the venue (three matching books of ~2k resting orders, the
//! MoldUDP64 publisher paced to the rate, request port, GLIMPSE server),
//! sleeping 20 µs between rounds; and the receiver on the bench thread,
//! polling through the reactor in `PollMode::Wait` (it sleeps until a
//! datagram arrives or 1 ms passes; a spinning prod loop recovers sooner).
//! The figure is the receiver's own `recovery_last_ns` (poll that saw the
//! gap to poll that caught up). Criterion reports the mean per sample;
//! p50/p99/max of all samples are printed at the end of each case.
//!
//! Included by `md_decode.rs` (one bench target, so no manifest change).

#[path = "../../tests/support/itch_venue.rs"]
mod itch_venue;

use criterion::Criterion;
use genesis_io::itch::{ItchFeed, ItchFeedConfig, RecoveryConfig, StockSymbol};
use genesis_io::net::{
    MoldReceiver, MoldReceiverConfig, PollMode, Reactor, SocketOptions, SoupClientConfig,
};
use itch_venue::{snapshot_client, symbols, Venue, VenueConfig};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const INSTRUMENTS: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Retransmission,
    Snapshot,
}

/// The venue thread: trades at `rate` messages/s, loses one packet when
/// asked, serves requests and snapshots.
fn run_venue(mut venue: Venue, rate: u64, lose: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    let started = Instant::now();
    let first = venue.publisher.next_sequence();
    while !stop.load(Ordering::Relaxed) {
        if lose.swap(false, Ordering::Relaxed) {
            let dropped = venue.publisher.stats().packets_dropped;
            venue.loss_per_mille = 1_000;
            while venue.publisher.stats().packets_dropped == dropped {
                venue.trade_batch(1);
            }
            venue.loss_per_mille = 0;
        }
        let elapsed_ns = started.elapsed().as_nanos() as u64;
        let due = first + rate * elapsed_ns / 1_000_000_000;
        // At most 1 ms of messages per round, so requests and snapshot
        // logins are always served soon.
        for _ in 0..rate / 1_000 / 8 {
            if venue.publisher.next_sequence() >= due {
                break;
            }
            venue.trade_batch(8);
        }
        venue.serve(elapsed_ns);
        std::thread::sleep(Duration::from_micros(20));
    }
}

struct Rig {
    receiver: MoldReceiver,
    feed: ItchFeed,
    reactor: Reactor,
    started: Instant,
    lose: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    venue: Option<JoinHandle<()>>,
}

impl Rig {
    fn start(rate: u64, mode: Mode) -> Rig {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let probe = std::net::UdpSocket::bind(loopback).unwrap();
        let feed_addr = probe.local_addr().unwrap();
        drop(probe);
        let mut venue = Venue::new(
            VenueConfig {
                instrument_count: INSTRUMENTS,
                store_capacity: 1 << 20,
                seed: 1,
                loss_per_mille: 0,
                glimpse_addr: loopback,
            },
            feed_addr,
        );
        let mut receiver = MoldReceiver::bind(MoldReceiverConfig {
            feed_bind_addr: feed_addr,
            request_bind_addr: loopback,
            request_server_addr: venue.request_addr(),
            options: SocketOptions {
                busy_poll_us: None,
                recv_buffer_bytes: Some(8 << 20),
                tcp_nodelay: true,
            },
            datagrams_per_poll_max: 64,
        })
        .unwrap();
        let recovery = RecoveryConfig {
            snapshot_gap_messages_min: match mode {
                Mode::Retransmission => u64::MAX,
                Mode::Snapshot => 0,
            },
            ..RecoveryConfig::default()
        };
        receiver.configure_recovery(recovery, Some(snapshot_client_bench(venue.glimpse_addr())));
        let reactor = Reactor::new(
            PollMode::Wait {
                timeout: Duration::from_millis(1),
            },
            64,
        )
        .unwrap();
        receiver
            .register(reactor.registry(), mio::Token(0), mio::Token(1))
            .unwrap();
        venue.open_session();
        let lose = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (lose_venue, stop_venue) = (lose.clone(), stop.clone());
        let handle = std::thread::spawn(move || run_venue(venue, rate, lose_venue, stop_venue));
        let mut rig = Rig {
            receiver,
            feed: new_feed(),
            reactor,
            started: Instant::now(),
            lose,
            stop,
            venue: Some(handle),
        };
        // Let the books fill before measuring.
        rig.run_for(Duration::from_millis(300));
        rig
    }

    fn poll(&mut self) {
        self.reactor.poll().unwrap();
        let started = self.started;
        let mut clock = move || started.elapsed().as_nanos() as u64;
        self.receiver.poll(&mut self.feed, &mut clock, |_, _, _| {});
    }

    fn run_for(&mut self, duration: Duration) {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            self.poll();
        }
    }

    /// Lose one packet and return how long the receiver took to recover.
    fn one_gap(&mut self) -> u64 {
        let resyncs = self.receiver.recovery_stats().resyncs;
        self.lose.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.receiver.recovery_stats().resyncs == resyncs || self.receiver.is_recovering() {
            assert!(
                Instant::now() < deadline,
                "no recovery: {:?}",
                self.receiver.recovery_stats()
            );
            self.poll();
        }
        let recovery_ns = self.receiver.recovery_stats().recovery_last_ns;
        // Back to a steady stream before the next loss.
        self.run_for(Duration::from_millis(2));
        recovery_ns
    }

    fn stop(mut self) -> genesis_io::itch::RecoveryStats {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.venue.take() {
            handle.join().unwrap();
        }
        *self.receiver.recovery_stats()
    }
}

/// The test rig's snapshot session, with deadlines for a real clock.
fn snapshot_client_bench(server_addr: SocketAddr) -> SoupClientConfig {
    SoupClientConfig {
        connect_timeout_ns: 1_000_000_000,
        idle_timeout_ns: 1_000_000_000,
        heartbeat_interval_ns: 1_000_000_000,
        read_bytes_per_poll_max: 256 * 1024,
        ..snapshot_client(server_addr)
    }
}

fn new_feed() -> ItchFeed {
    let symbols: Vec<StockSymbol> = symbols(INSTRUMENTS);
    ItchFeed::new(ItchFeedConfig {
        symbols,
        orders_max: 16_384,
        levels_max: 512,
        next_sequence: Some(1),
        request_retry_ns: 20_000_000,
        request_count_max: 512,
    })
}

fn percentile_ns(sorted: &[u64], quantile: f64) -> u64 {
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Gap detection to recovered book, per mode and rate.
pub fn bench_recovery(c: &mut Criterion) {
    let mut group = c.benchmark_group("itch_recovery");
    group.sample_size(20);
    for rate in [100_000u64, 400_000] {
        for mode in [Mode::Retransmission, Mode::Snapshot] {
            let mut rig = Rig::start(rate, mode);
            let mut samples = Vec::new();
            let name = format!("{mode:?}/{}k_msgs_per_s", rate / 1_000);
            group.bench_function(&name, |b| {
                b.iter_custom(|iters| {
                    let mut total_ns = 0;
                    for _ in 0..iters {
                        let ns = rig.one_gap();
                        samples.push(ns);
                        total_ns += ns;
                    }
                    Duration::from_nanos(total_ns)
                })
            });
            let stats = rig.stop();
            samples.sort_unstable();
            if !samples.is_empty() {
                eprintln!(
                    "itch_recovery/{name}: {} gaps, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs \
                     (snapshots applied {}, failed {}, gaps {}, resyncs {})",
                    samples.len(),
                    percentile_ns(&samples, 0.50) as f64 / 1e3,
                    percentile_ns(&samples, 0.99) as f64 / 1e3,
                    *samples.last().unwrap() as f64 / 1e3,
                    stats.snapshots_applied,
                    stats.snapshots_failed,
                    stats.gaps,
                    stats.resyncs,
                );
            }
        }
    }
    group.finish();
}
