//! The risk stage: portfolio state before strategy sees an event.
//!
//! Owned by the thread its core runs. Per event it applies fills to
//! positions and PnL, marks positions at the mid, runs the circuit breaker,
//! the stop-loss and the daily-loss limit, obeys kill-switch commands, holds
//! new orders while the venue lane reconciles with the venue (from its
//! journaled steps until complete, or until the operator releases it), and
//! writes the global gate and the event instrument's gate into the event.
//! It reads no clock: time is the event's `ts_recv_ns`.
//!
//! Invariants, asserted in debug builds after every event: the total
//! unrealized PnL is the sum of the instruments' at their last marks, and
//! an instrument whose stop-loss tripped holds a position (a flat one
//! clears it). A restore checks the same and refuses state that breaks them.
//!
//! Durable across a restart (`save_state`/`restore_state`): positions with
//! their average cost and realized PnL, marks, stop-loss and breaker state,
//! the kill switch (a halt survives a restart until the operator lifts it),
//! today's loss and its day, and the reconciliation gate (so a snapshot
//! taken during a round restores it; a new run begins with it open, see
//! [`RiskStage::begin_run`]). Counters are per run and are not carried.

use crate::config::Config;
use crate::decision::Gate;
use crate::event::{ControlCommand, Event, EventKind, Input, ReconcileStep};
use crate::risk::breaker::CircuitBreaker;
use crate::risk::portfolio::Position;
use crate::state_codec::{StateError, StateReader, StateWriter};
use crate::units::{Price, Qty};

const NS_PER_DAY: u64 = 86_400_000_000_000;

struct InstrumentRisk {
    position: Position,
    mark: Option<Price>,
    tick_value: i64,
    stop_loss: i64,
    stop_tripped: bool,
    breaker: CircuitBreaker,
    breaker_halted: bool,
    /// Unrealized PnL in account units at the last mark.
    unrealized_units: i128,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskCounters {
    pub fills_applied: u64,
    pub fills_duplicate: u64,
    pub stop_loss_trips: u64,
    pub breaker_trips: u64,
    pub daily_loss_trips: u64,
    pub kill_switch_commands: u64,
    pub unknown_instrument: u64,
}

pub struct RiskStage {
    instruments: Vec<InstrumentRisk>,
    kill_switch: Gate,
    /// Closed (`HaltReconciling`) from the venue lane's Pending or Started
    /// step until Complete or an operator release.
    reconcile_gate: Gate,
    /// The global gate the kill switch, the daily loss and the
    /// reconciliation gate make ([`RiskStage::gate_global_of`]), kept as
    /// they change (rarely), so that an event reads it instead of deciding it.
    gate_global: Gate,
    daily_loss_limit: i64,
    daily_loss_tripped: bool,
    /// Today's PnL moved (a fill, a new mark, a new day, a restore) since
    /// the daily-loss limit was last checked: only then can it trip.
    daily_loss_unchecked: bool,
    day_index: u64,
    /// The nanoseconds of day `day_index` once an event fell in it (empty
    /// until then and after a restore): an event inside needs no division.
    day_span_ns: std::ops::Range<u64>,
    /// Realized PnL of all instruments, in account units.
    realized_units: i128,
    unrealized_units: i128,
    /// Total PnL when the current day began.
    day_start_units: i128,
    pub counters: RiskCounters,
}

impl RiskStage {
    pub fn new(config: &Config) -> RiskStage {
        let instruments = config
            .instruments
            .iter()
            .map(|i| InstrumentRisk {
                position: Position::default(),
                mark: None,
                tick_value: i.tick_value,
                stop_loss: i.limits.stop_loss,
                stop_tripped: false,
                breaker: CircuitBreaker::new(
                    i.limits.breaker_move_ticks,
                    i.limits.breaker_window_ms * 1_000_000,
                    i.limits.breaker_halt_ms * 1_000_000,
                ),
                breaker_halted: false,
                unrealized_units: 0,
            })
            .collect();
        RiskStage {
            instruments,
            kill_switch: Gate::Open,
            reconcile_gate: Gate::Open,
            gate_global: Gate::Open,
            daily_loss_limit: config.risk.daily_loss_limit,
            daily_loss_tripped: false,
            daily_loss_unchecked: true,
            day_index: 0,
            day_span_ns: 0..0,
            realized_units: 0,
            unrealized_units: 0,
            day_start_units: 0,
            counters: RiskCounters::default(),
        }
    }

    // Always inlined into the chain: for a book row the stage's own work
    // is a few compares, less than a call's register saves and restores.
    #[inline(always)]
    pub fn on_event(&mut self, ev: &mut Event) {
        self.roll_day(ev.ts_recv_ns);
        let index = ev.instrument.index();
        // Market data (most events) is read from the event's words; any
        // other input is decoded.
        if let Some(d) = ev.book_delta() {
            if index < self.instruments.len()
                && d.bid_px.0 > 0
                && d.ask_px.0 > 0
                && ev.flags & crate::event::FLAG_MESSAGE_CONTINUES == 0
            {
                let mid = (d.bid_px.0 + d.ask_px.0).div_euclid(2);
                self.on_mark(index, Price(mid), ev.ts_recv_ns);
            }
        } else if let Some(t) = ev.top_of_book() {
            if index < self.instruments.len() && t.bid_px.0 > 0 && t.ask_px.0 > 0 {
                let mid = (t.bid_px.0 + t.ask_px.0).div_euclid(2);
                self.on_mark(index, Price(mid), ev.ts_recv_ns);
            }
        } else {
            self.on_input(ev, index);
        }
        if self.daily_loss_unchecked {
            self.check_daily_loss();
        }
        debug_assert_eq!(
            self.gate_global,
            self.gate_global_of(),
            "the kept global gate follows its inputs"
        );
        ev.gate_global = self.gate_global;
        ev.gate_instrument = self.gate_instrument(index, ev.ts_recv_ns);
        debug_assert!(self.totals_are_consistent());
    }

    /// Every input but a book delta or a top of book. A venue's ack or
    /// cancel ack moves nothing here and a fill is read from its words, by
    /// the event's kind (most of the inputs that reach this: the replies
    /// to the strategy's orders); the rest decoded, as
    /// [`RiskStage::on_input_general`] does for every kind (a test holds
    /// the two to each other).
    #[inline]
    fn on_input(&mut self, ev: &Event, index: usize) {
        match ev.kind {
            EventKind::OrderAck | EventKind::CancelAck => {}
            EventKind::Fill => match ev.fill() {
                Some(_) if ev.is_duplicate() => self.counters.fills_duplicate += 1,
                Some(fill) if index < self.instruments.len() => {
                    self.on_fill(index, ev.side, fill.price, fill.qty);
                }
                _ => self.counters.unknown_instrument += 1,
            },
            _ => self.on_input_general(ev, index),
        }
    }

    /// Every input but a book delta or a top of book, decoded.
    #[inline(never)]
    fn on_input_general(&mut self, ev: &Event, index: usize) {
        match ev.input() {
            Input::Control(command) => self.on_control(command),
            Input::Reconcile(phase) => {
                self.reconcile_gate = match phase.step {
                    ReconcileStep::Pending | ReconcileStep::Started => Gate::HaltReconciling,
                    ReconcileStep::Complete => Gate::Open,
                    _ => self.reconcile_gate,
                };
                self.refresh_gate_global();
            }
            Input::Trade(t)
                if index < self.instruments.len() && self.instruments[index].mark.is_none() =>
            {
                self.on_mark(index, t.price, ev.ts_recv_ns);
            }
            Input::Fill(fill) if ev.is_duplicate() => {
                let _ = fill;
                self.counters.fills_duplicate += 1;
            }
            Input::Fill(fill) if index < self.instruments.len() => {
                self.on_fill(index, ev.side, fill.price, fill.qty);
            }
            Input::Fill(_) => self.counters.unknown_instrument += 1,
            _ => {}
        }
    }

    /// The totals agree with the instruments (a walk over them: for debug assertions).
    fn totals_are_consistent(&self) -> bool {
        let unrealized: i128 = self.instruments.iter().map(|i| i.unrealized_units).sum();
        let stops_hold_positions = self
            .instruments
            .iter()
            .all(|i| !i.stop_tripped || i.position.qty.0 != 0);
        unrealized == self.unrealized_units && stops_hold_positions
    }

    fn on_control(&mut self, command: ControlCommand) {
        self.counters.kill_switch_commands += 1;
        self.kill_switch = match command {
            ControlCommand::KillSwitchHalt => Gate::HaltKillSwitch,
            ControlCommand::KillSwitchReduceOnly => Gate::ReduceOnlyKillSwitch,
            ControlCommand::KillSwitchCancelAll => Gate::CancelAllKillSwitch,
            ControlCommand::KillSwitchOff => Gate::Open,
            ControlCommand::ReconcileRelease => {
                self.reconcile_gate = Gate::Open;
                self.kill_switch
            }
            ControlCommand::None => self.kill_switch,
        };
        self.refresh_gate_global();
    }

    // Inlined: every book row that ends a message marks, and most change
    // nothing (the same mid, the breaker off); the call cost more than that.
    #[inline(always)]
    fn on_mark(&mut self, index: usize, mark: Price, ts_ns: u64) {
        let instrument = &mut self.instruments[index];
        let moved = instrument.mark != Some(mark);
        instrument.mark = Some(mark);
        if instrument.breaker.on_mid(ts_ns, mark.0) && !instrument.breaker_halted {
            instrument.breaker_halted = true;
            self.counters.breaker_trips += 1;
        }
        // The same mark on the same position leaves the unrealized PnL and
        // the stop as they are (most book rows change no mid); a position
        // changes only by a fill, which remarks.
        if moved {
            self.remark(index);
        }
    }

    fn on_fill(&mut self, index: usize, side: crate::units::Side, price: Price, qty: Qty) {
        self.counters.fills_applied += 1;
        let instrument = &mut self.instruments[index];
        let realized = instrument.position.apply_fill(side, price, qty);
        self.realized_units += realized * instrument.tick_value as i128;
        self.daily_loss_unchecked = true;
        if instrument.position.qty.0 == 0 {
            // Flat again: a tripped stop-loss has done its job.
            instrument.stop_tripped = false;
        }
        if instrument.mark.is_none() {
            instrument.mark = Some(price);
        }
        self.remark(index);
    }

    /// Recomputes one instrument's unrealized PnL and its stop-loss.
    fn remark(&mut self, index: usize) {
        let instrument = &mut self.instruments[index];
        let Some(mark) = instrument.mark else { return };
        let unrealized =
            instrument.position.unrealized_tick_lots(mark) * instrument.tick_value as i128;
        self.unrealized_units += unrealized - instrument.unrealized_units;
        instrument.unrealized_units = unrealized;
        self.daily_loss_unchecked = true;
        if instrument.stop_loss > 0
            && unrealized < -(instrument.stop_loss as i128)
            && !instrument.stop_tripped
        {
            instrument.stop_tripped = true;
            self.counters.stop_loss_trips += 1;
        }
    }

    /// A new UTC day of event time starts the daily loss over. An event in
    /// the day seen last costs two comparisons, not a 64-bit division (tens
    /// of cycles on this kind of CPU), and decides exactly as the division.
    #[inline]
    fn roll_day(&mut self, ts_ns: u64) {
        if self.day_span_ns.contains(&ts_ns) {
            return;
        }
        let day = ts_ns / NS_PER_DAY;
        let start_ns = day * NS_PER_DAY;
        self.day_span_ns = start_ns..start_ns.saturating_add(NS_PER_DAY);
        if day != self.day_index {
            self.day_index = day;
            self.day_start_units = self.realized_units + self.unrealized_units;
            self.daily_loss_tripped = false;
            self.daily_loss_unchecked = true;
            self.refresh_gate_global();
        }
    }

    /// Trips the daily-loss limit if today's PnL is below it (checked
    /// after any event that moved it: today's PnL is a function of the
    /// realized and unrealized totals and the day's start alone).
    fn check_daily_loss(&mut self) {
        self.daily_loss_unchecked = false;
        let today = self.realized_units + self.unrealized_units - self.day_start_units;
        if !self.daily_loss_tripped && today < -(self.daily_loss_limit as i128) {
            self.daily_loss_tripped = true;
            self.counters.daily_loss_trips += 1;
            self.refresh_gate_global();
        }
    }

    /// Decides the global gate again; called wherever the kill switch, the
    /// daily loss or the reconciliation gate changes (none changes per book row).
    fn refresh_gate_global(&mut self) {
        self.gate_global = self.gate_global_of();
    }

    /// The global gate: open unless the kill switch, the daily loss or
    /// reconciliation closes it.
    fn gate_global_of(&self) -> Gate {
        let daily = if self.daily_loss_tripped {
            Gate::ReduceOnlyDailyLoss
        } else {
            Gate::Open
        };
        self.kill_switch
            .strictest(daily)
            .strictest(self.reconcile_gate)
    }

    fn gate_instrument(&mut self, index: usize, ts_ns: u64) -> Gate {
        let Some(instrument) = self.instruments.get_mut(index) else {
            return Gate::Open;
        };
        if instrument.breaker_halted && !instrument.breaker.is_halted(ts_ns) {
            instrument.breaker_halted = false;
        }
        if instrument.breaker_halted {
            Gate::HaltCircuitBreaker
        } else if instrument.stop_tripped {
            Gate::ReduceOnlyStopLoss
        } else {
            Gate::Open
        }
    }

    pub fn instrument_count(&self) -> usize {
        self.instruments.len()
    }

    pub fn position(&self, index: usize) -> Qty {
        self.instruments
            .get(index)
            .map_or(Qty(0), |i| i.position.qty)
    }

    /// Realized PnL of all instruments, in account units.
    pub fn realized_units(&self) -> i128 {
        self.realized_units
    }

    pub fn unrealized_units(&self) -> i128 {
        self.unrealized_units
    }

    /// Writes the state a restart carries (see the module header).
    pub fn save_state(&self, out: &mut StateWriter) {
        out.count(self.instruments.len());
        for instrument in &self.instruments {
            instrument.position.save_state(out);
            out.option_i64(instrument.mark.map(|p| p.0));
            out.bool(instrument.stop_tripped);
            instrument.breaker.save_state(out);
            out.bool(instrument.breaker_halted);
            out.i128(instrument.unrealized_units);
        }
        out.u8(self.kill_switch as u8);
        out.bool(self.daily_loss_tripped);
        out.u64(self.day_index);
        out.i128(self.realized_units);
        out.i128(self.unrealized_units);
        out.i128(self.day_start_units);
        out.u8(self.reconcile_gate as u8);
    }

    /// A new run begins with this state: the gate of a reconciliation
    /// round the last run left unfinished opens (the run's venue lane
    /// closes it again at its own first poll, if it reconciles).
    pub fn begin_run(&mut self) {
        self.reconcile_gate = Gate::Open;
        self.refresh_gate_global();
    }

    /// Reads back what `save_state` wrote; refuses state for another
    /// instrument count or state that breaks the stage's invariants.
    pub fn restore_state(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        let restored = self.restore_state_fields(input);
        // Kept in step even with a restore refused half-way.
        self.refresh_gate_global();
        restored
    }

    fn restore_state_fields(&mut self, input: &mut StateReader<'_>) -> Result<(), StateError> {
        self.daily_loss_unchecked = true;
        input.count_exact("instruments", self.instruments.len())?;
        for instrument in &mut self.instruments {
            instrument.position = Position::restore_state(input)?;
            instrument.mark = input.option_i64("risk.mark")?.map(Price);
            instrument.stop_tripped = input.bool("risk.stop_tripped")?;
            instrument.breaker.restore_state(input)?;
            instrument.breaker_halted = input.bool("risk.breaker_halted")?;
            instrument.unrealized_units = input.i128("risk.unrealized_units")?;
        }
        self.kill_switch = input.code("risk.kill_switch", Gate::from_u8)?;
        self.daily_loss_tripped = input.bool("risk.daily_loss_tripped")?;
        self.day_index = input.u64("risk.day_index")?;
        self.day_span_ns = 0..0;
        self.realized_units = input.i128("risk.realized_units")?;
        self.unrealized_units = input.i128("risk.unrealized_units_total")?;
        self.day_start_units = input.i128("risk.day_start_units")?;
        self.reconcile_gate = input.code("risk.reconcile_gate", Gate::from_u8)?;
        if !matches!(self.reconcile_gate, Gate::Open | Gate::HaltReconciling) {
            return Err(StateError::Inconsistent {
                what: "risk",
                detail: "the reconciliation gate is neither open nor halting for reconciliation",
            });
        }
        if !self.totals_are_consistent() {
            return Err(StateError::Inconsistent {
                what: "risk",
                detail: "unrealized PnL is not the sum over instruments, or a stop-loss holds no position",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Fill, OrderAck, Trade, FLAG_DUPLICATE};
    use crate::units::{ExecId, InstrumentId, OrderId, Side};
    use proptest::prelude::*;

    fn input(kind: u8, id: u64, price: i64, qty: i64) -> Input {
        match kind {
            0 => Input::OrderAck(OrderAck {
                order_id: OrderId(id),
                venue_order_id: id,
                price: Price(price),
                qty: Qty(qty),
            }),
            1 | 2 => Input::Fill(Fill {
                order_id: OrderId(id),
                exec_id: ExecId(id),
                price: Price(price),
                qty: Qty(qty),
            }),
            3 => Input::CancelAck(OrderId(id)),
            4 => Input::Trade(Trade {
                price: Price(price),
                qty: Qty(qty),
                trade_id: id,
            }),
            5 => Input::Control(ControlCommand::KillSwitchReduceOnly),
            6 => Input::Control(ControlCommand::KillSwitchOff),
            _ => Input::Timer(id),
        }
    }

    fn state(stage: &RiskStage) -> Vec<u8> {
        let mut out = StateWriter::new();
        stage.save_state(&mut out);
        out.into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The replies read by their kind (`on_input`) move the positions,
        /// the PnL, the gates and the counters exactly as every input
        /// decoded (`on_input_general`): acks, cancel acks, fills (some
        /// duplicates, some for an instrument risk does not know), trades,
        /// kill-switch commands and timers.
        #[test]
        fn a_reply_read_by_its_kind_moves_risk_as_decoded(
            steps in proptest::collection::vec(
                (0u8..8, 1u64..50, 1i64..2_000, 1i64..5, any::<bool>(), any::<bool>(), 0u16..6),
                1..120,
            )
        ) {
            let config = Config::builtin();
            let mut fast = RiskStage::new(&config);
            let mut general = RiskStage::new(&config);
            for (kind, id, price, qty, buy, duplicate, instrument) in steps {
                let side = if buy { Side::Buy } else { Side::Sell };
                let mut ev = Event::new(InstrumentId(instrument), side, input(kind, id, price, qty));
                ev.flags = if duplicate { FLAG_DUPLICATE } else { 0 };
                let index = ev.instrument.index();
                fast.on_input(&ev, index);
                general.on_input_general(&ev, index);
                prop_assert_eq!(fast.counters, general.counters);
                prop_assert_eq!(fast.gate_global, general.gate_global);
                prop_assert_eq!(fast.realized_units, general.realized_units);
                prop_assert_eq!(fast.unrealized_units, general.unrealized_units);
                prop_assert_eq!(state(&fast), state(&general));
            }
        }
    }
}
