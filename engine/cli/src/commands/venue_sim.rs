//! `genesis venue-sim`: the simulated venue on its own, for load tests and
//! for engines in other processes. The same exchange `genesis run` starts
//! in-process (`genesis_sim::VenueSim`): FIX 4.4 on a TCP port, ITCH 5.0 in
//! MoldUDP64 sent to one UDP destination with a request port for
//! retransmissions and a GLIMPSE snapshot server (SoupBinTCP), and
//! Binance-compatible WebSocket streams with REST snapshots on their port.
//!
//! The market is the config's seeded random walk (`market_data.seed`,
//! `rate_per_sec`, `trade_every`) over its instruments, moving from the
//! start (an engine that joins later catches up from a snapshot), or held
//! until the first FIX session connects with `--hold-market`. The feed's
//! deliberate loss comes from `market_data.sim_drop_every` and
//! `sim_loss_ppm`. The venue's CompIDs mirror the config's `venue.fix`
//! ones, so the same config file (with `venue.kind = "fix"` and
//! `market_data.source = "itch"` or `"binance-ws"`) points an engine at it:
//! see `engine/config/venue-sim-client.toml`.
//!
//! With `venue.cancel_on_disconnect = false` (or `--cancel-on-disconnect
//! false`) a participant's resting orders stay in the book while its
//! session is away, and keep trading. An operator (or a test) drives the
//! running venue with one command a line on standard input ([`parse_command`]):
//! `hold`, `release`, `disconnect`, `fill-every N`, `cancel-every N`,
//! `order NAME CLORDID SYMBOL buy|sell PRICE_TICKS QTY_LOTS`, `summary FILE`.
//! With `--summary-json FILE` it writes, on exit, every participant's
//! fills, net position per instrument and open orders ([`summary_json`]).

use crate::sim_glue::{self, WalkFlow};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_sim::{
    ItchPorts, ParticipantSummary, Side, VenueCommand, VenueSim, VenueSimReport, VenueSimSetup,
};
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// How long a `summary` command waits for the simulator's thread.
const SUMMARY_WAIT: Duration = Duration::from_secs(5);

/// Where the standalone simulator listens and sends, and what it keeps.
#[derive(Clone, Debug)]
pub struct VenueSimOptions {
    pub fix_addr: SocketAddr,
    /// The ITCH feed; `None`: no ITCH feed.
    pub itch: Option<ItchOptions>,
    /// WebSocket address (REST snapshots on the same port); `None`: no WebSocket streams.
    pub ws_addr: Option<SocketAddr>,
    /// Keep the market still until the first FIX session connects.
    pub hold_market: bool,
    /// Overrides `venue.cancel_on_disconnect`.
    pub cancel_on_disconnect: Option<bool>,
    /// Where the summary goes on exit.
    pub summary_json: Option<PathBuf>,
}

/// Where the ITCH feed goes, and the ports receivers reach.
#[derive(Clone, Copy, Debug)]
pub struct ItchOptions {
    pub destination: SocketAddr,
    pub request_addr: SocketAddr,
    pub snapshot_addr: SocketAddr,
}

/// What an operator asks of the standalone simulator, one line each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorCommand {
    Venue(VenueCommand),
    /// Write every participant's summary to this file now.
    Summary(PathBuf),
}

/// Starts the simulator, prints where it is, applies `commands` as they
/// come, runs until `stop` (or `duration`), prints what it did and writes
/// the summary if asked.
pub fn run(
    config: &Config,
    options: &VenueSimOptions,
    (stop, commands): (&AtomicBool, Option<Receiver<String>>),
    duration: Option<Duration>,
    out: &mut dyn Write,
) -> Result<VenueSimReport, String> {
    let clock = EpochClock::new();
    let (mut sim, itch_ports) = start(config, options, &clock)?;
    print_addresses(config, options, (&sim, itch_ports), out);
    let deadline_ns = duration.map(|d| clock.now_ns() + d.as_nanos() as u64);
    while !stop.load(Ordering::Acquire) && deadline_ns.is_none_or(|at| clock.now_ns() < at) {
        if let Some(commands) = &commands {
            while let Ok(line) = commands.try_recv() {
                obey(&sim, &line, out);
            }
        }
        for note in sim.take_notes() {
            let _ = writeln!(out, "venue-sim: {note}");
        }
        let _ = out.flush();
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = sim.stop();
    print_report(&sim, &report, out);
    if let Some(path) = &options.summary_json {
        write_summary(path, &sim.summary())?;
        let _ = writeln!(out, "venue-sim: summary written to {}", path.display());
    }
    Ok(report)
}

/// One operator line: applied, or refused with why.
fn obey(sim: &VenueSim, line: &str, out: &mut dyn Write) {
    match parse_command(line) {
        Ok(None) => {}
        Ok(Some(OperatorCommand::Venue(command))) => sim.command(command),
        Ok(Some(OperatorCommand::Summary(path))) => {
            let written = sim
                .summary_now(SUMMARY_WAIT)
                .ok_or_else(|| "the simulator did not answer".to_owned())
                .and_then(|summary| write_summary(&path, &summary));
            let _ = match written {
                Ok(()) => writeln!(out, "venue-sim: summary written to {}", path.display()),
                Err(error) => writeln!(out, "venue-sim: summary: {error}"),
            };
        }
        Err(error) => {
            let _ = writeln!(out, "venue-sim: command {line:?} refused: {error}");
        }
    }
}

/// Reads one operator line; `Ok(None)` for a blank one.
pub fn parse_command(line: &str) -> Result<Option<OperatorCommand>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |text: &str| {
        text.parse::<i64>()
            .map_err(|_| format!("{text:?} is not a number"))
    };
    let every = |text: &str| match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a positive count")),
    };
    let command = match words.as_slice() {
        [] => return Ok(None),
        ["hold"] => VenueCommand::Hold,
        ["release"] => VenueCommand::Release,
        ["disconnect"] => VenueCommand::Disconnect,
        ["fill-every", n] => VenueCommand::FillEvery(every(n)?),
        ["cancel-every", n] => VenueCommand::CancelEvery(every(n)?),
        ["summary", path] => return Ok(Some(OperatorCommand::Summary(PathBuf::from(path)))),
        ["order", participant, cl_ord_id, symbol, side, price, qty] => VenueCommand::Order {
            participant: (*participant).to_owned(),
            cl_ord_id: (*cl_ord_id).to_owned(),
            symbol: (*symbol).to_owned(),
            side: match *side {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                other => return Err(format!("side {other:?} is neither buy nor sell")),
            },
            price_ticks: number(price)?,
            qty_lots: number(qty)?,
        },
        _ => {
            return Err(
                "expected hold | release | disconnect | fill-every N | cancel-every N | \
                 order NAME CLORDID SYMBOL buy|sell PRICE_TICKS QTY_LOTS | summary FILE"
                    .into(),
            )
        }
    };
    Ok(Some(OperatorCommand::Venue(command)))
}

/// Every participant as JSON: name, CompID, fills, net position per
/// symbol (lots, buys positive), open orders (ClOrdID the venue accepted
/// last, OrderID, symbol, side, price in ticks, quantity, filled, leaves).
pub fn summary_json(summary: &[ParticipantSummary]) -> serde_json::Value {
    let participants: Vec<serde_json::Value> = summary
        .iter()
        .map(|p| {
            let positions: serde_json::Map<String, serde_json::Value> = p
                .positions
                .iter()
                .map(|(symbol, lots)| (symbol.clone(), json!(lots)))
                .collect();
            let open_orders: Vec<serde_json::Value> = p
                .open_orders
                .iter()
                .map(|o| {
                    json!({
                        "cl_ord_id": o.cl_ord_id,
                        "order_id": o.order_id,
                        "symbol": o.symbol,
                        "side": if o.side == Side::Buy { "buy" } else { "sell" },
                        "price_ticks": o.price_ticks,
                        "qty": o.qty,
                        "filled": o.filled,
                        "leaves": o.leaves,
                    })
                })
                .collect();
            json!({
                "name": p.name,
                "comp_id": p.comp_id,
                "fills": p.fills,
                "positions": positions,
                "open_orders": open_orders,
            })
        })
        .collect();
    json!({ "participants": participants })
}

/// Writes the summary whole (a reader never sees half of it).
fn write_summary(path: &Path, summary: &[ParticipantSummary]) -> Result<(), String> {
    let text = serde_json::to_string_pretty(&summary_json(summary))
        .map_err(|e| format!("summary: {e}"))?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text + "\n")
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The simulator on the options' ports, its market the config's walk
/// (held if asked); and its bound ITCH request and snapshot addresses.
fn start(
    config: &Config,
    options: &VenueSimOptions,
    clock: &EpochClock,
) -> Result<(VenueSim, Option<(SocketAddr, SocketAddr)>), String> {
    let sim_config = sim_glue::sim_config(config);
    let itch = match options.itch {
        Some(itch) => {
            let ports = ItchPorts::bind(&sim_config, itch.request_addr, itch.snapshot_addr)
                .map_err(|e| {
                    format!(
                        "ITCH request port {} or snapshot server {}: {e}",
                        itch.request_addr, itch.snapshot_addr
                    )
                })?;
            Some((ports, itch.destination))
        }
        None => None,
    };
    let itch_ports = itch
        .as_ref()
        .map(|(ports, _)| (ports.request_addr, ports.snapshot_addr));
    let fix = &config.venue.fix;
    let sim = VenueSim::start(
        &sim_config,
        VenueSimSetup {
            fix_addr: options.fix_addr,
            sender_comp_id: fix.target_comp_id.clone(),
            target_comp_id: fix.sender_comp_id.clone(),
            itch,
            ws_addr: options.ws_addr,
            flow: Box::new(WalkFlow::new(config, clock)),
            now_ns: sim_glue::now_ns(),
            hold_market: options.hold_market,
            cancel_on_disconnect: options
                .cancel_on_disconnect
                .unwrap_or(config.venue.cancel_on_disconnect),
        },
    )?;
    Ok((sim, itch_ports))
}

/// Where the simulator listens and sends, and what its market is.
fn print_addresses(
    config: &Config,
    options: &VenueSimOptions,
    (sim, itch_ports): (&VenueSim, Option<(SocketAddr, SocketAddr)>),
    out: &mut dyn Write,
) {
    let fix = &config.venue.fix;
    let _ = writeln!(
        out,
        "venue-sim: FIX 4.4 on {} (SenderCompID {}, TargetCompID {})",
        sim.fix_addr, fix.target_comp_id, fix.sender_comp_id
    );
    if let (Some(itch), Some((request_addr, snapshot_addr))) = (options.itch, itch_ports) {
        let _ = writeln!(
            out,
            "venue-sim: ITCH 5.0 / MoldUDP64 to {}, retransmission requests on {request_addr}, GLIMPSE snapshots on {snapshot_addr}",
            itch.destination
        );
    }
    if let Some(ws_addr) = sim.ws_addr {
        let symbols: Vec<&str> = config
            .instruments
            .iter()
            .map(|i| i.symbol.as_str())
            .collect();
        let _ = writeln!(
            out,
            "venue-sim: WebSocket {}",
            genesis_io::net::combined_stream_url(&ws_addr.to_string(), &symbols)
        );
    }
    let moves = if options.hold_market {
        "the market moves once a FIX session connects"
    } else {
        "the market moves from now on"
    };
    let _ = writeln!(
        out,
        "venue-sim: {} instrument(s), {} market events/s, seed {}; {moves}; resting orders {} when their session goes; Ctrl-C stops",
        config.instruments.len(),
        config.market_data.rate_per_sec,
        config.market_data.seed,
        if options
            .cancel_on_disconnect
            .unwrap_or(config.venue.cancel_on_disconnect)
        {
            "are cancelled"
        } else {
            "stay"
        }
    );
    let _ = out.flush();
}

/// What the simulator did, and the tick-to-trade it measured.
fn print_report(sim: &VenueSim, report: &VenueSimReport, out: &mut dyn Write) {
    let tick_to_trade = sim
        .tick_to_trade_ns
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let _ = writeln!(
        out,
        "venue-sim: {} executions, {} fills to the session, {} session rejects; WebSocket: {} diffs, {} tickers, {} snapshots ({} over REST), {} bad requests",
        report.exchange.executions,
        report.exchange.session_fills,
        report.exchange.session_rejects,
        report.ws.diffs_sent,
        report.ws.tickers_sent,
        report.ws.snapshots_sent,
        report.ws.rest_snapshots_sent,
        report.ws.bad_requests
    );
    let itch = &report.itch;
    let _ = writeln!(
        out,
        "venue-sim: ITCH: {} packets sent, {} lost on purpose, {} retransmission requests answered, {} GLIMPSE snapshots",
        itch.packets_sent, itch.packets_dropped, itch.retransmissions_answered, itch.snapshots_sent
    );
    if !tick_to_trade.is_empty() {
        let p = Percentiles::of(&tick_to_trade);
        let _ = writeln!(
            out,
            "venue-sim: tick-to-trade over {} orders: p50 {} ns, p99 {} ns, max {} ns",
            p.count, p.p50, p.p99, p.max
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each operator line becomes its command; a bad one says what it expected.
    #[test]
    fn operator_lines_parse() {
        let venue = |line| match parse_command(line) {
            Ok(Some(OperatorCommand::Venue(command))) => command,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(venue(" hold "), VenueCommand::Hold);
        assert_eq!(venue("release"), VenueCommand::Release);
        assert_eq!(venue("disconnect"), VenueCommand::Disconnect);
        assert_eq!(venue("fill-every 3"), VenueCommand::FillEvery(3));
        assert_eq!(venue("cancel-every 1"), VenueCommand::CancelEvery(1));
        assert_eq!(
            venue("order GENESIS X1 ALPHA sell 10005 4"),
            VenueCommand::Order {
                participant: "GENESIS".into(),
                cl_ord_id: "X1".into(),
                symbol: "ALPHA".into(),
                side: Side::Sell,
                price_ticks: 10_005,
                qty_lots: 4,
            }
        );
        assert_eq!(
            parse_command("summary /tmp/s.json").unwrap(),
            Some(OperatorCommand::Summary("/tmp/s.json".into()))
        );
        assert_eq!(parse_command("   ").unwrap(), None);
        assert!(parse_command("fill-every 0")
            .unwrap_err()
            .contains("positive"));
        assert!(parse_command("order A B C up 1 1")
            .unwrap_err()
            .contains("up"));
        assert!(parse_command("explode").unwrap_err().contains("expected"));
    }

    // The summary names positions by symbol and orders by the venue's ids.
    #[test]
    fn summary_json_has_positions_and_open_orders() {
        let summary = vec![ParticipantSummary {
            name: "GENESIS".into(),
            comp_id: "GENESIS".into(),
            fills: 3,
            positions: vec![("ALPHA".into(), -2), ("BETA".into(), 0)],
            open_orders: vec![genesis_sim::OpenOrderSummary {
                cl_ord_id: "17.r2".into(),
                order_id: "17".into(),
                symbol: "ALPHA".into(),
                side: Side::Buy,
                price_ticks: 9_990,
                qty: 5,
                filled: 1,
                leaves: 4,
            }],
        }];
        let json = summary_json(&summary);
        let participant = &json["participants"][0];
        assert_eq!(participant["fills"], 3);
        assert_eq!(participant["positions"]["ALPHA"], -2);
        assert_eq!(participant["open_orders"][0]["cl_ord_id"], "17.r2");
        assert_eq!(participant["open_orders"][0]["side"], "buy");
        assert_eq!(participant["open_orders"][0]["leaves"], 4);
    }
}
