//! The decisions stages write into an event: the risk gate, order intents with
//! their pre-trade verdicts, execution results, and the outcome of venue input.
//! Every one is a one-byte code so that the journal holds them exactly.

use crate::units::{InstrumentId, OrderId, Price, Qty, Side};

/// Declares a one-byte enum with a decoder, a stable name and the list of its values.
macro_rules! code_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name {
            #[default]
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn from_u8(value: u8) -> Option<$name> {
                match value {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Stable lower-case name, used in reports and JSON.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }
    };
}
pub(crate) use code_enum;

code_enum! {
    /// Why an intent was refused before it reached the venue. `None` means accepted.
    pub enum RejectReason {
        None = 0 => "none",
        MaxOrderQty = 1 => "max_order_qty",
        MaxNotional = 2 => "max_notional",
        PriceBand = 3 => "price_band",
        NoReferencePrice = 4 => "no_reference_price",
        PositionLimit = 5 => "position_limit",
        GrossPositionLimit = 6 => "gross_position_limit",
        MaxOpenOrders = 7 => "max_open_orders",
        RateThrottle = 8 => "rate_throttle",
        DailyLoss = 9 => "daily_loss",
        KillSwitchHalt = 10 => "kill_switch_halt",
        KillSwitchReduceOnly = 11 => "kill_switch_reduce_only",
        KillSwitchCancelAll = 12 => "kill_switch_cancel_all",
        StopLoss = 13 => "stop_loss",
        CircuitBreaker = 14 => "circuit_breaker",
        InvalidQty = 15 => "invalid_qty",
        InvalidPrice = 16 => "invalid_price",
        UnknownInstrument = 17 => "unknown_instrument",
        OrderNotWorking = 18 => "order_not_working",
        /// The strategy asked for more intents than one event holds (never journaled).
        IntentSlotsFull = 19 => "intent_slots_full",
        /// The instrument's book is stale (a feed gap not yet recovered).
        StaleBook = 20 => "stale_book",
        /// The venue session is down or being reconciled (`docs/restart.md`).
        VenueReconciling = 21 => "venue_reconciling",
    }
}

code_enum! {
    /// The state risk imposes on trading, globally or for one instrument.
    pub enum Gate {
        Open = 0 => "open",
        ReduceOnlyKillSwitch = 1 => "reduce_only_kill_switch",
        HaltKillSwitch = 2 => "halt_kill_switch",
        CancelAllKillSwitch = 3 => "cancel_all_kill_switch",
        ReduceOnlyStopLoss = 4 => "reduce_only_stop_loss",
        HaltCircuitBreaker = 5 => "halt_circuit_breaker",
        ReduceOnlyDailyLoss = 6 => "reduce_only_daily_loss",
        /// New orders and replaces wait until the venue's orders are reconciled.
        HaltReconciling = 7 => "halt_reconciling",
    }
}

/// What a gate allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum GateMode {
    Open,
    ReduceOnly,
    Halt,
    CancelAll,
}

impl Gate {
    pub fn mode(self) -> GateMode {
        match self {
            Gate::Open => GateMode::Open,
            Gate::ReduceOnlyKillSwitch | Gate::ReduceOnlyStopLoss | Gate::ReduceOnlyDailyLoss => {
                GateMode::ReduceOnly
            }
            Gate::HaltKillSwitch | Gate::HaltCircuitBreaker | Gate::HaltReconciling => {
                GateMode::Halt
            }
            Gate::CancelAllKillSwitch => GateMode::CancelAll,
        }
    }

    /// The rejection an order gets when this gate stops it.
    pub fn reject_reason(self) -> RejectReason {
        match self {
            Gate::Open => RejectReason::None,
            Gate::ReduceOnlyKillSwitch => RejectReason::KillSwitchReduceOnly,
            Gate::HaltKillSwitch => RejectReason::KillSwitchHalt,
            Gate::CancelAllKillSwitch => RejectReason::KillSwitchCancelAll,
            Gate::ReduceOnlyStopLoss => RejectReason::StopLoss,
            Gate::HaltCircuitBreaker => RejectReason::CircuitBreaker,
            Gate::ReduceOnlyDailyLoss => RejectReason::DailyLoss,
            Gate::HaltReconciling => RejectReason::VenueReconciling,
        }
    }

    /// The more restrictive of two gates (the first on a tie).
    pub fn strictest(self, other: Gate) -> Gate {
        if other.mode() > self.mode() {
            other
        } else {
            self
        }
    }
}

code_enum! {
    /// What an intent asks for.
    pub enum Action {
        None = 0 => "none",
        New = 1 => "new",
        Cancel = 2 => "cancel",
        Replace = 3 => "replace",
    }
}

code_enum! {
    /// What execution did with an accepted intent.
    pub enum ExecResult {
        NotSent = 0 => "not_sent",
        Sent = 1 => "sent",
        SendFailed = 2 => "send_failed",
        UnknownOrder = 3 => "unknown_order",
        OrderNotWorking = 4 => "order_not_working",
        DuplicateOrderId = 5 => "duplicate_order_id",
    }
}

code_enum! {
    /// How execution classified a venue message (ack, fill, reject, cancel ack) or a gate change.
    pub enum Outcome {
        None = 0 => "none",
        Applied = 1 => "applied",
        DuplicateFill = 2 => "duplicate_fill",
        UnknownOrder = 3 => "unknown_order",
        Overfill = 4 => "overfill",
        LateForClosedOrder = 5 => "late_for_closed_order",
        MassCancel = 6 => "mass_cancel",
        InvalidTransition = 7 => "invalid_transition",
    }
}

/// Number of intent slots in an event: a strategy may act twice per event
/// (both sides of a quote).
pub const MAX_INTENTS: usize = 2;

/// One order intent and the verdicts on it. 32 bytes, no padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Intent {
    pub order_id: OrderId,
    pub price: Price,
    pub qty: Qty,
    pub instrument: InstrumentId,
    pub action: Action,
    pub side: Side,
    /// Pre-trade risk verdict: `None` means accepted.
    pub reject: RejectReason,
    pub exec: ExecResult,
    pub reserved: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<Intent>() == 32);

impl Intent {
    pub const EMPTY: Intent = Intent {
        order_id: OrderId(0),
        price: Price(0),
        qty: Qty(0),
        instrument: InstrumentId(0),
        action: Action::None,
        side: Side::None,
        reject: RejectReason::None,
        exec: ExecResult::NotSent,
        reserved: [0; 2],
    };

    pub fn is_empty(&self) -> bool {
        self.action == Action::None
    }

    pub fn is_accepted(&self) -> bool {
        !self.is_empty() && self.reject == RejectReason::None
    }
}
