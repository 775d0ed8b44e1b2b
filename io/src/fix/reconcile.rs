//! Reconciliation at logon, initiator side: ask the venue for every order
//! it holds (one OrderMassStatusRequest, or one OrderStatusRequest per order
//! the engine believes open), then collect the ExecType=I answers until the
//! venue says it is done or a deadline passes.
//!
//! Owning thread: the thread that owns the session (the engine's venue
//! lane); the [`Reconciler`] is driven from its poll loop and never reads a
//! clock (`now_ns` is passed in).
//! Invariants: everything is allocated in [`Reconciler::new`] (ids and the
//! per-order answer table for at most `orders_max` requests); a round moves
//! Idle → Awaiting → one of Complete, MassStatusRefused, TimedOut, and only
//! [`Reconciler::release`] or a new round leaves those; an answer counts only
//! when it names this round (MassStatusReqID(584) or OrdStatusReqID(790),
//! else the ClOrdID of an outstanding request), and each request is counted
//! answered at most once; the gate stays closed (`!is_released()`) from the
//! start of a round until it completes or the operator releases it.
//!
//! Completion: for AF, the report with LastRptRequested(912)=Y, or as many
//! reports as TotNumReports(911) says, or the empty answer (TotNumReports=0);
//! for H, one answer (or a Reject/BusinessMessageReject) per request sent.
//! Genesis's own H ids are `<prefix>OS<round>.<index>`, its AF id
//! `<prefix>MS<round>`.

use std::io::Write as _;

use crate::fix::error::SendError;
use crate::fix::order::Side;
use crate::fix::reject::RequestReject;
use crate::fix::sent_log::REQUEST_ID_LEN_MAX;
use crate::fix::session::Sender;
use crate::fix::status::{
    MassStatusReqType, OrderMassStatusRequest, OrderStatusRequest, StatusReport,
};
use crate::fix::tags::MsgType;

/// Longest id prefix accepted by [`Reconciler::new`].
pub const ID_PREFIX_LEN_MAX: usize = 16;

/// How the venue is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileMode {
    /// One OrderMassStatusRequest (35=AF, MassStatusReqType=7: all orders).
    MassStatus,
    /// One OrderStatusRequest (35=H) per order the engine believes open.
    OrderStatus,
}

/// Where a reconciliation round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileState {
    /// No round yet, or released by the operator: the gate is open.
    Idle,
    /// Requests sent, answers due: new orders and replaces stay gated.
    Awaiting,
    /// Every answer arrived: the engine may open the gate.
    Complete,
    /// The venue refused the OrderMassStatusRequest (Reject or
    /// BusinessMessageReject): start an OrderStatus round instead.
    MassStatusRefused,
    /// The deadline passed first: keep the gate closed, raise an alert, and
    /// let the operator [`Reconciler::release`] it.
    TimedOut,
}

/// What a round counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileCounters {
    /// Rounds started.
    pub rounds: u64,
    /// Status requests sent (AF and H).
    pub requests_sent: u64,
    /// Status reports that answered a request of ours.
    pub reports: u64,
    /// Of those, about orders the venue does not know (H answered "unknown order").
    pub unknown_orders: u64,
    /// Status reports that answered nothing of ours (ignored).
    pub reports_not_ours: u64,
    /// Our status requests the venue rejected.
    pub requests_rejected: u64,
    /// Rounds that hit their deadline.
    pub timeouts: u64,
}

/// One OrderStatusRequest of the round: its ClOrdID and whether it was answered.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    id: [u8; REQUEST_ID_LEN_MAX],
    id_len: u8,
    answered: bool,
}

/// A request id written on the stack (prefix 16 + "OS" + two u64s and a
/// point fit in 64 bytes).
#[derive(Clone, Copy, Debug)]
struct IdText {
    bytes: [u8; REQUEST_ID_LEN_MAX],
    len: usize,
}

impl IdText {
    fn new(args: std::fmt::Arguments<'_>) -> IdText {
        let mut bytes = [0u8; REQUEST_ID_LEN_MAX];
        let mut cursor = &mut bytes[..];
        let written = cursor.write_fmt(args).is_ok();
        debug_assert!(written, "ids fit in REQUEST_ID_LEN_MAX bytes");
        let len = REQUEST_ID_LEN_MAX - cursor.len();
        IdText { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn as_str(&self) -> &str {
        // Built only from ASCII (checked prefix, digits, letters).
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// The initiator's reconciliation state machine.
#[derive(Debug)]
pub struct Reconciler {
    prefix: IdText,
    state: ReconcileState,
    mode: ReconcileMode,
    round: u64,
    deadline_ns: u64,
    mass_id: IdText,
    /// TotNumReports as the venue last said it.
    reports_total: Option<u64>,
    reports_received: u64,
    outstanding: Box<[Outstanding]>,
    sent_count: usize,
    answered_count: usize,
    /// H round: every request is sent (answers may complete the round).
    all_sent: bool,
    counters: ReconcileCounters,
}

impl Reconciler {
    /// A reconciler for at most `orders_max` OrderStatusRequests per round,
    /// naming its requests with `id_prefix` (at most 16 printable bytes,
    /// e.g. the SenderCompID's initials).
    pub fn new(orders_max: usize, id_prefix: &str) -> Reconciler {
        assert!(
            id_prefix.len() <= ID_PREFIX_LEN_MAX && id_prefix.bytes().all(|b| b.is_ascii_graphic()),
            "reconciliation id prefix must be at most 16 printable ASCII bytes"
        );
        let empty = Outstanding {
            id: [0; REQUEST_ID_LEN_MAX],
            id_len: 0,
            answered: false,
        };
        Reconciler {
            prefix: IdText::new(format_args!("{id_prefix}")),
            state: ReconcileState::Idle,
            mode: ReconcileMode::MassStatus,
            round: 0,
            deadline_ns: 0,
            mass_id: IdText::new(format_args!("")),
            reports_total: None,
            reports_received: 0,
            outstanding: vec![empty; orders_max].into_boxed_slice(),
            sent_count: 0,
            answered_count: 0,
            all_sent: false,
            counters: ReconcileCounters::default(),
        }
    }

    /// Where the round is.
    pub fn state(&self) -> ReconcileState {
        self.state
    }

    /// The mode of the current (or last) round.
    pub fn mode(&self) -> ReconcileMode {
        self.mode
    }

    /// What was counted so far, over all rounds.
    pub fn counters(&self) -> ReconcileCounters {
        self.counters
    }

    /// True when new orders may go: no round, a completed one, or released.
    pub fn is_released(&self) -> bool {
        matches!(self.state, ReconcileState::Idle | ReconcileState::Complete)
    }

    fn begin_round(&mut self, mode: ReconcileMode, now_ns: u64, timeout_ns: u64) {
        self.round += 1;
        self.counters.rounds += 1;
        self.mode = mode;
        self.state = ReconcileState::Awaiting;
        self.deadline_ns = now_ns.saturating_add(timeout_ns);
        self.reports_total = None;
        self.reports_received = 0;
        self.sent_count = 0;
        self.answered_count = 0;
        self.all_sent = false;
    }

    /// Starts a round with one OrderMassStatusRequest for all orders. On a
    /// send error the round stays Awaiting (the gate stays closed): start
    /// again once the session can send.
    pub fn start_mass_status(
        &mut self,
        sender: &mut Sender,
        now_ns: u64,
        timeout_ns: u64,
    ) -> Result<(), SendError> {
        self.begin_round(ReconcileMode::MassStatus, now_ns, timeout_ns);
        self.mass_id = IdText::new(format_args!("{}MS{}", self.prefix.as_str(), self.round));
        let request = OrderMassStatusRequest {
            mass_status_req_id: self.mass_id.as_bytes(),
            req_type: MassStatusReqType::AllOrders,
            symbol: None,
            side: None,
        };
        sender.send_mass_status_request(&request, now_ns)?;
        self.counters.requests_sent += 1;
        Ok(())
    }

    /// Starts a round of OrderStatusRequests: call
    /// [`Reconciler::request_order_status`] for each order believed open,
    /// then [`Reconciler::finish_requests`].
    pub fn start_order_status(&mut self, now_ns: u64, timeout_ns: u64) {
        self.begin_round(ReconcileMode::OrderStatus, now_ns, timeout_ns);
    }

    /// Sends the OrderStatusRequest for one order of an OrderStatus round.
    /// Fails (nothing sent) past `orders_max` or for an id over 64 bytes.
    pub fn request_order_status(
        &mut self,
        sender: &mut Sender,
        (cl_ord_id, order_id): (&[u8], Option<&[u8]>),
        (symbol, side): (&[u8], Side),
        now_ns: u64,
    ) -> Result<(), SendError> {
        assert!(
            self.mode == ReconcileMode::OrderStatus && self.state == ReconcileState::Awaiting,
            "request_order_status belongs to an OrderStatus round"
        );
        let index = self.sent_count;
        if index >= self.outstanding.len() || cl_ord_id.len() > REQUEST_ID_LEN_MAX {
            return Err(SendError::BadValue {
                tag: crate::fix::tags::CL_ORD_ID,
            });
        }
        let req_id = IdText::new(format_args!(
            "{}OS{}.{index}",
            self.prefix.as_str(),
            self.round
        ));
        let request = OrderStatusRequest {
            cl_ord_id,
            order_id,
            ord_status_req_id: Some(req_id.as_bytes()),
            symbol,
            side,
        };
        sender.send_order_status_request(&request, now_ns)?;
        let slot = &mut self.outstanding[index];
        slot.id[..cl_ord_id.len()].copy_from_slice(cl_ord_id);
        slot.id_len = cl_ord_id.len() as u8;
        slot.answered = false;
        self.sent_count += 1;
        self.counters.requests_sent += 1;
        Ok(())
    }

    /// Every OrderStatusRequest of the round is sent; with none (no order
    /// believed open) or all answered already, the round completes.
    pub fn finish_requests(&mut self) {
        self.all_sent = true;
        self.complete_if_answered();
    }

    fn complete_if_answered(&mut self) {
        debug_assert!(
            self.answered_count <= self.sent_count,
            "answers never outnumber requests"
        );
        if self.state == ReconcileState::Awaiting
            && self.mode == ReconcileMode::OrderStatus
            && self.all_sent
            && self.answered_count == self.sent_count
        {
            self.state = ReconcileState::Complete;
        }
    }

    /// A status report arrived. Returns true when it answers this round:
    /// apply it as a (flagged) reconciliation event. False: ignore it.
    pub fn on_report(&mut self, report: &StatusReport<'_>) -> bool {
        if self.state != ReconcileState::Awaiting {
            self.counters.reports_not_ours += 1;
            return false;
        }
        let ours = match self.mode {
            ReconcileMode::MassStatus => self.on_mass_report(report),
            ReconcileMode::OrderStatus => self.on_order_report(report),
        };
        if ours {
            self.counters.reports += 1;
            self.counters.unknown_orders += u64::from(report.is_unknown_order());
        } else {
            self.counters.reports_not_ours += 1;
        }
        ours
    }

    fn on_mass_report(&mut self, report: &StatusReport<'_>) -> bool {
        // A venue that omits MassStatusReqID is taken at its word: the
        // only AF out is ours.
        if report
            .mass_status_req_id
            .is_some_and(|id| id != self.mass_id.as_bytes())
        {
            return false;
        }
        self.reports_total = report.tot_num_reports.or(self.reports_total);
        if !report.is_empty_answer() {
            self.reports_received += 1;
        }
        let counted_all = self
            .reports_total
            .is_some_and(|total| self.reports_received >= total);
        if report.last_rpt_requested || counted_all {
            self.state = ReconcileState::Complete;
        }
        true
    }

    fn on_order_report(&mut self, report: &StatusReport<'_>) -> bool {
        let index = match report.ord_status_req_id {
            Some(req_id) => self.index_of_req_id(req_id),
            None => report
                .cl_ord_id
                .and_then(|id| self.index_of_open_cl_ord_id(id)),
        };
        let Some(index) = index else { return false };
        self.mark_answered(index)
    }

    /// `<prefix>OS<round>.<index>` of this round → index.
    fn index_of_req_id(&self, req_id: &[u8]) -> Option<usize> {
        let head = IdText::new(format_args!("{}OS{}.", self.prefix.as_str(), self.round));
        let digits = req_id.strip_prefix(head.as_bytes())?;
        let index = crate::fix::decode::parse_u64(digits)?;
        usize::try_from(index)
            .ok()
            .filter(|&index| index < self.sent_count)
    }

    fn index_of_open_cl_ord_id(&self, cl_ord_id: &[u8]) -> Option<usize> {
        self.outstanding[..self.sent_count]
            .iter()
            .position(|slot| !slot.answered && &slot.id[..usize::from(slot.id_len)] == cl_ord_id)
    }

    /// Marks request `index` answered; false if it already was (a duplicate).
    fn mark_answered(&mut self, index: usize) -> bool {
        let slot = &mut self.outstanding[index];
        if slot.answered {
            return false;
        }
        slot.answered = true;
        self.answered_count += 1;
        self.complete_if_answered();
        true
    }

    /// The venue rejected a request. Returns true when it is one of this
    /// round's: an AF refused moves to [`ReconcileState::MassStatusRefused`];
    /// an H refused counts as answered (the order is unknown to the venue).
    pub fn on_request_rejected(&mut self, reject: &RequestReject<'_>) -> bool {
        if self.state != ReconcileState::Awaiting {
            return false;
        }
        let ours = match (self.mode, reject.msg_type) {
            (ReconcileMode::MassStatus, Some(MsgType::OrderMassStatusRequest)) => {
                let ours = reject
                    .request_id
                    .is_none_or(|id| id == self.mass_id.as_bytes());
                if ours {
                    self.state = ReconcileState::MassStatusRefused;
                }
                ours
            }
            (ReconcileMode::OrderStatus, Some(MsgType::OrderStatusRequest)) => reject
                .request_id
                .and_then(|id| self.index_of_open_cl_ord_id(id))
                .is_some_and(|index| self.mark_answered(index)),
            _ => false,
        };
        self.counters.requests_rejected += u64::from(ours);
        ours
    }

    /// Checks the deadline; returns the state after it.
    pub fn poll(&mut self, now_ns: u64) -> ReconcileState {
        if self.state == ReconcileState::Awaiting && now_ns >= self.deadline_ns {
            self.state = ReconcileState::TimedOut;
            self.counters.timeouts += 1;
        }
        self.state
    }

    /// The operator opens the gate after a timeout (or a refused AF with no
    /// fallback): back to Idle. Answers still arriving are then ignored.
    pub fn release(&mut self) {
        self.state = ReconcileState::Idle;
    }
}
