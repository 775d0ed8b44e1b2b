//! Codec properties: arbitrary bytes never panic the decoder or the framer,
//! typed messages round-trip through encode and decode, and the framer
//! finds exactly the messages of a stream however it is chunked.

use genesis_io::fix::exec_report::{ExecKind, ExecType, ExecutionReport, OrdStatus, OrderUpdate};
use genesis_io::fix::order::{NewOrderSingle, OrdType, OrderRequest, Side, TimeInForce};
use genesis_io::fix::{tags, Encoder, FieldTable, Frame, Framer, InstrumentScale, Lots, Ticks};
use proptest::prelude::*;

fn scale() -> InstrumentScale {
    InstrumentScale::new("0.05", "10").unwrap()
}

fn header(encoder: &mut Encoder, msg_type: &[u8], seq_num: u64) {
    encoder.begin(msg_type);
    encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
    encoder.field(tags::SENDER_COMP_ID, b"GEN");
    encoder.field_timestamp(tags::SENDING_TIME, 1_700_000_000_000_000_000);
    encoder.field(tags::TARGET_COMP_ID, b"VENUE");
}

fn encode_order(order: &NewOrderSingle<'_>, seq_num: u64) -> Vec<u8> {
    let mut encoder = Encoder::with_capacity(1024);
    header(&mut encoder, b"D", seq_num);
    order.encode_body(&mut encoder, &scale());
    encoder.finish().unwrap().to_vec()
}

fn side_strategy() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell), Just(Side::SellShort)]
}

proptest! {
    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Whatever arrives, decode returns Ok or Err.
        let mut table = FieldTable::new();
        let _ = table.decode(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_mutated_messages(index in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
        // A real message with one byte changed and/or truncated.
        let order = NewOrderSingle {
            cl_ord_id: b"C1", account: Some(b"ACC"), symbol: b"ACME", side: Side::Buy,
            qty_lots: Lots(3), ord_type: OrdType::Limit, price_ticks: Some(Ticks(2025)),
            time_in_force: TimeInForce::Day, transact_time_ns: 0,
            trigger_ns: None,
        };
        let mut bytes = encode_order(&order, 9);
        let length = bytes.len();
        bytes[index % length] = byte;
        bytes.truncate(length - cut % length);
        let mut table = FieldTable::new();
        if let Ok(message) = table.decode(&bytes) {
            let _ = OrderRequest::parse(&message, &scale());
            let _ = OrderUpdate::parse(&message, &scale());
        }
    }

    #[test]
    fn framer_never_panics_and_always_progresses(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..32),
        prefix_bias in proptest::collection::vec(0usize..3, 0..32),
    ) {
        // Random chunks, some starting with a plausible FIX prefix.
        let mut framer = Framer::new(128);
        let mut table = FieldTable::new();
        for (index, chunk) in chunks.iter().enumerate() {
            if prefix_bias.get(index) == Some(&0) {
                framer.push(b"8=FIX.4.4\x019=");
            }
            framer.push(chunk);
            let mut frames_count = 0;
            while let Some(frame) = framer.next_frame() {
                frames_count += 1;
                prop_assert!(frames_count <= 10_000, "framer did not progress");
                if let Frame::Message(range) = frame {
                    let _ = table.decode(framer.bytes(range));
                }
            }
        }
    }

    #[test]
    fn new_order_round_trips(
        qty in 1i64..1_000_000, price in -1_000_000i64..1_000_000, side in side_strategy(),
        cl_ord_id in "[A-Za-z0-9]{1,20}", seq_num in 1u64..u64::MAX / 2, transact_ms in 0u64..4_000_000_000_000,
    ) {
        // Encode a NewOrderSingle, decode it, parse it: the same order comes back.
        let order = NewOrderSingle {
            cl_ord_id: cl_ord_id.as_bytes(), account: None, symbol: b"ACME", side,
            qty_lots: Lots(qty), ord_type: OrdType::Limit, price_ticks: Some(Ticks(price)),
            time_in_force: TimeInForce::ImmediateOrCancel, transact_time_ns: transact_ms * 1_000_000,
            trigger_ns: None,
        };
        let bytes = encode_order(&order, seq_num);
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        prop_assert_eq!(message.seq_num(), Ok(seq_num));
        let parsed = OrderRequest::parse(&message, &scale()).unwrap();
        prop_assert_eq!(parsed, Some(OrderRequest::New(order)));
    }

    #[test]
    fn execution_report_round_trips(
        last_qty in 0i64..1_000_000, leaves in 0i64..1_000_000, price in 0i64..1_000_000,
        exec_type_index in 0usize..6, side in side_strategy(),
    ) {
        // Encode an ExecutionReport as the acceptor does; the initiator parses the same.
        let (exec_type, ord_status) = [
            (ExecType::New, OrdStatus::New), (ExecType::Trade, OrdStatus::PartiallyFilled),
            (ExecType::Trade, OrdStatus::Filled), (ExecType::Canceled, OrdStatus::Canceled),
            (ExecType::Replaced, OrdStatus::New), (ExecType::Rejected, OrdStatus::Rejected),
        ][exec_type_index];
        let kind = ExecKind::from_codes(exec_type, ord_status);
        let filled = matches!(kind, ExecKind::Fill | ExecKind::PartialFill);
        let report = ExecutionReport {
            kind, exec_type, ord_status, order_id: b"O-1", exec_id: b"E-77",
            cl_ord_id: Some(b"C-1"), orig_cl_ord_id: None, symbol: Some(b"ACME"), side,
            order_qty_lots: Some(Lots(last_qty + leaves)),
            last_qty_lots: Lots(if filled { last_qty } else { 0 }),
            last_px_ticks: Ticks(if filled { price } else { 0 }),
            cum_qty_lots: Lots(last_qty), leaves_qty_lots: Lots(leaves), avg_px_text: b"12.345",
            ord_rej_reason: None, text: Some(b"ok"), poss_dup: false,
        };
        let mut encoder = Encoder::with_capacity(1024);
        header(&mut encoder, b"8", 3);
        report.encode_body(&mut encoder, &scale());
        let bytes = encoder.finish().unwrap().to_vec();
        let mut table = FieldTable::new();
        let message = table.decode(&bytes).unwrap();
        prop_assert_eq!(OrderUpdate::parse(&message, &scale()).unwrap(), Some(OrderUpdate::Execution(report)));
    }

    #[test]
    fn framer_finds_every_message_however_chunked(
        count in 1usize..20, cuts in proptest::collection::vec(1usize..50, 1..40),
    ) {
        // A stream of messages split at random points yields them all, in order.
        let mut stream = Vec::new();
        for seq_num in 0..count as u64 {
            let mut encoder = Encoder::with_capacity(256);
            header(&mut encoder, b"0", seq_num + 1);
            stream.extend_from_slice(encoder.finish().unwrap());
        }
        let mut framer = Framer::new(256);
        let mut table = FieldTable::new();
        let mut found = Vec::new();
        let mut offset = 0;
        let mut cut_index = 0;
        while offset < stream.len() {
            let step = cuts[cut_index % cuts.len()].min(stream.len() - offset);
            cut_index += 1;
            framer.push(&stream[offset..offset + step]);
            offset += step;
            while let Some(frame) = framer.next_frame() {
                let Frame::Message(range) = frame else { panic!("unexpected {frame:?}") };
                found.push(table.decode(framer.bytes(range)).unwrap().seq_num().unwrap());
            }
        }
        prop_assert_eq!(found, (1..=count as u64).collect::<Vec<_>>());
    }
}

#[test]
fn off_grid_price_is_refused_on_decode() {
    // 20.03 is not a multiple of the 0.05 tick: an error, never a rounded price.
    let order = NewOrderSingle {
        cl_ord_id: b"C1",
        account: None,
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(1),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(400)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: 0,
        trigger_ns: None,
    };
    let text = String::from_utf8(encode_order(&order, 1)).unwrap();
    assert!(text.contains("\x0144=20\x01"), "{text}");
    let fine = InstrumentScale::new("0.01", "10").unwrap();
    let coarse = InstrumentScale::new("0.5", "10").unwrap();
    let mut table = FieldTable::new();
    let message = table.decode(text.as_bytes()).unwrap();
    assert!(OrderRequest::parse(&message, &fine).is_ok());
    let wrong_lot = InstrumentScale::new("0.05", "7").unwrap();
    assert!(
        OrderRequest::parse(&message, &wrong_lot).is_err(),
        "10 is not a multiple of 7"
    );
    assert!(
        OrderRequest::parse(&message, &coarse).is_ok(),
        "20 is a multiple of 0.5"
    );
}

/// A session logged on as "GEN" to "VENUE", its next MsgSeqNum 2.
fn logged_on_session() -> genesis_io::fix::session::Session {
    use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler};
    struct Ignore;
    impl SessionHandler for Ignore {
        fn on_app_message(&mut self, _: &genesis_io::fix::Message<'_>, _: &mut Sender, _: u64) {}
    }
    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.seq_reserve_block = u64::MAX / 4;
    let mut session = Session::new(config, None).unwrap();
    let t0_ns = 1_700_000_000_000_000_000;
    session.on_connected(t0_ns, &mut Ignore);
    let mut encoder = Encoder::with_capacity(256);
    encoder.begin(b"A");
    encoder.field_u64(tags::MSG_SEQ_NUM, 1);
    encoder.field(tags::SENDER_COMP_ID, b"VENUE");
    encoder.field(tags::TARGET_COMP_ID, b"GEN");
    encoder.field_timestamp(tags::SENDING_TIME, t0_ns);
    encoder.field(tags::ENCRYPT_METHOD, b"0");
    encoder.field(tags::HEART_BT_INT, b"30");
    let logon = encoder.finish().unwrap().to_vec();
    session.on_bytes(&logon, t0_ns, &mut Ignore);
    let pending = session.pending_output().len();
    session.consume_output(pending);
    session
}

proptest! {
    // The session's NewOrderSingle (a prebuilt header prefix, short values
    // copied without memcpy) is byte for byte what the plain field writers
    // make in the same field order, for ids and symbols of every length.
    #[test]
    fn session_order_bytes_match_the_plain_encoder(
        cl_ord_id in "[A-Za-z0-9-]{1,64}",
        account in proptest::option::of("[A-Z0-9]{1,20}"),
        symbol in "[A-Z]{1,12}",
        qty in 1i64..1_000_000,
        price in 1i64..10_000_000,
        now_ns in 1_700_000_000_000_000_000u64..1_800_000_000_000_000_000,
    ) {
        let mut session = logged_on_session();
        let order = NewOrderSingle {
            cl_ord_id: cl_ord_id.as_bytes(),
            account: account.as_deref().map(str::as_bytes),
            symbol: symbol.as_bytes(),
            side: Side::Sell,
            qty_lots: Lots(qty),
            ord_type: OrdType::Limit,
            price_ticks: Some(Ticks(price)),
            time_in_force: TimeInForce::GoodTillCancel,
            transact_time_ns: now_ns - 1_000,
            trigger_ns: None,
        };
        let seq_num = session.sender().send_new_order(&order, &scale(), now_ns).unwrap();
        let mut encoder = Encoder::with_capacity(1024);
        encoder.begin(b"D");
        encoder.field(tags::SENDER_COMP_ID, b"GEN");
        encoder.field(tags::TARGET_COMP_ID, b"VENUE");
        encoder.field_u64(tags::MSG_SEQ_NUM, seq_num);
        encoder.field_timestamp(tags::SENDING_TIME, now_ns);
        order.encode_body(&mut encoder, &scale());
        let expected = encoder.finish().unwrap().to_vec();
        prop_assert_eq!(session.pending_output(), &expected[..]);
        // And every copied value reads back whole (the oracle above shares
        // the field writer).
        let mut table = FieldTable::new();
        let message = table.decode(&expected).unwrap();
        prop_assert_eq!(message.get(tags::CL_ORD_ID), Some(cl_ord_id.as_bytes()));
        prop_assert_eq!(message.get(tags::ACCOUNT), account.as_deref().map(str::as_bytes));
        prop_assert_eq!(message.get(tags::SYMBOL), Some(symbol.as_bytes()));
        prop_assert_eq!(message.get(tags::SENDER_COMP_ID), Some(&b"GEN"[..]));
        prop_assert_eq!(message.get(tags::TARGET_COMP_ID), Some(&b"VENUE"[..]));
        prop_assert_eq!(message.seq_num(), Ok(seq_num));
    }
}
