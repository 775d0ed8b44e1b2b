//! Session state machine tests: an initiator and an acceptor wired together
//! in memory (no sockets), with time driven by hand, plus hand-made bad input.

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::*;

use genesis_io::fix::exec_report::ExecKind;
use genesis_io::fix::order::Side;
use genesis_io::fix::seq_store::{SeqNumbers, SeqStore};
use genesis_io::fix::session::{
    DisconnectReason, Session, SessionConfig, SessionEvent, SessionState,
};
use genesis_io::fix::{tags, Encoder, SendError};

#[test]
fn orders_are_filled_and_positions_match() {
    // Logon, two buys and a sell through the in-memory acceptor; fills add up.
    let (mut init, mut init_rec, mut acc, mut acc_rec) = logged_on_pair();
    init.sender()
        .send_new_order(&order(b"C1", Side::Buy, 5), &scale(), T0_NS)
        .unwrap();
    init.sender()
        .send_new_order(&order(b"C2", Side::Buy, 3), &scale(), T0_NS)
        .unwrap();
    init.sender()
        .send_new_order(&order(b"C3", Side::Sell, 2), &scale(), T0_NS)
        .unwrap();
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert_eq!(init_rec.fills_lots, 6);
    assert_eq!(init_rec.kinds, vec![ExecKind::Fill; 3]);
    assert_eq!(
        init.seq_numbers(),
        SeqNumbers {
            next_out: 5,
            next_in: 5
        }
    );
    assert_eq!(acc.counters().app_messages_received, 3);
}

#[test]
fn business_messages_wait_for_logon() {
    // Before the Logon answer, an order is refused and nothing is queued.
    let mut session = initiator();
    let mut recorder = Recorder::default();
    session.on_connected(T0_NS, &mut recorder);
    let pending_len = session.pending_output().len();
    let refused = session
        .sender()
        .send_new_order(&order(b"C1", Side::Buy, 1), &scale(), T0_NS);
    assert_eq!(refused, Err(SendError::NotLoggedOn));
    assert_eq!(session.pending_output().len(), pending_len);
    assert_eq!(
        session.seq_numbers().next_out,
        2,
        "only the Logon used a number"
    );
}

#[test]
fn idle_session_heartbeats_then_tests_then_disconnects() {
    // No traffic: Heartbeat at 30 s, TestRequest at 36 s, disconnect at 66 s.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.poll_timers(T0_NS + 29 * SECOND_NS, &mut rec);
    assert!(take_output(&mut init).is_empty());
    init.poll_timers(T0_NS + 30 * SECOND_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(sent.len(), 1);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("0"));
    init.poll_timers(T0_NS + 36 * SECOND_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("1"));
    assert!(value(&sent[0], tags::TEST_REQ_ID).is_some());
    init.poll_timers(T0_NS + 66 * SECOND_NS, &mut rec);
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::CounterpartySilent)
    );
    let sent = take_output(&mut init);
    assert_eq!(value(sent.last().unwrap(), tags::MSG_TYPE), Some("5"));
    assert_eq!(init.counters().test_requests_sent, 1);
}

#[test]
fn test_request_is_answered_with_its_id() {
    // The venue asks; we answer with a Heartbeat echoing TestReqID.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.on_bytes(
        &raw(b"1", 2, &[(tags::TEST_REQ_ID, "ping-7")]),
        T0_NS,
        &mut rec,
    );
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("0"));
    assert_eq!(value(&sent[0], tags::TEST_REQ_ID), Some("ping-7"));
}

#[test]
fn garbled_checksum_is_ignored_and_the_gap_recovered() {
    // A bad checksum is dropped silently; the next message reveals the gap.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let mut garbled = raw(b"0", 2, &[]);
    let checksum_index = garbled.len() - 2;
    garbled[checksum_index] = if garbled[checksum_index] == b'9' {
        b'8'
    } else {
        b'9'
    };
    init.on_bytes(&garbled, T0_NS, &mut rec);
    assert!(
        take_output(&mut init).is_empty(),
        "no Reject for a garbled message"
    );
    assert_eq!(init.counters().garbled, 1);
    init.on_bytes(&raw(b"0", 3, &[]), T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("2"));
    assert_eq!(value(&sent[0], tags::BEGIN_SEQ_NO), Some("2"));
    assert_eq!(value(&sent[0], tags::END_SEQ_NO), Some("0"));
    assert_eq!(init.counters().gaps, 1);
    assert_eq!(
        init.seq_numbers().next_in,
        2,
        "the message above the gap was not consumed"
    );
}

#[test]
fn garbled_body_length_is_ignored() {
    // BodyLength off by one: dropped and counted, nothing else happens.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let text = String::from_utf8(raw(b"0", 2, &[])).unwrap();
    let body_length: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let wrong = text.replacen(
        &format!("9={body_length}"),
        &format!("9={}", body_length - 1),
        1,
    );
    init.on_bytes(wrong.as_bytes(), T0_NS, &mut rec);
    assert!(init.counters().garbled >= 1);
    assert_eq!(init.seq_numbers().next_in, 2);
    assert_eq!(init.state(), SessionState::Active);
}

#[test]
fn missing_required_tag_is_rejected() {
    // An ExecutionReport without ExecID(17) gets a session Reject 373=1, 371=17.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let body = [
        (tags::ORDER_ID, "O1"),
        (tags::EXEC_TYPE, "0"),
        (tags::ORD_STATUS, "0"),
        (tags::SIDE, "1"),
    ];
    init.on_bytes(&raw(b"8", 2, &body), T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("3"));
    assert_eq!(value(&sent[0], tags::REF_SEQ_NUM), Some("2"));
    assert_eq!(value(&sent[0], tags::SESSION_REJECT_REASON), Some("1"));
    assert_eq!(value(&sent[0], tags::REF_TAG_ID), Some("17"));
    assert_eq!(
        init.seq_numbers().next_in,
        3,
        "a rejected message consumes its number"
    );
    assert_eq!(init.counters().missing_tag, 1);
    assert!(rec.kinds.is_empty(), "nothing reached the application");
}

#[test]
fn unknown_msg_type_is_rejected() {
    // MsgType "ZZ" gets a Reject with 373=11 and 372=ZZ.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.on_bytes(&raw(b"ZZ", 2, &[]), T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::SESSION_REJECT_REASON), Some("11"));
    assert_eq!(value(&sent[0], tags::REF_MSG_TYPE), Some("ZZ"));
    assert_eq!(init.counters().unknown_msg_type, 1);
}

#[test]
fn seq_num_too_low_logs_out_with_a_reason() {
    // MsgSeqNum 1 again without PossDupFlag: Logout saying why, then disconnect.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.on_bytes(&raw(b"0", 1, &[]), T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("5"));
    assert_eq!(
        value(&sent[0], tags::TEXT),
        Some("MsgSeqNum too low, expecting 2 but received 1")
    );
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::SeqNumTooLow)
    );
}

#[test]
fn poss_dup_below_expected_is_ignored() {
    // A resend of something already processed is dropped, not fatal.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let body = [
        (tags::POSS_DUP_FLAG, "Y"),
        (tags::ORIG_SENDING_TIME, "20231114-22:13:20.000"),
    ];
    init.on_bytes(&raw(b"0", 1, &body), T0_NS, &mut rec);
    assert!(take_output(&mut init).is_empty());
    assert_eq!(init.counters().duplicates_ignored, 1);
    assert_eq!(init.state(), SessionState::Active);
}

#[test]
fn too_long_message_logs_out() {
    // A BodyLength above the configured maximum ends the session with a reason.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let text = "x".repeat(5000);
    init.on_bytes(&raw(b"0", 2, &[(tags::TEXT, &text)]), T0_NS, &mut rec);
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::MessageTooLong)
    );
    let sent = take_output(&mut init);
    assert!(value(sent.last().unwrap(), tags::TEXT)
        .unwrap()
        .starts_with("message too long"));
    assert_eq!(init.counters().too_long, 1);
}

#[test]
fn comp_id_mismatch_rejects_and_logs_out() {
    // A message from a stranger is rejected (373=9) and the session ends.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let text = String::from_utf8(raw(b"0", 2, &[]))
        .unwrap()
        .replace("49=VENUE", "49=EVILX");
    let mut bytes = text.into_bytes();
    let checksum_start = bytes.len() - 4;
    let sum = bytes[..checksum_start - 3]
        .iter()
        .map(|&byte| u32::from(byte))
        .sum::<u32>()
        % 256;
    bytes.splice(checksum_start.., format!("{sum:03}\x01").into_bytes());
    init.on_bytes(&bytes, T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(value(&sent[0], tags::SESSION_REJECT_REASON), Some("9"));
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::CompIdMismatch)
    );
}

#[test]
fn resend_request_is_answered_with_a_gap_fill_never_an_order() {
    // The venue asks for 2..0 after we sent an order: one SequenceReset-GapFill.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.sender()
        .send_new_order(&order(b"C1", Side::Buy, 1), &scale(), T0_NS)
        .unwrap();
    take_output(&mut init);
    let body = [(tags::BEGIN_SEQ_NO, "2"), (tags::END_SEQ_NO, "0")];
    init.on_bytes(&raw(b"2", 2, &body), T0_NS, &mut rec);
    let sent = take_output(&mut init);
    assert_eq!(sent.len(), 1);
    assert_eq!(value(&sent[0], tags::MSG_TYPE), Some("4"));
    assert_eq!(value(&sent[0], tags::MSG_SEQ_NUM), Some("2"));
    assert_eq!(value(&sent[0], tags::GAP_FILL_FLAG), Some("Y"));
    assert_eq!(value(&sent[0], tags::POSS_DUP_FLAG), Some("Y"));
    assert_eq!(value(&sent[0], tags::NEW_SEQ_NO), Some("3"));
    assert!(rec.events.contains(&SessionEvent::GapFilled {
        begin: 2,
        new_seq_num: 3
    }));
}

#[test]
fn gap_fill_and_poss_dup_resends_recover_a_gap() {
    // After a gap, the venue's gap fill plus PossDup resend bring us level;
    // the resent fill is delivered once and a second copy is deduplicated.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.on_bytes(&raw(b"0", 4, &[]), T0_NS, &mut rec);
    assert_eq!(
        value(&take_output(&mut init)[0], tags::BEGIN_SEQ_NO),
        Some("2")
    );
    let gap_fill = [
        (tags::POSS_DUP_FLAG, "Y"),
        (tags::GAP_FILL_FLAG, "Y"),
        (tags::NEW_SEQ_NO, "3"),
    ];
    init.on_bytes(&raw(b"4", 2, &gap_fill), T0_NS, &mut rec);
    let fill = [
        (tags::POSS_DUP_FLAG, "Y"),
        (tags::ORIG_SENDING_TIME, "20231114-22:13:20.000"),
        (tags::ORDER_ID, "O1"),
        (tags::EXEC_ID, "X1"),
        (tags::EXEC_TYPE, "F"),
        (tags::ORD_STATUS, "2"),
        (tags::SIDE, "1"),
        (tags::LEAVES_QTY, "0"),
        (tags::CUM_QTY, "4"),
        (tags::AVG_PX, "101.25"),
        (tags::LAST_QTY, "4"),
        (tags::LAST_PX, "101.25"),
    ];
    init.on_bytes(&raw(b"8", 3, &fill), T0_NS, &mut rec);
    init.on_bytes(&raw(b"8", 3, &fill), T0_NS, &mut rec);
    init.on_bytes(&raw(b"0", 4, &[]), T0_NS, &mut rec);
    assert_eq!(init.seq_numbers().next_in, 5);
    assert_eq!(rec.kinds, vec![ExecKind::Fill]);
    assert_eq!(init.counters().duplicates_ignored, 1);
    assert!(take_output(&mut init).is_empty(), "no second ResendRequest");
}

#[test]
fn logout_both_ways() {
    // We log out and the venue answers; the venue logs out and we answer.
    let (mut init, mut init_rec, mut acc, mut acc_rec) = logged_on_pair();
    init.logout(b"end of day", T0_NS, &mut init_rec);
    assert_eq!(init.state(), SessionState::LogoutSent);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::LogoutComplete)
    );
    assert_eq!(
        acc.disconnect_reason(),
        Some(DisconnectReason::LogoutComplete)
    );
    assert!(acc_rec.events.contains(&SessionEvent::LogoutReceived));

    let (mut init, mut init_rec, mut acc, mut acc_rec) = logged_on_pair();
    acc.logout(b"", T0_NS, &mut acc_rec);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert!(init_rec.events.contains(&SessionEvent::LogoutReceived));
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::LogoutComplete)
    );
}

#[test]
fn logon_timeout_disconnects() {
    // No Logon answer within logon_timeout_ns.
    let mut session = initiator();
    let mut rec = Recorder::default();
    session.on_connected(T0_NS, &mut rec);
    session.poll_timers(T0_NS + 10 * SECOND_NS, &mut rec);
    assert_eq!(
        session.disconnect_reason(),
        Some(DisconnectReason::LogonTimeout)
    );
}

#[test]
fn first_message_must_be_logon() {
    // The acceptor drops a connection whose first message is not Logon.
    let mut session = acceptor();
    let mut rec = Recorder::default();
    session.on_connected(T0_NS, &mut rec);
    let mut encoder = Encoder::with_capacity(256);
    encoder.begin(b"0");
    encoder.field_u64(tags::MSG_SEQ_NUM, 1);
    encoder.field(tags::SENDER_COMP_ID, b"GEN");
    encoder.field_timestamp(tags::SENDING_TIME, T0_NS);
    encoder.field(tags::TARGET_COMP_ID, b"VENUE");
    let bytes = encoder.finish().unwrap().to_vec();
    session.on_bytes(&bytes, T0_NS, &mut rec);
    assert_eq!(
        session.disconnect_reason(),
        Some(DisconnectReason::LogonInvalid)
    );
}

#[test]
fn partial_writes_keep_the_tail() {
    // The socket takes 10 bytes; the rest stays queued in order.
    let (mut init, _rec, _acc, _) = logged_on_pair();
    init.sender()
        .send_new_order(&order(b"C1", Side::Buy, 1), &scale(), T0_NS)
        .unwrap();
    let all = init.pending_output().to_vec();
    init.consume_output(10);
    assert_eq!(init.pending_output(), &all[10..]);
}

#[test]
fn sequence_numbers_survive_a_clean_restart() {
    // Disconnect persists exact numbers; a new session resumes from them.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("gen.seq");
    let mut acc = acceptor();
    let mut acc_rec = Recorder {
        fill_orders: true,
        ..Recorder::default()
    };
    let mut init = Session::new(
        SessionConfig::initiator("GEN", "VENUE"),
        Some(SeqStore::new(&path)),
    )
    .unwrap();
    let mut init_rec = Recorder::default();
    acc.on_connected(T0_NS, &mut acc_rec);
    init.on_connected(T0_NS, &mut init_rec);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    init.sender()
        .send_new_order(&order(b"C1", Side::Buy, 1), &scale(), T0_NS)
        .unwrap();
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    init.on_disconnected().unwrap();
    let restarted = Session::new(
        SessionConfig::initiator("GEN", "VENUE"),
        Some(SeqStore::new(&path)),
    )
    .unwrap();
    assert_eq!(
        restarted.seq_numbers(),
        SeqNumbers {
            next_out: 3,
            next_in: 3
        }
    );
}

#[test]
fn crash_never_reuses_an_outgoing_seq_num() {
    // Without a clean disconnect the reservation on disk is ahead of what was sent.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("gen.seq");
    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.seq_reserve_block = 2;
    let (mut acc, mut acc_rec) = (
        acceptor(),
        Recorder {
            fill_orders: true,
            ..Recorder::default()
        },
    );
    let mut init = Session::new(config.clone(), Some(SeqStore::new(&path))).unwrap();
    let mut init_rec = Recorder::default();
    acc.on_connected(T0_NS, &mut acc_rec);
    init.on_connected(T0_NS, &mut init_rec);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    for index in 0..5 {
        let id = format!("C{index}");
        init.sender()
            .send_new_order(&order(id.as_bytes(), Side::Buy, 1), &scale(), T0_NS)
            .unwrap();
    }
    let sent_next_out = init.seq_numbers().next_out;
    drop(init);
    let stored = SeqStore::new(&path).load().unwrap().unwrap();
    assert!(
        stored.next_out >= sent_next_out,
        "{} < {}",
        stored.next_out,
        sent_next_out
    );
}
