//! FIX codec micro-benchmarks (goals: encode NewOrderSingle <= 150 ns,
//! decode ExecutionReport < 300 ns).
//!
//! - `encode_new_order_single/session`: `Sender::send_new_order` (header,
//!   body, BodyLength, CheckSum, copy into the output buffer) and draining
//!   the buffer: the engine's hot path.
//! - `encode_new_order_single/baseline_copy`: the same output buffer given
//!   the same message already encoded (one copy and a drain): the floor any
//!   encoder sits on, measured in the same run.
//! - `decode_execution_report/decode`: verify and index the fields.
//! - `decode_execution_report/decode_and_parse`: plus the typed, exact
//!   ticks/lots [`OrderUpdate`].
//! - `decode_status_report/decode_and_parse`: an ExecType=I answer to a
//!   status request, typed as a [`StatusReport`].
//!
//! After criterion, the bench times encode and baseline interleaved (31
//! rounds of 20 000 calls each, medians) and prints the ratio, which stays
//! meaningful on a noisy machine where absolute nanoseconds do not.
//!
//! Run: `cargo bench -p genesis-io --bench fix_codec -- --warm-up-time 1 --measurement-time 2`
//! Instructions per encode, repeatable on any machine:
//! `valgrind --tool=callgrind --toggle-collect='genesis_io::fix::session::sender::Sender::send_new_order'
//!  target/release/deps/fix_codec-* --bench --profile-time 3 encode_new_order_single/session`
//! (instructions ÷ the function's call count).

use std::time::Instant;

use criterion::{black_box, criterion_group, Criterion};
use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, OrdType, Side, TimeInForce};
use genesis_io::fix::out_buffer::OutBuffer;
use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::status::StatusReport;
use genesis_io::fix::{tags, Encoder, FieldTable, InstrumentScale, Lots, Message, Ticks};

const T0_NS: u64 = 1_700_000_000_000_000_000;

struct Ignore;

impl SessionHandler for Ignore {
    fn on_app_message(&mut self, _: &Message<'_>, _: &mut Sender, _: u64) {}
}

fn message(msg_type: &[u8], seq_num: u64, body: &[(u32, &str)]) -> Vec<u8> {
    let mut encoder = Encoder::with_capacity(1024);
    encoder.begin(msg_type);
    encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
    encoder.field(tags::SENDER_COMP_ID, b"VENUE");
    encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
    encoder.field(tags::TARGET_COMP_ID, b"GENESIS");
    for (tag, value) in body {
        encoder.field(*tag, value.as_bytes());
    }
    encoder.finish().unwrap().to_vec()
}

fn logged_on_session() -> Session {
    let mut config = SessionConfig::initiator("GENESIS", "VENUE");
    config.seq_reserve_block = u64::MAX / 4;
    let mut session = Session::new(config, None).unwrap();
    session.on_connected(T0_NS, &mut Ignore);
    let logon = message(
        b"A",
        1,
        &[(tags::ENCRYPT_METHOD, "0"), (tags::HEART_BT_INT, "30")],
    );
    session.on_bytes(&logon, T0_NS, &mut Ignore);
    assert_eq!(session.state(), SessionState::Active);
    session
}

fn order() -> NewOrderSingle<'static> {
    NewOrderSingle {
        cl_ord_id: b"GEN-000000123456",
        account: Some(b"ACCT1"),
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(100),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(10_125)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: T0_NS,
        trigger_ns: None,
    }
}

/// The hot path: one NewOrderSingle encoded, queued and drained (the
/// queued bytes pass through `black_box`, as a socket write would read them).
fn encode_once(
    session: &mut Session,
    order: &NewOrderSingle<'_>,
    scale: &InstrumentScale,
    now_ns: u64,
) -> u64 {
    let seq_num = session
        .sender()
        .send_new_order(black_box(order), scale, now_ns)
        .unwrap();
    let written = black_box(session.pending_output()).len();
    session.consume_output(written);
    seq_num
}

/// The floor: the same bytes, already encoded, queued and drained the same way.
fn copy_once(out: &mut OutBuffer, prebuilt: &[u8]) -> usize {
    out.push(black_box(prebuilt)).unwrap();
    let written = black_box(out.pending()).len();
    out.consume(written);
    written
}

/// One NewOrderSingle exactly as the session writes it, for the baseline.
fn prebuilt_order(scale: &InstrumentScale) -> Vec<u8> {
    let mut session = logged_on_session();
    session
        .sender()
        .send_new_order(&order(), scale, T0_NS + 1_000)
        .unwrap();
    session.pending_output().to_vec()
}

fn encode_new_order_single(criterion: &mut Criterion) {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut session = logged_on_session();
    let order = order();
    let prebuilt = prebuilt_order(&scale);
    let mut out = OutBuffer::with_capacity(1 << 20);
    let mut group = criterion.benchmark_group("encode_new_order_single");
    group.bench_function("session", |bencher| {
        let mut now_ns = T0_NS;
        bencher.iter(|| {
            now_ns += 1_000;
            encode_once(&mut session, &order, &scale, now_ns)
        })
    });
    group.bench_function("baseline_copy", |bencher| {
        bencher.iter(|| copy_once(&mut out, &prebuilt))
    });
    group.finish();
}

fn decode_execution_report(criterion: &mut Criterion) {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let report = message(
        b"8",
        2,
        &[
            (tags::ORDER_ID, "VENUE-000042"),
            (tags::EXEC_ID, "EXEC-000000777"),
            (tags::EXEC_TYPE, "F"),
            (tags::ORD_STATUS, "1"),
            (tags::CL_ORD_ID, "GEN-000000123456"),
            (tags::SYMBOL, "ACME"),
            (tags::SIDE, "1"),
            (tags::ORDER_QTY, "100"),
            (tags::LAST_QTY, "40"),
            (tags::LAST_PX, "101.25"),
            (tags::LEAVES_QTY, "60"),
            (tags::CUM_QTY, "40"),
            (tags::AVG_PX, "101.25"),
            (tags::TRANSACT_TIME, "20231114-22:13:20.000"),
        ],
    );
    let mut table = FieldTable::new();
    let mut group = criterion.benchmark_group("decode_execution_report");
    group.bench_function("decode", |bencher| {
        bencher.iter(|| {
            table
                .decode(black_box(&report))
                .map(|message| message.field_count())
                .unwrap()
        })
    });
    group.bench_function("decode_and_parse", |bencher| {
        bencher.iter(|| {
            let message = table.decode(black_box(&report)).unwrap();
            match OrderUpdate::parse(&message, &scale) {
                Ok(Some(OrderUpdate::Execution(execution))) => execution.last_qty_lots.0,
                _ => unreachable!("the report parses"),
            }
        })
    });
    group.finish();
}

fn decode_status_report(criterion: &mut Criterion) {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let report = message(
        b"8",
        2,
        &[
            (tags::ORDER_ID, "VENUE-000042"),
            (tags::EXEC_ID, "0"),
            (tags::EXEC_TYPE, "I"),
            (tags::ORD_STATUS, "1"),
            (tags::CL_ORD_ID, "GEN-000000123456"),
            (tags::MASS_STATUS_REQ_ID, "GEN-MS-1"),
            (tags::TOT_NUM_REPORTS, "3"),
            (tags::LAST_RPT_REQUESTED, "N"),
            (tags::SYMBOL, "ACME"),
            (tags::SIDE, "1"),
            (tags::ORDER_QTY, "100"),
            (tags::PRICE, "101.25"),
            (tags::LEAVES_QTY, "60"),
            (tags::CUM_QTY, "40"),
            (tags::AVG_PX, "101.25"),
        ],
    );
    let mut table = FieldTable::new();
    let mut group = criterion.benchmark_group("decode_status_report");
    group.bench_function("decode_and_parse", |bencher| {
        bencher.iter(|| {
            let message = table.decode(black_box(&report)).unwrap();
            match StatusReport::parse(&message, &scale) {
                Ok(Some(status)) => status.cum_qty_lots.0,
                _ => unreachable!("the report parses"),
            }
        })
    });
    group.finish();
}

/// Median nanoseconds per call of `work` over `rounds`, interleaved with
/// `baseline` round by round so both see the same machine load.
fn interleaved_medians(
    rounds: usize,
    calls: u32,
    mut work: impl FnMut(),
    mut baseline: impl FnMut(),
) -> (f64, f64) {
    let mut work_ns = Vec::with_capacity(rounds);
    let mut baseline_ns = Vec::with_capacity(rounds);
    let time = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..calls {
            run();
        }
        start.elapsed().as_nanos() as f64 / f64::from(calls)
    };
    for _ in 0..rounds {
        work_ns.push(time(&mut work));
        baseline_ns.push(time(&mut baseline));
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    (median(&mut work_ns), median(&mut baseline_ns))
}

/// Prints encode time, the copy baseline and their ratio from one run.
fn print_encode_ratio() {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut session = logged_on_session();
    let order = order();
    let prebuilt = prebuilt_order(&scale);
    let mut out = OutBuffer::with_capacity(1 << 20);
    let mut now_ns = T0_NS;
    let (encode_ns, copy_ns) = interleaved_medians(
        31,
        20_000,
        || {
            now_ns += 1_000;
            black_box(encode_once(&mut session, &order, &scale, now_ns));
        },
        || {
            black_box(copy_once(&mut out, &prebuilt));
        },
    );
    println!(
        "ratio encode_new_order_single: session {encode_ns:.1} ns, baseline_copy {copy_ns:.1} ns \
         ({} bytes), session/baseline {:.2}",
        prebuilt.len(),
        encode_ns / copy_ns
    );
}

criterion_group!(
    benches,
    encode_new_order_single,
    decode_execution_report,
    decode_status_report
);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs this binary without `--bench`: skip the timing there.
    if args.iter().any(|arg| arg == "--bench") && !args.iter().any(|arg| arg == "--profile-time") {
        print_encode_ratio();
    }
}
