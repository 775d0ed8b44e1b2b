//! Market data over sockets when datagrams go missing. The in-process
//! simulated venue publishes ITCH 5.0 in MoldUDP64 over UDP loopback and
//! loses packets on purpose (every 100th, `sim_drop_every`, or a seeded
//! 10 %, `sim_loss_ppm`); or a
//! standalone `genesis venue-sim` feeds an engine whose 4 KiB receive
//! buffer overflows while the engine's process is stopped. In each case
//! the engine sees the gaps, marks every book stale (journaled with
//! FLAG_STALE), accepts no order on a stale book, heals the gaps (through
//! the request port, or from a GLIMPSE snapshot when a gap is large), keeps
//! journaling market data throughout, and its books return to fresh.
//!
//! Each run waits on conditions, never on time: first that the feed has
//! healed a number of gaps (scraped from `/metrics`), then that more market
//! data, a fresh top of every book and a fill reach the journal after that.
//! The kernel's drops are caused, not hoped for: the engine is stopped
//! until `/proc/net/udp` shows them, so they happen however fast the host.

mod common;
#[path = "support/market_data.rs"]
mod market_data;

use common::process::{journal_events, scrape};
use genesis_engine::event::{EventKind, Input, FLAG_STALE};
use market_data::{
    all_books, assert_no_order_on_a_stale_book, feed_metric, longest_silence_ns,
    promtool_check_feed_series, recoveries_per_instrument, start_engine,
    start_engine_with_topology, udp_drops, EngineRun, Venue,
};
use std::collections::HashMap;

/// The built-in config's four instruments.
const BOOKS: [u16; 4] = [0, 1, 2, 3];

/// Runs the in-process venue with `market_data` settings until `gaps_min`
/// gaps were healed, then [`after_the_gaps`].
fn lossy_run(name: &str, market_data: &str, gaps_min: f64) {
    const SOURCE: &str = "itch-sim";
    let dir = tempfile::tempdir().unwrap();
    let mut run = start_engine_with_topology(dir.path(), name, "", market_data);
    let healed = run.wait_metrics(&format!("{gaps_min} gaps healed"), |m| {
        feed_metric(m, "gaps_total", SOURCE, "all") >= gaps_min
            && feed_metric(m, "resyncs_total", SOURCE, "all") >= gaps_min
    });
    after_the_gaps(run, SOURCE, &healed);
}

/// Once gaps were healed (`healed`: that scrape): lints the feed series,
/// waits until 2,000 more market-data events, a fresh top of every book
/// and a fill are journaled, stops the engine and checks the journal and
/// the summary.
fn after_the_gaps(mut run: EngineRun, source: &str, healed: &HashMap<String, f64>) {
    let name = run.name.clone();
    promtool_check_feed_series(&scrape(run.metrics_port).expect("a scrape"));
    let from = journal_events(&run.journal).len();
    run.wait_fresh_market_data(
        "market data after the gaps, with a fresh top of every book",
        from,
        2_000,
        &BOOKS,
    );
    let journal = run.journal.clone();
    run.wait("a fill after the gaps: the engine keeps trading", || {
        journal_events(&journal)
            .get(from..)
            .unwrap_or_default()
            .iter()
            .any(|e| e.kind == EventKind::Fill)
    });
    // The feed socket's datagrams carry the kernel's receive stamps.
    let log = run.log();
    assert!(
        log.lines()
            .any(|l| l.contains("kernel receive stamps on") && l.contains("feed")),
        "{name}: {}",
        run.log_tail()
    );
    let (summary, events) = run.stop();

    let tops: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::TopOfBook)
        .collect();
    let stale = tops.iter().filter(|e| e.flags & FLAG_STALE != 0).count();
    assert!(stale > 0, "{name}: gaps made books stale (journaled so)");
    let recoveries = recoveries_per_instrument(&events, BOOKS.len());
    assert!(
        recoveries.iter().all(|r| *r > 0),
        "{name}: every book went from stale back to fresh: {recoveries:?}"
    );
    assert_no_order_on_a_stale_book(&events);
    let silence_ns = longest_silence_ns(&events);
    assert!(
        silence_ns < 10_000_000_000,
        "{name}: market data was never missing from the journal for long: {silence_ns} ns"
    );
    assert_trades_near_the_touch(&name, &events);
    let feed = &summary["market_data"]["rows"][0];
    assert!(
        feed["gaps_total"].as_f64().unwrap() >= feed_metric(healed, "gaps_total", source, "all"),
        "{name}: {summary}"
    );
    assert!(
        summary["fills"].as_u64().unwrap() > 0,
        "{name}: traded: {summary}"
    );
    assert!(
        feed["messages_recovered_total"].as_f64().unwrap() > 0.0,
        "{name}: healed through the request port: {summary}"
    );
    if let Some(venue) = summary.get("venue_sim") {
        assert!(
            venue["itch_packets_dropped"].as_u64().unwrap() > 0,
            "{name}: {summary}"
        );
    }
    eprintln!(
        "{name}: {} records, {stale} stale tops, recoveries per book {recoveries:?}; {}",
        events.len(),
        summary["market_data"]
    );
}

/// The venue's executions arrive as trades at the resting order's price,
/// within the touch seen just before (when that touch was fresh).
fn assert_trades_near_the_touch(name: &str, events: &[genesis_engine::event::Event]) {
    let mut touch = [(0i64, 0i64, false); 16];
    let mut trades = 0;
    for event in events {
        match event.input() {
            Input::TopOfBook(t) => {
                touch[event.instrument.index()] =
                    (t.bid_px.0, t.ask_px.0, event.flags & FLAG_STALE == 0)
            }
            Input::Trade(t) => {
                trades += 1;
                assert!(t.qty.0 > 0 && t.price.0 > 0, "{name}: {t:?}");
                let (bid, ask, fresh) = touch[event.instrument.index()];
                if fresh && bid > 0 && event.flags & FLAG_STALE == 0 {
                    assert!(
                        t.price.0 >= bid - 50 && t.price.0 <= ask + 50,
                        "{name}: trade {t:?} far from the touch {bid}/{ask}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(
        trades > 100,
        "{name}: executions printed as trades: {trades}"
    );
}

// Every hundredth packet lost (a deterministic set): small gaps, each
// healed through the request port, books fresh again.
#[test]
fn every_hundredth_packet_lost_heals_and_books_return_to_fresh() {
    lossy_run(
        "drop-every-100",
        "[market_data]\nsource = \"itch-sim\"\nrate_per_sec = 20000\nsim_drop_every = 100",
        20.0,
    );
}

// One packet in ten lost: gaps overlap, and still every book heals.
#[test]
fn ten_percent_loss_heals_and_books_return_to_fresh() {
    lossy_run(
        "loss-10pct",
        "[market_data]\nsource = \"itch-sim\"\nrate_per_sec = 20000\nsim_loss_ppm = 100000",
        50.0,
    );
}

// A 4 KiB receive buffer, overflowed three times: a standalone venue
// feeds the engine 2,000 updates/s; each time the engine's process is
// stopped until the kernel has dropped datagrams on its full feed socket,
// then goes on, finds the gap and heals it before the next stop.
#[test]
fn small_receive_buffer_heals_and_books_return_to_fresh() {
    const SOURCE: &str = "itch";
    const STOPS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let venue = Venue::start(2_000);
    let mut run = start_engine(
        dir.path(),
        "rcvbuf-4k",
        &format!(
            "{}[market_data.socket]\nrecv_buffer_bytes = 4096\n{}",
            venue.market_data(venue.snapshot_port),
            venue.fix_section()
        ),
    );
    let fresh = |m: &HashMap<String, f64>| all_books(m, SOURCE, 0.0);
    let mut healed = run.wait_metrics("every book fresh", fresh);
    for stop in 1..=STOPS {
        let resyncs = feed_metric(&healed, "resyncs_total", SOURCE, "all");
        let gaps = feed_metric(&healed, "gaps_total", SOURCE, "all");
        let drops = udp_drops(venue.feed_port).expect("the engine's feed socket");
        run.pause();
        run.wait(&format!("stop {stop}: the kernel drops datagrams"), || {
            udp_drops(venue.feed_port).is_some_and(|now| now > drops)
        });
        run.resume();
        healed = run.wait_metrics(&format!("stop {stop}: the gap seen and healed"), |m| {
            feed_metric(m, "gaps_total", SOURCE, "all") > gaps
                && feed_metric(m, "resyncs_total", SOURCE, "all") > resyncs
                && fresh(m)
        });
    }
    after_the_gaps(run, SOURCE, &healed);
    venue.stop();
}
