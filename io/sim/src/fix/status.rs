//! Status requests at the simulated venue: an OrderStatusRequest (H) is
//! answered with one ExecutionReport of ExecType=I about the order it names
//! (by any ClOrdID the order ever had, or its OrderID; live or recently
//! done), or the unknown-order answer; an OrderMassStatusRequest (AF) with
//! one report per live order of the participant, and per order of its
//! that filled or was cancelled last (as the exchange holds it, its last
//! report sent or still waiting), the newest 4,096, each whose ClOrdIDs the
//! venue still holds (TotNumReports counts those, and LastRptRequested=Y on
//! the last), or the single no-orders answer. The
//! forms are `genesis_io::fix::status`'s, FIX 4.4's.
//!
//! Same owning thread as the acceptor.

use super::orders::Orders;
use crate::exchange::{OrderView, Side, ViewState, OWNER_SESSION};
use genesis_io::fix::decimal::DECIMAL_TEXT_LEN_MAX;
use genesis_io::fix::exec_report::OrdStatus;
use genesis_io::fix::order::Side as FixSide;
use genesis_io::fix::session::Sender;
use genesis_io::fix::status::{
    MassStatusReqType, OrderMassStatusRequest, OrderStatusRequest, StatusReport, StatusRequest,
};
use genesis_io::fix::{Lots, Message, Ticks};

/// Done orders kept per participant for its mass status answers: the
/// orders of its day a client may have sent and lost the record of (the
/// last ones before it went down) are among them.
const DONE_RECENTLY_MAX: usize = 4_096;

/// Where a report about one order comes from.
struct About<'a> {
    root: &'a [u8],
    cl_ord_id: &'a [u8],
    view: OrderView,
}

/// Which request a report answers: an H's OrdStatusReqID, or an AF's
/// MassStatusReqID with the answer's size and whether this is its last report.
#[derive(Clone, Copy)]
enum Answering<'a> {
    Order(Option<&'a [u8]>),
    Mass {
        id: &'a [u8],
        total: u64,
        last: bool,
    },
}

impl Orders<'_> {
    fn owner(&self) -> u32 {
        OWNER_SESSION + self.participant as u32
    }

    /// Answers `message` if it is a status request; true when it was one.
    pub(super) fn answer_status(
        &mut self,
        message: &Message<'_>,
        sender: &mut Sender,
        now_ns: u64,
    ) -> bool {
        match StatusRequest::parse(message) {
            Ok(Some(StatusRequest::Order(request))) => self.answer_order(&request, sender, now_ns),
            Ok(Some(StatusRequest::Mass(request))) => self.answer_mass(&request, sender, now_ns),
            Ok(None) => return false,
            // A malformed status request is refused at session level by the
            // session's required-field check; anything else is dropped.
            Err(_) => {}
        }
        true
    }

    /// The key of the order an H names.
    fn key_named(&self, request: &OrderStatusRequest<'_>) -> Option<u64> {
        let ids = &self.router.ids;
        let participant = self.participant;
        ids.key_of(participant, request.cl_ord_id)
            .or_else(|| ids.closed_key_of(participant, request.cl_ord_id))
            .or_else(|| {
                request
                    .order_id
                    .and_then(|root| ids.key_of_root(participant, root))
            })
    }

    fn answer_order(&mut self, request: &OrderStatusRequest<'_>, sender: &mut Sender, now_ns: u64) {
        let found = self.key_named(request).and_then(|key| {
            let view = self.exchange.session_order(self.owner(), key)?;
            let chain = self.router.ids.chain(self.participant, key)?;
            Some((view, chain.root.clone(), chain.accepted.clone()))
        });
        let Some((view, root, accepted)) = found else {
            let report = StatusReport::unknown_order(request);
            let scale = self.router.scales[0];
            let _ = sender.send_status_report(&report, &scale, now_ns);
            return;
        };
        let about = About {
            root: &root,
            cl_ord_id: &accepted,
            view,
        };
        let answering = Answering::Order(request.ord_status_req_id);
        self.send_report(&about, answering, sender, now_ns);
    }

    fn answer_mass(
        &mut self,
        request: &OrderMassStatusRequest<'_>,
        sender: &mut Sender,
        now_ns: u64,
    ) {
        let symbol_index = request
            .symbol
            .filter(|_| request.req_type == MassStatusReqType::Security)
            .map(|symbol| {
                self.router
                    .symbols
                    .iter()
                    .position(|s| s.as_bytes() == symbol)
            });
        // Only orders whose ClOrdID chain the venue still holds can be
        // told: a session closed with cancel-on-disconnect forgets its ids,
        // while the exchange still lists its done orders. The answer's
        // size counts what is sent, so its last report carries
        // LastRptRequested=Y and the client's round completes.
        let told: Vec<(OrderView, super::ids::Chain)> = self
            .exchange
            .live_session_orders(self.owner())
            .into_iter()
            .chain(self.done_recently())
            .filter(|(_, view)| symbol_index.is_none_or(|index| index == Some(view.instrument)))
            .filter(|(_, view)| request.side.is_none_or(|side| fix_side(view.side) == side))
            .filter_map(|(key, view)| {
                let chain = self.router.ids.chain(self.participant, key)?;
                Some((view, chain.clone()))
            })
            .collect();
        if told.is_empty() {
            let report = StatusReport::no_orders(request);
            let scale = self.router.scales[0];
            let _ = sender.send_status_report(&report, &scale, now_ns);
            return;
        }
        let total = told.len() as u64;
        for (index, (view, chain)) in told.into_iter().enumerate() {
            let about = About {
                root: &chain.root,
                cl_ord_id: &chain.accepted,
                view,
            };
            let answering = Answering::Mass {
                id: request.mass_status_req_id,
                total,
                last: index as u64 + 1 == total,
            };
            self.send_report(&about, answering, sender, now_ns);
        }
    }

    /// The participant's orders that filled or were cancelled last (while
    /// it had a session or not): a mass status answer tells them too (as a
    /// venue's "orders of the day" does), so a client learns of fills on
    /// orders it sent but never recorded before it went down, even those
    /// whose reports it was sent and never read. Done as the exchange
    /// holds them, not as their reports went out: an order that traded out
    /// while its last fill report still waits for the session is told as
    /// filled (the report follows the answer). Told at every answer: the
    /// client knows which it recorded.
    fn done_recently(&self) -> Vec<(u64, OrderView)> {
        self.exchange
            .done_session_orders(self.owner(), DONE_RECENTLY_MAX)
            .into_iter()
            .filter(|(_, view)| view.state != ViewState::Live)
            .collect()
    }

    /// One ExecType=I report about an order.
    fn send_report(
        &self,
        about: &About<'_>,
        answering: Answering<'_>,
        sender: &mut Sender,
        now_ns: u64,
    ) {
        let view = about.view;
        let instrument = view.instrument.min(self.router.scales.len() - 1);
        let scale = self.router.scales[instrument];
        let mut avg_px = [0u8; DECIMAL_TEXT_LEN_MAX];
        let avg_len = scale.tick.write(view.avg_px_ticks, &mut avg_px);
        let (ord_status_req_id, mass_status_req_id, tot_num_reports, last_rpt_requested) =
            match answering {
                Answering::Order(id) => (id, None, None, false),
                Answering::Mass { id, total, last } => (None, Some(id), Some(total), last),
            };
        let report = StatusReport {
            order_id: about.root,
            cl_ord_id: Some(about.cl_ord_id),
            ord_status: ord_status(&view),
            symbol: Some(self.router.symbols[instrument].as_bytes()),
            order_qty_lots: Some(Lots(view.qty)),
            price_ticks: Some(Ticks(view.price)),
            cum_qty_lots: Lots(view.filled),
            leaves_qty_lots: Lots(view.leaves),
            avg_px_text: &avg_px[..avg_len],
            ord_rej_reason: None,
            mass_status_req_id,
            ord_status_req_id,
            tot_num_reports,
            last_rpt_requested,
            ..StatusReport::blank(fix_side(view.side))
        };
        let _ = sender.send_status_report(&report, &scale, now_ns);
    }
}

fn fix_side(side: Side) -> FixSide {
    if side == Side::Sell {
        FixSide::Sell
    } else {
        FixSide::Buy
    }
}

fn ord_status(view: &OrderView) -> OrdStatus {
    match view.state {
        ViewState::Live if view.filled > 0 => OrdStatus::PartiallyFilled,
        ViewState::Live => OrdStatus::New,
        ViewState::Filled => OrdStatus::Filled,
        ViewState::Cancelled => OrdStatus::Canceled,
    }
}
