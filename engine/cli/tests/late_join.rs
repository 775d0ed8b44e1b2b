//! An engine joining a feed that is already moving: a standalone `genesis
//! venue-sim` runs its market from the start at 400k updates/s (the rate
//! it is asked for; a debug build on a shared host reaches less); once its
//! MoldUDP64 stream is past sequence 100,000, an engine in another process
//! binds the feed port. Its first datagram is far ahead of sequence 1, so
//! it loads a GLIMPSE snapshot over SoupBinTCP while buffering the live
//! feed, applies what it buffered, and its books are fresh: it journals
//! fresh tops and the venue's trades, and trades itself over FIX.
//!
//! The time from the engine's start to its first fresh top is printed as a
//! figure; the test waits on conditions with a generous deadline and does
//! not assert a time.

#![allow(clippy::disallowed_methods)] // deadlines are wall-clock

mod common;
#[path = "support/market_data.rs"]
mod market_data;

use common::process::{free_port, genesis, signal};
use genesis_engine::event::{EventKind, FLAG_STALE};
use market_data::{feed_metric, is_top, start_engine, DEADLINE};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Instant;

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The child's stdout, line by line, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(DEADLINE) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?}; saw {seen:#?}"),
        }
    }
}

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

#[test]
fn an_engine_joining_a_moving_venue_catches_up_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let fix_port = free_port();
    let snapshot_port = free_port();
    let (feed_port, request_port) = (free_udp_port(), free_udp_port());
    let mut sim = genesis()
        .args(["venue-sim", "--rate", "400000", "--ws-port", "0"])
        .args(["--fix-port", &fix_port.to_string()])
        .args(["--itch-to", &format!("127.0.0.1:{feed_port}")])
        .args(["--itch-request-port", &request_port.to_string()])
        .args(["--itch-snapshot-port", &snapshot_port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut sim);
    let moving = wait_for_line(&lines, "Ctrl-C stops");
    assert!(moving.contains("the market moves from now on"), "{moving}");
    let sequence_seen = wait_for_sequence(feed_port, 100_000);

    let mut run = start_engine(
        dir.path(),
        "late-joiner",
        &format!(
            "[market_data]\nsource = \"itch\"\n[market_data.itch]\n\
             feed_bind = \"127.0.0.1:{feed_port}\"\nrequest_server = \"127.0.0.1:{request_port}\"\n\
             snapshot_server = \"127.0.0.1:{snapshot_port}\"\n\
             [venue]\nkind = \"fix\"\n[venue.fix]\nhost = \"127.0.0.1\"\nport = {fix_port}\nseq_file = \"\"\n"
        ),
    );
    let fresh = run.wait_metrics("every book fresh after a snapshot", |m| {
        feed_metric(m, "snapshots_applied_total", "itch", "all") >= 1.0
            && ["ALPHA", "BRAVO", "CHARLIE", "DELTA"].iter().all(|symbol| {
                m.contains_key(&format!(
                    "genesis_feed_book_stale{{source=\"itch\",instrument=\"{symbol}\"}}"
                )) && feed_metric(m, "book_stale", "itch", symbol) == 0.0
            })
    });
    let events = run.wait_fresh_market_data("fresh tops and trades", 0, 2_000, &[0, 1, 2, 3]);
    let first_fresh = events
        .iter()
        .find(|e| is_top(e) && e.flags & FLAG_STALE == 0)
        .expect("a fresh top");
    let joined_ms = first_fresh.ts_recv_ns.saturating_sub(run.started_unix_ns) as f64 / 1e6;
    let journal = run.journal.clone();
    run.wait("fills over FIX", || {
        common::process::journal_events(&journal)
            .iter()
            .any(|e| e.kind == EventKind::Fill)
    });
    let (summary, events) = run.stop();

    let trades = events.iter().filter(|e| e.kind == EventKind::Trade).count();
    assert!(trades > 100, "the venue's trades are journaled: {trades}");
    let feed = &summary["market_data"]["rows"][0];
    assert!(
        feed["snapshots_applied_total"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    eprintln!(
        "late join: feed at sequence {sequence_seen} when the engine started; first fresh top {joined_ms:.0} ms after the engine's start; \
         {trades} trades, {} fills; feed {feed}; scrape at fresh: snapshots applied {}",
        summary["fills"],
        feed_metric(&fresh, "snapshots_applied_total", "itch", "all")
    );

    signal(&sim, libc::SIGINT);
    let totals = wait_for_line(&lines, "GLIMPSE snapshots");
    assert!(sim.wait().unwrap().success());
    assert!(!totals.contains(" 0 GLIMPSE snapshots"), "{totals}");
}
