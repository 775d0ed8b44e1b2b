//! The acceptor driven by hand, one step of its poll at a time, against a
//! client session over loopback: what it reads, answers and sends within a
//! poll happens in an exact order, whatever the machine's load.

use super::FixAcceptor;
use crate::config::SimConfig;
use crate::exchange::{Exchange, MarketDataOut};
use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::order::{NewOrderSingle, OrdType, Side as FixSide, TimeInForce};
use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::status::{MassStatusReqType, OrderMassStatusRequest};
use genesis_io::fix::tcp::TcpInitiator;
use genesis_io::fix::{tags, InstrumentScale, Lots, Message, Ticks};
use genesis_io::venue::{BookEvent, MatchingEngine};
use std::time::{Duration, Instant};

/// Market data goes nowhere.
struct Nowhere;

impl MarketDataOut for Nowhere {
    fn on_book_event(&mut self, _: usize, _: &BookEvent, _: &MatchingEngine, _: u64) {}
    fn on_operation_done(&mut self, _: usize, _: &MatchingEngine, _: u64) {}
}

/// (ExecType, OrdStatus, ClOrdID, CumQty, LastRptRequested) of each report read.
#[derive(Default)]
struct Seen(Vec<[String; 5]>);

impl SessionHandler for Seen {
    fn on_app_message(&mut self, message: &Message<'_>, _: &mut Sender, _: u64) {
        let text = |tag| {
            message
                .get(tag)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        self.0.push([
            text(tags::EXEC_TYPE),
            text(tags::ORD_STATUS),
            text(tags::CL_ORD_ID),
            text(tags::CUM_QTY),
            text(tags::LAST_RPT_REQUESTED),
        ]);
    }
}

struct Rig {
    acceptor: FixAcceptor,
    exchange: Exchange,
    client: TcpInitiator,
    seen: Seen,
    clock: Instant,
}

/// A client session to `acceptor`, not yet connected (it connects when polled).
fn client_of(acceptor: &FixAcceptor) -> TcpInitiator {
    let session = Session::new(SessionConfig::initiator("GENESIS", "VENUE"), None).unwrap();
    let mut client = TcpInitiator::new(
        acceptor.local_addr().unwrap(),
        session,
        Backoff::new(10_000_000, 100_000_000),
    );
    client.set_reconnect(false);
    client
}

impl Rig {
    fn new() -> Rig {
        Rig::with_cancel_on_disconnect(false)
    }

    fn with_cancel_on_disconnect(cancel_on_disconnect: bool) -> Rig {
        let config = SimConfig::cents(&["ALPHA"], 64);
        let acceptor = FixAcceptor::bind(
            &config,
            "127.0.0.1:0".parse().unwrap(),
            ("VENUE", "GENESIS"),
            0,
            cancel_on_disconnect,
        )
        .unwrap();
        let client = client_of(&acceptor);
        Rig {
            acceptor,
            exchange: Exchange::new(1, 64),
            client,
            seen: Seen::default(),
            clock: Instant::now(),
        }
    }

    fn now_ns(&self) -> u64 {
        self.clock.elapsed().as_nanos() as u64 + 1
    }

    /// Steps the acceptor (reading and answering; the exchange's replies
    /// sent only with `replies`) and the client until `done` holds.
    fn drive(&mut self, what: &str, replies: bool, done: impl Fn(&mut Rig) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(self) {
            assert!(Instant::now() < deadline, "{what}: read {:?}", self.seen.0);
            let now = self.now_ns();
            let acceptor = &mut self.acceptor;
            acceptor.accept(now);
            for slot in 0..super::SESSIONS_MAX {
                acceptor.read_slot(slot, &mut self.exchange, &mut Nowhere, now);
            }
            if replies {
                acceptor.send_replies(&mut self.exchange, now);
            }
            for slot in 0..super::SESSIONS_MAX {
                acceptor.flush_slot(slot, &mut self.exchange, &mut Nowhere, now);
            }
            let _ = self.client.poll(now, &mut self.seen);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Logged on, sends order 41 (buy 5 ALPHA at 90.00) and drives until its ack.
    fn order_acked(&mut self) {
        let now = self.now_ns();
        let scale = InstrumentScale::new("0.01", "1").unwrap();
        let order = NewOrderSingle {
            cl_ord_id: b"41",
            account: None,
            symbol: b"ALPHA",
            side: FixSide::Buy,
            qty_lots: Lots(5),
            ord_type: OrdType::Limit,
            price_ticks: Some(Ticks(9_000)),
            time_in_force: TimeInForce::Day,
            transact_time_ns: now,
            trigger_ns: None,
        };
        self.sent().send_new_order(&order, &scale, now).unwrap();
        self.drive("the ack", true, |rig| {
            rig.seen.0.iter().any(|r| r[0] == "0")
        });
    }

    fn sent(&mut self) -> &mut Sender {
        self.client.session().sender()
    }
}

fn mass_status_request(id: &[u8]) -> OrderMassStatusRequest<'_> {
    OrderMassStatusRequest {
        mass_status_req_id: id,
        req_type: MassStatusReqType::AllOrders,
        symbol: None,
        side: None,
    }
}

// A session with a filled order goes away with cancel-on-disconnect on, so
// the venue forgets its ClOrdIDs while the exchange still lists the order
// as done; a new session of the same CompID asks for a mass status. It
// gets an answer that ends (LastRptRequested=Y): the order the venue can
// no longer name is left out of the answer and out of its count. (The
// venue once skipped such orders but counted them, and sent nothing when
// all were skipped: the new session's reconciliation waited until it
// timed out.)
#[test]
fn mass_status_after_a_forgotten_session_still_ends() {
    let mut rig = Rig::with_cancel_on_disconnect(true);
    rig.drive("logon", true, |rig| {
        rig.client.session().state() == SessionState::Active
    });
    rig.order_acked();
    let now = rig.now_ns();
    assert_eq!(rig.exchange.venue_fill_every(1, now, &mut Nowhere), 1);
    rig.drive("the fill report", true, |rig| {
        rig.seen.0.iter().any(|r| r[0] == "F")
    });
    rig.client.drop_connection().unwrap();
    rig.drive("the venue closes the session", true, |rig| {
        rig.acceptor.connected_count() == 0
    });

    rig.client = client_of(&rig.acceptor);
    rig.seen = Seen::default();
    rig.drive("the new session's logon", true, |rig| {
        rig.client.session().state() == SessionState::Active
    });
    let now = rig.now_ns();
    rig.sent()
        .send_mass_status_request(&mass_status_request(b"M2"), now)
        .unwrap();
    rig.drive("the mass status answer's end", true, |rig| {
        rig.seen.0.iter().any(|r| r[4] == "Y")
    });
    let answer: Vec<&[String; 5]> = rig.seen.0.iter().filter(|r| r[0] == "I").collect();
    assert_eq!(answer.len(), 1, "the no-orders answer: {:?}", rig.seen.0);
}

// An order trades out at the exchange while its fill report still waits
// to be encoded for the session, and the session's mass status request is
// read in that moment: the answer tells the order as the exchange holds
// it, filled, and the fill report follows it. (The order once went missing
// from the answer: the venue counted an order done only once its last
// report was sent, so a client that never recorded the order learned of
// the last fill alone, never of the lots before it.)
#[test]
fn mass_status_tells_an_order_filled_whose_report_still_waits() {
    let mut rig = Rig::new();
    rig.drive("logon", true, |rig| {
        rig.client.session().state() == SessionState::Active
    });
    rig.order_acked();
    // The order trades out; its fill report waits in the exchange.
    let now = rig.now_ns();
    assert_eq!(rig.exchange.venue_fill_every(1, now, &mut Nowhere), 1);
    rig.sent()
        .send_mass_status_request(&mass_status_request(b"M1"), now)
        .unwrap();
    rig.drive("the mass status answer", false, |rig| {
        rig.seen.0.iter().any(|r| r[4] == "Y")
    });
    let answer: Vec<&[String; 5]> = rig.seen.0.iter().filter(|r| r[0] == "I").collect();
    assert_eq!(answer.len(), 1, "{:?}", rig.seen.0);
    assert_eq!(
        (&answer[0][1][..], &answer[0][2][..], &answer[0][3][..]),
        ("2", "41", "5"),
        "the order, filled, CumQty 5: {:?}",
        rig.seen.0
    );
    assert!(
        !rig.seen.0.iter().any(|r| r[0] == "F"),
        "the fill report still waits"
    );
    rig.drive("the fill report", true, |rig| {
        rig.seen.0.iter().any(|r| r[0] == "F")
    });
    let last = rig.seen.0.last().unwrap();
    assert_eq!((&last[1][..], &last[3][..]), ("2", "5"), "{:?}", rig.seen.0);
}
