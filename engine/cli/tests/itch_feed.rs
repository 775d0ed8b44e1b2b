//! Market data over sockets: the simulated venue publishes ITCH 5.0 in
//! MoldUDP64 over UDP loopback and drops one packet in fifty on purpose. The
//! engine sees each gap, marks the books stale (journaled with FLAG_STALE),
//! trades nothing new on a stale book, recovers through the request port,
//! and trades again.

mod common;

use common::process::{genesis, journal_events, write_run_config};
use genesis_engine::decision::Action;
use genesis_engine::event::{EventKind, Input, FLAG_STALE};

#[test]
fn gaps_make_books_stale_until_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let (config, journal) = write_run_config(
        dir.path(),
        "itch",
        "[market_data]\nsource = \"itch-sim\"\nrate_per_sec = 20000\nsim_drop_every = 50",
    );
    let output = genesis()
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--duration",
            "3",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = journal_events(&journal);
    let tops: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::TopOfBook)
        .collect();
    assert!(
        tops.len() > 1_000,
        "market data arrived over UDP: {}",
        tops.len()
    );
    let stale = tops.iter().filter(|e| e.flags & FLAG_STALE != 0).count();
    assert!(stale > 0, "dropped packets made books stale");
    let last_stale = tops
        .iter()
        .rposition(|e| e.flags & FLAG_STALE != 0)
        .unwrap();
    assert!(
        tops[last_stale..].iter().any(|e| e.flags & FLAG_STALE == 0),
        "the books recovered"
    );
    // Nothing new is accepted on an instrument while its book is stale.
    let mut stale_now = [false; 16];
    for event in &events {
        if event.kind == EventKind::TopOfBook {
            stale_now[event.instrument.index()] = event.flags & FLAG_STALE != 0;
        }
        for intent in event
            .intents
            .iter()
            .filter(|i| i.is_accepted() && i.action != Action::Cancel)
        {
            assert!(
                !stale_now[intent.instrument.index()],
                "order {:?} accepted on a stale book",
                intent
            );
        }
    }
    assert!(
        events.iter().any(|e| e.kind == EventKind::Fill),
        "the engine traded on the recovered books"
    );
    // The venue's executions arrive as trades at the resting order's price,
    // which lies within the touch seen just before.
    let mut touch = [(0i64, 0i64); 16];
    let mut trades = 0;
    for event in &events {
        match event.input() {
            Input::TopOfBook(t) => touch[event.instrument.index()] = (t.bid_px.0, t.ask_px.0),
            Input::Trade(t) => {
                trades += 1;
                let (bid, ask) = touch[event.instrument.index()];
                assert!(t.qty.0 > 0 && t.price.0 > 0, "{t:?}");
                if bid > 0 && event.flags & FLAG_STALE == 0 {
                    assert!(
                        t.price.0 >= bid - 50 && t.price.0 <= ask + 50,
                        "trade {t:?} far from the touch {bid}/{ask}"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(trades > 100, "executions printed as trades: {trades}");
}
