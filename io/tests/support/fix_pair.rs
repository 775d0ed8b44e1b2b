//! Shared by the FIX session tests (included with `#[path]`): an initiator
//! and an acceptor wired together in memory, time driven by hand, a
//! recording handler (the acceptor flavour fills every order at its limit),
//! and helpers to build venue messages and read what a session sent.
#![allow(dead_code)]

use genesis_io::fix::exec_report::{ExecKind, ExecType, ExecutionReport, OrdStatus, OrderUpdate};
use genesis_io::fix::order::{NewOrderSingle, OrdType, OrderRequest, Side, TimeInForce};
use genesis_io::fix::reject::RejectLevel;
use genesis_io::fix::session::{
    RequestReject, Sender, Session, SessionConfig, SessionEvent, SessionHandler, SessionState,
};
use genesis_io::fix::{
    tags, Encoder, FieldTable, Frame, Framer, InstrumentScale, Lots, Message, MsgType, Ticks,
};

pub const SECOND_NS: u64 = 1_000_000_000;
pub const T0_NS: u64 = 1_700_000_000 * SECOND_NS;

pub fn scale() -> InstrumentScale {
    InstrumentScale::new("0.01", "1").unwrap()
}

/// Records everything the session delivers; the acceptor flavour fills
/// every order it receives at its limit price.
#[derive(Default)]
pub struct Recorder {
    pub events: Vec<SessionEvent>,
    pub fills_lots: i64,
    pub exec_ids: Vec<Vec<u8>>,
    pub kinds: Vec<ExecKind>,
    pub fill_orders: bool,
    pub next_exec_id: u64,
    /// Every business message's MsgType, as received.
    pub app_msg_types: Vec<String>,
    /// Every request rejection delivered, owned.
    pub rejects: Vec<RejectSeen>,
    /// Raw business messages received (acceptor side: what the initiator sent).
    pub app_messages: Vec<Vec<u8>>,
}

/// An owned copy of a [`RequestReject`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectSeen {
    pub level: RejectLevel,
    pub msg_type: Option<MsgType>,
    pub request_id: Option<Vec<u8>>,
    pub ref_seq_num: Option<u64>,
    pub ref_tag: Option<u32>,
    pub reason: Option<u64>,
    pub text: Option<String>,
}

impl RejectSeen {
    pub fn of(reject: &RequestReject<'_>) -> RejectSeen {
        RejectSeen {
            level: reject.level,
            msg_type: reject.msg_type,
            request_id: reject.request_id.map(<[u8]>::to_vec),
            ref_seq_num: reject.ref_seq_num,
            ref_tag: reject.ref_tag,
            reason: reject.reason,
            text: reject
                .text
                .map(|text| String::from_utf8_lossy(text).into_owned()),
        }
    }
}

impl SessionHandler for Recorder {
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64) {
        self.app_msg_types
            .push(String::from_utf8_lossy(message.msg_type_bytes()).into_owned());
        self.app_messages.push(message.bytes().to_vec());
        if let Ok(Some(OrderRequest::New(order))) = OrderRequest::parse(message, &scale()) {
            if self.fill_orders {
                self.next_exec_id += 1;
                let exec_id = format!("X{}", self.next_exec_id);
                let report = full_fill(&order, b"O1", exec_id.as_bytes(), b"0");
                sender
                    .send_execution_report(&report, &scale(), now_ns)
                    .unwrap();
            }
        }
        if let Ok(Some(update)) = OrderUpdate::parse(message, &scale()) {
            self.kinds.push(update.kind());
            if let OrderUpdate::Execution(report) = update {
                self.exec_ids.push(report.exec_id.to_vec());
                let sign = if report.side == Side::Buy { 1 } else { -1 };
                self.fills_lots += sign * report.last_qty_lots.0;
            }
        }
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        self.events.push(event);
    }

    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        self.rejects.push(RejectSeen::of(reject));
    }
}

/// The report of a venue that fills `order` whole at its limit price.
pub fn full_fill<'a>(
    order: &NewOrderSingle<'a>,
    order_id: &'a [u8],
    exec_id: &'a [u8],
    avg_px_text: &'a [u8],
) -> ExecutionReport<'a> {
    ExecutionReport {
        kind: ExecKind::Fill,
        exec_type: ExecType::Trade,
        ord_status: OrdStatus::Filled,
        order_id,
        exec_id,
        cl_ord_id: Some(order.cl_ord_id),
        orig_cl_ord_id: None,
        symbol: Some(order.symbol),
        side: order.side,
        order_qty_lots: Some(order.qty_lots),
        last_qty_lots: order.qty_lots,
        last_px_ticks: order.price_ticks.unwrap_or_default(),
        cum_qty_lots: order.qty_lots,
        leaves_qty_lots: Lots(0),
        avg_px_text,
        ord_rej_reason: None,
        text: None,
        poss_dup: false,
    }
}

pub fn initiator() -> Session {
    Session::new(SessionConfig::initiator("GEN", "VENUE"), None).unwrap()
}

pub fn acceptor() -> Session {
    Session::new(SessionConfig::acceptor("VENUE", "GEN"), None).unwrap()
}

/// Moves all pending output from `from` into `to`.
pub fn deliver(
    from: &mut Session,
    to: &mut Session,
    to_handler: &mut impl SessionHandler,
    now_ns: u64,
) {
    let bytes = from.pending_output().to_vec();
    from.consume_output(bytes.len());
    to.on_bytes(&bytes, now_ns, to_handler);
}

/// Shuttles bytes both ways until both sides are quiet.
pub fn settle(
    a: &mut Session,
    a_handler: &mut impl SessionHandler,
    b: &mut Session,
    b_handler: &mut impl SessionHandler,
    now_ns: u64,
) {
    for _ in 0..20 {
        if a.pending_output().is_empty() && b.pending_output().is_empty() {
            return;
        }
        deliver(a, b, b_handler, now_ns);
        deliver(b, a, a_handler, now_ns);
    }
    panic!("sessions kept talking");
}

pub fn logged_on_pair() -> (Session, Recorder, Session, Recorder) {
    let (mut init, mut init_rec) = (initiator(), Recorder::default());
    let (mut acc, mut acc_rec) = (
        acceptor(),
        Recorder {
            fill_orders: true,
            ..Recorder::default()
        },
    );
    acc.on_connected(T0_NS, &mut acc_rec);
    init.on_connected(T0_NS, &mut init_rec);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert_eq!(init.state(), SessionState::Active);
    assert_eq!(acc.state(), SessionState::Active);
    (init, init_rec, acc, acc_rec)
}

pub fn order<'a>(cl_ord_id: &'a [u8], side: Side, qty: i64) -> NewOrderSingle<'a> {
    NewOrderSingle {
        cl_ord_id,
        account: None,
        symbol: b"ACME",
        side,
        qty_lots: Lots(qty),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(10_125)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: T0_NS,
        trigger_ns: None,
    }
}

/// Splits a byte stream into decoded messages, as (MsgType, fields) text.
pub fn messages(bytes: &[u8]) -> Vec<Vec<(u32, String)>> {
    let mut framer = Framer::new(8192);
    framer.push(bytes);
    let mut table = FieldTable::new();
    let mut found = Vec::new();
    while let Some(frame) = framer.next_frame() {
        if let Frame::Message(range) = frame {
            let message = table.decode(framer.bytes(range)).unwrap();
            let fields = (0..message.field_count())
                .map(|index| message.field(index).unwrap())
                .map(|(tag, value)| (tag, String::from_utf8_lossy(value).into_owned()))
                .collect();
            found.push(fields);
        }
    }
    found
}

pub fn value(fields: &[(u32, String)], tag: u32) -> Option<&str> {
    fields
        .iter()
        .find(|(found, _)| *found == tag)
        .map(|(_, text)| text.as_str())
}

pub fn take_output(session: &mut Session) -> Vec<Vec<(u32, String)>> {
    let bytes = session.pending_output().to_vec();
    session.consume_output(bytes.len());
    messages(&bytes)
}

/// Builds a message as the venue would send it, with any header and body.
pub fn raw(msg_type: &[u8], seq_num: u64, body: &[(u32, &str)]) -> Vec<u8> {
    let mut encoder = Encoder::with_capacity(16 * 1024);
    encoder.begin(msg_type);
    encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
    encoder.field(tags::SENDER_COMP_ID, b"VENUE");
    encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
    encoder.field(tags::TARGET_COMP_ID, b"GEN");
    for (tag, text) in body {
        encoder.field(*tag, text.as_bytes());
    }
    encoder.finish().unwrap().to_vec()
}
