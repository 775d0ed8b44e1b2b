//! The simulated venue as a real venue plays it for a participant that goes
//! away: with cancel-on-disconnect off its resting orders stay and keep
//! trading; when it comes back it asks for them with an
//! OrderMassStatusRequest (35=AF) and OrderStatusRequests (35=H) and gets
//! ExecutionReports with ExecType=I (the mass answer tells the orders that
//! closed lately too, while it was away or not); the summary says what it holds.

mod common;

use common::{start_venue_with, Still};
use genesis_io::fix::backoff::Backoff;
use genesis_io::fix::order::{NewOrderSingle, OrdType, Side as FixSide, TimeInForce};
use genesis_io::fix::session::{Sender, Session, SessionConfig, SessionHandler, SessionState};
use genesis_io::fix::status::{MassStatusReqType, OrderMassStatusRequest, OrderStatusRequest};
use genesis_io::fix::tcp::{poll_until, TcpInitiator};
use genesis_io::fix::{tags, InstrumentScale, Lots, Message, Ticks};
use genesis_sim::{BoardFlow, Top, TopBoard, VenueCommand, VenueSim};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// What the participant read: per message, its type and the fields the test checks.
#[derive(Default)]
struct Seen {
    reports: Vec<Report>,
}

#[derive(Clone, Debug, Default)]
struct Report {
    exec_type: String,
    ord_status: String,
    cl_ord_id: String,
    cum_qty: String,
    tot_num_reports: String,
    last_rpt_requested: String,
    ord_status_req_id: String,
}

impl SessionHandler for Seen {
    fn on_app_message(&mut self, message: &Message<'_>, _sender: &mut Sender, _now_ns: u64) {
        let text = |tag| {
            message
                .get(tag)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        self.reports.push(Report {
            exec_type: text(tags::EXEC_TYPE),
            ord_status: text(tags::ORD_STATUS),
            cl_ord_id: text(tags::CL_ORD_ID),
            cum_qty: text(tags::CUM_QTY),
            tot_num_reports: text(tags::TOT_NUM_REPORTS),
            last_rpt_requested: text(tags::LAST_RPT_REQUESTED),
            ord_status_req_id: text(tags::ORD_STATUS_REQ_ID),
        });
    }
}

fn start_venue() -> VenueSim {
    start_venue_with(Box::new(Still), true)
}

/// Polls until `done` holds for what was read.
fn read_until(
    client: &mut TcpInitiator,
    seen: &mut Seen,
    what: &str,
    done: impl Fn(&Seen) -> bool,
) {
    let reached = std::cell::Cell::new(false);
    let polled = poll_until(
        WAIT,
        |now| {
            let progressed = client.poll(now, seen)?;
            reached.set(done(seen));
            Ok(progressed)
        },
        || reached.get(),
    );
    assert!(
        matches!(polled, Ok(true)),
        "{what}: {polled:?}; read {:#?}",
        seen.reports
    );
}

fn connect(venue: &VenueSim, seen: &mut Seen) -> TcpInitiator {
    let session = Session::new(SessionConfig::initiator("GENESIS", "VENUE"), None).unwrap();
    let mut client = TcpInitiator::new(
        venue.fix_addr,
        session,
        Backoff::new(10_000_000, 100_000_000),
    );
    client.set_reconnect(false);
    let logged_on = std::cell::Cell::new(false);
    let polled = poll_until(
        WAIT,
        |now| {
            let progressed = client.poll(now, seen)?;
            logged_on.set(client.session().state() == SessionState::Active);
            Ok(progressed)
        },
        || logged_on.get(),
    );
    assert!(matches!(polled, Ok(true)), "logon: {polled:?}");
    client
}

fn buy(client: &mut TcpInitiator, cl_ord_id: &str, price: i64, now_ns: u64) {
    let scale = InstrumentScale::new("0.01", "1").unwrap();
    let order = NewOrderSingle {
        cl_ord_id: cl_ord_id.as_bytes(),
        account: None,
        symbol: b"ALPHA",
        side: FixSide::Buy,
        qty_lots: Lots(5),
        ord_type: OrdType::Limit,
        price_ticks: Some(Ticks(price)),
        time_in_force: TimeInForce::Day,
        transact_time_ns: now_ns,
        trigger_ns: None,
    };
    client
        .session()
        .sender()
        .send_new_order(&order, &scale, now_ns)
        .unwrap();
}

fn participant(venue: &VenueSim) -> genesis_sim::ParticipantSummary {
    let summary = venue.summary_now(WAIT).expect("the venue answers");
    summary
        .into_iter()
        .find(|p| p.name == "GENESIS")
        .expect("GENESIS is a participant")
}

// A session's resting buy trades when the board's market reaches it: the
// venue waits with no timer for the board (it would otherwise read it once
// a millisecond), the board rings it when a top's ask reaches the buy, the
// venue reads the top and its liquidity provider's ask trades the order.
#[test]
fn a_resting_order_trades_when_the_board_reaches_it() {
    let top = |bid_px, ask_px| Top {
        bid_px,
        bid_qty: 5,
        ask_px,
        ask_qty: 5,
    };
    let board = Arc::new(TopBoard::new(1));
    board.publish_top(0, &top(1_000, 1_010));
    let mut venue = start_venue_with(Box::new(BoardFlow::new(Arc::clone(&board))), false);
    let mut seen = Seen::default();
    let mut client = connect(&venue, &mut seen);
    buy(&mut client, "B1", 990, 1);
    read_until(&mut client, &mut seen, "the buy rests", |seen| {
        seen.reports
            .iter()
            .any(|r| r.cl_ord_id == "B1" && r.exec_type == "0")
    });
    board.publish_top(0, &top(995, 1_005));
    board.publish_top(0, &top(985, 990));
    read_until(
        &mut client,
        &mut seen,
        "the market reached the buy",
        |seen| {
            seen.reports
                .iter()
                .any(|r| r.cl_ord_id == "B1" && r.exec_type == "F")
        },
    );
    let report = venue.stop();
    assert!(report.exchange.session_fills >= 1, "{report:?}");
}

// Orders rest while their participant is away, trade there, and are told
// back to it as ExecType=I reports: all of them for AF, one for H, the
// unknown-order answer for an id the venue never saw.
#[test]
fn resting_orders_outlive_the_session_and_are_reported_by_status() {
    let mut venue = start_venue();
    let mut seen = Seen::default();
    let mut client = connect(&venue, &mut seen);
    venue.command(VenueCommand::Hold);
    let now = genesis_io::fix::tcp::unix_now_ns();
    buy(&mut client, "101", 9_100, now);
    buy(&mut client, "102", 9_000, now);
    read_until(&mut client, &mut seen, "two acks", |s| {
        s.reports.iter().filter(|r| r.exec_type == "0").count() == 2
    });
    // Gone without Logout: the orders stay.
    client.drop_connection().unwrap();
    drop(client);
    // Two summaries answered one after the other: the venue's loop read
    // the closed connection in between (see the test below).
    for _ in 0..2 {
        assert_eq!(participant(&venue).open_orders.len(), 2);
    }
    // Traded while the participant is away: the first order (101, the
    // higher bid, so the sweep at its price leaves 102) fills whole.
    venue.command(VenueCommand::FillEvery(2));
    let away = common_wait(&venue, "one order fills while away", |p| p.fills == 1);
    assert_eq!(away.positions, vec![("ALPHA".to_owned(), 5)]);
    assert_eq!(away.open_orders.len(), 1);
    assert_eq!(away.open_orders[0].cl_ord_id, "102");
    assert_eq!(
        (away.open_orders[0].qty, away.open_orders[0].leaves),
        (5, 5)
    );

    // Back: AF lists what rests; H tells the filled one and an unknown one.
    let mut seen = Seen::default();
    let mut client = connect(&venue, &mut seen);
    let now = genesis_io::fix::tcp::unix_now_ns();
    let sender = client.session().sender();
    sender
        .send_mass_status_request(
            &OrderMassStatusRequest {
                mass_status_req_id: b"M1",
                req_type: MassStatusReqType::AllOrders,
                symbol: None,
                side: None,
            },
            now,
        )
        .unwrap();
    for (cl_ord_id, id) in [("101", "S101"), ("999", "S999")] {
        sender
            .send_order_status_request(
                &OrderStatusRequest {
                    cl_ord_id: cl_ord_id.as_bytes(),
                    order_id: None,
                    ord_status_req_id: Some(id.as_bytes()),
                    symbol: b"ALPHA",
                    side: FixSide::Buy,
                },
                now,
            )
            .unwrap();
    }
    read_until(&mut client, &mut seen, "four status answers", |s| {
        s.reports.iter().filter(|r| r.exec_type == "I").count() == 4
    });
    let status: Vec<&Report> = seen.reports.iter().filter(|r| r.exec_type == "I").collect();
    let af = |r: &Report| {
        (
            r.cl_ord_id.clone(),
            r.ord_status.clone(),
            r.cum_qty.clone(),
            r.tot_num_reports.clone(),
            r.last_rpt_requested.clone(),
        )
    };
    let text = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let expect = |v: [&str; 5]| {
        let v = text(&v);
        (
            v[0].clone(),
            v[1].clone(),
            v[2].clone(),
            v[3].clone(),
            v[4].clone(),
        )
    };
    assert_eq!(
        af(status[0]),
        expect(["102", "0", "0", "2", "N"]),
        "AF: the resting order, new"
    );
    assert_eq!(
        af(status[1]),
        expect(["101", "2", "5", "2", "Y"]),
        "AF: the order filled while away, the last report"
    );
    assert_eq!(
        (
            status[2].ord_status_req_id.as_str(),
            status[2].ord_status.as_str(),
            status[2].cum_qty.as_str()
        ),
        ("S101", "2", "5"),
        "H: filled while away"
    );
    assert_eq!(
        (
            status[3].ord_status_req_id.as_str(),
            status[3].ord_status.as_str()
        ),
        ("S999", "8"),
        "H: unknown order"
    );
    drop(client);
    venue.stop();
    let end = venue.summary();
    assert_eq!(end.len(), 1, "{end:?}");
    assert_eq!(end[0].fills, 1);
}

// An order filled while its session was up, whose report the client may
// never have recorded (it died just after), is told again by the next
// mass status answer, beside what rests: the venue's answer covers the
// participant's recent done orders, not only those done while it was away.
#[test]
fn mass_status_tells_orders_done_while_the_session_was_up() {
    let mut venue = start_venue();
    let mut seen = Seen::default();
    let mut client = connect(&venue, &mut seen);
    venue.command(VenueCommand::Hold);
    let now = genesis_io::fix::tcp::unix_now_ns();
    buy(&mut client, "301", 9_100, now);
    buy(&mut client, "302", 9_000, now);
    read_until(&mut client, &mut seen, "two acks", |s| {
        s.reports.iter().filter(|r| r.exec_type == "0").count() == 2
    });
    // Traded with the session up: the fill report is sent, and read here.
    venue.command(VenueCommand::FillEvery(2));
    read_until(&mut client, &mut seen, "the fill of 301", |s| {
        s.reports
            .iter()
            .any(|r| r.exec_type == "F" && r.cl_ord_id == "301")
    });
    client.drop_connection().unwrap();
    drop(client);
    // Two summaries answered one after the other: the venue's loop read
    // the connection at least once in between, after it was closed, so
    // the next logon finds the participant away (not a second one).
    for _ in 0..2 {
        assert_eq!(participant(&venue).fills, 1);
    }

    let mut seen = Seen::default();
    let mut client = connect(&venue, &mut seen);
    let now = genesis_io::fix::tcp::unix_now_ns();
    client
        .session()
        .sender()
        .send_mass_status_request(
            &OrderMassStatusRequest {
                mass_status_req_id: b"M2",
                req_type: MassStatusReqType::AllOrders,
                symbol: None,
                side: None,
            },
            now,
        )
        .unwrap();
    read_until(&mut client, &mut seen, "the mass status answer", |s| {
        s.reports.iter().any(|r| r.last_rpt_requested == "Y")
    });
    let answer: Vec<(String, String, String, String)> = seen
        .reports
        .iter()
        .filter(|r| r.exec_type == "I")
        .map(|r| {
            (
                r.cl_ord_id.clone(),
                r.ord_status.clone(),
                r.cum_qty.clone(),
                r.tot_num_reports.clone(),
            )
        })
        .collect();
    let expect = |v: [&str; 4]| (v[0].into(), v[1].into(), v[2].into(), v[3].into());
    assert_eq!(
        answer,
        vec![
            expect(["302", "0", "0", "2"]),
            expect(["301", "2", "5", "2"])
        ],
        "what rests, then the order filled with the session up"
    );
    drop(client);
    venue.stop();
}

/// Takes summaries until `done` holds for GENESIS's (20 s).
fn common_wait(
    venue: &VenueSim,
    what: &str,
    done: impl Fn(&genesis_sim::ParticipantSummary) -> bool,
) -> genesis_sim::ParticipantSummary {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let now = participant(venue);
        if done(&now) {
            return now;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {now:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}
