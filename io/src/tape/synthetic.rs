//! A seeded synthetic Tardis tape: N instruments, each an L2 book that
//! opens with a snapshot and then random-walks through level updates and
//! trades, written as one `incremental_book_L2` and one `trades` file per
//! instrument (about 2 M rows over 4 instruments by default). The benchmark
//! race feeds the same files to Genesis, hftbacktest and NautilusTrader.
//!
//! Owning thread: the caller's; not a hot path. Invariants: the same config
//! writes byte-identical files; every row keeps its book uncrossed with at
//! least one level per side; each feed message leaves the spread at most
//! 3 ticks wide; timestamps never go backwards within a file.
//!
//! What the peers' Tardis loaders expect, and how these files meet it
//! (checked against hftbacktest `py-hftbacktest/hftbacktest/data/utils/tardis.py`
//! and NautilusTrader `crates/adapters/tardis/src/csv/`):
//! - hftbacktest `tardis.convert(input_files)` tells the dataset by
//!   "trades" / "incremental_book_L2" in the file name (else by the exact
//!   header), and ignores `exchange` and `symbol`: one conversion is one
//!   instrument. So each file holds one instrument and is named like a
//!   Tardis download, `{exchange}_{dataset}_{YYYY-MM-DD}_{symbol}.csv[.gz]`;
//!   pass the trades file before the book file, as its docs ask.
//! - hftbacktest buffers snapshot rows and applies them (a clear up to the
//!   last row's price, then the levels) at the first non-snapshot row, and
//!   its snapshot buffers shrink to the first snapshot's size. So each book
//!   file has exactly one snapshot, first, sides written best level first,
//!   followed by updates.
//! - hftbacktest shifts every local timestamp if any is before its exchange
//!   timestamp, and splits events whose exchange-time and local-time orders
//!   differ: here `local_timestamp` = `timestamp` + a positive latency, and
//!   both rise strictly from one feed message to the next.
//! - NautilusTrader parses `exchange` into its Tardis exchange enum (a real
//!   Tardis id such as "binance-futures", venue BINANCE) and upper-cases
//!   `symbol` (symbols here are upper case); it starts a new snapshot (a
//!   CLEAR) when `is_snapshot` turns true or its `timestamp` changes, so all
//!   rows of the snapshot share one `timestamp`; it skips zero-amount trades
//!   (none are written); it gunzips by the ".gz" extension (gzip files are
//!   named `.csv.gz`, plain ones `.csv`); it infers precision from the
//!   values unless `price_precision` / `size_precision` are given: give the
//!   decimals of the tick and lot sizes.
//! - Both parse prices and amounts as floats; values here are plain
//!   decimals on the instrument's grid with trailing zeros trimmed.

use super::input::Compression;
use super::tardis::{
    Aggressor, L2Update, TardisDataset, TardisInstrument, TardisInstruments, TardisTrade,
    TardisWriter, TradeId,
};
use crate::book::{Price, Qty, Side};
use crate::fix::time::civil_from_days;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Tick size of every synthetic instrument.
pub const SYNTHETIC_TICK_SIZE: &str = "0.1";
/// Lot size of every synthetic instrument.
pub const SYNTHETIC_LOT_SIZE: &str = "0.001";
/// Widest spread left at the end of a feed message, in ticks.
const SPREAD_TICKS_MAX: i64 = 3;
/// Largest level or trade amount, in lots.
const LEVEL_QTY_MAX_LOTS: u64 = 5_000;
/// Exchange time between two feed messages, at most, in microseconds.
const MESSAGE_GAP_US_MAX: u64 = 200;
/// Feed latency (local minus exchange time) range, in microseconds.
const LATENCY_US_MIN: u64 = 200;
const LATENCY_US_SPAN: u64 = 800;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SyntheticConfig {
    /// Seed of the random walk; the same seed writes the same files.
    pub seed: u64,
    /// Instruments (`SYN0USDT`, `SYN1USDT`, …), 1 to 1000.
    pub instrument_count: usize,
    /// Data rows to write over all files (snapshots included), at least.
    pub rows: u64,
    /// Levels per side in the opening snapshot; the book keeps between
    /// half and twice as many. At least 2.
    pub snapshot_levels: usize,
    /// Share of feed messages that are trades, 0 to 100.
    pub trade_percent: u32,
    /// Tardis exchange id written in every row.
    pub exchange: String,
    /// Exchange time of the snapshot, microseconds since the epoch.
    pub start_us: u64,
    /// Plain or gzip files.
    pub compression: Compression,
}

impl Default for SyntheticConfig {
    fn default() -> SyntheticConfig {
        SyntheticConfig {
            seed: 1,
            instrument_count: 4,
            rows: 2_000_000,
            snapshot_levels: 25,
            trade_percent: 10,
            exchange: "binance-futures".to_string(),
            // 2024-01-01T00:00:00Z.
            start_us: 1_704_067_200_000_000,
            compression: Compression::Gzip,
        }
    }
}

/// One file written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntheticFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its instrument (index into [`SyntheticTape::instruments`]).
    pub instrument_index: u16,
    /// Its dataset.
    pub dataset: TardisDataset,
    /// Data rows in it (header excluded).
    pub rows: u64,
}

/// The files of one synthetic tape.
#[derive(Clone, Debug)]
pub struct SyntheticTape {
    /// The instruments, with their tick and lot sizes.
    pub instruments: Vec<TardisInstrument>,
    /// Per instrument: its trades file, then its book file.
    pub files: Vec<SyntheticFile>,
}

impl SyntheticTape {
    /// Data rows over all files.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|file| file.rows).sum()
    }

    /// The file paths, trades file before book file for each instrument.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.files.iter().map(|file| file.path.clone()).collect()
    }
}

/// Write a synthetic tape into `dir` (which must exist).
pub fn write_synthetic_tape(dir: &Path, config: &SyntheticConfig) -> io::Result<SyntheticTape> {
    check_config(config)?;
    let instruments: Vec<TardisInstrument> = (0..config.instrument_count)
        .map(|index| {
            let symbol = format!("SYN{index}USDT");
            TardisInstrument::new(
                &config.exchange,
                &symbol,
                SYNTHETIC_TICK_SIZE,
                SYNTHETIC_LOT_SIZE,
            )
        })
        .collect();
    let table = TardisInstruments::new(instruments.clone())
        .map_err(|error| io::Error::new(ErrorKind::InvalidInput, error.to_string()))?;
    let mut generator = Generator::new(dir, config, Arc::new(table))?;
    generator.write_snapshots()?;
    let mut step_count = 0usize;
    while generator.rows_written() < config.rows || step_count < config.instrument_count {
        // Every instrument gets an update after its snapshot, then at random.
        let index = if step_count < config.instrument_count {
            step_count
        } else {
            generator.below(config.instrument_count as u64) as usize
        };
        generator.step(index)?;
        step_count += 1;
    }
    let files = generator.finish()?;
    Ok(SyntheticTape { instruments, files })
}

fn check_config(config: &SyntheticConfig) -> io::Result<()> {
    let problem = if !(1..=1000).contains(&config.instrument_count) {
        "instrument_count must be 1 to 1000"
    } else if config.snapshot_levels < 2 {
        "snapshot_levels must be at least 2"
    } else if config.trade_percent > 100 {
        "trade_percent must be 0 to 100"
    } else if config.exchange.is_empty() || config.exchange.contains([',', '"', '\n', '\r']) {
        "exchange must be a Tardis exchange id"
    } else {
        return Ok(());
    };
    Err(io::Error::new(ErrorKind::InvalidInput, problem))
}

/// One instrument's true book and output files.
struct InstrumentState {
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    book_file: TardisWriter<BufWriter<File>>,
    trades_file: TardisWriter<BufWriter<File>>,
    book_path: PathBuf,
    trades_path: PathBuf,
    last_local_us: u64,
    next_trade_id: u64,
}

/// Timestamps of one feed message.
#[derive(Clone, Copy)]
struct Stamp {
    instrument_index: u16,
    ts_exchange_ns: u64,
    ts_local_ns: u64,
}

struct Generator {
    rng: Xoshiro256PlusPlus,
    states: Vec<InstrumentState>,
    clock_us: u64,
    levels_target: usize,
    trade_percent: u64,
}

impl Generator {
    fn new(
        dir: &Path,
        config: &SyntheticConfig,
        table: Arc<TardisInstruments>,
    ) -> io::Result<Generator> {
        let date = civil_date(config.start_us / 86_400_000_000);
        let extension = match config.compression {
            Compression::None => "csv",
            Compression::Gzip => "csv.gz",
        };
        let mut states = Vec::with_capacity(table.len());
        for (index, instrument) in table.iter().enumerate() {
            let path = |dataset: TardisDataset| {
                dir.join(format!(
                    "{}_{}_{date}_{}.{extension}",
                    instrument.exchange,
                    dataset.name(),
                    instrument.symbol
                ))
            };
            let (book_path, trades_path) = (
                path(TardisDataset::IncrementalBookL2),
                path(TardisDataset::Trades),
            );
            let open = |path: &Path, dataset| {
                TardisWriter::create(path, dataset, config.compression, Arc::clone(&table))
            };
            states.push(InstrumentState {
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
                book_file: open(&book_path, TardisDataset::IncrementalBookL2)?,
                trades_file: open(&trades_path, TardisDataset::Trades)?,
                book_path,
                trades_path,
                last_local_us: 0,
                next_trade_id: 1 + 1_000_000 * index as u64,
            });
        }
        Ok(Generator {
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            states,
            clock_us: config.start_us,
            levels_target: config.snapshot_levels,
            trade_percent: u64::from(config.trade_percent),
        })
    }

    /// A uniform number in `0..bound` (`bound > 0`).
    fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        self.rng.next_u64() % bound
    }

    fn random_qty(&mut self) -> i64 {
        1 + self.below(LEVEL_QTY_MAX_LOTS) as i64
    }

    fn rows_written(&self) -> u64 {
        self.states
            .iter()
            .map(|state| state.book_file.rows_written() + state.trades_file.rows_written())
            .sum()
    }

    /// Timestamps of the next message of instrument `index`.
    fn stamp(&mut self, index: usize) -> Stamp {
        self.clock_us += 1 + self.below(MESSAGE_GAP_US_MAX);
        let latency_us = LATENCY_US_MIN + self.below(LATENCY_US_SPAN);
        let state = &mut self.states[index];
        // Strictly later than the last message, so exchange-time and local-time
        // orders agree (hftbacktest then needs no event split).
        state.last_local_us = (state.last_local_us + 1).max(self.clock_us + latency_us);
        Stamp {
            instrument_index: index as u16,
            ts_exchange_ns: self.clock_us * 1_000,
            ts_local_ns: state.last_local_us * 1_000,
        }
    }

    /// One snapshot per instrument: bids then asks, best level first, all
    /// at the start time.
    fn write_snapshots(&mut self) -> io::Result<()> {
        for index in 0..self.states.len() {
            let stamp = self.stamp(index);
            let mid_ticks = 10_000 + 5_000 * index as i64;
            for (side, sign) in [(Side::Bid, -1), (Side::Ask, 1)] {
                for depth in 0..self.levels_target as i64 {
                    let price = mid_ticks + sign * (1 + depth);
                    let qty = self.random_qty();
                    self.set_level(index, stamp, side, price, qty, true)?;
                }
            }
        }
        Ok(())
    }

    /// One feed message for instrument `index`: a trade or a book change.
    fn step(&mut self, index: usize) -> io::Result<()> {
        let stamp = self.stamp(index);
        if self.below(100) < self.trade_percent {
            self.trade(index, stamp)?;
        } else {
            self.book_change(index, stamp)?;
        }
        self.tighten(index, stamp)?;
        for side in [Side::Bid, Side::Ask] {
            self.keep_depth(index, stamp, side)?;
        }
        Ok(())
    }

    /// A taker hits the best level of one side; the level shrinks or goes.
    fn trade(&mut self, index: usize, stamp: Stamp) -> io::Result<()> {
        let buy = self.below(2) == 0;
        let side = if buy { Side::Ask } else { Side::Bid };
        let (price, level_qty) = self.best(index, side);
        let qty = 1 + self.below(level_qty as u64) as i64;
        let state = &mut self.states[index];
        let trade = TardisTrade {
            instrument_index: stamp.instrument_index,
            ts_exchange_ns: stamp.ts_exchange_ns,
            ts_local_ns: stamp.ts_local_ns,
            id: TradeId::new(state.next_trade_id.to_string().as_bytes())
                .expect("a u64 id is short"),
            aggressor: if buy { Aggressor::Buy } else { Aggressor::Sell },
            price: Price(price),
            qty: Qty(qty),
            line: 0,
        };
        state.next_trade_id += 1;
        state.trades_file.write_trade(&trade)?;
        self.set_level(index, stamp, side, price, level_qty - qty, false)
    }

    /// Change a level's amount, add one inside the spread or in a gap of
    /// the side, or remove one near the top.
    fn book_change(&mut self, index: usize, stamp: Stamp) -> io::Result<()> {
        let side = if self.below(2) == 0 {
            Side::Bid
        } else {
            Side::Ask
        };
        let (best_bid, _) = self.best(index, Side::Bid);
        let (best_ask, _) = self.best(index, Side::Ask);
        let (best, away) = match side {
            Side::Bid => (best_bid, -1),
            Side::Ask => (best_ask, 1),
        };
        let levels = self.levels(index, side).len();
        let qty = self.random_qty();
        match self.below(5) {
            0 if best_ask - best_bid > 1 => {
                self.set_level(index, stamp, side, best - away, qty, false)
            }
            1 if levels > 1 => {
                let price = self.near_top(index, side);
                self.set_level(index, stamp, side, price, 0, false)
            }
            2 => {
                let depth = 1 + self.below(2 * self.levels_target as u64) as i64;
                let price = (best + away * depth).max(1);
                self.set_level(index, stamp, side, price, qty, false)
            }
            _ => {
                let price = self.near_top(index, side);
                self.set_level(index, stamp, side, price, qty, false)
            }
        }
    }

    /// Narrow a spread wider than [`SPREAD_TICKS_MAX`] with new levels one
    /// tick inside it, on either side.
    fn tighten(&mut self, index: usize, stamp: Stamp) -> io::Result<()> {
        loop {
            let (best_bid, _) = self.best(index, Side::Bid);
            let (best_ask, _) = self.best(index, Side::Ask);
            if best_ask - best_bid <= SPREAD_TICKS_MAX {
                return Ok(());
            }
            let qty = self.random_qty();
            if self.below(2) == 0 {
                self.set_level(index, stamp, Side::Bid, best_bid + 1, qty, false)?;
            } else {
                self.set_level(index, stamp, Side::Ask, best_ask - 1, qty, false)?;
            }
        }
    }

    /// Keep a side between half and twice the target depth.
    fn keep_depth(&mut self, index: usize, stamp: Stamp, side: Side) -> io::Result<()> {
        let levels = self.levels(index, side);
        let count = levels.len();
        let worst = match side {
            Side::Bid => levels.keys().next(),
            Side::Ask => levels.keys().next_back(),
        }
        .copied();
        let Some(worst) = worst else {
            unreachable!("a side never empties");
        };
        if count > 2 * self.levels_target {
            return self.set_level(index, stamp, side, worst, 0, false);
        }
        let deeper = if side == Side::Bid {
            worst - 1
        } else {
            worst + 1
        };
        if count < self.levels_target.div_ceil(2) && deeper > 0 {
            let qty = self.random_qty();
            return self.set_level(index, stamp, side, deeper, qty, false);
        }
        Ok(())
    }

    /// Set a level in the true book and write the row. A side that would
    /// empty gets a new level one tick deeper first, in the same message.
    fn set_level(
        &mut self,
        index: usize,
        stamp: Stamp,
        side: Side,
        price: i64,
        qty: i64,
        is_snapshot: bool,
    ) -> io::Result<()> {
        if qty == 0 && self.levels(index, side).len() == 1 {
            let deeper = if side == Side::Bid {
                price - 1
            } else {
                price + 1
            };
            let refill = self.random_qty();
            self.set_level(index, stamp, side, deeper.max(1), refill, false)?;
        }
        let state = &mut self.states[index];
        let levels = match side {
            Side::Bid => &mut state.bids,
            Side::Ask => &mut state.asks,
        };
        if qty == 0 {
            levels.remove(&price);
        } else {
            levels.insert(price, qty);
        }
        debug_assert!(
            state.bids.keys().next_back() < state.asks.keys().next() || state.asks.is_empty(),
            "the synthetic book never crosses"
        );
        state.book_file.write_update(&L2Update {
            instrument_index: stamp.instrument_index,
            ts_exchange_ns: stamp.ts_exchange_ns,
            ts_local_ns: stamp.ts_local_ns,
            side,
            price: Price(price),
            qty: Qty(qty),
            is_snapshot,
            starts_snapshot: false,
            line: 0,
        })
    }

    fn levels(&self, index: usize, side: Side) -> &BTreeMap<i64, i64> {
        match side {
            Side::Bid => &self.states[index].bids,
            Side::Ask => &self.states[index].asks,
        }
    }

    /// Best level (price, amount) of a side.
    fn best(&self, index: usize, side: Side) -> (i64, i64) {
        let levels = self.levels(index, side);
        let best = match side {
            Side::Bid => levels.iter().next_back(),
            Side::Ask => levels.iter().next(),
        };
        let (&price, &qty) = best.expect("a side never empties");
        (price, qty)
    }

    /// A level's price, drawn towards the top of the side.
    fn near_top(&mut self, index: usize, side: Side) -> i64 {
        let count = self.levels(index, side).len() as u64;
        let rank = self.below(count).min(self.below(count)) as usize;
        let levels = self.levels(index, side);
        let price = match side {
            Side::Bid => levels.keys().rev().nth(rank),
            Side::Ask => levels.keys().nth(rank),
        };
        *price.expect("rank < count")
    }

    fn finish(self) -> io::Result<Vec<SyntheticFile>> {
        let mut files = Vec::with_capacity(2 * self.states.len());
        for (index, state) in self.states.into_iter().enumerate() {
            let instrument_index = index as u16;
            let (trade_rows, book_rows) = (
                state.trades_file.rows_written(),
                state.book_file.rows_written(),
            );
            state.trades_file.finish()?;
            state.book_file.finish()?;
            files.push(SyntheticFile {
                path: state.trades_path,
                instrument_index,
                dataset: TardisDataset::Trades,
                rows: trade_rows,
            });
            files.push(SyntheticFile {
                path: state.book_path,
                instrument_index,
                dataset: TardisDataset::IncrementalBookL2,
                rows: book_rows,
            });
        }
        Ok(files)
    }
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn civil_date(days: u64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Dates of known days, leap years included.
    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
        assert_eq!(civil_date(18_201), "2019-11-01");
    }
}
