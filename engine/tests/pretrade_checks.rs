//! Every pre-trade check, one scenario each: the order that passes just
//! inside the limit and the one refused just outside it, with its reason.

mod common;

use genesis_engine::decision::{Gate, RejectReason};
use genesis_engine::orders::Orders;
use genesis_engine::risk::pretrade::{OrderCheck, PreTrade};
use genesis_engine::units::{InstrumentId, OrderId, Price, Qty, Side};

const A: InstrumentId = InstrumentId(0);
const B: InstrumentId = InstrumentId(1);
const MID: i64 = 10_000;

struct Desk {
    pretrade: PreTrade,
    orders: Orders,
    next_id: u64,
}

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let config = common::test_config(dir.path());
        let mut pretrade = PreTrade::new(&config);
        pretrade.set_mid(A, MID);
        pretrade.set_mid(B, MID);
        Desk {
            pretrade,
            orders: Orders::for_config(&config),
            next_id: 1,
        }
    }

    fn check(&self, instrument: InstrumentId, side: Side, price: i64, qty: i64) -> RejectReason {
        let order = OrderCheck {
            instrument,
            side,
            price: Price(price),
            qty: Qty(qty),
            leaves_now: 0,
            filled: 0,
            is_new: true,
        };
        self.pretrade.check(&order, &self.orders, 0)
    }

    /// Opens an order as if accepted and sent.
    fn open(&mut self, instrument: InstrumentId, side: Side, qty: i64) {
        let id = OrderId(self.next_id);
        self.next_id += 1;
        self.orders
            .open_new(id, instrument, side, Price(MID), Qty(qty))
            .unwrap();
    }
}

// An ordinary order inside every limit is accepted.
#[test]
fn plain_order_is_accepted() {
    assert_eq!(Desk::new().check(A, Side::Buy, MID, 10), RejectReason::None);
}

// Max order quantity: 100 passes, 101 is refused.
#[test]
fn max_order_qty() {
    let desk = Desk::new();
    assert_eq!(desk.check(A, Side::Buy, MID, 100), RejectReason::None);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 101),
        RejectReason::MaxOrderQty
    );
}

// Max notional: price × qty × tick value above 1 000 000 is refused.
#[test]
fn max_notional() {
    let mut desk = Desk::new();
    desk.pretrade.set_mid(A, 12_000);
    assert_eq!(desk.check(A, Side::Buy, 12_000, 83), RejectReason::None);
    assert_eq!(
        desk.check(A, Side::Buy, 12_050, 83),
        RejectReason::MaxNotional
    );
}

// Fat finger: 200 bps around a 10 000 mid allows 9 800..10 200, nothing beyond.
#[test]
fn price_band() {
    let desk = Desk::new();
    assert_eq!(desk.check(A, Side::Buy, 10_200, 1), RejectReason::None);
    assert_eq!(desk.check(A, Side::Buy, 10_201, 1), RejectReason::PriceBand);
    assert_eq!(desk.check(A, Side::Sell, 9_799, 1), RejectReason::PriceBand);
}

// No market data yet for the instrument: nothing to check the band against, so refuse.
#[test]
fn no_reference_price() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path());
    let pretrade = PreTrade::new(&config);
    let orders = Orders::for_config(&config);
    let order = OrderCheck {
        instrument: A,
        side: Side::Buy,
        price: Price(MID),
        qty: Qty(1),
        leaves_now: 0,
        filled: 0,
        is_new: true,
    };
    assert_eq!(
        pretrade.check(&order, &orders, 0),
        RejectReason::NoReferencePrice
    );
}

// Position limit counts open orders: 450 open plus a filled 40 leaves room for 10 more.
#[test]
fn position_limit_counts_open_orders() {
    let mut desk = Desk::new();
    for _ in 0..5 {
        desk.open(A, Side::Buy, 90);
    }
    desk.pretrade.apply_fill(A, Side::Buy, Qty(40));
    assert_eq!(desk.check(A, Side::Buy, MID, 10), RejectReason::None);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 11),
        RejectReason::PositionLimit
    );
    // Selling reduces the worst case and is fine.
    assert_eq!(desk.check(A, Side::Sell, MID, 100), RejectReason::None);
}

// Gross limit across instruments: 450 on A and 350 on B reach the 800 gross limit.
#[test]
fn gross_position_limit() {
    let mut desk = Desk::new();
    desk.pretrade.apply_fill(A, Side::Buy, Qty(450));
    desk.pretrade.apply_fill(B, Side::Sell, Qty(300));
    assert_eq!(desk.check(B, Side::Sell, MID, 50), RejectReason::None);
    assert_eq!(
        desk.check(B, Side::Sell, MID, 51),
        RejectReason::GrossPositionLimit
    );
}

// Max open orders: the ninth order is refused while eight are open.
#[test]
fn max_open_orders() {
    let mut desk = Desk::new();
    for _ in 0..7 {
        desk.open(A, Side::Buy, 1);
    }
    assert_eq!(desk.check(A, Side::Buy, MID, 1), RejectReason::None);
    desk.open(A, Side::Buy, 1);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 1),
        RejectReason::MaxOpenOrders
    );
}

// Throttle: 1000 orders per second of event time; the 1001st inside the window is refused.
#[test]
fn rate_throttle_on_event_time() {
    let mut desk = Desk::new();
    for i in 0..1_000 {
        desk.pretrade.record_order(i * 1_000);
    }
    let order = OrderCheck {
        instrument: A,
        side: Side::Buy,
        price: Price(MID),
        qty: Qty(1),
        leaves_now: 0,
        filled: 0,
        is_new: true,
    };
    assert_eq!(
        desk.pretrade.check(&order, &desk.orders, 999_999_999),
        RejectReason::RateThrottle
    );
    assert_eq!(
        desk.pretrade.check(&order, &desk.orders, 1_000_000_000),
        RejectReason::None
    );
}

// Kill switch halt refuses everything new.
#[test]
fn kill_switch_halt() {
    let mut desk = Desk::new();
    desk.pretrade.set_gates(A, Gate::HaltKillSwitch, Gate::Open);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 1),
        RejectReason::KillSwitchHalt
    );
    assert_eq!(
        desk.check(B, Side::Sell, MID, 1),
        RejectReason::KillSwitchHalt
    );
}

// Kill switch cancel-all refuses everything new too.
#[test]
fn kill_switch_cancel_all() {
    let mut desk = Desk::new();
    desk.pretrade
        .set_gates(A, Gate::CancelAllKillSwitch, Gate::Open);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 1),
        RejectReason::KillSwitchCancelAll
    );
}

// Kill switch reduce-only: a long position may be sold down, never grown or flipped.
#[test]
fn kill_switch_reduce_only() {
    let mut desk = Desk::new();
    desk.pretrade.apply_fill(A, Side::Buy, Qty(30));
    desk.pretrade
        .set_gates(A, Gate::ReduceOnlyKillSwitch, Gate::Open);
    assert_eq!(desk.check(A, Side::Sell, MID, 30), RejectReason::None);
    assert_eq!(
        desk.check(A, Side::Sell, MID, 31),
        RejectReason::KillSwitchReduceOnly
    );
    assert_eq!(
        desk.check(A, Side::Buy, MID, 1),
        RejectReason::KillSwitchReduceOnly
    );
    // Open sells already count against what may be reduced.
    desk.open(A, Side::Sell, 20);
    assert_eq!(
        desk.check(A, Side::Sell, MID, 11),
        RejectReason::KillSwitchReduceOnly
    );
}

// Daily loss limit: reduce-only for the whole book.
#[test]
fn daily_loss_is_reduce_only() {
    let mut desk = Desk::new();
    desk.pretrade.apply_fill(B, Side::Sell, Qty(5));
    desk.pretrade
        .set_gates(A, Gate::ReduceOnlyDailyLoss, Gate::Open);
    assert_eq!(desk.check(A, Side::Buy, MID, 1), RejectReason::DailyLoss);
    assert_eq!(desk.check(B, Side::Buy, MID, 5), RejectReason::None);
}

// Stop-loss on one instrument: reduce-only there, the other instrument trades freely.
#[test]
fn stop_loss_is_per_instrument() {
    let mut desk = Desk::new();
    desk.pretrade.apply_fill(A, Side::Sell, Qty(10));
    desk.pretrade
        .set_gates(A, Gate::Open, Gate::ReduceOnlyStopLoss);
    assert_eq!(desk.check(A, Side::Sell, MID, 1), RejectReason::StopLoss);
    assert_eq!(desk.check(A, Side::Buy, MID, 10), RejectReason::None);
    assert_eq!(desk.check(B, Side::Sell, MID, 1), RejectReason::None);
}

// Circuit breaker: the halted instrument refuses, the other does not.
#[test]
fn circuit_breaker_halts_one_instrument() {
    let mut desk = Desk::new();
    desk.pretrade
        .set_gates(A, Gate::Open, Gate::HaltCircuitBreaker);
    assert_eq!(
        desk.check(A, Side::Buy, MID, 1),
        RejectReason::CircuitBreaker
    );
    assert_eq!(desk.check(B, Side::Buy, MID, 1), RejectReason::None);
}

// Nonsense quantities and prices are refused before any limit is looked at.
#[test]
fn invalid_qty_and_price() {
    let desk = Desk::new();
    assert_eq!(desk.check(A, Side::Buy, MID, 0), RejectReason::InvalidQty);
    assert_eq!(desk.check(A, Side::Buy, MID, -5), RejectReason::InvalidQty);
    assert_eq!(desk.check(A, Side::Buy, 0, 1), RejectReason::InvalidPrice);
    assert_eq!(
        desk.check(InstrumentId(9), Side::Buy, MID, 1),
        RejectReason::UnknownInstrument
    );
}

// A replace is checked on what it adds: growing an order past the limit is refused.
#[test]
fn replace_counts_only_the_change() {
    let mut desk = Desk::new();
    desk.pretrade.apply_fill(A, Side::Buy, Qty(420));
    desk.open(A, Side::Buy, 80);
    let grow = |qty| OrderCheck {
        instrument: A,
        side: Side::Buy,
        price: Price(MID),
        qty: Qty(qty),
        leaves_now: 80,
        filled: 0,
        is_new: false,
    };
    assert_eq!(
        desk.pretrade.check(&grow(80), &desk.orders, 0),
        RejectReason::None
    );
    assert_eq!(
        desk.pretrade.check(&grow(81), &desk.orders, 0),
        RejectReason::PositionLimit
    );
}
