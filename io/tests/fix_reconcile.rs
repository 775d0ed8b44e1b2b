//! Reconciliation at logon, in memory: the initiator's [`Reconciler`] asks
//! with OrderMassStatusRequest or OrderStatusRequest, an acceptor answers
//! per the FIX 4.4 rules this crate follows (ExecType=I reports; unknown
//! order: OrdStatus 8 with OrdRejReason 5; no orders: TotNumReports 0), and
//! the round completes, falls back, or times out as the state machine says.

#[path = "support/fix_pair.rs"]
mod fix_pair;
use fix_pair::*;

use genesis_io::fix::exec_report::OrdStatus;
use genesis_io::fix::order::Side;
use genesis_io::fix::reconcile::{ReconcileMode, ReconcileState, Reconciler};
use genesis_io::fix::reject::{
    BusinessMessageReject, RequestReject, BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE,
};
use genesis_io::fix::session::{Sender, Session, SessionHandler};
use genesis_io::fix::status::{StatusReport, StatusRequest};
use genesis_io::fix::{Lots, Message, Ticks};

const TIMEOUT_NS: u64 = 5 * SECOND_NS;

/// One order as the venue holds it.
#[derive(Clone, Debug)]
struct VenueOrder {
    cl_ord_id: &'static [u8],
    order_id: &'static [u8],
    side: Side,
    ord_status: OrdStatus,
    qty: i64,
    cum: i64,
}

/// The acceptor: answers H and AF from its orders, or refuses AF.
struct Venue {
    orders: Vec<VenueOrder>,
    refuse_mass_status: bool,
}

impl Venue {
    fn report<'a>(order: &'a VenueOrder) -> StatusReport<'a> {
        let filled = order.ord_status == OrdStatus::Filled;
        StatusReport {
            order_id: order.order_id,
            ord_status: order.ord_status,
            cl_ord_id: Some(order.cl_ord_id),
            symbol: Some(b"ACME"),
            order_qty_lots: Some(Lots(order.qty)),
            price_ticks: Some(Ticks(10_125)),
            cum_qty_lots: Lots(order.cum),
            leaves_qty_lots: Lots(if filled { 0 } else { order.qty - order.cum }),
            avg_px_text: b"101.25",
            ..StatusReport::blank(order.side)
        }
    }
}

impl SessionHandler for Venue {
    fn on_app_message(&mut self, message: &Message<'_>, sender: &mut Sender, now_ns: u64) {
        let scale = scale();
        match StatusRequest::parse(message).unwrap() {
            Some(StatusRequest::Mass(request)) if self.refuse_mass_status => {
                let reject = BusinessMessageReject {
                    ref_seq_num: message.seq_num().ok(),
                    ref_msg_type: b"AF",
                    ref_id: Some(request.mass_status_req_id),
                    reason: BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE,
                    text: Some(b"Unsupported Message Type"),
                };
                sender.send_business_reject(&reject, now_ns).unwrap();
            }
            Some(StatusRequest::Mass(request)) if self.orders.is_empty() => {
                let report = StatusReport::no_orders(&request);
                sender.send_status_report(&report, &scale, now_ns).unwrap();
            }
            Some(StatusRequest::Mass(request)) => {
                let total = self.orders.len();
                for (index, order) in self.orders.iter().enumerate() {
                    let report = StatusReport {
                        mass_status_req_id: Some(request.mass_status_req_id),
                        tot_num_reports: Some(total as u64),
                        last_rpt_requested: index + 1 == total,
                        ..Venue::report(order)
                    };
                    sender.send_status_report(&report, &scale, now_ns).unwrap();
                }
            }
            Some(StatusRequest::Order(request)) => {
                let known = self
                    .orders
                    .iter()
                    .find(|order| order.cl_ord_id == request.cl_ord_id);
                let report = match known {
                    Some(order) => StatusReport {
                        ord_status_req_id: request.ord_status_req_id,
                        ..Venue::report(order)
                    },
                    None => StatusReport::unknown_order(&request),
                };
                sender.send_status_report(&report, &scale, now_ns).unwrap();
            }
            None => {}
        }
    }
}

/// What the engine applied from one status report.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Applied {
    cl_ord_id: Vec<u8>,
    ord_status: OrdStatus,
    cum: i64,
    leaves: i64,
    unknown: bool,
    empty: bool,
}

/// The initiator side: a reconciler fed by the session.
struct Engine {
    reconciler: Reconciler,
    applied: Vec<Applied>,
    ignored: usize,
}

impl SessionHandler for Engine {
    fn on_app_message(&mut self, message: &Message<'_>, _: &mut Sender, _: u64) {
        let Ok(Some(report)) = StatusReport::parse(message, &scale()) else {
            return;
        };
        if !self.reconciler.on_report(&report) {
            self.ignored += 1;
            return;
        }
        self.applied.push(Applied {
            cl_ord_id: report.cl_ord_id.unwrap_or_default().to_vec(),
            ord_status: report.ord_status,
            cum: report.cum_qty_lots.0,
            leaves: report.leaves_qty_lots.0,
            unknown: report.is_unknown_order(),
            empty: report.is_empty_answer(),
        });
    }

    fn on_request_rejected(&mut self, reject: &RequestReject<'_>) {
        self.reconciler.on_request_rejected(reject);
    }
}

fn venue_orders() -> Vec<VenueOrder> {
    let order = |cl_ord_id, order_id, ord_status, qty, cum| VenueOrder {
        cl_ord_id,
        order_id,
        side: Side::Buy,
        ord_status,
        qty,
        cum,
    };
    vec![
        order(&b"C1"[..], &b"V1"[..], OrdStatus::New, 10, 0),
        order(b"C2.r1", b"V2", OrdStatus::PartiallyFilled, 10, 4),
        order(b"C3", b"V3", OrdStatus::Filled, 5, 5),
    ]
}

fn connected(venue: Venue) -> (Session, Engine, Session, Venue) {
    let (mut init, mut acc) = (initiator(), acceptor());
    let mut engine = Engine {
        reconciler: Reconciler::new(64, "GEN-"),
        applied: Vec::new(),
        ignored: 0,
    };
    let mut venue = venue;
    acc.on_connected(T0_NS, &mut venue);
    init.on_connected(T0_NS, &mut engine);
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    (init, engine, acc, venue)
}

fn venue(orders: Vec<VenueOrder>, refuse_mass_status: bool) -> Venue {
    Venue {
        orders,
        refuse_mass_status,
    }
}

/// Sends one OrderStatusRequest per (ClOrdID, side) and finishes the round.
fn ask_each(init: &mut Session, engine: &mut Engine, cl_ord_ids: &[&[u8]]) {
    engine.reconciler.start_order_status(T0_NS, TIMEOUT_NS);
    for cl_ord_id in cl_ord_ids {
        let order = (*cl_ord_id, None);
        let instrument = (&b"ACME"[..], Side::Buy);
        engine
            .reconciler
            .request_order_status(init.sender(), order, instrument, T0_NS)
            .unwrap();
    }
    engine.reconciler.finish_requests();
}

#[test]
fn mass_status_collects_every_order_until_the_last_report() {
    // Three orders at the venue: three reports, LastRptRequested on the third.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(venue_orders(), false));
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    assert!(
        !engine.reconciler.is_released(),
        "new orders wait for the answers"
    );
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    assert!(engine.reconciler.is_released());
    let partial = &engine.applied[1];
    assert_eq!(
        (
            partial.cl_ord_id.as_slice(),
            partial.ord_status,
            partial.cum,
            partial.leaves
        ),
        (&b"C2.r1"[..], OrdStatus::PartiallyFilled, 4, 6)
    );
    assert_eq!(engine.applied.len(), 3);
    assert_eq!(engine.reconciler.counters().reports, 3);
}

#[test]
fn mass_status_with_no_orders_completes_at_once() {
    // The empty answer (TotNumReports 0, LastRptRequested Y) ends the round.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(Vec::new(), false));
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    assert_eq!(engine.applied.len(), 1);
    assert!(engine.applied[0].empty, "the answer carries no order");
}

#[test]
fn order_status_answers_each_order_and_flags_the_unknown_one() {
    // C1 and C2.r1 are known; C4 is not: OrdStatus 8 with OrdRejReason 5.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(venue_orders(), false));
    ask_each(&mut init, &mut engine, &[b"C1", b"C2.r1", b"C4"]);
    assert_eq!(engine.reconciler.state(), ReconcileState::Awaiting);
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    let unknown: Vec<&[u8]> = engine
        .applied
        .iter()
        .filter(|applied| applied.unknown)
        .map(|applied| applied.cl_ord_id.as_slice())
        .collect();
    assert_eq!(unknown, vec![&b"C4"[..]]);
    assert_eq!(engine.reconciler.counters().unknown_orders, 1);
    assert_eq!(engine.applied[1].cum, 4);
}

#[test]
fn order_status_with_nothing_open_completes_without_asking() {
    // The engine believes no order open: the round is complete at once.
    let (mut init, mut engine, _acc, _venue) = connected(venue(venue_orders(), false));
    ask_each(&mut init, &mut engine, &[]);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    assert!(init.pending_output().is_empty(), "nothing was sent");
}

#[test]
fn refused_mass_status_falls_back_to_order_status() {
    // The venue answers AF with a BusinessMessageReject (as QuickFIX's
    // executor does): the round says so, and an H round completes instead.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(venue_orders(), true));
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::MassStatusRefused);
    assert!(!engine.reconciler.is_released());
    ask_each(&mut init, &mut engine, &[b"C1", b"C3"]);
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    assert_eq!(engine.reconciler.mode(), ReconcileMode::OrderStatus);
    assert_eq!(engine.reconciler.counters().requests_rejected, 1);
    assert_eq!(engine.applied.len(), 2);
}

#[test]
fn silence_times_out_and_keeps_the_gate_closed_until_released() {
    // No answer before the deadline: TimedOut, gate closed; the operator
    // releases it; answers arriving later are ignored.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(venue_orders(), false));
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    assert_eq!(
        engine.reconciler.poll(T0_NS + TIMEOUT_NS - 1),
        ReconcileState::Awaiting
    );
    assert_eq!(
        engine.reconciler.poll(T0_NS + TIMEOUT_NS),
        ReconcileState::TimedOut
    );
    assert!(!engine.reconciler.is_released());
    engine.reconciler.release();
    assert!(engine.reconciler.is_released());
    settle(
        &mut init,
        &mut engine,
        &mut acc,
        &mut venue,
        T0_NS + TIMEOUT_NS,
    );
    assert!(engine.applied.is_empty());
    assert_eq!(engine.ignored, 3, "late answers are not applied");
    assert_eq!(engine.reconciler.counters().timeouts, 1);
}

#[test]
fn answers_to_an_earlier_round_do_not_count() {
    // Round 1 times out; its late answers arrive during round 2 and are
    // ignored by MassStatusReqID; round 2 completes on its own answers.
    let (mut init, mut engine, mut acc, mut venue) = connected(venue(venue_orders(), false));
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    engine.reconciler.poll(T0_NS + TIMEOUT_NS);
    deliver(&mut init, &mut acc, &mut venue, T0_NS);
    let late_answers = acc.pending_output().to_vec();
    acc.consume_output(late_answers.len());
    engine
        .reconciler
        .start_mass_status(init.sender(), T0_NS, TIMEOUT_NS)
        .unwrap();
    init.on_bytes(&late_answers, T0_NS, &mut engine);
    assert_eq!(engine.ignored, 3);
    assert_eq!(engine.reconciler.state(), ReconcileState::Awaiting);
    settle(&mut init, &mut engine, &mut acc, &mut venue, T0_NS);
    assert_eq!(engine.reconciler.state(), ReconcileState::Complete);
    assert_eq!(engine.applied.len(), 3);
}
