//! Measures what the Binance feed's receive path allocates per message
//! over `wss://` against plain `ws://`, with the same Python server
//! (`tests/peers/binance_server.py`) and the same traffic.
//!
//! Plain `ws://` must allocate nothing after warm-up (as
//! `net_ws_alloc.rs` proves against the in-process server). Under TLS,
//! rustls's buffered connection copies each decrypted record into a new
//! `Vec`, so the figure is about one allocation per TLS record; the test
//! bounds it (at most one per message, plus a little slack for rustls's
//! record queue) and prints it, so a change either way is seen.
//!
//! Counting covers only the feed's polls on this thread (the commands to
//! the server and its replies are not counted). Under `CI=true` a missing
//! `python3` or `websockets` fails the test; elsewhere it is skipped.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, COUNTING};

#[path = "support/binance_peer.rs"]
mod binance_peer;
use binance_peer::{make_tls_files, python_ready, Rig, TlsFiles};

use genesis_io::binance::SyncOutcome;
use genesis_io::net::MarketUpdate;
use std::cell::Cell;
use std::time::{Duration, Instant};

const PATH: &str = "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker";

/// Sync, warm up, then count allocations in the feed's polls while the
/// server sends `rounds` bursts of four diffs; returns (allocations, diffs).
fn measure(tls: Option<&TlsFiles>, rounds: u32) -> (u64, u64) {
    let mut rig = Rig::new(tls, PATH);
    rig.sync_up("the first sync");
    let mut diffs = 0u64;
    let mut other = 0u64;
    let mut allocations = 0u64;
    for round in 0..rounds + 50 {
        let counted = round >= 50;
        rig.diff(4);
        let deadline = Instant::now() + Duration::from_secs(20);
        while rig.feed.sync(0).unwrap().last_update_id() != rig.server_id {
            assert!(
                Instant::now() < deadline,
                "diffs did not arrive: {:?}",
                rig.feed.stats()
            );
            let started = rig.started;
            let mut clock = move || started.elapsed().as_nanos() as u64;
            ALLOCATIONS.with(|n| n.set(0));
            COUNTING.with(|c| c.set(counted));
            rig.feed.poll(&mut clock, |update| match update {
                MarketUpdate::Depth {
                    outcome: SyncOutcome::Applied,
                    ..
                } => diffs += u64::from(counted),
                _ => other += 1,
            });
            COUNTING.with(|c| c.set(false));
            allocations += ALLOCATIONS.with(Cell::get);
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    assert_eq!(other, 0, "no resync, disconnect or stray update");
    assert_eq!(rig.feed.ws_stats().connects_opened, 1);
    (allocations, diffs)
}

// Plain ws:// allocates nothing per message; wss:// about one allocation
// per TLS record, at most one per message.
#[test]
fn tls_receive_path_allocations_per_message() {
    if !python_ready() {
        return;
    }
    let (plain, plain_diffs) = measure(None, 200);
    let files = make_tls_files();
    let (tls, tls_diffs) = measure(Some(&files), 200);
    eprintln!(
        "receive path: ws:// {plain} allocations over {plain_diffs} diffs; \
         wss:// {tls} over {tls_diffs} ({:.3} per message)",
        tls as f64 / tls_diffs as f64
    );
    assert_eq!(plain, 0, "plain ws:// allocates nothing after warm-up");
    assert!(
        tls <= tls_diffs + 16,
        "wss:// allocates at most about one per message: {tls} over {tls_diffs}"
    );
}
