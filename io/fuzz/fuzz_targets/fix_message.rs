//! Bytes into the FIX framer, decoder and every typed parser: order entry,
//! execution reports, status requests and ExecType=I status reports, session
//! and business rejects; then, framed in two pieces, through a logged-on
//! session (sequence checks, Reject-to-request mapping through the sent log,
//! Logout text parsing) with the reconciler counting status answers.
#![no_main]

use genesis_io::fix::exec_dedup::{ExecIdSet, ExecKey};
use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, OrdType, OrderRequest, Side, TimeInForce};
use genesis_io::fix::reconcile::Reconciler;
use genesis_io::fix::reject::{BusinessMessageReject, SessionReject};
use genesis_io::fix::session::{RequestReject, Sender, Session, SessionConfig, SessionHandler};
use genesis_io::fix::status::{StatusReport, StatusRequest};
use genesis_io::fix::{tags, Encoder, FieldTable, Frame, Framer, InstrumentScale, Lots, Message, Ticks};
use libfuzzer_sys::fuzz_target;

const T0_NS: u64 = 1_700_000_000_000_000_000;

fn parse_all(message: &Message<'_>, scale: &InstrumentScale, handler: &mut Handler) {
    let _ = OrderRequest::parse(message, scale);
    let _ = StatusRequest::parse(message);
    let _ = BusinessMessageReject::parse(message);
    let _ = SessionReject::parse(message);
    if let Ok(Some(OrderUpdate::Execution(report))) = OrderUpdate::parse(message, scale) {
        handler.exec_ids.insert_exec(ExecKey::of_report(&report));
    }
    if let Ok(Some(report)) = StatusReport::parse(message, scale) {
        let _ = (report.is_open(), report.is_unknown_order(), report.is_empty_answer());
        handler.reconciler.on_report(&report);
    }
}

struct Handler {
    scale: InstrumentScale,
    exec_ids: ExecIdSet,
    reconciler: Reconciler,
}

impl SessionHandler for Handler {
    fn on_app_message(&mut self, message: &Message<'_>, _: &mut Sender, _: u64) {
        let scale = self.scale;
        parse_all(message, &scale, self);
    }

    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        let _ = reject.is_order_entry();
        self.reconciler.on_request_rejected(reject);
    }
}

/// An initiator logged on to "VENUE", with one order and one AF in its sent log.
fn logged_on(handler: &mut Handler) -> Session {
    // Small buffers: a session is built for every input.
    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.body_length_max = 1024;
    config.out_capacity_bytes = 64 * 1024;
    config.sent_log_capacity = 16;
    let mut session = Session::new(config, None).unwrap();
    session.on_connected(T0_NS, handler);
    let mut encoder = Encoder::with_capacity(256);
    encoder.begin(b"A");
    encoder.field_u64(tags::MSG_SEQ_NUM, 1);
    encoder.field(tags::SENDER_COMP_ID, b"VENUE");
    encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
    encoder.field(tags::TARGET_COMP_ID, b"GEN");
    encoder.field(tags::ENCRYPT_METHOD, b"0");
    encoder.field(tags::HEART_BT_INT, b"30");
    let logon = encoder.finish().unwrap().to_vec();
    session.on_bytes(&logon, T0_NS, handler);
    let order = NewOrderSingle {
        cl_ord_id: b"C1",
        account: None,
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(1),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(100)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: T0_NS,
        trigger_ns: None,
    };
    let _ = session.sender().send_new_order(&order, &handler.scale, T0_NS);
    let _ = handler.reconciler.start_mass_status(session.sender(), T0_NS, 1_000);
    session
}

fuzz_target!(|bytes: &[u8]| {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let mut handler = Handler {
        scale,
        exec_ids: ExecIdSet::with_capacity(64),
        reconciler: Reconciler::new(8, "GEN-"),
    };
    let mut table = FieldTable::new();
    if let Ok(message) = table.decode(bytes) {
        parse_all(&message, &scale, &mut handler);
    }
    // Framed in two pieces, split in the middle, then the whole stream
    // through a live session.
    let mut framer = Framer::new(256);
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    for piece in [head, tail] {
        framer.push(piece);
        while let Some(frame) = framer.next_frame() {
            if let Frame::Message(range) = frame {
                let mut table = FieldTable::new();
                if let Ok(message) = table.decode(framer.bytes(range)) {
                    parse_all(&message, &scale, &mut handler);
                }
            }
        }
    }
    let mut session = logged_on(&mut handler);
    session.on_bytes(bytes, T0_NS, &mut handler);
    let _ = session.seq_num_error().map(|error| error.to_string());
    handler.reconciler.poll(T0_NS + 2_000);
});
