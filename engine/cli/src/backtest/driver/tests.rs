//! The synchronous market lane's merge ([`Driver::pump_synchronous`])
//! against the general merge ([`Driver::next_item`]), the reference: on a
//! seeded tape, with a scripted engine that sends orders (new orders at
//! the touch, cancels of acknowledged ones) from what it is handed, both
//! hand the engine the same events in the same order, and the venue
//! receives the same orders.

use super::super::order_link::{order_link, OrderSender};
use super::*;
use genesis_engine::event::{EventKind, Input};
use genesis_engine::execution::gateway::RequestKind;
use genesis_engine::units::{OrderId, Price, Qty, Side};
use genesis_io::tape::synthetic::{write_synthetic_tape, SyntheticConfig};
use genesis_io::tape::Compression;
use std::path::{Path, PathBuf};

fn config() -> Config {
    let instruments: String = (0..2)
        .map(|i| {
            format!(
                "[[instruments]]\nsymbol = \"SYN{i}USDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\n\
                 [instruments.limits]\nmax_order_qty = 1\nposition_limit = 8\nstop_loss = 0\n"
            )
        })
        .collect();
    let text = format!(
        "[metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n\
         [backtest]\nentry_latency_ns = 300000\nresponse_latency_ns = 200000\n\
         {instruments}"
    );
    Config::parse(&text, "driver test").expect("the test's config")
}

fn tape(dir: &Path) -> Vec<PathBuf> {
    let synthetic = SyntheticConfig {
        seed: 3,
        instrument_count: 2,
        rows: 6_000,
        snapshot_levels: 8,
        compression: Compression::None,
        ..SyntheticConfig::default()
    };
    write_synthetic_tape(dir, &synthetic).unwrap().paths()
}

/// What the engine was handed, in order: kind, instrument, receipt time
/// and input words.
type Handed = Vec<(EventKind, u16, u64, [i64; 4])>;

/// A deterministic stand-in for the stages: on every 5th book delta a
/// buy at its best bid, and a cancel of every second order acknowledged,
/// each decided at the event's receipt time.
struct Engine {
    requests: OrderSender,
    handed: Handed,
    order_id_next: u64,
    acks: u64,
}

impl Engine {
    fn on_event(&mut self, event: &Event) {
        self.handed
            .push((event.kind, event.instrument.0, event.ts_recv_ns, event.data));
        let request = match event.input() {
            Input::BookDelta(delta)
                if self.handed.len().is_multiple_of(5) && delta.bid_px.0 > 0 =>
            {
                self.order_id_next += 1;
                (RequestKind::New, OrderId(self.order_id_next), delta.bid_px)
            }
            Input::OrderAck(ack) => {
                self.acks += 1;
                if self.acks % 2 == 1 {
                    return;
                }
                (RequestKind::Cancel, ack.order_id, ack.price)
            }
            _ => return,
        };
        let (kind, order_id, price) = request;
        let sent = self.requests.push(&OrderRequest {
            kind,
            order_id,
            instrument: event.instrument,
            side: Side::Buy,
            price: Price(price.0),
            qty: Qty(1),
            ts_trigger_ns: event.ts_recv_ns,
            ts_decided_ns: event.ts_recv_ns,
            trigger_seq: 0,
        });
        assert!(sent, "the test's link has room");
    }
}

/// Runs the whole tape through a synchronous driver as ingest polls it
/// (the venue lane, then the market lane, budget 64), with or without
/// the fast merge; what the engine was handed, and the counters. Checks
/// that the latency histogram counts every hand-over once.
fn handed(config: &Config, tapes: &[PathBuf], fast_merge: bool) -> (Handed, DriverCounters) {
    let feed = TapeFeed::open(tapes, config).unwrap();
    let (requests, requests_in) = order_link(1 << 12);
    let mut driver = Driver::new(config, feed, requests_in, true);
    driver.fast_merge = fast_merge;
    let mut engine = Engine {
        requests,
        handed: Vec::new(),
        order_id_next: 0,
        acks: 0,
    };
    let clock = EpochClock::new();
    let mut polls = 0;
    while !driver.is_finished() {
        for lane in [Lane::Venue, Lane::Market] {
            driver.pump(lane, &clock, 64, &mut |event| engine.on_event(event));
        }
        polls += 1;
        assert!(polls < 1_000_000, "the driver finishes");
        if polls % 97 == 0 {
            // Read midway too: what is counted so far is recorded.
            let counters = driver.counters();
            assert_eq!(
                driver.latency_ns().len(),
                counters.rows + counters.replies,
                "after {polls} polls"
            );
        }
    }
    let counters = driver.counters();
    assert_eq!(
        driver.latency_ns().len(),
        counters.rows + counters.replies,
        "every hand-over in the latency histogram once"
    );
    (engine.handed, counters)
}

// With replies and orders in flight between the rows, the fast merge
// hands the engine, and the venue, exactly what the general merge does.
#[test]
fn the_fast_merge_hands_over_what_the_general_merge_does() {
    let dir = tempfile::tempdir().unwrap();
    let tapes = tape(dir.path());
    let config = config();
    let (general, general_counters) = handed(&config, &tapes, false);
    let (fast, fast_counters) = handed(&config, &tapes, true);
    assert!(
        general_counters.requests > 200 && general_counters.replies > 300,
        "orders flow: {general_counters:?}"
    );
    assert_eq!(fast_counters, general_counters);
    assert_eq!(fast.len(), general.len());
    if let Some(index) = (0..fast.len()).find(|&i| fast[i] != general[i]) {
        panic!(
            "hand-over {index} differs: fast merge {:?}, general merge {:?}",
            fast[index], general[index]
        );
    }
}

// The latency sample: the first hand-over is timed, then about 1 in 16,
// with no period (every residue of the hand-over's number mod 8 is timed
// at about the same rate, and about 1 gap in 16 is a single hand-over),
// and the histogram counts every hand-over once.
#[test]
fn the_latency_sample_times_one_hand_over_in_16_at_random() {
    let mut latency = SampledLatency::new();
    let hand_overs: u64 = 1_600_000;
    let mut timed_by_residue = [0u64; 8];
    let mut gaps_of_one = 0u64;
    let mut last_timed = None;
    for number in 0..hand_overs {
        if latency.next_is_timed() {
            latency.measured(1_000 + number % 7, number + 1);
            timed_by_residue[(number % 8) as usize] += 1;
            if last_timed == Some(number.wrapping_sub(1)) {
                gaps_of_one += 1;
            }
            last_timed = Some(number);
        } else {
            assert!(number > 0, "the first hand-over is timed");
        }
    }
    let timed: u64 = timed_by_residue.iter().sum();
    assert!(
        (95_000..=105_000).contains(&timed),
        "about 1 in 16 timed: {timed}"
    );
    for (residue, count) in timed_by_residue.iter().enumerate() {
        let share = *count as f64 / timed as f64;
        assert!(
            (0.115..=0.135).contains(&share),
            "hand-overs {residue} mod 8 timed as often as the others: {timed_by_residue:?}"
        );
    }
    let share_of_one = gaps_of_one as f64 / timed as f64;
    assert!(
        (0.05..=0.075).contains(&share_of_one),
        "gaps are geometric (1 in 16 is a single hand-over): {share_of_one}"
    );
    latency.settle(hand_overs);
    assert_eq!(
        latency.histogram.len(),
        hand_overs,
        "every hand-over counted once"
    );
}

// One histogram record per timed hand-over (the timed one with the
// repeats after it, counted from the number of hand-overs) counts what recording each hand-over alone does: the
// timed one at its latency, every other one at the last measured
// latency; also when the histogram is read (settled) in the middle.
#[test]
fn the_latency_sample_records_what_each_hand_over_alone_would() {
    let mut latency = SampledLatency::new();
    let mut each = genesis_engine::telemetry::metrics::new_histogram();
    let mut last_ns = 0;
    for number in 0..200_000u64 {
        if latency.next_is_timed() {
            // Latencies over several buckets, and 0 (recorded as 1).
            let latency_ns = (number.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 50_000;
            latency.measured(latency_ns, number + 1);
            last_ns = latency_ns.max(1);
        }
        each.saturating_record(last_ns);
        if number % 65_537 == 0 {
            latency.settle(number + 1);
            assert_eq!(latency.histogram, each, "after {number} hand-overs");
        }
    }
    latency.settle(200_000);
    assert_eq!(latency.histogram, each);
    assert_eq!(latency.histogram.len(), 200_000);
}
