//! An engine joining a feed that is already moving: a standalone `genesis
//! venue-sim` is offered 400k updates/s (its banner says so; a debug build
//! on a shared host reaches less, which is why nothing here is timed) and
//! runs its market from the start; once its MoldUDP64 stream is past
//! sequence 100,000, an engine in another process binds the feed port. Its
//! first datagram is far ahead of sequence 1, so it loads a GLIMPSE
//! snapshot over SoupBinTCP while buffering the live feed, applies what it
//! buffered, and its books are fresh. Asserted, on conditions and never on
//! time: the join is healed by the snapshot (when every book first reads
//! fresh a snapshot was applied, and retransmission had recovered only a
//! small part of the messages the engine missed before it joined); every
//! book turns fresh; orders follow (fills over FIX, none accepted on a
//! stale book); and market data keeps being journaled after the orders,
//! with a fresh top of every book, and no silence once the join healed:
//! from the record by which every book had read fresh on, the kernel's
//! receive stamps of the journaled market data leave no hole longer than
//! the venue (offered 400k updates/s, a heartbeat every 100 ms) could be
//! quiet, which neither the engine's speed nor the host's load can open
//! (the kernel stamps arrival; what arrives is journaled however late it
//! is read), only data the engine lost. The join itself, which a loaded
//! host lengthens, is not timed: its healing is asserted by the snapshot. How long the join takes is a figure, not a test:
//! `cargo run --release -p genesis-perf --bin md_recovery` (late join).
//!
//! And a late joiner whose snapshot server is down: its attempts fail, are
//! retried with backoff, counted and alerted, its books stay stale, until
//! the server is reachable (a forwarder the test opens) and a snapshot loads.

#![allow(clippy::disallowed_methods)] // deadlines are wall-clock

mod common;
#[path = "support/market_data.rs"]
mod market_data;

use common::process::free_port;
use genesis_engine::event::EventKind;
use market_data::{
    all_books, assert_no_order_on_a_stale_book, feed_metric, first_all_fresh, longest_silence_ns,
    start_engine, Venue, DEADLINE,
};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// Listens on the feed port until a datagram past `sequence_min` arrives
/// (MoldUDP64: session, then the sequence number big-endian at byte 10).
fn wait_for_sequence(feed_port: u16, sequence_min: u64) -> u64 {
    let probe = std::net::UdpSocket::bind(("127.0.0.1", feed_port)).unwrap();
    probe
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut datagram = [0u8; 2048];
    loop {
        assert!(
            Instant::now() < deadline,
            "the feed never passed {sequence_min}"
        );
        let Ok(length) = probe.recv(&mut datagram) else {
            continue;
        };
        if length < 20 {
            continue;
        }
        let sequence = u64::from_be_bytes(datagram[10..18].try_into().unwrap());
        if sequence >= sequence_min {
            return sequence;
        }
    }
}

/// Forwards every connection to `listener` on to `target`, both ways.
fn forward(listener: TcpListener, target: u16) {
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut client_in, mut server_in) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut client_out, mut server_out) = (client, server);
            std::thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
            std::thread::spawn(move || std::io::copy(&mut server_in, &mut client_out));
        }
    });
}

#[test]
fn an_engine_joining_a_moving_venue_catches_up_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let venue = Venue::start(400_000);
    let sequence_seen = wait_for_sequence(venue.feed_port, 100_000);

    let mut run = start_engine(
        dir.path(),
        "late-joiner",
        &format!(
            "{}{}",
            venue.market_data(venue.snapshot_port),
            venue.fix_section()
        ),
    );
    // Healed by the snapshot: by the time every book first reads fresh, a
    // snapshot was applied, and retransmission had recovered far fewer
    // messages than the engine missed before it joined (small gaps in the
    // buffered live feed may still go through the request port).
    let fresh = run.wait_metrics("every book fresh after a snapshot", |m| {
        feed_metric(m, "snapshots_applied_total", "itch", "all") >= 1.0 && all_books(m, "itch", 0.0)
    });
    let retransmitted = feed_metric(&fresh, "messages_recovered_total", "itch", "all");
    assert!(
        retransmitted < sequence_seen as f64 / 2.0,
        "the join was healed by the snapshot, not by retransmitting the {sequence_seen} \
         messages before it: {retransmitted} retransmitted"
    );
    // Logged once: the first snapshot, or (an attempt before it failed,
    // as a loaded host's buffer overflowing during the load makes it) the
    // first after failures.
    let log = run.log();
    assert!(
        log.contains("the books were rebuilt from a GLIMPSE snapshot")
            || log.contains("a GLIMPSE snapshot applied after failures"),
        "{}",
        run.log_tail()
    );
    run.wait_fresh_market_data("fresh tops and trades", 0, 2_000, &[0, 1, 2, 3]);
    let journal = run.journal.clone();
    let mut first_fill = 0;
    run.wait("fills over FIX", || {
        let events = common::process::journal_events(&journal);
        first_fill = events
            .iter()
            .position(|e| e.kind == EventKind::Fill)
            .unwrap_or(0);
        first_fill > 0
    });
    run.wait_fresh_market_data(
        "market data after the orders, with a fresh top of every book",
        first_fill,
        2_000,
        &[0, 1, 2, 3],
    );
    let (summary, events) = run.stop();

    let trades = events.iter().filter(|e| e.kind == EventKind::Trade).count();
    assert!(trades > 100, "the venue's trades are journaled: {trades}");
    assert_no_order_on_a_stale_book(&events);
    let joined = first_all_fresh(&events, &[0, 1, 2, 3]);
    assert!(joined < events.len(), "every book read fresh once");
    let silence_ns = longest_silence_ns(&events[joined..]);
    assert!(
        silence_ns < 10_000_000_000,
        "market data was never missing from the journal once joined: {silence_ns} ns"
    );
    let feed = &summary["market_data"]["rows"][0];
    assert!(
        feed["snapshots_applied_total"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    eprintln!(
        "late join: feed at sequence {sequence_seen} when the engine started; {} records, \
         {trades} trades, {} fills; feed {feed}",
        events.len(),
        summary["fills"],
    );

    let totals = venue.stop();
    assert!(!totals.contains(" 0 GLIMPSE snapshots"), "{totals}");
}

// A late joiner whose snapshot server is down: every attempt fails (the
// connection is refused), is retried with backoff and counted; the books
// stay stale (gauge 1) and the snapshot_failing and book_stale alerts are
// raised. Once the server is reachable the next attempt loads the books,
// the gauges fall to 0 and both alerts clear.
#[test]
fn failed_snapshots_are_retried_counted_and_alerted_until_one_loads() {
    let dir = tempfile::tempdir().unwrap();
    let venue = Venue::start(20_000);
    wait_for_sequence(venue.feed_port, 10_000);
    let down_port = free_port();
    let mut run = start_engine(
        dir.path(),
        "snapshot-down",
        &format!(
            "{}[venue]\nkind = \"paper\"\n[alerts]\nbook_stale_max_ms = 100\n",
            venue.market_data(down_port)
        ),
    );
    run.wait_metrics(
        "failed snapshots counted, stale books, both alerts raised",
        |m| {
            feed_metric(m, "snapshots_failed_total", "itch", "all") >= 3.0
                && all_books(m, "itch", 1.0)
                && m.contains_key("genesis_alert{alert=\"snapshot_failing\"}")
                && m.contains_key("genesis_alert{alert=\"book_stale\"}")
        },
    );
    assert!(
        run.log().contains("a GLIMPSE snapshot failed"),
        "{}",
        run.log_tail()
    );
    forward(
        TcpListener::bind(("127.0.0.1", down_port)).unwrap(),
        venue.snapshot_port,
    );
    run.wait_metrics("a snapshot applied, fresh books, alerts cleared", |m| {
        feed_metric(m, "snapshots_applied_total", "itch", "all") >= 1.0
            && all_books(m, "itch", 0.0)
            && !m.contains_key("genesis_alert{alert=\"snapshot_failing\"}")
            && !m.contains_key("genesis_alert{alert=\"book_stale\"}")
    });
    let log = run.log();
    assert!(
        log.contains("a GLIMPSE snapshot applied after failures"),
        "{log}"
    );
    run.stop();
    venue.stop();
}
