//! A session outage while trading: the engine trades with a standalone
//! `genesis venue-sim` through a proxy that drops the FIX connection and
//! refuses new ones until an order made meanwhile has been rejected
//! locally (the outage ends on that condition, not after a fixed time that
//! a loaded host could let pass with no order made). Every new order made
//! while the session is down is rejected locally
//! (`venue_reason::NOT_CONNECTED`, journaled), none of them ever reaches
//! the venue (not even at the reconnect, on old prices),
//! and trading resumes once the session is back. Reconciliation is off
//! here: with it on, the gate closes when the session goes and risk refuses
//! new orders before they are made. The simulated venue starts every
//! connection's sequence numbers at 1, so the engine logs on with
//! `reset_on_logon` (ResetSeqNumFlag=Y), as it would with such a venue.

mod common;

use common::process::{free_port, journal_events, write_run_config};
use common::venue::{Engine, Proxy, Venue};
use genesis_engine::event::{venue_reason, Event, Input, RejectedRequest};
use std::collections::BTreeSet;

/// The engine order ids of the NewOrderSingles in `sent` (FIX text, SOH
/// as `|`), read from their ClOrdIDs under the journal's lineage.
fn new_order_ids(sent: &str, journal: &std::path::Path) -> BTreeSet<u64> {
    let start = genesis_engine::snapshot::StartRecord::read(journal, 1)
        .unwrap()
        .expect("the run's start record");
    let lineage = start
        .lineage
        .as_deref()
        .and_then(genesis_engine::orders::Lineage::parse);
    let ids = genesis_engine::adapters::fix::cl_ord_id::ClOrdIds::new(lineage);
    assert!(lineage.is_some(), "a new journal has a lineage");
    sent.split("8=FIX.4.4|")
        .filter(|message| message.contains("|35=D|"))
        .filter_map(|message| {
            let start = message.find("|11=")? + 4;
            let end = message[start..].find('|')? + start;
            let (order, _) = ids.own_order_of(&message.as_bytes()[start..end])?;
            Some(order.0)
        })
        .collect()
}

/// The engine order ids of the `request`s rejected locally because the
/// session was down.
fn rejected_locally(events: &[Event], request: RejectedRequest) -> Vec<u64> {
    events
        .iter()
        .filter_map(move |e| match e.input() {
            Input::OrderReject(r)
                if r.request == request && r.venue_reason == venue_reason::NOT_CONNECTED =>
            {
                Some(r.order_id.0)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn orders_made_during_an_outage_are_rejected_locally_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let fix_port = free_port();
    let (venue_config, _) = write_run_config(dir.path(), "venue", "");
    let venue = Venue::start(dir.path(), &venue_config, fix_port);
    let proxy = Proxy::start(([127, 0, 0, 1], fix_port).into());
    let (config, journal) = write_run_config(
        dir.path(),
        "engine",
        &format!(
            "[market_data]\nsource = \"binance-ws\"\n[market_data.binance]\nurl = \"{}\"\n\
             [venue]\nkind = \"fix\"\n\
             [venue.fix]\nhost = \"127.0.0.1\"\nport = {}\nseq_file = \"\"\n\
             reconcile = \"off\"\npending_age_max_ms = 10\nreset_on_logon = true\nreconnect_min_ms = 50\nreconnect_max_ms = 200\n",
            venue.ws_url, proxy.port
        ),
    );
    let engine = Engine::start(dir.path(), &config, 1);
    engine.wait_log("the first logon", "FIX session logged on");
    common::process::wait_until("new orders reach the venue", || {
        !new_order_ids(&proxy.sent_text(), &journal).is_empty()
    });
    let before_outage = journal_events(&journal).len();
    proxy.outage_begin();
    engine.wait_log("the loss logged", "FIX session lost");
    common::process::wait_until("an order rejected locally during the outage", || {
        let events = journal_events(&journal);
        let during = events.get(before_outage..).unwrap_or_default();
        !rejected_locally(during, RejectedRequest::New).is_empty()
            || !rejected_locally(during, RejectedRequest::Replace).is_empty()
    });
    proxy.outage_end();
    common::process::wait_until("the second logon", || {
        engine.log().matches("FIX session logged on").count() >= 2
    });
    let sent_during = proxy.sent_during_outage().expect("the connection was cut");
    let sent_at_logon = proxy.sent_text().len();
    common::process::wait_until("new orders after the outage", || {
        !new_order_ids(&proxy.sent_text()[sent_at_logon..], &journal).is_empty()
    });
    let report = engine.stop();
    drop(venue);

    // New orders and replaces (the strategy moves its resting quotes).
    let events = journal_events(&journal);
    let (new_rejected, replaces_rejected) = (
        rejected_locally(&events, RejectedRequest::New),
        rejected_locally(&events, RejectedRequest::Replace),
    );
    assert!(
        new_rejected.len() + replaces_rejected.len() > 0,
        "orders made during the outage were rejected locally: {report}"
    );
    assert!(
        !sent_during.contains("|35=D|") && !sent_during.contains("|35=G|"),
        "nothing reached the venue during the outage: {sent_during}"
    );
    // A new order's ClOrdID is its id: none rejected locally went out later.
    let sent = new_order_ids(&proxy.sent_text(), &journal);
    let leaked: Vec<&u64> = new_rejected.iter().filter(|id| sent.contains(id)).collect();
    assert!(
        leaked.is_empty(),
        "orders rejected locally were sent after all: {leaked:?}"
    );
    assert!(
        report["venue_rejects"].as_u64().unwrap()
            >= (new_rejected.len() + replaces_rejected.len()) as u64,
        "the report counts the local rejects: {report}"
    );
}
