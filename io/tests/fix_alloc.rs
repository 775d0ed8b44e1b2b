//! Proves the FIX hot paths do not allocate: a counting global allocator
//! wraps the system one, and after warm-up encoding NewOrderSingle (through
//! the session, as the engine will, sent log included), decoding
//! ExecutionReport (framer, decoder, session checks, typed parse and the
//! OrderID+ExecID dedup) allocate zero times; so do the per-message paths
//! added for restarts: a session Reject turned into a typed reject, and a
//! status report parsed and counted by the reconciler.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::{order, raw, T0_NS};

use genesis_io::fix::exec_dedup::{ExecIdSet, ExecKey};
use genesis_io::fix::exec_report::OrderUpdate;
use genesis_io::fix::order::{NewOrderSingle, Side};
use genesis_io::fix::reconcile::{ReconcileState, Reconciler};
use genesis_io::fix::session::{
    RequestReject, Sender, Session, SessionConfig, SessionHandler, SessionState,
};
use genesis_io::fix::status::StatusReport;
use genesis_io::fix::{tags, FieldTable, InstrumentScale, Message};

struct Fills {
    scale: InstrumentScale,
    lots: i64,
    exec_ids: ExecIdSet,
    duplicates: u64,
    reconciler: Reconciler,
    status_reports: u64,
    rejected_requests: u64,
}

impl SessionHandler for Fills {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, _now_ns: u64) {
        if let Ok(Some(status)) = StatusReport::parse(message, &self.scale) {
            self.status_reports += u64::from(self.reconciler.on_report(&status));
            return;
        }
        if let Ok(Some(OrderUpdate::Execution(report))) = OrderUpdate::parse(message, &self.scale) {
            if !self.exec_ids.insert_exec(ExecKey::of_report(&report)) {
                self.duplicates += 1;
                return;
            }
            self.lots += report.last_qty_lots.0;
        }
    }

    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        self.rejected_requests += u64::from(reject.request_id == Some(b"C1"));
    }
}

fn execution_report(seq_num: u64) -> Vec<u8> {
    let exec_id = format!("X{seq_num}");
    let fields = [
        (tags::ORDER_ID, "O1"),
        (tags::EXEC_ID, exec_id.as_str()),
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
    ];
    raw(b"8", seq_num, &fields)
}

/// A status report answering mass status request `GEN-MS1`.
fn status_report(seq_num: u64) -> Vec<u8> {
    let fields = [
        (tags::ORDER_ID, "O1"),
        (tags::EXEC_ID, "0"),
        (tags::EXEC_TYPE, "I"),
        (tags::ORD_STATUS, "1"),
        (tags::CL_ORD_ID, "C1"),
        (tags::MASS_STATUS_REQ_ID, "GEN-MS1"),
        (tags::TOT_NUM_REPORTS, "100000"),
        (tags::SYMBOL, "ACME"),
        (tags::SIDE, "1"),
        (tags::PRICE, "101.25"),
        (tags::LEAVES_QTY, "9"),
        (tags::CUM_QTY, "1"),
        (tags::AVG_PX, "101.25"),
    ];
    raw(b"8", seq_num, &fields)
}

/// A session-level Reject of our message `ref_seq_num` (5051 undefined).
fn session_reject(seq_num: u64, ref_seq_num: u64) -> Vec<u8> {
    let ref_seq_num = ref_seq_num.to_string();
    let fields = [
        (tags::REF_SEQ_NUM, ref_seq_num.as_str()),
        (tags::REF_TAG_ID, "5051"),
        (tags::REF_MSG_TYPE, "D"),
        (tags::SESSION_REJECT_REASON, "0"),
    ];
    raw(b"3", seq_num, &fields)
}

/// A logged-on initiator and its handler.
fn logged_on(scale: InstrumentScale) -> (Session, Fills) {
    let mut session = Session::new(SessionConfig::initiator("GEN", "VENUE"), None).unwrap();
    let mut fills = Fills {
        scale,
        lots: 0,
        exec_ids: ExecIdSet::with_capacity(4096),
        duplicates: 0,
        reconciler: Reconciler::new(16, "GEN-"),
        status_reports: 0,
        rejected_requests: 0,
    };
    session.on_connected(T0_NS, &mut fills);
    let logon = raw(
        b"A",
        1,
        &[(tags::ENCRYPT_METHOD, "0"), (tags::HEART_BT_INT, "30")],
    );
    session.on_bytes(&logon, T0_NS, &mut fills);
    assert_eq!(session.state(), SessionState::Active);
    (session, fills)
}

#[test]
fn hot_paths_do_not_allocate() {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let (mut session, mut fills) = logged_on(scale);
    let reports: Vec<Vec<u8>> = (2..1002).map(execution_report).collect();
    let order = order(b"C1", Side::Buy, 10);
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
    assert_eq!(fills.duplicates, 0);
    assert_eq!(session.counters().rejects_sent, 0);
}

#[test]
fn reject_and_status_paths_do_not_allocate() {
    // Each round: an order out, the venue's session Reject of it back (a
    // typed reject naming C1), then a status report for the reconciler.
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let (mut session, mut fills) = logged_on(scale);
    // The reconciler's MassStatusReqID for round 1 is "GEN-MS1".
    fills
        .reconciler
        .start_mass_status(session.sender(), T0_NS, u64::MAX / 2)
        .unwrap();
    let mut order = NewOrderSingle {
        trigger_ns: Some(T0_NS),
        ..order(b"C1", Side::Buy, 10)
    };
    let rounds = 500u64;
    // Round r's order goes out with MsgSeqNum first_out + r; the venue's
    // Reject of it and a status report come back as 2 + 2r and 3 + 2r.
    let first_out = session.seq_numbers().next_out;
    let inbound: Vec<(Vec<u8>, Vec<u8>)> = (0..rounds)
        .map(|round| {
            let seq_num = 2 + 2 * round;
            (
                session_reject(seq_num, first_out + round),
                status_report(seq_num + 1),
            )
        })
        .collect();
    let allocations = allocations_in(|| {
        for (reject, status) in &inbound {
            order.transact_time_ns += 1;
            session
                .sender()
                .send_new_order(&order, &scale, T0_NS)
                .unwrap();
            let written = session.pending_output().len();
            session.consume_output(written);
            session.on_bytes(reject, T0_NS, &mut fills);
            session.on_bytes(status, T0_NS, &mut fills);
        }
    });
    assert_eq!(
        allocations, 0,
        "reject and status paths allocated {allocations} times"
    );
    assert_eq!(fills.rejected_requests, rounds);
    assert_eq!(fills.status_reports, rounds);
    assert_eq!(fills.reconciler.state(), ReconcileState::Awaiting);
    assert_eq!(session.counters().rejects_sent, 0);
}
