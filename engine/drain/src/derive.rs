//! What a chunk of events does to `orders`, `fills` and `positions`: a pure
//! function of the events and of the rows they touch as committed before.
//!
//! Called on the drain thread for each chunk, inside its transaction, so the
//! derived tables move with `events`. Orders follow execution's state
//! machine (the engine's `orders` module) as far as the journal shows it: an intent
//! execution sent opens or changes an order; a venue input changes it only
//! when execution applied it (`Outcome::Applied`, or `Overfill` for fills).
//! Positions follow risk: every fill not flagged duplicate, by average cost
//! (`risk::Position`). Mass cancels on a gate change are not journaled per
//! order: those orders stay as they were until their cancel acks arrive.

use genesis_engine::decision::{Action, ExecResult, Intent, Outcome, RejectReason};
use genesis_engine::event::{Event, Input, RejectedRequest};
use genesis_engine::risk::Position;
use genesis_engine::units::Side;
use std::collections::BTreeMap;

/// Status names stored in `orders.status`.
pub mod status {
    pub const PENDING_NEW: &str = "pending_new";
    pub const NEW: &str = "new";
    pub const PARTIALLY_FILLED: &str = "partially_filled";
    pub const FILLED: &str = "filled";
    pub const PENDING_CANCEL: &str = "pending_cancel";
    pub const CANCELLED: &str = "cancelled";
    pub const REJECTED: &str = "rejected";
    pub const PENDING_REPLACE: &str = "pending_replace";
    /// Refused by pre-trade risk: never sent.
    pub const REFUSED: &str = "refused";
    /// Accepted by risk, but execution could not send it.
    pub const NOT_SENT: &str = "not_sent";
}

/// An order's current state, as stored in `orders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: u64,
    pub instrument: u16,
    pub side: Side,
    pub price: i64,
    pub qty: i64,
    pub filled_qty: i64,
    pub status: &'static str,
    pub status_before: &'static str,
    pub replace_price: i64,
    pub replace_qty: i64,
    pub venue_order_id: Option<u64>,
    pub reject_reason: RejectReason,
    pub created_ns: u64,
    pub updated_ns: u64,
    pub seq_created: u64,
    pub seq_updated: u64,
}

/// A position as stored in `positions`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PositionRow {
    pub instrument: u16,
    pub position: Position,
    pub fills: i64,
    pub updated_ns: u64,
    pub seq_updated: u64,
}

impl PositionRow {
    pub fn status(&self) -> &'static str {
        if self.position.qty.0 == 0 {
            "flat"
        } else {
            "open"
        }
    }
}

/// The derived rows of one chunk: touched orders and positions in their new
/// state, and the chunk's fills.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    pub orders: BTreeMap<u64, OrderRow>,
    pub positions: BTreeMap<u16, PositionRow>,
    pub fills: Vec<FillRow>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillRow {
    pub seq: u64,
    pub ts_ns: u64,
    pub order_id: u64,
    pub exec_id: u64,
    pub instrument: u16,
    pub side: Side,
    pub price: i64,
    pub qty: i64,
    pub duplicate: bool,
    pub outcome: Outcome,
}

/// Order ids and instruments a chunk touches: what to read before `derive`.
pub fn touched(events: &[Event]) -> (Vec<i64>, Vec<i32>) {
    let mut orders = Vec::new();
    let mut instruments = Vec::new();
    for event in events {
        match event.input() {
            Input::OrderAck(ack) => orders.push(ack.order_id.0 as i64),
            Input::Fill(fill) => {
                orders.push(fill.order_id.0 as i64);
                instruments.push(i32::from(event.instrument.0));
            }
            Input::OrderReject(reject) => orders.push(reject.order_id.0 as i64),
            Input::CancelAck(id) => orders.push(id.0 as i64),
            _ => {}
        }
        for intent in event.intents.iter().filter(|i| !i.is_empty()) {
            orders.push(intent.order_id.0 as i64);
        }
    }
    orders.sort_unstable();
    orders.dedup();
    instruments.sort_unstable();
    instruments.dedup();
    (orders, instruments)
}

/// Applies `events` to the prior rows (`orders`, `positions`: those touched,
/// as committed) and returns every touched row in its new state.
pub fn derive(
    events: &[Event],
    mut orders: BTreeMap<u64, OrderRow>,
    mut positions: BTreeMap<u16, PositionRow>,
) -> Derived {
    let mut fills = Vec::new();
    let mut changed_orders = std::collections::BTreeSet::new();
    let mut changed_positions = std::collections::BTreeSet::new();
    for event in events {
        if let Input::Fill(fill) = event.input() {
            fills.push(FillRow {
                seq: event.seq,
                ts_ns: event.ts_recv_ns,
                order_id: fill.order_id.0,
                exec_id: fill.exec_id.0,
                instrument: event.instrument.0,
                side: event.side,
                price: fill.price.0,
                qty: fill.qty.0,
                duplicate: event.is_duplicate(),
                outcome: event.outcome,
            });
            if !event.is_duplicate() {
                let row = positions.entry(event.instrument.0).or_insert(PositionRow {
                    instrument: event.instrument.0,
                    ..PositionRow::default()
                });
                row.position.apply_fill(event.side, fill.price, fill.qty);
                row.fills += 1;
                row.updated_ns = event.ts_recv_ns;
                row.seq_updated = event.seq;
                changed_positions.insert(event.instrument.0);
            }
        }
        if let Some(id) = apply_input(event, &mut orders) {
            changed_orders.insert(id);
        }
        for intent in event.intents.iter().filter(|i| !i.is_empty()) {
            if apply_intent(event, intent, &mut orders) {
                changed_orders.insert(intent.order_id.0);
            }
        }
    }
    orders.retain(|id, _| changed_orders.contains(id));
    positions.retain(|id, _| changed_positions.contains(id));
    Derived {
        orders,
        positions,
        fills,
    }
}

/// The state an order is in once its fills are counted, when nothing is pending.
fn filled_status(row: &OrderRow) -> &'static str {
    if row.filled_qty >= row.qty {
        status::FILLED
    } else if row.filled_qty > 0 {
        status::PARTIALLY_FILLED
    } else {
        status::NEW
    }
}

fn touch(row: &mut OrderRow, event: &Event) {
    row.updated_ns = event.ts_recv_ns;
    row.seq_updated = event.seq;
}

/// Applies a venue input execution applied; returns the order it changed.
fn apply_input(event: &Event, orders: &mut BTreeMap<u64, OrderRow>) -> Option<u64> {
    if !matches!(event.outcome, Outcome::Applied | Outcome::Overfill) {
        return None;
    }
    let input = event.input();
    let id = match input {
        Input::OrderAck(ack) => ack.order_id,
        Input::Fill(fill) if !event.is_duplicate() => fill.order_id,
        Input::CancelAck(order_id) => order_id,
        Input::OrderReject(reject) => reject.order_id,
        _ => return None,
    };
    let row = orders.get_mut(&id.0)?;
    match input {
        Input::OrderAck(ack) => apply_ack(row, &ack),
        Input::Fill(fill) => {
            row.filled_qty += fill.qty.0;
            let pending = matches!(row.status, status::PENDING_CANCEL | status::PENDING_REPLACE);
            if pending && row.filled_qty < row.qty {
                row.status_before = filled_status(row);
            } else {
                row.status = filled_status(row);
            }
        }
        Input::CancelAck(_) => row.status = status::CANCELLED,
        Input::OrderReject(reject) => match (reject.request, row.status) {
            (RejectedRequest::New, _) => row.status = status::REJECTED,
            // The venue does not know the order: closed, as the engine closes it.
            (RejectedRequest::Cancel | RejectedRequest::Replace, current)
                if reject.venue_reason == genesis_engine::event::venue_reason::UNKNOWN_ORDER
                    && !matches!(
                        current,
                        status::FILLED | status::CANCELLED | status::REJECTED
                    ) =>
            {
                row.status = status::CANCELLED
            }
            (RejectedRequest::Cancel, status::PENDING_CANCEL)
            | (RejectedRequest::Replace, status::PENDING_REPLACE) => row.status = row.status_before,
            _ => {}
        },
        _ => {}
    }
    touch(row, event);
    Some(id.0)
}

fn apply_ack(row: &mut OrderRow, ack: &genesis_engine::event::OrderAck) {
    row.venue_order_id = Some(ack.venue_order_id);
    match row.status {
        status::PENDING_NEW => row.status = filled_status(row),
        status::PENDING_REPLACE => {
            row.price = ack.price.0;
            row.qty = ack.qty.0;
            row.status = filled_status(row);
        }
        status::PENDING_CANCEL => row.status_before = status::NEW,
        _ => {}
    }
}

/// Applies an intent; returns whether it created or changed an order.
fn apply_intent(event: &Event, intent: &Intent, orders: &mut BTreeMap<u64, OrderRow>) -> bool {
    let id = intent.order_id.0;
    let sent = intent.is_accepted() && intent.exec == ExecResult::Sent;
    match intent.action {
        Action::New if !orders.contains_key(&id) => {
            let status = if intent.reject != RejectReason::None {
                status::REFUSED
            } else if sent {
                status::PENDING_NEW
            } else {
                status::NOT_SENT
            };
            orders.insert(id, new_order(event, intent, status));
            true
        }
        Action::Cancel | Action::Replace if sent => {
            let Some(row) = orders.get_mut(&id) else {
                return false;
            };
            row.status_before = row.status;
            if intent.action == Action::Cancel {
                row.status = status::PENDING_CANCEL;
            } else {
                row.status = status::PENDING_REPLACE;
                row.replace_price = intent.price.0;
                row.replace_qty = intent.qty.0;
            }
            touch(row, event);
            true
        }
        _ => false,
    }
}

fn new_order(event: &Event, intent: &Intent, status: &'static str) -> OrderRow {
    OrderRow {
        order_id: intent.order_id.0,
        instrument: intent.instrument.0,
        side: intent.side,
        price: intent.price.0,
        qty: intent.qty.0,
        filled_qty: 0,
        status,
        status_before: status,
        replace_price: intent.price.0,
        replace_qty: intent.qty.0,
        venue_order_id: None,
        reject_reason: intent.reject,
        created_ns: event.ts_recv_ns,
        updated_ns: event.ts_recv_ns,
        seq_created: event.seq,
        seq_updated: event.seq,
    }
}

/// The stored status name matching `text`, if it is one of ours.
pub fn status_from_text(text: &str) -> Option<&'static str> {
    [
        status::PENDING_NEW,
        status::NEW,
        status::PARTIALLY_FILLED,
        status::FILLED,
        status::PENDING_CANCEL,
        status::CANCELLED,
        status::REJECTED,
        status::PENDING_REPLACE,
        status::REFUSED,
        status::NOT_SENT,
    ]
    .into_iter()
    .find(|name| *name == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_engine::event::{Fill, OrderAck};
    use genesis_engine::units::{ExecId, InstrumentId, OrderId, Price, Qty};

    fn with_new_intent(seq: u64, id: u64) -> Event {
        let mut event = Event::EMPTY;
        event.seq = seq;
        event.intents[0] = Intent {
            order_id: OrderId(id),
            price: Price(100),
            qty: Qty(10),
            instrument: InstrumentId(1),
            action: Action::New,
            side: Side::Buy,
            reject: RejectReason::None,
            exec: ExecResult::Sent,
            reserved: [0; 2],
        };
        event
    }

    fn venue(seq: u64, input: Input) -> Event {
        let mut event = Event::new(InstrumentId(1), Side::Buy, input);
        event.seq = seq;
        event.outcome = Outcome::Applied;
        event
    }

    // An order sent, acked, then filled in two parts ends filled, and the
    // position holds the whole quantity at average cost.
    #[test]
    fn new_ack_fills_make_a_filled_order_and_a_position() {
        let fill = |seq, exec, qty| {
            venue(
                seq,
                Input::Fill(Fill {
                    order_id: OrderId(7),
                    exec_id: ExecId(exec),
                    price: Price(100),
                    qty: Qty(qty),
                }),
            )
        };
        let events = [
            with_new_intent(1, 7),
            venue(
                2,
                Input::OrderAck(OrderAck {
                    order_id: OrderId(7),
                    venue_order_id: 70,
                    price: Price(100),
                    qty: Qty(10),
                }),
            ),
            fill(3, 1, 4),
            fill(4, 2, 6),
        ];
        let derived = derive(&events, BTreeMap::new(), BTreeMap::new());
        let order = &derived.orders[&7];
        assert_eq!(order.status, status::FILLED);
        assert_eq!(order.filled_qty, 10);
        assert_eq!(order.venue_order_id, Some(70));
        assert_eq!(derived.fills.len(), 2);
        let position = derived.positions[&1];
        assert_eq!(position.position.qty, Qty(10));
        assert_eq!(position.position.cost_tick_lots, 1_000);
        assert_eq!(position.status(), "open");
    }

    // A duplicate fill is recorded in fills but moves neither order nor position.
    #[test]
    fn duplicate_fill_changes_nothing_but_fills() {
        let mut event = venue(
            2,
            Input::Fill(Fill {
                order_id: OrderId(7),
                exec_id: ExecId(1),
                price: Price(100),
                qty: Qty(4),
            }),
        );
        event.flags = genesis_engine::event::FLAG_DUPLICATE;
        event.outcome = Outcome::DuplicateFill;
        let derived = derive(
            &[with_new_intent(1, 7), event],
            BTreeMap::new(),
            BTreeMap::new(),
        );
        assert_eq!(derived.orders[&7].filled_qty, 0);
        assert!(derived.positions.is_empty());
        assert_eq!(derived.fills.len(), 1);
        assert!(derived.fills[0].duplicate);
    }

    // A cancel the venue refuses as an unknown order closes the row, as the
    // engine closes the order; refused for another reason, it stays working.
    #[test]
    fn unknown_order_reject_closes_the_row() {
        let reject = |seq, reason| {
            venue(
                seq,
                Input::OrderReject(genesis_engine::event::OrderReject {
                    order_id: OrderId(7),
                    request: RejectedRequest::Cancel,
                    venue_reason: reason,
                }),
            )
        };
        let ack = venue(
            2,
            Input::OrderAck(OrderAck {
                order_id: OrderId(7),
                venue_order_id: 70,
                price: Price(100),
                qty: Qty(10),
            }),
        );
        let other = [
            with_new_intent(1, 7),
            ack,
            reject(3, genesis_engine::event::venue_reason::OTHER),
        ];
        let derived = derive(&other, BTreeMap::new(), BTreeMap::new());
        assert_ne!(derived.orders[&7].status, status::CANCELLED);
        let unknown = [
            with_new_intent(1, 7),
            ack,
            reject(3, genesis_engine::event::venue_reason::UNKNOWN_ORDER),
        ];
        let derived = derive(&unknown, BTreeMap::new(), BTreeMap::new());
        assert_eq!(derived.orders[&7].status, status::CANCELLED);
    }

    // An intent refused by risk is an order with status refused and its reason.
    #[test]
    fn refused_intent_is_recorded() {
        let mut event = with_new_intent(1, 9);
        event.intents[0].reject = RejectReason::PriceBand;
        event.intents[0].exec = ExecResult::NotSent;
        let derived = derive(&[event], BTreeMap::new(), BTreeMap::new());
        assert_eq!(derived.orders[&9].status, status::REFUSED);
        assert_eq!(derived.orders[&9].reject_reason, RejectReason::PriceBand);
    }

    // A cancel ack for an order from an earlier chunk updates the prior row.
    #[test]
    fn prior_rows_are_updated() {
        let prior = derive(&[with_new_intent(1, 3)], BTreeMap::new(), BTreeMap::new()).orders;
        let derived = derive(
            &[venue(5, Input::CancelAck(OrderId(3)))],
            prior,
            BTreeMap::new(),
        );
        assert_eq!(derived.orders[&3].status, status::CANCELLED);
        assert_eq!(derived.orders[&3].seq_updated, 5);
    }
}
