//! What the backtest tests share: the touch-quoter config and the tapes
//! they write with the project's own encoders.
#![allow(dead_code)] // each test binary uses a different part

use genesis_engine::config::Config;
use genesis_io::itch::{
    AddOrder, BuySell, ItchMessage, MessageHeader, OrderCancel, OrderDelete, OrderExecuted,
    OrderReplace, Price4, StockSymbol, Trade,
};
use genesis_io::tape::synthetic::{write_synthetic_tape, SyntheticConfig};
use genesis_io::tape::{Compression, ItchFileWriter};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};

/// The touch quoter on `instruments` (TOML), requoting every 4th update,
/// with `topology` as the core plan; journal given per run.
pub fn config(dir: &Path, instruments: &str, topology: &str) -> Config {
    let text = format!(
        "{topology}\n\
         [metrics]\nlisten = \"\"\nlatency_log_dir = \"\"\n\
         [journal]\ndir = \"{}\"\n\
         [risk]\norders_per_window = 1000000\n\
         [strategy]\nname = \"touch-quoter\"\n\
         [strategy.touch_quoter]\nrequote_every_updates = 4\norder_lots = 1\nmax_position_lots = 5\n\
         [backtest]\nitch_day = \"2019-01-30\"\n\
         {instruments}\n",
        dir.join("unused-journal").display()
    );
    let path = dir.join("backtest.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(&path).unwrap()
}

pub const FUSED: &str = "[topology]\npin_threads = false\nwait = \"sleep\"";
pub const JOURNAL_APART: &str = "[topology]\npin_threads = false\nwait = \"sleep\"\n\
     cores = { ingest = 0, risk = 0, strategy = 0, execution = 0, journal = 1 }";

pub fn synthetic_instruments() -> String {
    (0..2)
        .map(|i| {
            format!(
                "[[instruments]]\nsymbol = \"SYN{i}USDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\n\
                 [instruments.limits]\nmax_order_qty = 1\nposition_limit = 8\nstop_loss = 0\n"
            )
        })
        .collect()
}

pub const ITCH_INSTRUMENT: &str = "[[instruments]]\nsymbol = \"ALPHA\"\ntick_size = \"0.01\"\n\
     lot_size = \"1\"\n[instruments.limits]\nmax_order_qty = 1\nposition_limit = 8\nstop_loss = 0\n";

/// A seeded two-instrument Tardis tape of about `rows` rows, plain CSV.
pub fn tardis_tape(dir: &Path, rows: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let config = SyntheticConfig {
        seed: 7,
        instrument_count: 2,
        rows,
        snapshot_levels: 10,
        compression: Compression::None,
        ..SyntheticConfig::default()
    };
    write_synthetic_tape(dir, &config).unwrap().paths()
}

/// A seeded ITCH 5.0 day for one stock, ALPHA (locate 1): adds on
/// both sides of a fixed mid, executions, cancels, deletes, replaces and
/// non-displayed trades of the orders it holds.
pub fn itch_tape(path: &Path, messages: usize, compression: Compression) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut writer = ItchFileWriter::create(path, compression).unwrap();
    let stock = StockSymbol::from_str_padded("ALPHA").unwrap();
    let mid_ticks = 10_000i64;
    let mut live: Vec<(u64, BuySell, i64, u32)> = Vec::new();
    let mut next_ref = 1u64;
    for index in 0..messages {
        let header = MessageHeader {
            stock_locate: 1,
            tracking_number: 0,
            timestamp_ns: 34_200_000_000_000 + index as u64 * 50_000,
        };
        let roll = rng.next_u32() % 100;
        let price = |side: BuySell, rng: &mut Xoshiro256PlusPlus| {
            let away = 1 + (rng.next_u32() % 4) as i64;
            let ticks = if side == BuySell::Buy {
                mid_ticks - away
            } else {
                mid_ticks + away
            };
            Price4((ticks * 100) as u32)
        };
        let message = if live.len() < 8 || roll < 45 {
            let side = if rng.next_u32() % 2 == 0 {
                BuySell::Buy
            } else {
                BuySell::Sell
            };
            let (order_ref, shares, price) =
                (next_ref, 100 + rng.next_u32() % 400, price(side, &mut rng));
            next_ref += 1;
            live.push((order_ref, side, i64::from(price.0), shares));
            ItchMessage::AddOrder(AddOrder {
                header,
                order_ref,
                side,
                shares,
                stock,
                price,
                attribution: None,
            })
        } else if roll < 95 {
            let at = rng.next_u32() as usize % live.len();
            let (order_ref, side, price_units, shares) = live[at];
            let part = 1 + rng.next_u32() % shares;
            match roll {
                45..=64 => {
                    if part == shares {
                        live.remove(at);
                    } else {
                        live[at].3 -= part;
                    }
                    ItchMessage::OrderExecuted(OrderExecuted {
                        header,
                        order_ref,
                        executed_shares: part,
                        match_number: index as u64,
                    })
                }
                65..=79 if part < shares => {
                    live[at].3 -= part;
                    ItchMessage::OrderCancel(OrderCancel {
                        header,
                        order_ref,
                        cancelled_shares: part,
                    })
                }
                65..=89 => {
                    live.remove(at);
                    ItchMessage::OrderDelete(OrderDelete { header, order_ref })
                }
                _ => {
                    let (new_ref, price) = (next_ref, price(side, &mut rng));
                    next_ref += 1;
                    live[at] = (new_ref, side, i64::from(price.0), shares);
                    let _ = price_units;
                    ItchMessage::OrderReplace(OrderReplace {
                        header,
                        original_order_ref: order_ref,
                        new_order_ref: new_ref,
                        shares,
                        price,
                    })
                }
            }
        } else {
            let side = if rng.next_u32() % 2 == 0 {
                BuySell::Buy
            } else {
                BuySell::Sell
            };
            ItchMessage::Trade(Trade {
                header,
                order_ref: 0,
                side,
                shares: 100,
                stock,
                price: price(side, &mut rng),
                match_number: index as u64,
            })
        };
        writer.write_message(&message).unwrap();
    }
    writer.finish().unwrap();
}
