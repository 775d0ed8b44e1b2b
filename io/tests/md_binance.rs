//! Binance depth sync (snapshot + diffs) per the documented procedure:
//! buffering, dropping stale diffs, the first-diff window, continuity, a
//! forced gap with its resync, off-grid counting, and bookTicker.

use genesis_io::binance::{DecimalGrid, DepthSync, InstrumentGrid, SyncOutcome};
use genesis_io::book::{Price, Qty, StaleFlags};

fn grid() -> InstrumentGrid {
    InstrumentGrid {
        price: DecimalGrid::from_step("0.01").unwrap(),
        qty: DecimalGrid::from_step("0.001").unwrap(),
    }
}

fn diff(first: u64, last: u64, bids: &str, asks: &str) -> Vec<u8> {
    format!(
        r#"{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":{first},"u":{last},"b":[{bids}],"a":[{asks}]}}"#
    )
    .into_bytes()
}

fn snapshot(last: u64) -> Vec<u8> {
    format!(
        r#"{{"lastUpdateId":{last},"bids":[["100.00","1.000"],["99.99","2.000"]],"asks":[["100.02","1.500"]]}}"#
    )
    .into_bytes()
}

// Diffs before the snapshot are buffered; the ones it covers are dropped;
// the first applied straddles lastUpdateId+1; later ones chain on u+1.
#[test]
fn snapshot_and_diff_sync() {
    let mut s = DepthSync::new(grid(), 64, 16);
    assert!(s.take_snapshot_request());
    assert!(s.book().stale_flags().contains(StaleFlags::NOT_SYNCED));
    assert_eq!(
        s.on_diff_bytes(&diff(90, 95, r#"["1.00","1"]"#, "")),
        SyncOutcome::Buffered
    );
    assert_eq!(
        s.on_diff_bytes(&diff(96, 102, r#"["100.00","3.000"]"#, "")),
        SyncOutcome::Buffered
    );
    assert_eq!(
        s.on_diff_bytes(&diff(103, 104, "", r#"["100.02","0"],["100.03","4"]"#)),
        SyncOutcome::Buffered
    );

    assert_eq!(s.on_snapshot_bytes(&snapshot(100)), SyncOutcome::Synced);
    assert!(!s.book().is_stale());
    assert_eq!(s.last_update_id(), 104);
    assert_eq!(s.stats().diffs_dropped_old, 1);
    let bid = s.book().best_bid().unwrap();
    assert_eq!((bid.price, bid.qty), (Price(10_000), Qty(3_000)));
    assert_eq!(s.book().best_ask().unwrap().price, Price(10_003));

    assert_eq!(
        s.on_diff_bytes(&diff(105, 105, r#"["100.01","1"]"#, "")),
        SyncOutcome::Applied
    );
    assert_eq!(s.book().best_bid().unwrap().price, Price(10_001));
    assert_eq!(
        s.on_diff_bytes(&diff(100, 105, "", "")),
        SyncOutcome::DroppedOld
    );
    assert!(!s.take_snapshot_request());
}

// A diff that skips ids forces a resync: the book goes stale, a snapshot is
// requested, and a fresh snapshot plus the buffered diff brings it back.
#[test]
fn forced_gap_and_resync() {
    let mut s = DepthSync::new(grid(), 64, 16);
    s.take_snapshot_request();
    assert_eq!(s.on_snapshot_bytes(&snapshot(100)), SyncOutcome::Synced);
    assert_eq!(
        s.on_diff_bytes(&diff(99, 101, "", "")),
        SyncOutcome::Applied
    );
    assert_eq!(
        s.on_diff_bytes(&diff(105, 106, r#"["100.00","5"]"#, "")),
        SyncOutcome::Resync
    );
    assert!(s.book().stale_flags().contains(StaleFlags::NOT_SYNCED));
    assert!(
        s.book().best_bid().is_none(),
        "the book is cleared on resync"
    );
    assert!(s.take_snapshot_request());
    assert_eq!(s.stats().gaps, 1);

    assert_eq!(
        s.on_diff_bytes(&diff(107, 108, "", "")),
        SyncOutcome::Buffered
    );
    // A snapshot older than the buffered diffs cannot be used.
    assert_eq!(
        s.on_snapshot_bytes(&snapshot(101)),
        SyncOutcome::SnapshotTooOld
    );
    assert!(s.take_snapshot_request());
    assert_eq!(s.on_snapshot_bytes(&snapshot(105)), SyncOutcome::Synced);
    assert_eq!(s.last_update_id(), 108);
    assert_eq!(s.book().best_bid().unwrap().qty, Qty(5_000));
    assert!(!s.book().is_stale());
}

// The first diff after the snapshot must cover lastUpdateId+1.
#[test]
fn first_diff_must_straddle_snapshot() {
    let mut s = DepthSync::new(grid(), 64, 16);
    s.on_snapshot_bytes(&snapshot(100));
    assert_eq!(
        s.on_diff_bytes(&diff(102, 103, "", "")),
        SyncOutcome::Resync
    );
}

// Off-grid prices are counted per instrument and force a resync when synced;
// invalid JSON likewise.
#[test]
fn off_grid_and_invalid_json() {
    let mut s = DepthSync::new(grid(), 64, 16);
    s.on_snapshot_bytes(&snapshot(100));
    let outcome = s.on_diff_bytes(&diff(101, 101, r#"["100.005","1"]"#, ""));
    assert_eq!(outcome, SyncOutcome::Resync);
    assert_eq!(s.stats().off_grid, 1);
    s.on_snapshot_bytes(&snapshot(101));
    assert_eq!(s.on_diff_bytes(b"{\"U\":102,"), SyncOutcome::Resync);
    assert_eq!(s.stats().invalid_messages, 1);
}

// A diff that crosses the book is a resync, not a panic.
#[test]
fn crossing_diff_resyncs() {
    let mut s = DepthSync::new(grid(), 64, 16);
    s.on_snapshot_bytes(&snapshot(100));
    assert_eq!(
        s.on_diff_bytes(&diff(101, 101, r#"["100.05","1"]"#, "")),
        SyncOutcome::Resync
    );
    assert_eq!(s.stats().crossed, 1);
}

// The diff buffer is bounded: the oldest is dropped and counted.
#[test]
fn buffer_is_bounded() {
    let mut s = DepthSync::new(grid(), 64, 2);
    for id in 1..=5 {
        s.on_diff_bytes(&diff(id, id, "", ""));
    }
    assert_eq!(s.stats().buffer_overflows, 3);
    assert_eq!(s.on_snapshot_bytes(&snapshot(3)), SyncOutcome::Synced);
    assert_eq!(s.last_update_id(), 5);
}
