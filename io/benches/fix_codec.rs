//! FIX codec micro-benchmarks (goals: encode NewOrderSingle < 200 ns,
//! decode ExecutionReport < 300 ns).
//!
//! - `encode_new_order_single/session`: `Sender::send_new_order` (header,
//!   body, BodyLength, CheckSum, copy into the output buffer) and draining
//!   the buffer: the engine's hot path.
//! - `decode_execution_report/decode`: verify and index the fields.
//! - `decode_execution_report/decode_and_parse`: plus the typed, exact
//!   ticks/lots [`OrderUpdate`].
//!
//! Run: `cargo bench -p genesis-io --bench fix_codec -- --warm-up-time 1 --measurement-time 2`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, OrdType, Side, TimeInForce};
use genesis_io::fix::session::{Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::{tags, Encoder, FieldTable, InstrumentScale, Lots, Message, Ticks};

const T0_NS: u64 = 1_700_000_000_000_000_000;

struct Ignore;

impl SessionHandler for Ignore {
    fn on_app_message(
        &mut self,
        _: &Message<'_>,
        _: &mut genesis_io::fix::session::Sender,
        _: u64,
    ) {
    }
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

fn encode_new_order_single(criterion: &mut Criterion) {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut session = logged_on_session();
    let order = NewOrderSingle {
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
    };
    let mut group = criterion.benchmark_group("encode_new_order_single");
    group.bench_function("session", |bencher| {
        let mut now_ns = T0_NS;
        bencher.iter(|| {
            now_ns += 1_000;
            let seq_num = session
                .sender()
                .send_new_order(black_box(&order), &scale, now_ns)
                .unwrap();
            let written = session.pending_output().len();
            session.consume_output(written);
            seq_num
        })
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

criterion_group!(benches, encode_new_order_single, decode_execution_report);
criterion_main!(benches);
