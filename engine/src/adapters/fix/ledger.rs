//! What the FIX client remembers about orders, to speak about them to the
//! venue and to read the venue's answers: the ClOrdID version of each order
//! the venue accepted last, the instrument of recent orders (for reports
//! without a symbol), the ClOrdIDs of orders adopted from the venue, and
//! what the last status answer said of each order (its CumQty, so a resent
//! fill that answer already counted is not counted again, and its AvgPx,
//! the price of a missed fill), and the form of its ClOrdIDs (the journal's
//! lineage, `cl_ord_id`).
//!
//! A live ExecutionReport about an order the ledger knows nothing of (not
//! sent by this client, not restored open, not in a status answer: one
//! sent in the moment before a crash and never recorded, or another
//! lineage's or system's) is read as a status answer too
//! ([`Ledger::on_live_unknown`]): execution learns its CumQty, so lots the
//! crash lost are applied once even if the venue's mass status answer
//! leaves the order out, and another lineage's fills are told apart.
//!
//! Owning thread: ingest's, inside `FixClient::poll`. Invariants: the
//! accepted version of an order never exceeds the last one sent; every map
//! is sized at start-up and bounded (versions and adopted ids by the open
//! orders, the rest by recent-id rings), except that more adopted orders
//! than expected grow theirs on the reconciliation path, never per message.

use super::cl_ord_id::{ClOrdId, ClOrdIds};
use crate::event::{VenueOrder, VenueOrderState};
use crate::orders::Lineage;
use crate::recent::RecentMap;
use crate::units::{OrderId, Price, Qty};
use genesis_io::fix::exec_report::{ExecKind, ExecutionReport, OrdStatus};
use genesis_io::fix::status::StatusReport;
use genesis_io::fix::{tags, InstrumentScale};
use rustc_hash::FxHashMap;

/// Orders whose versions are remembered, preallocated.
const VERSIONS_CAPACITY: usize = 1 << 16;
/// Recent orders whose instrument and status answer are remembered.
const RECENT_ORDERS: usize = 1 << 16;
/// Adopted orders expected at most (more grow the map on the control path).
const ADOPTED_CAPACITY: usize = 1 << 10;

/// The ClOrdID versions of one order: the one the venue last accepted (its
/// OrigClOrdID for the next cancel or replace) and the last one sent (a
/// replace the venue refuses leaves `accepted` where it was).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Versions {
    pub accepted: u64,
    pub sent: u64,
}

/// What a status answer said of an order.
#[derive(Clone, Copy, Debug)]
struct StatusMemo {
    cum_qty: i64,
    /// AvgPx in ticks, when it lies on the tick grid.
    avg_px_ticks: Option<i64>,
}

pub(super) struct Ledger {
    ids: ClOrdIds,
    versions: FxHashMap<u64, Versions>,
    instruments: RecentMap<u16>,
    /// ClOrdIDs of orders adopted under a ClOrdID the engine did not make.
    adopted: FxHashMap<u64, ClOrdId>,
    status: RecentMap<StatusMemo>,
}

impl Ledger {
    pub fn new() -> Ledger {
        let mut versions = FxHashMap::default();
        versions.reserve(VERSIONS_CAPACITY);
        let mut adopted = FxHashMap::default();
        adopted.reserve(ADOPTED_CAPACITY);
        Ledger {
            ids: ClOrdIds::default(),
            versions,
            instruments: RecentMap::with_capacity(RECENT_ORDERS),
            adopted,
            // Written by status answers only: resident as they come.
            status: RecentMap::with_capacity_on_demand(RECENT_ORDERS),
        }
    }

    /// The journal's lineage: every ClOrdID from now on carries it.
    pub fn set_lineage(&mut self, lineage: Option<Lineage>) {
        self.ids = ClOrdIds::new(lineage);
    }

    /// The engine order a ClOrdID names (ours, or an adoption id).
    pub fn order_of(&self, cl_ord_id: &[u8]) -> OrderId {
        self.ids.order_of(cl_ord_id)
    }

    /// The ClOrdID of `order`, or of one of its requests.
    pub fn cl_ord_id(&self, order: OrderId, suffix: Option<(u8, u64)>) -> ClOrdId {
        self.ids.id(order, suffix)
    }

    /// An order adopted from the venue under a ClOrdID the engine did not make.
    pub fn is_adopted(&self, order: OrderId) -> bool {
        self.adopted.contains_key(&order.0)
    }

    pub fn versions(&self, order: OrderId) -> Versions {
        let versions = self.versions.get(&order.0).copied().unwrap_or_default();
        debug_assert!(
            versions.accepted <= versions.sent,
            "the accepted version is one this client sent"
        );
        versions
    }

    /// A replace asking for version `sent` went out.
    pub fn replace_sent(&mut self, order: OrderId, versions: Versions) {
        self.versions.insert(order.0, versions);
    }

    /// An order restored open at start-up: its versions and instrument.
    pub fn restore(&mut self, order: OrderId, instrument: usize, versions: Versions) {
        debug_assert!(versions.accepted <= versions.sent);
        if versions.sent > 0 {
            self.versions.insert(order.0, versions);
        }
        self.remember_instrument(order, instrument);
    }

    /// The ClOrdID the venue knows the order by now.
    pub fn current_cl_ord_id(&self, order: OrderId) -> ClOrdId {
        let versions = self.versions(order);
        if versions.accepted > 0 {
            return self.ids.id(order, Some((b'r', versions.accepted)));
        }
        match self.adopted.get(&order.0) {
            Some(foreign) => *foreign,
            None => self.ids.id(order, None),
        }
    }

    pub fn remember_instrument(&mut self, order: OrderId, instrument: usize) {
        self.instruments.set(order.0, instrument as u16);
    }

    pub fn instrument_of(&self, order: OrderId) -> Option<usize> {
        self.instruments.get(order.0).map(usize::from)
    }

    /// A replace the venue accepted makes its ClOrdID the order's current
    /// one; an order that closed is forgotten.
    pub fn track_versions(&mut self, kind: ExecKind, order: OrderId, cl_ord_id: Option<&[u8]>) {
        match kind {
            ExecKind::Replaced => {
                let version = cl_ord_id.and_then(|id| self.ids.replace_version_of(id));
                if let (Some(version), Some(versions)) = (version, self.versions.get_mut(&order.0))
                {
                    versions.accepted = version;
                }
            }
            ExecKind::Fill | ExecKind::Cancelled | ExecKind::Expired | ExecKind::Rejected => {
                self.forget(order)
            }
            _ => {}
        }
    }

    /// The order is closed: its versions and adopted ClOrdID go.
    pub fn forget(&mut self, order: OrderId) {
        self.versions.remove(&order.0);
        self.adopted.remove(&order.0);
    }

    /// A fill whose CumQty a status answer already counted (a resend of
    /// one the reconciliation applied): not to be counted again.
    pub fn covered_by_status(&self, order: OrderId, cum_qty: i64) -> bool {
        self.status
            .get(order.0)
            .is_some_and(|memo| cum_qty <= memo.cum_qty)
    }

    /// The CumQty the last status answer gave for the order.
    pub fn status_cum_qty(&self, order: OrderId) -> Option<i64> {
        self.status.get(order.0).map(|memo| memo.cum_qty)
    }

    /// The price of fill quantity a reconciliation found missing: the
    /// venue's AvgPx for the order, else `limit`.
    pub fn missed_fill_price(&self, order: OrderId, limit: Price) -> Price {
        self.status
            .get(order.0)
            .and_then(|memo| memo.avg_px_ticks)
            .map_or(limit, Price)
    }

    /// Reads one status answer about an order: the engine's id for it, its
    /// ClOrdID version or adopted id remembered, its CumQty and AvgPx kept.
    pub fn on_status(
        &mut self,
        report: &StatusReport<'_>,
        instrument: usize,
        scale: &InstrumentScale,
    ) -> Option<VenueOrder> {
        let cl_ord_id = report.cl_ord_id.or(report.orig_cl_ord_id)?;
        let state = venue_state(report);
        let order = self.learn_order(cl_ord_id, state, instrument);
        let cum_qty = report.cum_qty_lots.0;
        self.remember_status(order, cum_qty, scale, report.avg_px_text);
        Some(VenueOrder {
            order_id: order,
            price: Price(report.price_ticks.map_or(0, |p| p.0)),
            qty: Qty(report
                .order_qty_lots
                .map_or(cum_qty + report.leaves_qty_lots.0, |q| q.0)),
            cum_qty: Qty(cum_qty.clamp(0, crate::event::VENUE_CUM_QTY_MAX)),
            state,
        })
    }

    /// A live report about an order this ledger knows nothing of, read as
    /// a status answer (see the module header); `None` for a known order.
    /// `price` is the report's Price(44), when it has one.
    pub fn on_live_unknown(
        &mut self,
        report: &ExecutionReport<'_>,
        (instrument, price): (usize, Option<i64>),
        scale: &InstrumentScale,
    ) -> Option<VenueOrder> {
        let cl_ord_id = report.orig_cl_ord_id.or(report.cl_ord_id)?;
        let order = self.ids.order_of(cl_ord_id);
        if self.instrument_of(order).is_some() || self.is_adopted(order) {
            return None;
        }
        let state = live_state(report);
        self.learn_order(cl_ord_id, state, instrument);
        let cum_qty = report.cum_qty_lots.0;
        self.remember_status(order, cum_qty, scale, report.avg_px_text);
        Some(VenueOrder {
            order_id: order,
            price: Price(price.unwrap_or(0).max(0)),
            qty: Qty(report
                .order_qty_lots
                .map_or(cum_qty + report.leaves_qty_lots.0, |q| q.0)),
            cum_qty: Qty(cum_qty.clamp(0, crate::event::VENUE_CUM_QTY_MAX)),
            state,
        })
    }

    /// The engine's id for an order the venue told of: its ClOrdID version
    /// remembered (ours), or its ClOrdID kept while it works (adopted).
    fn learn_order(
        &mut self,
        cl_ord_id: &[u8],
        state: VenueOrderState,
        instrument: usize,
    ) -> OrderId {
        let order = self.ids.order_of(cl_ord_id);
        match self.ids.own_order_of(cl_ord_id) {
            Some((_, Some(version))) if version > 0 => {
                let versions = self.versions.entry(order.0).or_default();
                versions.accepted = version;
                versions.sent = versions.sent.max(version);
            }
            Some(_) => {}
            // Execution adopts only orders the venue still works.
            None if state == VenueOrderState::Open => {
                if let Some(text) = ClOrdId::from_text(cl_ord_id) {
                    self.adopted.insert(order.0, text);
                }
            }
            None => {}
        }
        self.remember_instrument(order, instrument);
        order
    }

    fn remember_status(
        &mut self,
        order: OrderId,
        cum_qty: i64,
        scale: &InstrumentScale,
        avg_px_text: &[u8],
    ) {
        let avg_px_ticks = scale
            .price_ticks(tags::AVG_PX, avg_px_text)
            .ok()
            .map(|ticks| ticks.0)
            .filter(|ticks| *ticks > 0);
        self.status.set(
            order.0,
            StatusMemo {
                cum_qty,
                avg_px_ticks,
            },
        );
    }
}

/// The state a live report leaves its order in.
fn live_state(report: &ExecutionReport<'_>) -> VenueOrderState {
    match report.ord_status {
        OrdStatus::Filled => VenueOrderState::Filled,
        OrdStatus::Rejected => VenueOrderState::Rejected,
        OrdStatus::Canceled | OrdStatus::Expired | OrdStatus::DoneForDay => {
            VenueOrderState::Cancelled
        }
        _ if report.leaves_qty_lots.0 <= 0 => VenueOrderState::Cancelled,
        _ => VenueOrderState::Open,
    }
}

/// The order's state as the engine names it.
fn venue_state(report: &StatusReport<'_>) -> VenueOrderState {
    if report.is_unknown_order() {
        return VenueOrderState::Unknown;
    }
    if report.is_open() {
        return VenueOrderState::Open;
    }
    match report.ord_status {
        OrdStatus::Filled => VenueOrderState::Filled,
        OrdStatus::Rejected => VenueOrderState::Rejected,
        _ => VenueOrderState::Cancelled,
    }
}
