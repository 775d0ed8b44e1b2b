//! An event's input as `genesis journal cat` shows it: named fields an
//! operator can read (`order 10 exec 5 2@99998`), and the same fields as a
//! JSON object for `--json`, instead of the Rust debug form of the type.
//!
//! Owning thread: the command's. Quantities and prices are the journal's
//! integers (lots and ticks), written `qty@price` as intents are.

use genesis_engine::event::{Input, ReconcilePhase, VenueOrder};
use serde_json::{json, Value};

/// The input as one line of text, without its kind (printed beside it).
pub fn input_text(input: &Input) -> String {
    match input {
        Input::Empty => "-".to_string(),
        Input::TopOfBook(top) => format!(
            "bid {}@{} ask {}@{}",
            top.bid_qty.0, top.bid_px.0, top.ask_qty.0, top.ask_px.0
        ),
        Input::Trade(trade) => format!("{}@{} id {}", trade.qty.0, trade.price.0, trade.trade_id),
        Input::BookDelta(delta) => format!(
            "{}@{} bid {} ask {}",
            delta.qty.0, delta.price.0, delta.bid_px.0, delta.ask_px.0
        ),
        Input::OrderAck(ack) => format!(
            "order {} venue {} {}@{}",
            ack.order_id.0, ack.venue_order_id, ack.qty.0, ack.price.0
        ),
        Input::Fill(fill) => format!(
            "order {} exec {} {}@{}",
            fill.order_id.0, fill.exec_id.0, fill.qty.0, fill.price.0
        ),
        Input::OrderReject(reject) => format!(
            "order {} {} venue reason {}",
            reject.order_id.0,
            reject.request.name(),
            reject.venue_reason
        ),
        Input::CancelAck(order_id) => format!("order {}", order_id.0),
        Input::Control(command) => command.name().to_string(),
        Input::Timer(timer) => format!("timer {timer}"),
        Input::Reconcile(phase) => reconcile_text(phase),
        Input::VenueOrder(order) => venue_order_text(order),
    }
}

fn reconcile_text(phase: &ReconcilePhase) -> String {
    format!(
        "{} {} requests {} reports {}",
        phase.step.name(),
        phase.request.name(),
        phase.requests,
        phase.reports
    )
}

fn venue_order_text(order: &VenueOrder) -> String {
    format!(
        "order {} {} {}@{} filled {}",
        order.order_id.0,
        order.state.name(),
        order.qty.0,
        order.price.0,
        order.cum_qty.0
    )
}

/// The input's fields as a JSON object (empty for an empty input).
pub fn input_json(input: &Input) -> Value {
    match input {
        Input::Empty => json!({}),
        Input::TopOfBook(top) => json!({
            "bid_px": top.bid_px.0, "bid_qty": top.bid_qty.0,
            "ask_px": top.ask_px.0, "ask_qty": top.ask_qty.0,
        }),
        Input::Trade(trade) => json!({
            "price": trade.price.0, "qty": trade.qty.0, "trade_id": trade.trade_id,
        }),
        Input::BookDelta(delta) => json!({
            "price": delta.price.0, "qty": delta.qty.0,
            "bid_px": delta.bid_px.0, "ask_px": delta.ask_px.0,
        }),
        Input::OrderAck(ack) => json!({
            "order_id": ack.order_id.0, "venue_order_id": ack.venue_order_id,
            "price": ack.price.0, "qty": ack.qty.0,
        }),
        Input::Fill(fill) => json!({
            "order_id": fill.order_id.0, "exec_id": fill.exec_id.0,
            "price": fill.price.0, "qty": fill.qty.0,
        }),
        Input::OrderReject(reject) => json!({
            "order_id": reject.order_id.0, "request": reject.request.name(),
            "venue_reason": reject.venue_reason,
        }),
        Input::CancelAck(order_id) => json!({ "order_id": order_id.0 }),
        Input::Control(command) => json!({ "command": command.name() }),
        Input::Timer(timer) => json!({ "timer": timer }),
        Input::Reconcile(phase) => json!({
            "step": phase.step.name(), "request": phase.request.name(),
            "requests": phase.requests, "reports": phase.reports,
        }),
        Input::VenueOrder(order) => json!({
            "order_id": order.order_id.0, "state": order.state.name(),
            "price": order.price.0, "qty": order.qty.0, "cum_qty": order.cum_qty.0,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesis_engine::event::{ControlCommand, Fill, TopOfBook};
    use genesis_engine::units::{ExecId, OrderId, Price, Qty};

    #[test]
    fn a_fill_reads_as_order_exec_and_qty_at_price() {
        // The text names the fields; the JSON carries them as numbers.
        let fill = Input::Fill(Fill {
            order_id: OrderId(10),
            exec_id: ExecId(7),
            price: Price(99_998),
            qty: Qty(2),
        });
        assert_eq!(input_text(&fill), "order 10 exec 7 2@99998");
        assert_eq!(
            input_json(&fill),
            json!({"order_id": 10, "exec_id": 7, "price": 99_998, "qty": 2})
        );
    }

    #[test]
    fn a_top_of_book_and_a_control_command_read_plainly() {
        // Both sides as qty@price; a command by its name.
        let top = Input::TopOfBook(TopOfBook {
            bid_px: Price(99),
            bid_qty: Qty(5),
            ask_px: Price(101),
            ask_qty: Qty(3),
        });
        assert_eq!(input_text(&top), "bid 5@99 ask 3@101");
        let control = Input::Control(ControlCommand::KillSwitchCancelAll);
        assert_eq!(input_text(&control), "kill_switch_cancel_all");
        assert_eq!(
            input_json(&control),
            json!({"command": "kill_switch_cancel_all"})
        );
    }
}
