//! The order table's fast paths against its general ones: random sequences
//! of new orders, acks, fills, cancels, replaces and rejects applied to two
//! tables, one opening orders through [`Orders::open_new`] (written in
//! their slots) and answering acks, fills, cancels and cancel acks through
//! their fast paths ([`Orders::on_ack`], [`Orders::on_fill`],
//! [`Orders::request_cancel`], [`Orders::on_cancel_ack`]: the common case
//! changed in its slot), the other through the general insert
//! ([`Orders::open_new_general`]) and the general update
//! ([`Orders::on_ack_general`], [`Orders::on_fill_general`],
//! [`Orders::request_cancel_general`], [`Orders::on_cancel_ack_general`]).
//! After every step both give the same outcome, the same orders, the same
//! closed states and the same exposure. Ids run past the open table's
//! slots, so that new orders also spill.

use super::*;
use crate::event::RejectedRequest;
use crate::units::ExecId;
use proptest::prelude::*;

const INSTRUMENTS: usize = 2;
/// The open table's slots (for 6 open orders): every third new order
/// skips a round of them less one, to land in the slot of the order
/// opened before it, which may still be open.
const SLOT_COUNT: u64 = 16;
/// Ids new orders take (then the last again, a duplicate) and replies pick.
const IDS: u64 = 44;

#[derive(Clone, Debug)]
enum Step {
    New {
        instrument: u16,
        buy: bool,
        qty: i64,
    },
    Ack {
        pick: u64,
        price: i64,
        qty: i64,
    },
    Fill {
        pick: u64,
        buy: bool,
        qty: i64,
    },
    Cancel {
        pick: u64,
    },
    CancelAck {
        pick: u64,
    },
    Replace {
        pick: u64,
        qty: i64,
    },
    Reject {
        pick: u64,
        request: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..INSTRUMENTS as u16, any::<bool>(), 1i64..6)
            .prop_map(|(instrument, buy, qty)| Step::New { instrument, buy, qty }),
        4 => (1..=IDS, prop_oneof![Just(0i64), 99i64..102], prop_oneof![Just(0i64), 1i64..8])
            .prop_map(|(pick, price, qty)| Step::Ack { pick, price, qty }),
        3 => (1..=IDS, prop_oneof![9 => Just(true), 1 => Just(false)], prop_oneof![9 => 1i64..4, 1 => -1i64..1])
            .prop_map(|(pick, buy, qty)| Step::Fill { pick, buy, qty }),
        2 => (1..=IDS).prop_map(|pick| Step::Cancel { pick }),
        2 => (1..=IDS).prop_map(|pick| Step::CancelAck { pick }),
        2 => (1..=IDS, 1i64..8).prop_map(|(pick, qty)| Step::Replace { pick, qty }),
        1 => (1..=IDS, 0u8..3).prop_map(|(pick, request)| Step::Reject { pick, request }),
    ]
}

/// One table with the fast open and ack, or the general ones.
struct Table {
    orders: Orders,
    fast: bool,
}

impl Table {
    fn apply(&mut self, step: &Step, id_next: u64, exec: u64) -> String {
        let orders = &mut self.orders;
        let side_of = |buy: bool| if buy { Side::Buy } else { Side::Sell };
        match *step {
            Step::New {
                instrument,
                buy,
                qty,
            } => {
                let (id, instrument, side) =
                    (OrderId(id_next), InstrumentId(instrument), side_of(buy));
                let opened = if self.fast {
                    orders.open_new(id, instrument, side, Price(100), Qty(qty))
                } else {
                    orders.open_new_general(id, instrument, side, Price(100), Qty(qty))
                };
                format!("{opened:?}")
            }
            Step::Ack { pick, price, qty } => {
                let ack = OrderAck {
                    order_id: OrderId(pick),
                    venue_order_id: 1_000 + pick,
                    price: Price(price),
                    qty: Qty(qty),
                };
                let outcome = if self.fast {
                    orders.on_ack(&ack)
                } else {
                    orders.on_ack_general(&ack)
                };
                format!("{outcome:?}")
            }
            Step::Fill { pick, buy, qty } => {
                // Fills are on the order's side, now and then on the other.
                let side = orders.get(OrderId(pick)).map_or(Side::Buy, |order| {
                    if buy {
                        order.side
                    } else if order.side == Side::Buy {
                        Side::Sell
                    } else {
                        Side::Buy
                    }
                });
                let fill = Fill {
                    order_id: OrderId(pick),
                    exec_id: ExecId(exec),
                    price: Price(100),
                    qty: Qty(qty),
                };
                let outcome = if self.fast {
                    orders.on_fill(side, &fill)
                } else {
                    orders.on_fill_general(side, &fill)
                };
                format!("{outcome:?}")
            }
            Step::Cancel { pick } => {
                let id = OrderId(pick);
                let requested = if self.fast {
                    orders.request_cancel(id)
                } else {
                    orders.request_cancel_general(id)
                };
                format!("{requested:?}")
            }
            Step::CancelAck { pick } => {
                let id = OrderId(pick);
                let outcome = if self.fast {
                    orders.on_cancel_ack(id)
                } else {
                    orders.on_cancel_ack_general(id)
                };
                format!("{outcome:?}")
            }
            Step::Replace { pick, qty } => {
                format!(
                    "{:?}",
                    orders.request_replace(OrderId(pick), Price(101), Qty(qty))
                )
            }
            Step::Reject { pick, request } => {
                let request = match request {
                    0 => RejectedRequest::New,
                    1 => RejectedRequest::Cancel,
                    _ => RejectedRequest::Replace,
                };
                let reject = OrderReject {
                    order_id: OrderId(pick),
                    request,
                    venue_reason: 0,
                };
                format!("{:?}", orders.on_reject(&reject))
            }
        }
    }
}

fn assert_same(fast: &Orders, general: &Orders, step: usize) {
    for id in 1..=IDS {
        let id = OrderId(id);
        assert_eq!(
            fast.get(id),
            general.get(id),
            "order {id:?} after step {step}"
        );
        assert_eq!(
            fast.closed_state(id),
            general.closed_state(id),
            "closed {id:?} after step {step}"
        );
    }
    assert_eq!(
        fast.open_count(),
        general.open_count(),
        "open orders after step {step}"
    );
    assert_eq!(
        fast.exposures(),
        general.exposures(),
        "exposure after step {step}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // The ack, the fill, the cancel and the cancel ack changed in their
    // slot give what the general update gives, in every state they can meet
    // (pending new, partly filled, pending cancel before the ack, pending
    // replace, closed, unknown; fills on either side, within the leaves or
    // past them); the order
    // opened in its slot is the one the general insert makes, with the
    // same exposure, in a free slot, a slot an older order holds (a
    // spill), or refused (a duplicate, a full table).
    #[test]
    fn the_fast_ack_answers_as_the_general_update(steps in proptest::collection::vec(step(), 1..120)) {
        let mut fast = Table { orders: Orders::new(INSTRUMENTS, 6, 64), fast: true };
        let mut general = Table { orders: Orders::new(INSTRUMENTS, 6, 64), fast: false };
        assert_eq!(fast.orders.open.slot_count() as u64, SLOT_COUNT);
        let mut id_next = 1;
        let mut opened = 0;
        for (index, step) in steps.iter().enumerate() {
            let exec = index as u64 + 1;
            let got = fast.apply(step, id_next, exec);
            let expected = general.apply(step, id_next, exec);
            prop_assert_eq!(&got, &expected, "outcome of step {} {:?}", index, step);
            if matches!(step, Step::New { .. }) {
                opened += 1;
                let skip = if opened % 3 == 0 { SLOT_COUNT } else { 1 };
                id_next = (id_next + skip).min(IDS);
            }
            assert_same(&fast.orders, &general.orders, index);
        }
    }
}
