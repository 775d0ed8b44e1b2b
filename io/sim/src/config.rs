//! What the simulator needs to know, in its own terms: the instruments it
//! lists (symbol, tick and lot sizes as decimal strings), how many orders
//! its books hold, and the ITCH feed's deliberate loss for tests (periodic
//! or a seeded share). A caller
//! with its own configuration builds this from it.

/// One listed instrument. Prices inside the simulator are whole ticks of
/// `tick_size`, quantities whole lots of `lot_size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimInstrument {
    pub symbol: String,
    /// Price of one tick, as a decimal string ("0.01").
    pub tick_size: String,
    /// Size of one lot, as a decimal string ("1").
    pub lot_size: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub instruments: Vec<SimInstrument>,
    /// Resting orders each instrument's book holds.
    pub resting_orders_max: usize,
    /// The ITCH feed drops (but keeps for retransmission) one packet in this
    /// many, so gaps and recovery happen in tests; 0: never.
    pub itch_drop_every: u64,
    /// Likewise a seeded share of packets, in parts per million; 0: none.
    pub itch_loss_ppm: u64,
    /// The seed of that share.
    pub itch_loss_seed: u64,
}

impl SimConfig {
    /// `symbols` on a cent tick and a one-share lot, `resting_orders_max`
    /// orders per book, and a feed that loses nothing.
    pub fn cents(symbols: &[&str], resting_orders_max: usize) -> SimConfig {
        SimConfig {
            instruments: symbols
                .iter()
                .map(|symbol| SimInstrument {
                    symbol: (*symbol).into(),
                    tick_size: "0.01".into(),
                    lot_size: "1".into(),
                })
                .collect(),
            resting_orders_max,
            itch_drop_every: 0,
            itch_loss_ppm: 0,
            itch_loss_seed: 0,
        }
    }
}
