//! The hardware floor, measured in the same run as the pipelines: a cache
//! line bounced between two pinned, spinning threads (the least any
//! inter-core hop can cost), and a loopback TCP round trip (what the same hop
//! costs through the kernel's network stack).
//!
//! The ping-pong runs exactly two spinning threads, one per core, and nothing
//! else of the harness runs meanwhile. So does the paired ring hop
//! ([`paired_ring_hops`]): the engine's ring type on the same pinned pair,
//! with the same spin and one event in flight, each repeat right after a
//! round trip, so a hop ÷ round trip ratio compares like with like.

use crate::latency::{histogram, Summary};
use anyhow::{anyhow, Result};
use genesis_engine::clock::EpochClock;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One round trip's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundTrip {
    /// Median over batches of round trips timed as a whole (no clock read
    /// inside a batch) of the batch's mean: robust to the odd preemption.
    pub untimed_ns: f64,
    /// Each round trip timed on its own (includes two clock reads).
    pub timed: Summary,
}

impl RoundTrip {
    pub fn to_json(self) -> Value {
        json!({"untimed_ns": self.untimed_ns, "timed": self.timed.to_json()})
    }
}

/// A counter alone on its cache line (and the adjacent-line prefetcher's).
#[repr(align(128))]
struct Line(AtomicU64);

/// Round trips per untimed batch.
const PING_PONG_BATCH: u64 = 256;
const TCP_BATCH: u64 = 16;

/// Runs `round_trips` calls of `once` in batches of `batch`, timing each
/// batch as a whole; returns the median batch's time per call.
fn median_batch_ns(
    clock: &EpochClock,
    round_trips: u64,
    batch: u64,
    mut once: impl FnMut(),
) -> f64 {
    let mut per_call_ns: Vec<f64> = (0..(round_trips / batch).max(1))
        .map(|_| {
            let start = clock.raw();
            for _ in 0..batch {
                once();
            }
            clock.delta_ns(start, clock.raw()) as f64 / batch as f64
        })
        .collect();
    per_call_ns.sort_by(f64::total_cmp);
    per_call_ns[per_call_ns.len() / 2]
}

/// Sent by the ping side to end the pong thread.
const STOP: u64 = u64::MAX;

fn pin(core: usize) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: core });
}

/// Cache line round trip between threads pinned to cores 0 and 1.
pub fn cache_line_ping_pong(round_trips: u64) -> Result<RoundTrip> {
    let line = Arc::new(Line(AtomicU64::new(0)));
    let pong_line = Arc::clone(&line);
    let pong = std::thread::Builder::new()
        .name("floor-pong".into())
        .spawn(move || {
            pin(1);
            loop {
                let value = pong_line.0.load(Ordering::Acquire);
                if value == STOP {
                    break;
                }
                if value % 2 == 1 {
                    pong_line.0.store(value + 1, Ordering::Release);
                } else {
                    std::hint::spin_loop();
                }
            }
        })?;
    let ping = std::thread::Builder::new()
        .name("floor-ping".into())
        .spawn(move || {
            pin(0);
            let clock = EpochClock::new();
            let mut value = 0u64;
            let bounce = |value: &mut u64| {
                line.0.store(*value + 1, Ordering::Release);
                while line.0.load(Ordering::Acquire) != *value + 2 {
                    std::hint::spin_loop();
                }
                *value += 2;
            };
            for _ in 0..round_trips / 10 {
                bounce(&mut value);
            }
            let untimed_ns =
                median_batch_ns(&clock, round_trips, PING_PONG_BATCH, || bounce(&mut value));
            let mut timed = histogram();
            for _ in 0..round_trips {
                let t0 = clock.raw();
                bounce(&mut value);
                timed.saturating_record(clock.delta_ns(t0, clock.raw()).max(1));
            }
            line.0.store(STOP, Ordering::Release);
            RoundTrip {
                untimed_ns,
                timed: Summary::of(&timed),
            }
        })?;
    let result = ping.join().map_err(|_| anyhow!("ping thread panicked"))?;
    pong.join().map_err(|_| anyhow!("pong thread panicked"))?;
    Ok(result)
}

/// Cache-line round trips measured `repeats` times, `round_trips` each
/// (same pinned pair, same pause-hint spin as every row), in order. One
/// measurement moves with where the hypervisor runs the two vCPUs at that
/// moment (this VM's p50 read 60–90 ns in some runs and 230–280 ns in
/// others): a ratio against it takes [`median_by_p50`] of repeats taken
/// beside the figure it is compared with.
pub fn cache_line_ping_pong_repeats(repeats: usize, round_trips: u64) -> Result<Vec<RoundTrip>> {
    (0..repeats)
        .map(|_| cache_line_ping_pong(round_trips))
        .collect()
}

/// The repeat whose timed p50 is the median of the repeats' p50s (the
/// upper median of an even count): a real measurement, not an average.
pub fn median_by_p50(mut repeats: Vec<RoundTrip>) -> RoundTrip {
    assert!(!repeats.is_empty(), "at least one repeat");
    repeats.sort_by_key(|r| r.timed.p50_ns);
    repeats[repeats.len() / 2]
}

/// Bytes in each loopback message: about one encoded order.
const TCP_MESSAGE_BYTES: usize = 64;

/// 64-byte echo over loopback TCP with `TCP_NODELAY`, blocking sockets, threads unpinned.
pub fn loopback_tcp(round_trips: u64) -> Result<RoundTrip> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    let echo = std::thread::Builder::new()
        .name("floor-echo".into())
        .spawn(move || -> std::io::Result<()> {
            let (mut stream, _) = listener.accept()?;
            stream.set_nodelay(true)?;
            let mut buffer = [0u8; TCP_MESSAGE_BYTES];
            loop {
                if stream.read_exact(&mut buffer).is_err() {
                    return Ok(());
                }
                stream.write_all(&buffer)?;
            }
        })?;
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let clock = EpochClock::new();
    let mut buffer = [7u8; TCP_MESSAGE_BYTES];
    let mut round_trip = |buffer: &mut [u8; TCP_MESSAGE_BYTES]| -> std::io::Result<()> {
        stream.write_all(buffer)?;
        stream.read_exact(buffer)
    };
    for _ in 0..round_trips / 10 {
        round_trip(&mut buffer)?;
    }
    let mut failed = None;
    let untimed_ns = median_batch_ns(&clock, round_trips, TCP_BATCH, || {
        if let Err(err) = round_trip(&mut buffer) {
            failed.get_or_insert(err);
        }
    });
    if let Some(err) = failed {
        return Err(err.into());
    }
    let mut timed = histogram();
    for _ in 0..round_trips {
        let t0 = clock.raw();
        round_trip(&mut buffer)?;
        timed.saturating_record(clock.delta_ns(t0, clock.raw()).max(1));
    }
    drop(stream);
    echo.join().map_err(|_| anyhow!("echo thread panicked"))??;
    Ok(RoundTrip {
        untimed_ns,
        timed: Summary::of(&timed),
    })
}

/// The engine's ring slot: a 128-byte event on whole cache lines of its own.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct RingSlot(genesis_engine::event::Event);

/// Gap between a hop's pick-up and the next send: the consumer is idle
/// (spinning) when each event lands, as between events at 100 k/s.
const HOP_GAP_NS: u64 = 2_000;

/// One-way latency of `hops` events through a fresh `disruptor` ring of
/// the engine's slot type, the producer pinned to core 0 and the consumer
/// to core 1 (the round trip's pair), the consumer spinning with the pause
/// hint as `spin-hint` does. Closed loop, as the round trip is: one event
/// in flight, the next sent [`HOP_GAP_NS`] after the last was taken, so a
/// descheduled side delays one sample, not a queue of them. Timed from the
/// producer's stamp in the slot to the consumer's pick-up (one TSC).
/// Returns the p50 and p99 in ns.
pub fn ring_hop_pinned(hops: u64) -> Result<(u64, u64)> {
    use disruptor::{BusySpin, Polling, Producer};
    let empty = || RingSlot(genesis_engine::event::Event::EMPTY);
    let (mut poller, builder) =
        disruptor::build_single_producer(1 << 12, empty, BusySpin).new_event_poller();
    let clock = EpochClock::new();
    let consumer_clock = clock.clone();
    let taken = Arc::new(Line(AtomicU64::new(0)));
    let consumer_taken = Arc::clone(&taken);
    let consumer = std::thread::Builder::new()
        .name("hop-consumer".into())
        .spawn(move || {
            pin(1);
            let clock = consumer_clock;
            let mut timed = histogram();
            loop {
                match poller.take(1) {
                    Ok(mut guard) => {
                        let now = clock.raw();
                        for slot in &mut guard {
                            timed.saturating_record(clock.delta_ns(slot.0.ts_recv_ns, now).max(1));
                            consumer_taken.0.fetch_add(1, Ordering::Release);
                        }
                    }
                    Err(Polling::NoEvents) => std::hint::spin_loop(),
                    Err(Polling::Shutdown) => break,
                }
            }
            timed
        })?;
    let producer = std::thread::Builder::new()
        .name("hop-producer".into())
        .spawn(move || {
            pin(0);
            let mut producer = builder.build();
            for sent in 0..hops {
                while taken.0.load(Ordering::Acquire) < sent {
                    std::hint::spin_loop();
                }
                let due = clock.now_ns() + HOP_GAP_NS;
                while clock.now_ns() < due {
                    std::hint::spin_loop();
                }
                producer.publish(|slot| slot.0.ts_recv_ns = clock.raw());
            }
        })?;
    producer
        .join()
        .map_err(|_| anyhow!("hop producer panicked"))?;
    let timed = consumer
        .join()
        .map_err(|_| anyhow!("hop consumer panicked"))?;
    Ok((timed.value_at_quantile(0.5), timed.value_at_quantile(0.99)))
}

/// One round trip and the ring hop measured right after it.
#[derive(Clone, Copy, Debug)]
pub struct PairedHop {
    pub round_trip_p50_ns: u64,
    pub hop_p50_ns: u64,
    pub hop_p99_ns: u64,
}

impl PairedHop {
    pub fn ratio(&self) -> f64 {
        self.hop_p50_ns as f64 / self.round_trip_p50_ns.max(1) as f64
    }
}

/// Every pair, in order.
#[derive(Clone, Debug)]
pub struct PairedHops {
    pub pairs: Vec<PairedHop>,
}

/// `pairs` repeats of a cache-line round trip (`round_trips`) then a ring
/// hop ([`ring_hop_pinned`], `hops`), same pinned pair, same spin.
pub fn paired_ring_hops(pairs: usize, round_trips: u64, hops: u64) -> Result<PairedHops> {
    let pairs = (0..pairs)
        .map(|_| {
            let round_trip_p50_ns = cache_line_ping_pong(round_trips)?.timed.p50_ns;
            let (hop_p50_ns, hop_p99_ns) = ring_hop_pinned(hops)?;
            Ok(PairedHop {
                round_trip_p50_ns,
                hop_p50_ns,
                hop_p99_ns,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PairedHops { pairs })
}

/// The lowest, median (upper, for an even count) and highest hop ÷ round
/// trip ratio of the pairs.
pub fn ratio_spread(pairs: &[PairedHop]) -> (f64, f64, f64) {
    assert!(!pairs.is_empty(), "at least one pair");
    let mut ratios: Vec<f64> = pairs.iter().map(PairedHop::ratio).collect();
    ratios.sort_by(f64::total_cmp);
    (
        ratios[0],
        ratios[ratios.len() / 2],
        ratios[ratios.len() - 1],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(round_trip_p50_ns: u64, hop_p50_ns: u64) -> PairedHop {
        PairedHop {
            round_trip_p50_ns,
            hop_p50_ns,
            hop_p99_ns: hop_p50_ns * 2,
        }
    }

    // Each ratio is taken within its pair, never across pairs.
    #[test]
    fn ratios_are_taken_per_pair() {
        let pairs = [pair(50, 100), pair(250, 250), pair(100, 150)];
        assert_eq!(ratio_spread(&pairs), (1.0, 1.5, 2.0));
        assert_eq!(
            pair(0, 70).ratio(),
            70.0,
            "a zero round trip counts as 1 ns"
        );
    }
}
