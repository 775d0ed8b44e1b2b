//! The engine's Binance source against a Binance-shaped server
//! (`io/tests/peers/binance_server.py`, linked from `tests/peers/` here,
//! driven by io's `tests/support/binance_peer.rs`): depth
//! snapshots over REST (`GET /api/v3/depth`), the streams over a WebSocket,
//! both in the clear and again over TLS (`wss://`, `https://`) with a test
//! CA given in `ca_file`. An engine in its own process (paper venue)
//! journals the tops; the test drives the server and reads the journal and
//! `/metrics`:
//!
//! - sync by Binance's documented rules: the snapshot is fetched only after
//!   the stream's first diff was buffered (the server counts any fetch
//!   before it), and the journaled top turns fresh;
//! - a forced gap (an update id never sent): the top is journaled stale,
//!   the book resyncs from a new snapshot, the top is fresh again;
//! - a snapshot older than the buffered diffs: refused, fetched again, fresh;
//! - a dropped connection: stale, reconnected, resynced, fresh.
//!
//! And a scrape of `/metrics` during a forced gap shows the stale gauge at
//! 1 and the `book_stale` alert raised, then both back down once the book
//! resyncs, with the alert raised and cleared in the log.

// io's test support reads the wall clock for its deadlines.
#[allow(clippy::disallowed_methods)]
#[path = "../../../io/tests/support/binance_peer.rs"]
mod binance_peer;
mod common;
#[path = "support/market_data.rs"]
mod market_data;

use binance_peer::{make_tls_files, python_ready, Peer, TlsFiles};
use common::process::{journal_events, scrape};
use genesis_engine::event::FLAG_STALE;
use market_data::{
    assert_no_order_on_a_stale_book, feed_metric, is_top, promtool_check_feed_series, start_engine,
    EngineRun,
};

const SOURCE: &str = "binance-ws";
const SYMBOL: &str = "BTCUSDT";

/// The engine's config for the server's ports: the server's instrument
/// (price step 0.01, quantity step 0.001), REST snapshots taken only once a
/// diff is buffered (the server's market moves only when the test says, so
/// the quiet-symbol fallback is pushed out of reach), fast reconnects and
/// retries, the paper venue, and a stale-book alert after 100 ms.
fn sections(peer: &Peer, tls: Option<&TlsFiles>) -> String {
    let (ws, http) = if tls.is_some() {
        ("wss", "https")
    } else {
        ("ws", "http")
    };
    let ca_file = tls.map_or(String::new(), |files| files.ca.display().to_string());
    format!(
        "[[instruments]]\nsymbol = \"{SYMBOL}\"\ntick_size = \"0.01\"\nlot_size = \"0.001\"\nstart_price_ticks = 10000\n\
         [market_data]\nsource = \"binance-ws\"\n\
         [market_data.binance]\n\
         url = \"{ws}://127.0.0.1:{}/stream?streams=btcusdt@bookTicker/btcusdt@depth@100ms\"\n\
         rest_url = \"{http}://127.0.0.1:{}\"\nca_file = \"{ca_file}\"\n\
         reconnect_initial_ms = 40\nreconnect_max_ms = 400\n\
         snapshot_backoff_initial_ms = 20\nsnapshot_backoff_max_ms = 200\n\
         snapshot_diff_wait_ms = 600000\n\
         [venue]\nkind = \"paper\"\n\
         [alerts]\nbook_stale_max_ms = 100\n",
        peer.ws_port, peer.http_port
    )
}

/// The server and the engine reading it.
struct Rig {
    peer: Peer,
    run: EngineRun,
    _tls: Option<TlsFiles>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(name: &str, tls: bool) -> Rig {
        let files = tls.then(make_tls_files);
        let peer = Peer::start(files.as_ref());
        let dir = tempfile::tempdir().unwrap();
        let run = start_engine(dir.path(), name, &sections(&peer, files.as_ref()));
        Rig {
            peer,
            run,
            _tls: files,
            _dir: dir,
        }
    }

    /// Journal records so far.
    fn mark(&self) -> usize {
        journal_events(&self.run.journal).len()
    }

    /// Waits for a top journaled after `from` with the stale flag as given;
    /// with `live`, the market moves meanwhile.
    fn wait_top(&mut self, what: &str, from: usize, stale: bool, live: bool) {
        let journal = self.run.journal.clone();
        let peer = &mut self.peer;
        self.run.wait(what, || {
            if live {
                peer.command("diff 1");
                peer.command("ticker");
            }
            journal_events(&journal)
                .get(from..)
                .unwrap_or_default()
                .iter()
                .any(|e| is_top(e) && (e.flags & FLAG_STALE != 0) == stale)
        });
    }

    fn server_stat(&mut self, name: &str) -> u64 {
        self.peer.json("stats")[name].as_u64().unwrap()
    }

    /// The top turns fresh once the book syncs by the documented procedure.
    fn sync(&mut self) {
        self.wait_top("the first fresh top", 0, false, true);
        assert!(self.server_stat("snapshots_served") >= 1);
        assert_eq!(
            self.server_stat("snapshots_before_first_diff"),
            0,
            "every snapshot was fetched after a diff was buffered (Binance's guide)"
        );
    }

    /// A diff skips an update id: stale, then fresh after the resync.
    fn gap(&mut self) {
        let mark = self.mark();
        self.peer.command("gap");
        self.wait_top("the stale top after a gap", mark, true, true);
        self.wait_top("a fresh top after the resync", mark, false, true);
    }

    /// The next snapshot predates the buffered diffs: it is refused and
    /// fetched again.
    fn old_snapshot(&mut self) {
        let served = self.server_stat("stale_snapshots_served");
        self.peer.command("stale_snapshots 1");
        self.gap();
        assert_eq!(self.server_stat("stale_snapshots_served"), served + 1);
    }

    /// The server drops the connection: stale, reconnect, fresh.
    fn drop_connection(&mut self) {
        let connections = self.server_stat("connections");
        let mark = self.mark();
        self.peer.command("drop");
        self.wait_top("the stale top after the drop", mark, true, false);
        self.wait_top("a fresh top after the reconnect", mark, false, true);
        assert!(self.server_stat("connections") > connections);
    }
}

/// Every scenario in turn, then the engine's own account of them.
fn scenarios(name: &str, tls: bool) {
    if !python_ready() {
        return;
    }
    let mut rig = Rig::start(name, tls);
    rig.sync();
    rig.gap();
    rig.old_snapshot();
    rig.drop_connection();
    let metrics = rig.run.wait_metrics("the feed's counters", |m| {
        feed_metric(m, "disconnects_total", SOURCE, "all") >= 1.0
            && feed_metric(m, "resyncs_total", SOURCE, SYMBOL) >= 2.0
            && feed_metric(m, "gaps_total", SOURCE, SYMBOL) >= 2.0
            && feed_metric(m, "book_stale", SOURCE, SYMBOL) == 0.0
    });
    let applied = feed_metric(&metrics, "snapshots_applied_total", SOURCE, SYMBOL);
    assert!(applied >= 4.0, "a snapshot per sync: {applied}");
    let Rig { run, .. } = rig;
    let (summary, events) = run.stop();
    assert_no_order_on_a_stale_book(&events);
    let last_top = events.iter().rev().find(|e| is_top(e)).unwrap();
    assert_eq!(last_top.flags & FLAG_STALE, 0, "fresh at the end");
    eprintln!("{name}: {}", summary["market_data"]);
}

#[test]
fn rest_and_websocket_sync_gap_old_snapshot_and_reconnect() {
    scenarios("binance-plain", false);
}

#[test]
fn rest_and_websocket_over_tls_sync_gap_old_snapshot_and_reconnect() {
    scenarios("binance-tls", true);
}

// A forced gap held open: every REST snapshot fails (HTTP 500) until the
// test lets them through, so the book stays stale. A scrape then shows the
// stale gauge at 1, the failures counted, and the book_stale and
// snapshot_failing alerts raised; once snapshots succeed the book resyncs,
// the gauge reads 0 and both alerts clear.
#[test]
fn a_scrape_during_a_forced_gap_shows_the_stale_gauge_rise_and_fall() {
    if !python_ready() {
        return;
    }
    let mut rig = Rig::start("binance-scrape", false);
    rig.sync();
    rig.run.wait_metrics("a fresh book, no alert", |m| {
        feed_metric(m, "book_stale", SOURCE, SYMBOL) == 0.0
            && !m.contains_key("genesis_alert{alert=\"book_stale\"}")
    });
    let raised_before = alert_lines(&rig.run.log(), "book_stale", "threshold crossed");
    let mark = rig.mark();
    rig.peer.command("rest_error 500 -1000 1000000");
    rig.peer.command("gap");
    rig.peer.command("diff 1");
    rig.wait_top("the stale top after the gap", mark, true, false);
    let during = rig
        .run
        .wait_metrics("the stale gauge up and both alerts raised", |m| {
            feed_metric(m, "book_stale", SOURCE, SYMBOL) == 1.0
                && feed_metric(m, "snapshots_failed_total", SOURCE, "all") >= 2.0
                && m.contains_key("genesis_alert{alert=\"book_stale\"}")
                && m.contains_key("genesis_alert{alert=\"snapshot_failing\"}")
        });
    assert!(feed_metric(&during, "book_stale_seconds", SOURCE, SYMBOL) > 0.0);
    assert!(feed_metric(&during, "gaps_total", SOURCE, SYMBOL) >= 1.0);
    promtool_check_feed_series(&scrape(rig.run.metrics_port).expect("a scrape"));
    rig.peer.command("rest_errors_clear");
    rig.wait_top("a fresh top after the resync", mark, false, true);
    rig.run
        .wait_metrics("the stale gauge down and the alerts cleared", |m| {
            feed_metric(m, "book_stale", SOURCE, SYMBOL) == 0.0
                && !m.contains_key("genesis_alert{alert=\"book_stale\"}")
                && !m.contains_key("genesis_alert{alert=\"snapshot_failing\"}")
        });
    let log = rig.run.log();
    assert!(
        alert_lines(&log, "book_stale", "threshold crossed") > raised_before,
        "the alert was raised in the log during the gap"
    );
    assert!(
        alert_lines(&log, "book_stale", "alert cleared") >= 1,
        "and cleared: {log}"
    );
    assert!(
        alert_lines(&log, "snapshot_failing", "alert cleared") >= 1,
        "{log}"
    );
    assert!(
        log.contains("a depth snapshot failed"),
        "failed snapshots are logged: {log}"
    );
    let Rig { run, .. } = rig;
    run.stop();
}

/// Lines of the engine's log about `alert` containing `text`.
fn alert_lines(log: &str, alert: &str, text: &str) -> usize {
    log.lines()
        .filter(|line| line.contains(alert) && line.contains(text))
        .count()
}
