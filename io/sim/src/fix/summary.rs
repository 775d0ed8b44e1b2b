//! What the venue holds for each participant, for the end-of-run summary a
//! test compares with an engine's own view (`genesis venue-sim
//! --summary-json`): its fills, its net position per instrument, and its
//! open orders by ClOrdID; and orders entered for a participant at the
//! venue itself (another terminal on the same account).
//!
//! Same owning thread as the acceptor.

use super::participants::Participants;
use super::FixAcceptor;
use crate::exchange::{Exchange, MarketDataOut, Request, RequestKind, Side};

/// One participant's state at the venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantSummary {
    /// How the venue names it: its SenderCompID ("GENESIS"), "#2" for a second one.
    pub name: String,
    pub comp_id: String,
    /// Executions of its orders.
    pub fills: u64,
    /// Net position per instrument: (symbol, lots, buys positive).
    pub positions: Vec<(String, i64)>,
    /// Its orders resting now, by the ClOrdID the venue accepted last.
    pub open_orders: Vec<OpenOrderSummary>,
}

/// One resting order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOrderSummary {
    /// The version the venue accepted last.
    pub cl_ord_id: String,
    /// OrderID(37): its first ClOrdID.
    pub order_id: String,
    pub symbol: String,
    pub side: Side,
    pub price_ticks: i64,
    /// Total quantity, filled, and still working (lots).
    pub qty: i64,
    pub filled: i64,
    pub leaves: i64,
}

impl FixAcceptor {
    /// Every participant's fills, positions and open orders.
    pub fn summary(&self, exchange: &Exchange) -> Vec<ParticipantSummary> {
        (0..self.participants.len())
            .filter_map(|index| self.participant_summary(index, exchange))
            .collect()
    }

    fn participant_summary(&self, index: usize, exchange: &Exchange) -> Option<ParticipantSummary> {
        let participant = self.participants.get(index)?;
        let owner = Participants::owner(index);
        let totals = exchange.participant_totals(owner);
        let symbol = |instrument: usize| {
            self.router
                .symbols
                .get(instrument)
                .cloned()
                .unwrap_or_default()
        };
        let open_orders = exchange
            .live_session_orders(owner)
            .into_iter()
            .filter_map(|(key, view)| {
                let chain = self.router.ids.chain(index, key)?;
                Some(OpenOrderSummary {
                    cl_ord_id: String::from_utf8_lossy(&chain.accepted).into_owned(),
                    order_id: String::from_utf8_lossy(&chain.root).into_owned(),
                    symbol: symbol(view.instrument),
                    side: view.side,
                    price_ticks: view.price,
                    qty: view.qty,
                    filled: view.filled,
                    leaves: view.leaves,
                })
            })
            .collect();
        Some(ParticipantSummary {
            name: participant.name(),
            comp_id: participant.comp_id.clone(),
            fills: totals.fills,
            positions: totals
                .positions
                .iter()
                .enumerate()
                .map(|(instrument, lots)| (symbol(instrument), *lots))
                .collect(),
            open_orders,
        })
    }

    /// A limit order entered at the venue for the participant `name`
    /// (made if new), under `cl_ord_id`: its session, if connected, hears
    /// of it as of any order of its own.
    pub fn enter_order(
        &mut self,
        (name, cl_ord_id): (&str, &str),
        (symbol, side, price_ticks, qty_lots): (&str, Side, i64, i64),
        (exchange, out): (&mut Exchange, &mut dyn MarketDataOut),
        now_ns: u64,
    ) -> Result<(), String> {
        let instrument = self
            .router
            .symbols
            .iter()
            .position(|s| s == symbol)
            .ok_or_else(|| format!("no instrument {symbol:?}"))?;
        let participant = self
            .participants
            .by_name(name)
            .ok_or_else(|| format!("no room for participant {name:?}"))?;
        let key = self.router.ids.open(participant, cl_ord_id.as_bytes());
        let request = Request {
            kind: RequestKind::New,
            order: key,
            instrument,
            side,
            price: price_ticks,
            qty: qty_lots,
        };
        exchange.submit(Participants::owner(participant), request, now_ns, out);
        Ok(())
    }
}
