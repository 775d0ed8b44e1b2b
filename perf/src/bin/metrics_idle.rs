//! Does the metrics endpoint move the hot path? The engine as `genesis run`
//! assembles it (load generator at a fixed offered rate, market maker,
//! simulated venue over FIX, journal), with the metrics endpoint on, runs
//! `--rounds` pairs of runs: one without and one with `--connections` idle
//! connections held open against `/metrics`, the order alternating each
//! round so drift on a shared host falls on both arms. It reports the hot
//! path's p99 (receive → journal, the journal stage's `since_recv`) of each
//! run, the ratio with ÷ without per round and of the medians, the CPU time
//! the endpoint's thread and the idle client used, where the endpoint's
//! thread may run beside the pipeline's (`Cpus_allowed_list`), the core
//! plan, the wait strategy and the CPU.
//!
//! The idle client is this binary again (`--client-of`), a child process
//! at nice 19 and `SCHED_IDLE` (`nice`, `chrt --idle`), so its own work
//! (reopening what the server closes, with `--reopen`) takes only CPU that
//! nothing else wants: what is measured is the endpoint's cost, not the
//! client's. Threads wait as `--wait` says (`sleep` on a shared machine;
//! the spinning kinds only on a quiet one).

use anyhow::{ensure, Context, Result};
use clap::Parser;
use genesis_engine::config::{CorePlan, WaitKind};
use genesis_perf::latency::Summary;
use genesis_perf::machine::Machine;
use genesis_perf::setup::{bench_config, PLAN_FUSED, PLAN_TWO_CORES};
use serde_json::json;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Genesis hot-path p99 with and without idle connections to the metrics endpoint")]
struct Args {
    /// Pairs of runs (without, with), the order alternating.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Market data offered per second (paced, so the p99 is not queueing).
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Idle connections held open in the "with" runs.
    #[arg(long, default_value_t = 1_000)]
    connections: usize,
    /// The client reopens what the server closes (a hostile host), else it only holds.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    reopen: bool,
    /// Two threads (ingest+risk | strategy+execution+journal) instead of one.
    #[arg(long)]
    two_cores: bool,
    /// Pin the pipeline's threads to their cores.
    #[arg(long)]
    pin: bool,
    /// How pipeline threads wait: busy-spin, spin-hint, yield or sleep.
    #[arg(long, default_value = "sleep")]
    wait: String,
    /// Folder under which the runs' journals go (removed at the end).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Write the report as JSON here too.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: be the idle client of this address.
    #[arg(long, hide = true)]
    client_of: Option<SocketAddr>,
}

/// One run's figures.
struct Run {
    with_idle: bool,
    hot_path: Summary,
    events: u64,
    endpoint_cpu_ms: f64,
    client_cpu_ms: f64,
    /// Thread name → `Cpus_allowed_list`, read while the engine ran.
    affinities: Vec<(String, String)>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(address) = args.client_of {
        return idle_client(address, args.connections, args.reopen);
    }
    ensure!(
        args.rounds > 0 && args.seconds > 0.0,
        "--rounds and --seconds must be positive"
    );
    let wait: WaitKind = serde_json::from_value(json!(args.wait))
        .with_context(|| format!("--wait {}: busy-spin, spin-hint, yield or sleep", args.wait))?;
    let machine = Machine::detect();
    let tmp = tempfile::Builder::new()
        .prefix("metrics-idle-")
        .tempdir_in(&args.dir)
        .context("make a temporary folder")?;
    let address = free_loopback_port()?;
    let cores = if args.two_cores {
        PLAN_TWO_CORES
    } else {
        PLAN_FUSED
    };
    println!(
        "metrics endpoint beside the hot path: {} rounds of {} s, {} events/s offered, {} idle connections ({}); CPU {} ({} cores online, {} usable, load {:.1})",
        args.rounds,
        args.seconds,
        args.rate,
        args.connections,
        if args.reopen { "reopened when closed" } else { "held" },
        machine.cpu_model,
        machine.cores_online,
        machine.cores_usable,
        machine.load_average_1m
    );
    let mut runs = Vec::new();
    let mut plan_text = String::new();
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for with_idle in order {
            let dir = tmp.path().join(format!("run-{}", runs.len()));
            let (run, plan) = run_once(&args, cores, wait, address, dir, with_idle)?;
            print_run(round, &run);
            plan_text = plan;
            runs.push(run);
        }
    }
    summarize(&args, &machine, &plan_text, &runs)
}

/// A loopback address nobody listens on now (the engine binds it per run).
fn free_loopback_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// One run of the engine, with or without the idle client.
fn run_once(
    args: &Args,
    cores: CorePlan,
    wait: WaitKind,
    address: SocketAddr,
    journal_dir: PathBuf,
    with_idle: bool,
) -> Result<(Run, String)> {
    let mut config = bench_config(&journal_dir, cores, args.pin);
    config.topology.wait = wait;
    config.metrics.listen = address.to_string();
    let mut client = match with_idle {
        true => Some(spawn_client(address, args)?),
        false => None,
    };
    let watch = Watch::start();
    let outcome = genesis_perf::genesis::run_config("genesis", &config, args.rate, args.seconds);
    let watched = watch.finish();
    let client_cpu_ms = match client.as_mut() {
        Some(child) => {
            let cpu_ms = process_cpu_ms(child.id()).unwrap_or(f64::NAN);
            let _ = child.kill();
            let _ = child.wait();
            cpu_ms
        }
        None => 0.0,
    };
    let outcome = outcome?;
    let _ = std::fs::remove_dir_all(&journal_dir);
    let run = Run {
        with_idle,
        hot_path: outcome.end_to_end,
        events: outcome.events,
        endpoint_cpu_ms: watched.endpoint_cpu_ms,
        client_cpu_ms,
        affinities: watched.affinities,
    };
    Ok((run, format!("{}; wait {}", outcome.plan, outcome.wait)))
}

fn spawn_client(address: SocketAddr, args: &Args) -> Result<std::process::Child> {
    let me = std::env::current_exe()?;
    std::process::Command::new("nice")
        .args(["-n", "19", "chrt", "--idle", "0"])
        .arg(me)
        .args(["--client-of", &address.to_string()])
        .args(["--connections", &args.connections.to_string()])
        .args(["--reopen", &args.reopen.to_string()])
        .spawn()
        .context("start the idle client (nice, chrt from util-linux)")
}

/// The idle client: opens `connections` to `address` (waiting for it to
/// listen), sends nothing, and with `reopen` replaces every connection the
/// server closes, checking every 100 ms. Runs until killed.
fn idle_client(address: SocketAddr, connections: usize, reopen: bool) -> Result<()> {
    let connect = || loop {
        match TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
            Ok(stream) => {
                let _ = stream.set_nonblocking(true);
                return stream;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let mut streams: Vec<TcpStream> = (0..connections).map(|_| connect()).collect();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        if !reopen {
            continue;
        }
        for stream in &mut streams {
            let mut byte = [0u8; 1];
            let closed = match stream.read(&mut byte) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            if closed {
                *stream = connect();
            }
        }
    }
}

/// What a watcher thread saw of the engine's threads while it ran.
struct Watched {
    endpoint_cpu_ms: f64,
    affinities: Vec<(String, String)>,
}

/// Reads the endpoint thread's CPU time and every thread's allowed CPUs
/// from /proc every 50 ms while the engine runs (the last reading counts).
struct Watch {
    done: Arc<AtomicBool>,
    seen: Arc<Mutex<Watched>>,
    handle: std::thread::JoinHandle<()>,
}

impl Watch {
    fn start() -> Watch {
        let done = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Watched {
            endpoint_cpu_ms: 0.0,
            affinities: Vec::new(),
        }));
        let (stop, into) = (Arc::clone(&done), Arc::clone(&seen));
        let handle = std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let tasks = tasks();
                let mut seen = into.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, id, _)) = tasks.iter().find(|(name, _, _)| name == "metrics-http") {
                    if let Some(cpu_ms) = task_cpu_ms(id) {
                        seen.endpoint_cpu_ms = cpu_ms;
                    }
                    // While the endpoint's thread lives, so do the pipeline's.
                    seen.affinities = tasks
                        .into_iter()
                        .map(|(name, _, cpus)| (name, cpus))
                        .collect();
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Watch { done, seen, handle }
    }

    fn finish(self) -> Watched {
        self.done.store(true, Ordering::Release);
        let _ = self.handle.join();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        Watched {
            endpoint_cpu_ms: seen.endpoint_cpu_ms,
            affinities: seen.affinities.clone(),
        }
    }
}

/// This process's threads: name, id, `Cpus_allowed_list`.
fn tasks() -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|task| {
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?
                .trim()
                .to_string();
            Some((
                name.trim().to_string(),
                task.file_name().into_string().ok()?,
                cpus,
            ))
        })
        .collect()
}

/// utime + stime of a stat file, in ms (fields 14 and 15, clock ticks of 10 ms).
fn stat_cpu_ms(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

fn task_cpu_ms(task: &str) -> Option<f64> {
    stat_cpu_ms(&std::fs::read_to_string(format!("/proc/self/task/{task}/stat")).ok()?)
}

fn process_cpu_ms(pid: u32) -> Option<f64> {
    // The client runs under `nice` and `chrt`, which exec it: same pid.
    stat_cpu_ms(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn print_run(round: usize, run: &Run) {
    println!(
        "round {round} {:>7}: {} events, hot path p50 {} ns p99 {} ns p99.9 {} ns; endpoint thread {:.0} ms CPU, idle client {:.0} ms CPU",
        if run.with_idle { "with" } else { "without" },
        run.events,
        run.hot_path.p50_ns,
        run.hot_path.p99_ns,
        run.hot_path.p99_9_ns,
        run.endpoint_cpu_ms,
        run.client_cpu_ms
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints (and writes as JSON) the ratios, the plan and where the endpoint may run.
fn summarize(args: &Args, machine: &Machine, plan: &str, runs: &[Run]) -> Result<()> {
    let p99 = |with: bool| -> Vec<f64> {
        runs.iter()
            .filter(|r| r.with_idle == with)
            .map(|r| r.hot_path.p99_ns as f64)
            .collect()
    };
    let (with, without) = (p99(true), p99(false));
    let per_round: Vec<f64> = with.iter().zip(&without).map(|(w, o)| w / o).collect();
    let ratio = median(with.clone()) / median(without.clone());
    println!("plan: {plan}");
    println!(
        "hot-path p99 with ÷ without idle connections: {ratio:.3} (medians {:.0} / {:.0} ns); per round {:?}",
        median(with.clone()),
        median(without.clone()),
        per_round.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>()
    );
    let affinities = &runs
        .last()
        .map(|r| r.affinities.clone())
        .unwrap_or_default();
    for (name, cpus) in affinities {
        println!("  thread {name:<24} may run on CPUs {cpus}");
    }
    if let Some(path) = &args.json {
        let report = json!({
            "machine": machine.to_json(),
            "plan": plan,
            "rate_per_sec": args.rate,
            "seconds_per_run": args.seconds,
            "idle_connections": args.connections,
            "reopen": args.reopen,
            "p99_ratio_with_over_without": ratio,
            "p99_ratio_per_round": per_round,
            "runs": runs.iter().map(|r| json!({
                "with_idle": r.with_idle,
                "events": r.events,
                "hot_path": r.hot_path.to_json(),
                "endpoint_cpu_ms": r.endpoint_cpu_ms,
                "client_cpu_ms": r.client_cpu_ms,
            })).collect::<Vec<_>>(),
            "threads_cpus_allowed": affinities,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
