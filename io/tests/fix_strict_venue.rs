//! The FIX rules a strict venue enforces, in memory against hand-made venue
//! messages: tag 5051 only when configured, a Reject or
//! BusinessMessageReject of a request delivered as a typed reject naming
//! its ClOrdID, ResetSeqNumFlag on logon, and "MsgSeqNum too low" stopping
//! the session with an error that names the remedy.

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::*;

use genesis_io::fix::order::{OrderCancelRequest, OrderRequest, Side};
use genesis_io::fix::reject::RejectLevel;
use genesis_io::fix::seq_store::{reset_seq_store, SeqNumbers, SeqReset, SeqStore};
use genesis_io::fix::session::{
    DisconnectReason, SeqNumTooLow, Session, SessionConfig, SessionEvent, SessionState,
};
use genesis_io::fix::status::{MassStatusReqType, OrderMassStatusRequest};
use genesis_io::fix::{tags, FieldTable, Lots, MsgType, SendError};

fn pair_with(config: SessionConfig) -> (Session, Recorder, Session, Recorder) {
    let mut init = Session::new(config, None).unwrap();
    let (mut init_rec, mut acc, mut acc_rec) =
        (Recorder::default(), acceptor(), Recorder::default());
    acc.on_connected(T0_NS, &mut acc_rec);
    init.on_connected(T0_NS, &mut init_rec);
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert_eq!(init.state(), SessionState::Active);
    (init, init_rec, acc, acc_rec)
}

/// Sends one order with a trigger time; returns what the acceptor parsed.
fn trigger_seen_by_venue(send_trigger_time: bool) -> (Option<u64>, bool) {
    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.send_trigger_time = send_trigger_time;
    let (mut init, mut init_rec, mut acc, mut acc_rec) = pair_with(config);
    let mut order = order(b"C1", Side::Buy, 2);
    order.trigger_ns = Some(T0_NS - 7_000);
    init.sender()
        .send_new_order(&order, &scale(), T0_NS)
        .unwrap();
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    let bytes = acc_rec.app_messages.last().unwrap().clone();
    let mut table = FieldTable::new();
    let message = table.decode(&bytes).unwrap();
    let Ok(Some(OrderRequest::New(parsed))) = OrderRequest::parse(&message, &scale()) else {
        panic!("the acceptor did not get the order");
    };
    (
        parsed.trigger_ns,
        message.get(tags::GENESIS_TRIGGER_NS).is_some(),
    )
}

#[test]
fn trigger_time_tag_is_sent_only_when_configured() {
    // Default: no 5051 on the wire. Configured (the simulator): 5051 carries the time.
    assert!(!SessionConfig::initiator("A", "B").send_trigger_time);
    assert_eq!(trigger_seen_by_venue(false), (None, false));
    assert_eq!(trigger_seen_by_venue(true), (Some(T0_NS - 7_000), true));
}

#[test]
fn session_reject_of_an_order_names_its_cl_ord_id() {
    // 35=3 with RefSeqNum of our D and of our F: each reaches the handler as
    // a typed reject naming that request; a Reject of a heartbeat does not.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let order_seq = init
        .sender()
        .send_new_order(&order(b"C1", Side::Buy, 5), &scale(), T0_NS)
        .unwrap();
    let cancel = OrderCancelRequest {
        orig_cl_ord_id: b"C1",
        cl_ord_id: b"C1.c1",
        symbol: b"ACME",
        side: Side::Buy,
        qty_lots: Lots(5),
        transact_time_ns: T0_NS,
    };
    let cancel_seq = init.sender().send_cancel(&cancel, &scale(), T0_NS).unwrap();
    take_output(&mut init);
    let next_in = init.seq_numbers().next_in;
    let reject = |seq_num: u64, ref_seq_num: u64| {
        let ref_seq_num = ref_seq_num.to_string();
        raw(
            b"3",
            seq_num,
            &[
                (tags::REF_SEQ_NUM, &ref_seq_num),
                (tags::TEXT, "Invalid tag number"),
                (tags::REF_TAG_ID, "5051"),
                (tags::REF_MSG_TYPE, "D"),
                (tags::SESSION_REJECT_REASON, "0"),
            ],
        )
    };
    init.on_bytes(&reject(next_in, order_seq), T0_NS, &mut rec);
    init.on_bytes(&reject(next_in + 1, cancel_seq), T0_NS, &mut rec);
    init.on_bytes(&reject(next_in + 2, 1), T0_NS, &mut rec);
    assert_eq!(
        rec.rejects[0],
        RejectSeen {
            level: RejectLevel::Session,
            msg_type: Some(MsgType::NewOrderSingle),
            request_id: Some(b"C1".to_vec()),
            ref_seq_num: Some(order_seq),
            ref_tag: Some(5051),
            reason: Some(0),
            text: Some("Invalid tag number".into()),
        }
    );
    assert_eq!(rec.rejects[1].msg_type, Some(MsgType::OrderCancelRequest));
    assert_eq!(rec.rejects[1].request_id.as_deref(), Some(&b"C1.c1"[..]));
    assert_eq!(rec.rejects.len(), 2, "the Logon (seq 1) is not a request");
    let received = rec
        .events
        .iter()
        .filter(|event| matches!(event, SessionEvent::RejectReceived { .. }))
        .count();
    assert_eq!(received, 3, "every Reject is still reported as an event");
    let counters = init.counters();
    assert_eq!(
        (counters.rejects_received, counters.requests_rejected),
        (3, 2)
    );
    assert_eq!(init.state(), SessionState::Active);
}

#[test]
fn business_reject_names_the_request_and_is_not_an_app_message() {
    // 35=j names the order by BusinessRejectRefID(379); an AF refused
    // without 379 is named from the sent log by RefSeqNum.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    let order_seq = init
        .sender()
        .send_new_order(&order(b"C9", Side::Sell, 1), &scale(), T0_NS)
        .unwrap();
    let mass = OrderMassStatusRequest {
        mass_status_req_id: b"GEN-MS1",
        req_type: MassStatusReqType::AllOrders,
        symbol: None,
        side: None,
    };
    let mass_seq = init
        .sender()
        .send_mass_status_request(&mass, T0_NS)
        .unwrap();
    let next_in = init.seq_numbers().next_in;
    let order_seq = order_seq.to_string();
    let mass_seq = mass_seq.to_string();
    let order_reject = [
        (tags::REF_SEQ_NUM, order_seq.as_str()),
        (tags::REF_MSG_TYPE, "D"),
        (tags::BUSINESS_REJECT_REF_ID, "C9"),
        (tags::BUSINESS_REJECT_REASON, "2"),
        (tags::TEXT, "Unknown security"),
    ];
    let mass_reject = [
        (tags::REF_SEQ_NUM, mass_seq.as_str()),
        (tags::REF_MSG_TYPE, "AF"),
        (tags::BUSINESS_REJECT_REASON, "3"),
    ];
    init.on_bytes(&raw(b"j", next_in, &order_reject), T0_NS, &mut rec);
    init.on_bytes(&raw(b"j", next_in + 1, &mass_reject), T0_NS, &mut rec);
    assert_eq!(rec.rejects.len(), 2);
    assert_eq!(rec.rejects[0].level, RejectLevel::Business);
    assert_eq!(rec.rejects[0].msg_type, Some(MsgType::NewOrderSingle));
    assert_eq!(rec.rejects[0].request_id.as_deref(), Some(&b"C9"[..]));
    assert_eq!(rec.rejects[0].reason, Some(2));
    assert_eq!(
        rec.rejects[1].msg_type,
        Some(MsgType::OrderMassStatusRequest)
    );
    assert_eq!(rec.rejects[1].request_id.as_deref(), Some(&b"GEN-MS1"[..]));
    assert!(
        rec.app_msg_types.is_empty(),
        "35=j is not handed on as an app message"
    );
    assert_eq!(
        init.counters().rejects_sent,
        0,
        "35=j is a known MsgType now"
    );
}

#[test]
fn overlong_cl_ord_id_is_refused_unsent() {
    // The sent log holds 64-byte ids: a longer ClOrdID is a send error, no number used.
    let (mut init, _rec, _acc, _) = logged_on_pair();
    let next_out = init.seq_numbers().next_out;
    let long_id = [b'x'; 65];
    let refused = init
        .sender()
        .send_new_order(&order(&long_id, Side::Buy, 1), &scale(), T0_NS);
    assert_eq!(
        refused,
        Err(SendError::BadValue {
            tag: tags::CL_ORD_ID
        })
    );
    assert_eq!(init.seq_numbers().next_out, next_out);
    assert!(init.pending_output().is_empty());
}

#[test]
fn reset_on_logon_resets_both_sides_and_the_store() {
    // Stored numbers 50/40 and a venue expecting 50: with reset_on_logon the
    // Logon goes out as 34=1 with 141=Y, the acceptor echoes 141=Y from 1,
    // and the file follows.
    let directory = tempfile::tempdir().unwrap();
    let init_path = directory.path().join("gen.seq");
    let acc_path = directory.path().join("venue.seq");
    let stale = SeqNumbers {
        next_out: 50,
        next_in: 40,
    };
    SeqStore::new(&init_path).save(stale).unwrap();
    SeqStore::new(&acc_path)
        .save(SeqNumbers {
            next_out: 40,
            next_in: 50,
        })
        .unwrap();
    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.reset_on_logon = true;
    let mut init = Session::new(config, Some(SeqStore::new(&init_path))).unwrap();
    let acc_config = SessionConfig::acceptor("VENUE", "GEN");
    let mut acc = Session::new(acc_config, Some(SeqStore::new(&acc_path))).unwrap();
    let (mut init_rec, mut acc_rec) = (Recorder::default(), Recorder::default());
    acc.on_connected(T0_NS, &mut acc_rec);
    init.on_connected(T0_NS, &mut init_rec);
    let logon = messages(init.pending_output());
    assert_eq!(value(&logon[0], tags::MSG_SEQ_NUM), Some("1"));
    assert_eq!(value(&logon[0], tags::RESET_SEQ_NUM_FLAG), Some("Y"));
    deliver(&mut init, &mut acc, &mut acc_rec, T0_NS);
    let answer = messages(acc.pending_output());
    assert_eq!(value(&answer[0], tags::MSG_SEQ_NUM), Some("1"));
    assert_eq!(value(&answer[0], tags::RESET_SEQ_NUM_FLAG), Some("Y"));
    settle(&mut init, &mut init_rec, &mut acc, &mut acc_rec, T0_NS);
    assert_eq!(
        (init.state(), acc.state()),
        (SessionState::Active, SessionState::Active)
    );
    let fresh = SeqNumbers {
        next_out: 2,
        next_in: 2,
    };
    assert_eq!((init.seq_numbers(), acc.seq_numbers()), (fresh, fresh));
    assert!(init_rec.events.contains(&SessionEvent::SeqNumsReset));
    let stored = SeqStore::new(&init_path).load_state().unwrap().unwrap();
    assert_eq!(stored.numbers, fresh);
    assert!(
        !stored.reset_on_next_logon,
        "the acknowledged Logon clears the pending reset"
    );
}

/// A Logout as QuickFIX sends it when our MsgSeqNum is below what it expects.
fn quickfix_too_low_logout(seq_num: u64, expected: u64, received: u64) -> Vec<u8> {
    let text = format!("MsgSeqNum too low, expecting {expected} but received {received}");
    raw(b"5", seq_num, &[(tags::TEXT, &text)])
}

#[test]
fn venue_logout_for_seq_too_low_stops_the_session_with_the_remedy() {
    // The venue expects 20, we log on with 5: its Logout stops the session;
    // it will not log on again until the store is reset, then it sends 141=Y.
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("gen.seq");
    let behind = SeqNumbers {
        next_out: 5,
        next_in: 9,
    };
    SeqStore::new(&path).save(behind).unwrap();
    let config = SessionConfig::initiator("GEN", "VENUE");
    let mut init = Session::new(config.clone(), Some(SeqStore::new(&path))).unwrap();
    let mut rec = Recorder::default();
    init.on_connected(T0_NS, &mut rec);
    take_output(&mut init);
    init.on_bytes(&quickfix_too_low_logout(9, 20, 5), T0_NS, &mut rec);
    let problem = SeqNumTooLow::Sent {
        expected: Some(20),
        sent: Some(5),
    };
    assert!(rec.events.contains(&SessionEvent::SeqNumTooLow(problem)));
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::SeqNumTooLowAtCounterparty)
    );
    let error = init
        .seq_num_error()
        .expect("an error naming the remedy")
        .to_string();
    for needle in [
        "genesis fix reset-seq",
        path.to_str().unwrap(),
        "expected MsgSeqNum 20 but we sent 5",
    ] {
        assert!(error.contains(needle), "{needle:?} missing in: {error}");
    }
    // Reconnecting is refused: no Logon goes out, the session asks to disconnect.
    init.on_disconnected().unwrap();
    init.on_connected(T0_NS + SECOND_NS, &mut rec);
    assert!(
        take_output(&mut init).is_empty(),
        "no Logon while the numbers disagree"
    );
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::SeqNumTooLow)
    );
    // A reset while the session lives is refused; after it is gone it works.
    let in_use = reset_seq_store(&path, SeqReset::LogonReset).unwrap_err();
    assert!(in_use.to_string().contains("stop it first"), "{in_use}");
    drop(init);
    let done = reset_seq_store(&path, SeqReset::LogonReset).unwrap();
    // 5 went to the Logon, 6 to the answer to the venue's Logout.
    assert_eq!(done.previous.map(|numbers| numbers.next_out), Some(7));
    let mut init = Session::new(config, Some(SeqStore::new(&path))).unwrap();
    init.on_connected(T0_NS + 2 * SECOND_NS, &mut rec);
    let logon = take_output(&mut init);
    assert_eq!(value(&logon[0], tags::MSG_SEQ_NUM), Some("1"));
    assert_eq!(value(&logon[0], tags::RESET_SEQ_NUM_FLAG), Some("Y"));
    assert!(init.seq_num_error().is_none());
}

#[test]
fn their_seq_too_low_stops_too_unless_reset_on_logon() {
    // The venue restarted from 1 while we expect 2: Logout, stop, remedy.
    // With reset_on_logon the next connect resets instead of stopping.
    let (mut init, mut rec, _acc, _) = logged_on_pair();
    init.on_bytes(&raw(b"0", 1, &[]), T0_NS, &mut rec);
    let problem = SeqNumTooLow::Received {
        expected: 2,
        received: 1,
    };
    assert_eq!(init.seq_num_too_low(), Some(problem));
    let error = init.seq_num_error().unwrap().to_string();
    assert!(
        error.contains("we expected MsgSeqNum 2 but the venue sent 1"),
        "{error}"
    );
    assert!(
        error.contains("--seq-file <venue.fix.seq_file>"),
        "no file: the config key: {error}"
    );
    init.on_disconnected().unwrap();
    init.on_connected(T0_NS, &mut rec);
    assert_eq!(
        init.disconnect_reason(),
        Some(DisconnectReason::SeqNumTooLow)
    );

    let mut config = SessionConfig::initiator("GEN", "VENUE");
    config.reset_on_logon = true;
    let (mut init, mut rec, _acc, _) = pair_with(config);
    init.on_bytes(&raw(b"0", 1, &[]), T0_NS, &mut rec);
    assert!(init.seq_num_too_low().is_some());
    assert!(
        init.seq_num_error().is_none(),
        "reset_on_logon is the remedy already"
    );
    init.on_disconnected().unwrap();
    init.on_connected(T0_NS, &mut rec);
    let logon = take_output(&mut init);
    assert_eq!(value(&logon[0], tags::RESET_SEQ_NUM_FLAG), Some("Y"));
    assert_eq!(init.seq_num_too_low(), None);
}
