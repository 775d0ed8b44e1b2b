//! The risk stage on event streams: positions and PnL from fills, the gates it
//! writes for stop-loss, daily loss, circuit breaker and kill switch.

mod common;

use common::{fill, top};
use genesis_engine::decision::Gate;
use genesis_engine::event::{ControlCommand, Event, Input, FLAG_DUPLICATE};
use genesis_engine::risk::RiskStage;
use genesis_engine::units::{InstrumentId, Qty, Side};

const SEC: u64 = 1_000_000_000;
/// Noon on some day, so that day boundaries are far away.
const T0: u64 = 20_000 * 86_400 * SEC + 12 * 3_600 * SEC;

fn stage() -> RiskStage {
    let dir = tempfile::tempdir().unwrap();
    RiskStage::new(&common::test_config(dir.path()))
}

fn run(risk: &mut RiskStage, mut event: Event) -> Event {
    risk.on_event(&mut event);
    event
}

fn control(command: ControlCommand, ts_ns: u64) -> Event {
    let mut event = Event::new(InstrumentId(0), Side::None, Input::Control(command));
    event.ts_recv_ns = ts_ns;
    event
}

// Position is the sum of fills; a duplicate-flagged fill is not counted again.
#[test]
fn position_sums_fills_once() {
    let mut risk = stage();
    run(&mut risk, fill(0, Side::Buy, 1, 1, 10_000, 7, T0));
    run(&mut risk, fill(0, Side::Sell, 2, 2, 10_010, 3, T0));
    let mut duplicate = fill(0, Side::Sell, 2, 2, 10_010, 3, T0);
    duplicate.flags |= FLAG_DUPLICATE;
    run(&mut risk, duplicate);
    assert_eq!(risk.position(0), Qty(4));
    assert_eq!(risk.counters.fills_duplicate, 1);
    assert_eq!(risk.realized_units(), 30);
}

// Unrealized loss past the stop (20 000 units) makes the instrument reduce-only until flat.
#[test]
fn stop_loss_trips_and_clears_when_flat() {
    let mut risk = stage();
    run(&mut risk, top(0, 9_999, 10_001, T0));
    run(&mut risk, fill(0, Side::Buy, 1, 1, 10_000, 100, T0));
    let ev = run(&mut risk, top(0, 9_799, 9_801, T0 + 1));
    assert_eq!(
        ev.gate_instrument,
        Gate::Open,
        "a loss of exactly 20 000 is not past the stop"
    );
    let ev = run(&mut risk, top(0, 9_798, 9_800, T0 + 2));
    assert_eq!(ev.gate_instrument, Gate::ReduceOnlyStopLoss);
    assert_eq!(ev.gate_global, Gate::Open);
    assert_eq!(risk.counters.stop_loss_trips, 1);
    // The other instrument is unaffected.
    assert_eq!(
        run(&mut risk, top(1, 9_999, 10_001, T0 + 3)).gate_instrument,
        Gate::Open
    );
    let ev = run(&mut risk, fill(0, Side::Sell, 2, 2, 9_799, 100, T0 + 4));
    assert_eq!(ev.gate_instrument, Gate::Open);
}

// A day's loss past the limit turns the whole book reduce-only; the next day starts fresh.
#[test]
fn daily_loss_trips_for_the_day() {
    let mut risk = stage();
    run(&mut risk, fill(0, Side::Buy, 1, 1, 10_000, 100, T0));
    run(&mut risk, fill(0, Side::Sell, 2, 2, 9_700, 100, T0 + 1));
    run(&mut risk, fill(1, Side::Buy, 3, 3, 10_000, 100, T0 + 2));
    let ev = run(&mut risk, fill(1, Side::Sell, 4, 4, 9_799, 100, T0 + 3));
    assert_eq!(risk.realized_units(), -50_100);
    assert_eq!(ev.gate_global, Gate::ReduceOnlyDailyLoss);
    assert_eq!(risk.counters.daily_loss_trips, 1);
    let next_day = run(&mut risk, top(0, 9_999, 10_001, T0 + 86_400 * SEC));
    assert_eq!(next_day.gate_global, Gate::Open);
}

// The day rolls at the UTC boundary to the nanosecond (the last
// nanosecond of a day still belongs to it), and an event from an earlier
// day (time going back) starts that day over too.
#[test]
fn daily_loss_rolls_at_the_exact_boundary_both_ways() {
    let mut risk = stage();
    let day_end = (T0 / (86_400 * SEC) + 1) * 86_400 * SEC;
    run(&mut risk, fill(0, Side::Buy, 1, 1, 10_000, 100, T0));
    let ev = run(
        &mut risk,
        fill(0, Side::Sell, 2, 2, 9_400, 100, day_end - 1),
    );
    assert_eq!(ev.gate_global, Gate::ReduceOnlyDailyLoss, "same day");
    assert_eq!(
        run(&mut risk, top(0, 9_999, 10_001, day_end)).gate_global,
        Gate::Open
    );
    run(
        &mut risk,
        fill(0, Side::Buy, 3, 3, 10_000, 100, day_end + 1),
    );
    let ev = run(
        &mut risk,
        fill(0, Side::Sell, 4, 4, 9_400, 100, day_end + 2),
    );
    assert_eq!(
        ev.gate_global,
        Gate::ReduceOnlyDailyLoss,
        "the next day's own loss"
    );
    let back = run(&mut risk, top(0, 9_999, 10_001, day_end - 1));
    assert_eq!(back.gate_global, Gate::Open, "an earlier day starts over");
    assert_eq!(risk.counters.daily_loss_trips, 2);
}

// A 1 000-tick move within a second halts the instrument for 5 s of event time.
#[test]
fn circuit_breaker_halts_then_reopens() {
    let mut risk = stage();
    assert_eq!(
        run(&mut risk, top(0, 9_999, 10_001, T0)).gate_instrument,
        Gate::Open
    );
    let ev = run(&mut risk, top(0, 10_999, 11_001, T0 + SEC / 2));
    assert_eq!(ev.gate_instrument, Gate::HaltCircuitBreaker);
    assert_eq!(
        run(&mut risk, top(1, 9_999, 10_001, T0 + SEC / 2)).gate_instrument,
        Gate::Open
    );
    let ev = run(
        &mut risk,
        top(0, 10_999, 11_001, T0 + SEC / 2 + 5 * SEC - 1),
    );
    assert_eq!(ev.gate_instrument, Gate::HaltCircuitBreaker);
    let ev = run(&mut risk, top(0, 10_999, 11_001, T0 + SEC / 2 + 5 * SEC));
    assert_eq!(ev.gate_instrument, Gate::Open);
    assert_eq!(risk.counters.breaker_trips, 1);
}

// Each kill-switch command sets the global gate; off clears it.
#[test]
fn kill_switch_modes() {
    let mut risk = stage();
    let cases = [
        (ControlCommand::KillSwitchHalt, Gate::HaltKillSwitch),
        (
            ControlCommand::KillSwitchReduceOnly,
            Gate::ReduceOnlyKillSwitch,
        ),
        (
            ControlCommand::KillSwitchCancelAll,
            Gate::CancelAllKillSwitch,
        ),
        (ControlCommand::KillSwitchOff, Gate::Open),
    ];
    for (command, gate) in cases {
        assert_eq!(
            run(&mut risk, control(command, T0)).gate_global,
            gate,
            "{command:?}"
        );
        // The gate sticks on later market data.
        assert_eq!(
            run(&mut risk, top(1, 9_999, 10_001, T0)).gate_global,
            gate,
            "{command:?}"
        );
    }
}

// The kill switch outranks the daily-loss reduce-only; releasing it falls back to reduce-only.
#[test]
fn strictest_gate_wins() {
    let mut risk = stage();
    run(&mut risk, fill(0, Side::Buy, 1, 1, 10_000, 100, T0));
    run(&mut risk, fill(0, Side::Sell, 2, 2, 9_000, 100, T0));
    assert_eq!(
        run(&mut risk, control(ControlCommand::KillSwitchHalt, T0)).gate_global,
        Gate::HaltKillSwitch
    );
    assert_eq!(
        run(&mut risk, control(ControlCommand::KillSwitchOff, T0)).gate_global,
        Gate::ReduceOnlyDailyLoss
    );
}
