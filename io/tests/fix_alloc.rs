//! Proves the FIX hot paths do not allocate: a counting global allocator
//! wraps the system one, and after warm-up encoding NewOrderSingle (through
//! the session, as the engine will) and decoding ExecutionReport (framer,
//! decoder, session checks and typed parse) allocate zero times.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, OrdType, Side, TimeInForce};
use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::{tags, Encoder, FieldTable, InstrumentScale, Lots, Message, Ticks};

const T0_NS: u64 = 1_700_000_000_000_000_000;

struct Fills {
    scale: InstrumentScale,
    lots: i64,
}

impl SessionHandler for Fills {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, _now_ns: u64) {
        if let Ok(Some(OrderUpdate::Execution(report))) = OrderUpdate::parse(message, &self.scale) {
            self.lots += report.last_qty_lots.0;
        }
    }
}

fn execution_report(seq_num: u64) -> Vec<u8> {
    let mut encoder = Encoder::with_capacity(1024);
    encoder.begin(b"8");
    encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
    encoder.field(tags::SENDER_COMP_ID, b"VENUE");
    encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
    encoder.field(tags::TARGET_COMP_ID, b"GEN");
    for (tag, value) in [
        (tags::ORDER_ID, "O1"),
        (tags::EXEC_ID, "X1"),
        (tags::EXEC_TYPE, "F"),
        (tags::ORD_STATUS, "1"),
        (tags::CL_ORD_ID, "C1"),
        (tags::SYMBOL, "ACME"),
        (tags::SIDE, "1"),
        (tags::ORDER_QTY, "10"),
        (tags::LAST_QTY, "1"),
        (tags::LAST_PX, "101.25"),
        (tags::LEAVES_QTY, "9"),
        (tags::CUM_QTY, "1"),
        (tags::AVG_PX, "101.25"),
    ] {
        encoder.field(tag, value.as_bytes());
    }
    encoder.finish().unwrap().to_vec()
}

#[test]
fn hot_paths_do_not_allocate() {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut session = Session::new(SessionConfig::initiator("GEN", "VENUE"), None).unwrap();
    let mut fills = Fills { scale, lots: 0 };
    session.on_connected(T0_NS, &mut fills);
    let logon = {
        let mut encoder = Encoder::with_capacity(256);
        encoder.begin(b"A");
        encoder.field_u64(tags::MSG_SEQ_NUM, 1);
        encoder.field(tags::SENDER_COMP_ID, b"VENUE");
        encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
        encoder.field(tags::TARGET_COMP_ID, b"GEN");
        encoder.field(tags::ENCRYPT_METHOD, b"0");
        encoder.field(tags::HEART_BT_INT, b"30");
        encoder.finish().unwrap().to_vec()
    };
    session.on_bytes(&logon, T0_NS, &mut fills);
    assert_eq!(session.state(), SessionState::Active);
    let reports: Vec<Vec<u8>> = (2..1002).map(execution_report).collect();
    let order = NewOrderSingle {
        cl_ord_id: b"C1",
        account: None,
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(10),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(10_125)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: T0_NS,
        trigger_ns: None,
    };
    let mut table = FieldTable::new();

    let allocations = allocations_in(|| {
        for report in &reports {
            // Encode NewOrderSingle through the session and drain it, as the engine will.
            session
                .sender()
                .send_new_order(&order, &scale, T0_NS)
                .unwrap();
            let written = session.pending_output().len();
            session.consume_output(written);
            // Decode ExecutionReport alone, then through the whole session path.
            let message = table.decode(report).unwrap();
            assert!(OrderUpdate::parse(&message, &scale).unwrap().is_some());
            session.on_bytes(report, T0_NS, &mut fills);
        }
    });
    assert_eq!(allocations, 0, "hot paths allocated {allocations} times");
    assert_eq!(fills.lots, 1000);
    assert_eq!(session.counters().rejects_sent, 0);
}
