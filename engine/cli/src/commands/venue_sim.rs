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

use crate::sim_glue::{self, WalkFlow};
use genesis_engine::clock::EpochClock;
use genesis_engine::config::Config;
use genesis_engine::telemetry::metrics::Percentiles;
use genesis_sim::{ItchPorts, VenueSim, VenueSimReport, VenueSimSetup};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where the standalone simulator listens and sends.
#[derive(Clone, Copy, Debug)]
pub struct VenueSimOptions {
    pub fix_addr: SocketAddr,
    /// The ITCH feed; `None`: no ITCH feed.
    pub itch: Option<ItchOptions>,
    /// WebSocket address (REST snapshots on the same port); `None`: no WebSocket streams.
    pub ws_addr: Option<SocketAddr>,
    /// Keep the market still until the first FIX session connects.
    pub hold_market: bool,
}

/// Where the ITCH feed goes, and the ports receivers reach.
#[derive(Clone, Copy, Debug)]
pub struct ItchOptions {
    pub destination: SocketAddr,
    pub request_addr: SocketAddr,
    pub snapshot_addr: SocketAddr,
}

/// Starts the simulator, prints where it is, runs until `stop` (or
/// `duration`), prints what it did.
pub fn run(
    config: &Config,
    options: &VenueSimOptions,
    stop: &AtomicBool,
    duration: Option<Duration>,
    out: &mut dyn Write,
) -> Result<VenueSimReport, String> {
    let clock = EpochClock::new();
    let (mut sim, itch_ports) = start(config, options, &clock)?;
    print_addresses(config, options, (&sim, itch_ports), out);
    let deadline_ns = duration.map(|d| clock.now_ns() + d.as_nanos() as u64);
    while !stop.load(Ordering::Acquire) && deadline_ns.is_none_or(|at| clock.now_ns() < at) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = sim.stop();
    print_report(&sim, &report, out);
    Ok(report)
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
        "venue-sim: {} instrument(s), {} market events/s, seed {}; {moves}; Ctrl-C stops",
        config.instruments.len(),
        config.market_data.rate_per_sec,
        config.market_data.seed
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
