//! The late join: an engine's ITCH source binding the feed of a venue
//! that has been moving for a while, timed from the bind to every book
//! fresh (its feed health: no book stale, and a GLIMPSE snapshot applied).
//!
//! One venue per rate, moving from the start (`hold_market` off) and
//! publishing to a loopback port nobody reads until the join; each join
//! binds a new source there (the receiver's first datagram is far ahead of
//! sequence 1, so it loads a snapshot while it buffers the live feed),
//! polls it on this thread (sleeping 20 µs when a poll brings nothing)
//! until the books are fresh, and drops it; the venue keeps moving between
//! joins. Owning thread: the bench thread (the venue runs on its own).

use crate::venue::{loopback, Venue};
use anyhow::{ensure, Context, Result};
use genesis_engine::adapters::itch_source::ItchSource;
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::ingest::Source;
use genesis_engine::telemetry::feed_health::{FeedCounter, FeedHealth};
use genesis_perf::latency::{histogram, Summary};
use genesis_sim::ItchPorts;
use std::time::{Duration, Instant};

/// Longest a join may take before the case fails.
const JOIN_DEADLINE: Duration = Duration::from_secs(30);

/// The figures of one rate's joins.
pub struct JoinCase {
    pub rate: u64,
    /// Walk updates per second the venue achieved over the case.
    pub achieved_per_second: f64,
    /// Bind to every book fresh.
    pub join: Summary,
    /// Messages recovered by retransmission during the joins (the join
    /// itself is healed by the snapshot; small gaps in the buffered live
    /// feed may still go through the request port).
    pub messages_retransmitted: u64,
}

/// Runs `joins` late joins against a venue at `rate`, each after the
/// venue has moved for `warm_up`.
pub fn run(rate: u64, joins: usize, warm_up: Duration) -> Result<JoinCase> {
    let feed_port = std::net::UdpSocket::bind(loopback(0))?.local_addr()?.port();
    let venue_config = Config::parse(
        &format!("[market_data]\nsource = \"itch-sim\"\nrate_per_sec = {rate}\n"),
        "md_recovery venue",
    )?;
    let ports = ItchPorts::bind(
        &genesis_cli::sim_glue::sim_config(&venue_config),
        loopback(0),
        loopback(0),
    )
    .map_err(|e| anyhow::anyhow!("ITCH request port and snapshot server: {e}"))?;
    let config = Config::parse(
        &format!(
            "[market_data]\nsource = \"itch\"\nrate_per_sec = {rate}\n[market_data.itch]\n\
             feed_bind = \"127.0.0.1:{feed_port}\"\nrequest_server = \"{}\"\nsnapshot_server = \"{}\"\n\
             [metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n",
            ports.request_addr, ports.snapshot_addr
        ),
        "md_recovery late join",
    )?;
    let venue = Venue::start(&venue_config, ports, loopback(feed_port), false)?;
    let started = venue.moves();
    let mut samples = histogram();
    let mut messages_retransmitted = 0;
    for _ in 0..joins {
        std::thread::sleep(warm_up);
        let (elapsed, retransmitted) = join_once(&config)?;
        samples.saturating_record(elapsed.as_nanos() as u64);
        messages_retransmitted += retransmitted;
    }
    let achieved_per_second = venue.moves().rate_since(started);
    Ok(JoinCase {
        rate,
        achieved_per_second,
        join: Summary::of(&samples),
        messages_retransmitted,
    })
}

/// One join: bind, poll until every book is fresh after a snapshot; the
/// time that took and the messages retransmitted meanwhile.
fn join_once(config: &Config) -> Result<(Duration, u64)> {
    let clock = EpochClock::new();
    let started = Instant::now();
    let mut source = ItchSource::bind_external(config).map_err(anyhow::Error::msg)?;
    let health = source
        .feed_health()
        .context("the ITCH source keeps feed health")?;
    while !fresh_after_snapshot(&health) {
        ensure!(
            started.elapsed() < JOIN_DEADLINE,
            "no fresh books {JOIN_DEADLINE:?} after joining"
        );
        if source.poll(&clock, 256, &mut |_| {}) == 0 {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    let elapsed = started.elapsed();
    Ok((
        elapsed,
        health.load(0).get(FeedCounter::RecoveredRetransmit),
    ))
}

/// A snapshot was applied and no book is stale.
fn fresh_after_snapshot(health: &FeedHealth) -> bool {
    health.load(0).get(FeedCounter::SnapshotsApplied) >= 1
        && (0..health.rows().len())
            .filter(|row| health.rows()[*row].is_book)
            .all(|row| !health.load(row).stale)
}
