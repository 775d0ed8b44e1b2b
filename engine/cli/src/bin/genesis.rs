//! `genesis`: run the engine, or inspect its configuration.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use genesis_engine::config::Config;
use genesis_engine::event::ControlCommand;
use genesis_engine::ingest::ControlSender;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Genesis: a low-latency trading engine.
///
/// Events flow ingest → risk → strategy → execution → journal; the core plan
/// in the config decides which stages share a thread. With no config, a
/// built-in default runs: a simulated venue on loopback (four instruments on
/// a seeded random walk, ITCH 5.0 over UDP in, FIX 4.4 over TCP out), the
/// bundled market maker, all stages fused on core 0, the journal under
/// ./genesis-data/journal.
#[derive(Parser)]
#[command(name = "genesis", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check every segment header and record; print the record count, the
    /// sequence range and any damage. Exits 1 on damage (a torn tail alone,
    /// which the next start truncates, is not damage), 2 when DIR holds no journal.
    Verify { dir: PathBuf },
    /// Print records human-readably, or as JSON lines (stdout holds only the
    /// events; diagnostics go to stderr). A gap in the sequences is an error
    /// naming it (exit 2), after the events before it.
    Cat {
        dir: PathBuf,
        #[arg(long, value_name = "SEQ", default_value_t = 1)]
        from: u64,
        #[arg(long, value_name = "SEQ", default_value_t = u64::MAX)]
        to: u64,
        #[arg(long)]
        json: bool,
    },
    /// Compress closed segments older than --compress-after days and move
    /// those older than --older-than days to --to; never the active segment,
    /// and never a segment the drain has not loaded yet (its database from
    /// --database-url, the config's [postgres] url, or $DATABASE_URL).
    Archive {
        dir: PathBuf,
        /// Days after which closed segments move out (the guide's 30).
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        older_than: u64,
        /// Days after which closed segments are compressed in place (the guide's 7).
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        compress_after: u64,
        /// Where archived segments go (default: DIR/../journal-archive).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// The drain's database (default: the config's [postgres] url, else $DATABASE_URL).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// The config naming the drain's database.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Cut the journal at its first damage or at a sequence, the way past
    /// damage `genesis run` refuses. Shows the plan and asks before cutting
    /// (--yes: without asking); keeps the originals in DIR/truncated-<seq>-<n>/
    /// and journals the cut as an operator action at the cut sequence. Exits
    /// 0 when cut or when nothing needs cutting, 1 when not confirmed.
    Truncate {
        dir: PathBuf,
        /// Cut at the first damage in sequence order.
        #[arg(long, conflicts_with = "at", required_unless_present = "at")]
        first_damage: bool,
        /// Discard this sequence and every later one.
        #[arg(long, value_name = "SEQ")]
        at: Option<u64>,
        /// Cut without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum FixCommand {
    /// Reset a FIX session's sequence-number file (the remedy "MsgSeqNum
    /// too low" names). Stop the engine first: a running session holds the
    /// file and the reset is refused. Without --next-out/--next-in both
    /// numbers go back to 1 and the next Logon carries
    /// ResetSeqNumFlag(141)=Y, so the venue resets its side too; with them,
    /// exactly those numbers are written and no reset is asked for (for
    /// venues that refuse an intraday reset: --next-out = the MsgSeqNum the
    /// venue said it expects).
    ResetSeq {
        /// The session's file: venue.fix.seq_file.
        #[arg(long, value_name = "PATH")]
        seq_file: PathBuf,
        /// MsgSeqNum of the next message sent.
        #[arg(long, value_name = "N", requires = "next_in")]
        next_out: Option<u64>,
        /// MsgSeqNum expected on the next message received.
        #[arg(long, value_name = "N", requires = "next_out")]
        next_in: Option<u64>,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Apply the versioned schema migrations; a second run does nothing.
    Migrate {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Detach, export (binary COPY files) and drop `events` partitions older
    /// than DAYS; a day not fully drained is never touched.
    Archive {
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        older_than: u32,
        /// Where the exported partitions go.
        #[arg(long, value_name = "DIR", default_value = "genesis-data/db-archive")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum TapeCommand {
    /// Read tapes (any format) once and write their records as one compact
    /// binary tape, which `genesis backtest` then replays without parsing.
    Convert {
        /// Tape files: Tardis CSV (book and trades, merged by time) or ITCH 5.0, plain or gzip.
        #[arg(required = true)]
        tapes: Vec<PathBuf>,
        /// The config naming the instruments (and `[backtest]`'s tape options).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The binary tape to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the engine until Ctrl-C (or --duration), then print the per-stage latency report.
    ///
    /// Ctrl-C (SIGINT) or SIGTERM stops cleanly: ingest stops reading, every
    /// event already read goes through all stages, the journal is synced and
    /// the report is printed. A second Ctrl-C exits at once.
    ///
    /// Kill switch from outside: SIGUSR1 engages cancel-all (no new orders,
    /// every open order cancelled); SIGUSR2 releases it. SIGHUP releases new
    /// orders held back by a reconciliation with the venue that timed out.
    /// All travel the control lane, ahead of market data, and are journaled.
    Run {
        /// TOML config file (see engine/config/dev.toml for every key). Without it, the built-in default runs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Also write the report's numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// Override market_data.rate_per_sec: the seeded walk's updates per second (the simulated
        /// venue's feed, or the in-process one with market_data.source = "synthetic"); 0 for as
        /// fast as the source goes.
        #[arg(long, value_name = "EVENTS_PER_SEC")]
        rate: Option<u64>,
    },
    /// Run the simulated venue on its own, for load tests and engines in other processes.
    ///
    /// The exchange `genesis run` starts in-process: price-time matching per
    /// instrument over the config's seeded random walk, FIX 4.4 orders on
    /// --fix-port, its books as ITCH 5.0 in MoldUDP64 sent to --itch-to with
    /// a request port and a GLIMPSE snapshot server, and Binance-compatible
    /// WebSocket streams with REST snapshots on --ws-port. The market moves
    /// from the start (late joiners catch up from snapshots). Its CompIDs mirror the config's venue.fix
    /// ones; up to eight FIX sessions at once, each its own participant.
    /// engine/config/venue-sim-client.toml points an engine at it.
    VenueSim {
        /// TOML config: instruments, market_data (seed, rate_per_sec, trade_every), venue.fix CompIDs.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// FIX acceptor port on 127.0.0.1.
        #[arg(long, value_name = "PORT", default_value_t = 9878)]
        fix_port: u16,
        /// Where the ITCH feed goes ("none": no feed).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:26400")]
        itch_to: String,
        /// MoldUDP64 retransmission request port on 127.0.0.1.
        #[arg(long, value_name = "PORT", default_value_t = 26401)]
        itch_request_port: u16,
        /// GLIMPSE snapshot server (SoupBinTCP) port on 127.0.0.1.
        #[arg(long, value_name = "PORT", default_value_t = 26402)]
        itch_snapshot_port: u16,
        /// Keep the market still until the first FIX session connects.
        #[arg(long)]
        hold_market: bool,
        /// WebSocket port on 127.0.0.1 (0: no WebSocket streams).
        #[arg(long, value_name = "PORT", default_value_t = 9443)]
        ws_port: u16,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Override market_data.rate_per_sec.
        #[arg(long, value_name = "EVENTS_PER_SEC")]
        rate: Option<u64>,
        /// Cancel a participant's resting orders when its session goes
        /// (true), or keep them working for its return (false). Default:
        /// venue.cancel_on_disconnect.
        #[arg(long, value_name = "BOOL")]
        cancel_on_disconnect: Option<bool>,
        /// On exit, write every participant's fills, net position per
        /// instrument and open orders as JSON to this file.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
    },
    /// FIX session maintenance: reset the sequence-number file.
    Fix {
        #[command(subcommand)]
        command: FixCommand,
    },
    /// Inspect or repair a journal folder: verify, cat, archive, truncate.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Replay a journal and check that every decision matches, byte for byte.
    ///
    /// The journal's inputs go through this build's risk, strategy and
    /// execution; exits 1 at the first divergence, printing what was
    /// journaled and what was produced. Each
    /// recorded run replays with the config it recorded and begins as it
    /// began live (state carried from the run before, or flat), and the
    /// state must equal every snapshot still in the journal's snapshots
    /// folder, byte for byte (exits 1 otherwise). With --config or
    /// --strategy it is a backtest over the recorded inputs instead: decisions
    /// are not compared; PnL and decision counts are reported.
    Replay {
        /// The journal folder (e.g. genesis-data/journal).
        dir: PathBuf,
        /// Backtest with this config instead of the recorded ones.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Backtest with this bundled strategy ("market-maker", "touch-quoter", "none").
        #[arg(long, value_name = "NAME")]
        strategy: Option<String>,
    },
    /// Backtest recorded tapes through the five stages against the backtest venue, in tape time.
    ///
    /// Tapes: Nasdaq ITCH 5.0 files, Tardis.dev incremental_book_L2 and
    /// trades CSV files (merged by time), or binary tapes from `genesis tape
    /// convert`; plain or gzip, the format told from the bytes. The venue
    /// matches the strategy's orders against the tape's book with a queue
    /// model and a constant order latency (`[backtest]` in the config). The
    /// journal it writes replays with `genesis replay`; the same tape and
    /// config write the same journal. Ends with a report: PnL, fills,
    /// orders, per-stage latency, events/s. Exits 1 on a tape error (after
    /// the report), 2 on any other error.
    Backtest {
        /// Tape files, all of one format.
        #[arg(required = true)]
        tapes: Vec<PathBuf>,
        /// TOML config: instruments, strategy, core plan, journal, [backtest].
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Also write the report's numbers as JSON to this file.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<PathBuf>,
        /// Write the journal here instead of journal.dir (a folder with no records yet).
        #[arg(long, value_name = "DIR")]
        journal: Option<PathBuf>,
    },
    /// Tape tools: convert.
    Tape {
        #[command(subcommand)]
        command: TapeCommand,
    },
    /// The PostgreSQL schema: migrate, archive.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Load a journal folder into PostgreSQL, resuming after what is already
    /// loaded (exactly once, through the watermark), with a progress bar.
    Drain {
        /// The journal folder.
        dir: PathBuf,
        /// postgres://user@host:port/db (default: $DATABASE_URL); the password from
        /// the URL, the config's postgres.password_file, $PGPASSWORD or ~/.pgpass. Never printed.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// The config whose instruments to register (default: the built-in one).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the effective configuration as TOML (the built-in default without --config).
    Config {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check that this host and config can run the engine: PASS, WARN, FAIL or SKIP per check.
    ///
    /// The engine's checks: the core plan's cores exist and are distinct, the
    /// journal folder is writable with room, the metrics port is free, memory
    /// can be locked, a database if one is configured. Then the host checks of
    /// tuning/check-host.sh (isolation, governor, THP, sysctls, IRQs, SMT,
    /// clocksource) against the same core plan, when the script is found
    /// ($GENESIS_TUNING_DIR, ./tuning, or the source tree). Exits 1 on any FAIL,
    /// or on any WARN with --strict.
    Doctor {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Treat warnings as failures.
        #[arg(long)]
        strict: bool,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal: a log file, journald or
        // a pipe gets plain text, not escape codes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(err) = run_cli(Cli::parse()) {
        eprintln!("genesis: error: {}", error_text(&err));
        std::process::exit(2);
    }
}

/// The error and its causes, joined by ": ", each cause once: many errors
/// already end with their cause's text (`cannot read config F: No such
/// file…`), which `{:#}` would print a second time.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn load_config(path: Option<&PathBuf>) -> Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::builtin()),
    }
}

fn run_cli(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Config { config } => {
            let config = load_config(config.as_ref())?;
            print!("{}", config.to_redacted_toml());
            Ok(())
        }
        Command::Doctor { config, strict } => doctor(config, strict),
        Command::Journal { command } => journal(command),
        Command::Db { command } => db(command),
        Command::Drain {
            dir,
            database_url,
            config,
        } => drain(&dir, database_url, config),
        Command::Replay {
            dir,
            config,
            strategy,
        } => {
            let config = config.map(|path| Config::load(&path)).transpose()?;
            let options = genesis_cli::commands::replay::ReplayOptions {
                config: config.as_ref(),
                strategy: strategy.as_deref(),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            let summary =
                genesis_cli::commands::replay::replay(&dir, &options, &mut std::io::stdout())?;
            if summary.divergence.is_some() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Run {
            config,
            duration,
            summary_json,
            rate,
        } => run(config, duration, summary_json, rate),
        Command::Backtest {
            tapes,
            config,
            summary_json,
            journal,
        } => backtest(tapes, &config, summary_json, journal),
        Command::Tape {
            command: TapeCommand::Convert { tapes, config, out },
        } => {
            let config = Config::load(&config)?;
            let converted = match genesis_cli::commands::backtest::convert(&config, &tapes, &out) {
                Ok(converted) => converted,
                Err(err) => {
                    eprintln!("genesis: error: {}", error_text(&err));
                    let tape_error = err
                        .downcast_ref::<genesis_cli::commands::backtest::TapeFailure>()
                        .is_some();
                    std::process::exit(if tape_error { 1 } else { 2 });
                }
            };
            println!(
                "tape convert: {} records, {} bytes to {} in {:.2} s",
                converted.records,
                converted.bytes,
                out.display(),
                converted.elapsed_s
            );
            Ok(())
        }
        Command::VenueSim {
            config,
            fix_port,
            itch_to,
            itch_request_port,
            itch_snapshot_port,
            hold_market,
            ws_port,
            duration,
            rate,
            cancel_on_disconnect,
            summary_json,
        } => {
            let itch = match itch_to.as_str() {
                "none" => None,
                addr => Some(genesis_cli::commands::venue_sim::ItchOptions {
                    destination: addr
                        .parse::<std::net::SocketAddr>()
                        .with_context(|| format!("--itch-to {addr:?} is not an address"))?,
                    request_addr: loopback(itch_request_port),
                    snapshot_addr: loopback(itch_snapshot_port),
                }),
            };
            let options = genesis_cli::commands::venue_sim::VenueSimOptions {
                fix_addr: loopback(fix_port),
                itch,
                ws_addr: (ws_port != 0).then(|| loopback(ws_port)),
                hold_market,
                cancel_on_disconnect,
                summary_json,
            };
            venue_sim(config, &options, duration, rate)
        }
        Command::Fix { command } => fix(command),
    }
}

fn fix(command: FixCommand) -> Result<()> {
    use genesis_io::fix::seq_store::{reset_seq_store, SeqNumbers, SeqReset};
    let FixCommand::ResetSeq {
        seq_file,
        next_out,
        next_in,
    } = command;
    let reset = match (next_out, next_in) {
        (Some(next_out), Some(next_in)) => SeqReset::Set(SeqNumbers { next_out, next_in }),
        _ => SeqReset::LogonReset,
    };
    let done = reset_seq_store(&seq_file, reset)
        .with_context(|| format!("resetting {}", seq_file.display()))?;
    let previous = done
        .previous
        .map_or("none (no file, or unreadable)".to_owned(), |n| {
            format!("next out {}, next in {}", n.next_out, n.next_in)
        });
    println!(
        "{}: was {previous}; now next out {}, next in {}{}",
        seq_file.display(),
        done.written.numbers.next_out,
        done.written.numbers.next_in,
        if done.written.reset_on_next_logon {
            "; the next Logon sends ResetSeqNumFlag(141)=Y"
        } else {
            ""
        }
    );
    Ok(())
}

/// The URL given, else $DATABASE_URL; without a password in it, one from
/// `password_file`, `$PGPASSWORD` or `.pgpass`.
fn database_url(
    given: Option<String>,
    password_file: Option<&Path>,
) -> Result<genesis_drain::DbUrl> {
    let (key, url) = match given {
        Some(url) => ("--database-url", url),
        None => (
            "DATABASE_URL",
            std::env::var("DATABASE_URL")
                .ok()
                .context("no database: give --database-url or set DATABASE_URL")?,
        ),
    };
    genesis_drain::DbUrl::parse(&url)
        .and_then(|url| url.with_password_from(password_file))
        .context(key)
}

fn db(command: DbCommand) -> Result<()> {
    match command {
        DbCommand::Migrate { database_url: url } => {
            let url = database_url(url, None)?;
            let report = genesis_drain::migrate(&url)?;
            if report.applied.is_empty() {
                println!(
                    "{}: schema version {} is current; nothing to do",
                    url.redacted(),
                    report.version
                );
            } else {
                println!(
                    "{}: applied migrations {:?}; schema version {}",
                    url.redacted(),
                    report.applied,
                    report.version
                );
            }
        }
        DbCommand::Archive {
            database_url: url,
            older_than,
            out,
        } => {
            let url = database_url(url, None)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let report = genesis_drain::archive(&url, older_than, &out)?;
            for day in &report.archived {
                println!("archived {day:?}");
            }
            for day in &report.kept_not_drained {
                println!("kept {day}: not fully drained yet");
            }
            println!(
                "archive: {} day(s) exported to {} and dropped",
                report.archived.len(),
                out.display()
            );
        }
    }
    Ok(())
}

fn drain(dir: &std::path::Path, url: Option<String>, config_path: Option<PathBuf>) -> Result<()> {
    let config = load_config(config_path.as_ref())?;
    let url = database_url(url, Some(&config.postgres.password_file))?;
    let options = genesis_drain::DrainOptions {
        chunk_events: config.postgres.chunk_events,
        instruments: genesis_drain::InstrumentRow::from_config(&config),
        ..Default::default()
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "drain {bar:40} {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let report = genesis_drain::drain_folder(&url, dir, &options, &mut |progress| {
        bar.set_length(progress.events_loaded + progress.events_behind);
        bar.set_position(progress.events_loaded);
    })?;
    bar.finish_and_clear();
    println!(
        "drain: {} events loaded into {} in {} chunk(s), {:.2} s",
        report.events_loaded,
        url.redacted(),
        report.chunks,
        report.elapsed_ns as f64 / 1e9
    );
    Ok(())
}

fn journal(command: JournalCommand) -> Result<()> {
    use genesis_cli::commands::journal;
    let mut out = std::io::stdout().lock();
    match command {
        JournalCommand::Verify { dir } => {
            if !journal::verify(&dir, &mut out)? {
                std::process::exit(1);
            }
        }
        JournalCommand::Cat {
            dir,
            from,
            to,
            json,
        } => {
            journal::cat(&dir, (from, to), json, &mut out, &mut std::io::stderr())?;
        }
        JournalCommand::Archive {
            dir,
            older_than,
            compress_after,
            to,
            database_url: url,
            config,
        } => {
            let config = load_config(config.as_ref())?;
            let url = url.or_else(|| config.postgres.effective_url());
            let database = url
                .map(|url| database_url(Some(url), Some(&config.postgres.password_file)))
                .transpose()?;
            let options = genesis_cli::commands::journal_archive::ArchiveOptions {
                compress_after_days: compress_after.min(older_than),
                archive_after_days: older_than,
                archive_dir: to.unwrap_or_else(|| dir.join("../journal-archive")),
                database,
            };
            genesis_cli::commands::journal_archive::archive(&dir, &options, &mut out)?;
        }
        JournalCommand::Truncate {
            dir,
            first_damage: _,
            at,
            yes,
        } => journal_truncate(&dir, at, yes, &mut out)?,
    }
    Ok(())
}

/// `genesis journal truncate`; exits 1 when the operator does not confirm.
fn journal_truncate(
    dir: &Path,
    at: Option<u64>,
    yes: bool,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    use genesis_cli::commands::journal_truncate::{truncate, TruncateOptions, TruncateOutcome};
    let options = TruncateOptions {
        at: at.map_or(
            genesis_journal::TruncateAt::FirstDamage,
            genesis_journal::TruncateAt::Seq,
        ),
        yes,
    };
    let outcome = truncate(dir, &options, &mut std::io::stdin().lock(), out)?;
    if outcome == TruncateOutcome::NotConfirmed {
        std::process::exit(1);
    }
    Ok(())
}

fn doctor(config_path: Option<PathBuf>, strict: bool) -> Result<()> {
    use genesis_cli::doctor::{self, Status};
    let (config, origin) = match &config_path {
        Some(path) => (Config::load_unvalidated(path)?, path.display().to_string()),
        None => (Config::builtin(), "built-in default".to_string()),
    };
    let mut worst = Status::Pass;
    for check in doctor::engine_checks(&config, &origin) {
        println!("{:<4}  {}: {}", check.status, check.name, check.detail);
        worst = worst.max(check.status);
    }
    match doctor::find_check_host() {
        Some(script) => {
            let mut hot: Vec<usize> = config.topology.cores.as_array().to_vec();
            hot.sort_unstable();
            hot.dedup();
            let hot: Vec<String> = hot.iter().map(|c| c.to_string()).collect();
            let mut command = std::process::Command::new("bash");
            command.arg(&script).arg("--hot-cores").arg(hot.join(","));
            if strict {
                command.arg("--strict");
            }
            let status = command
                .status()
                .with_context(|| format!("running {}", script.display()))?;
            if !status.success() {
                worst = worst.max(Status::Fail);
            }
        }
        None => println!("SKIP  host: tuning/check-host.sh not found (set GENESIS_TUNING_DIR)"),
    }
    if worst == Status::Fail || (strict && worst == Status::Warn) {
        std::process::exit(1);
    }
    Ok(())
}

/// mlockall (prod by default) and the /dev/cpu_dma_latency hold, as configured.
/// Failures are logged: the engine still runs, and `genesis doctor` explains.
fn prepare_host(config: &Config) -> Option<std::fs::File> {
    if config
        .host
        .mlockall
        .unwrap_or(config.mode == genesis_engine::config::Mode::Prod)
    {
        match genesis_engine::sys::lock_all_memory() {
            Ok(()) => tracing::info!("all memory locked (mlockall)"),
            Err(err) => {
                tracing::error!(%err, "mlockall failed: raise LimitMEMLOCK (ulimit -l) or set host.mlockall = false")
            }
        }
    }
    let target_us = config.host.cpu_dma_latency_us?;
    match genesis_engine::sys::hold_cpu_dma_latency(target_us) {
        Ok(file) => {
            tracing::info!(target_us, "holding /dev/cpu_dma_latency");
            Some(file)
        }
        Err(err) => {
            tracing::error!(%err, "cannot hold /dev/cpu_dma_latency");
            None
        }
    }
}

/// SIGUSR1 → kill switch cancel-all, SIGUSR2 → kill switch off, SIGHUP →
/// release the gate a timed-out reconciliation left closed; polled off the hot path.
fn watch_kill_switch_signals(control: ControlSender, stop: Arc<AtomicBool>) -> Result<()> {
    let engage = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let reconcile_release = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, Arc::clone(&engage))
        .context("installing SIGUSR1")?;
    signal_hook::flag::register(signal_hook::consts::SIGUSR2, Arc::clone(&release))
        .context("installing SIGUSR2")?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reconcile_release))
        .context("installing SIGHUP")?;
    std::thread::Builder::new()
        .name("control-signals".into())
        .spawn(move || {
            while !stop.load(Ordering::Acquire) {
                for (flag, command) in [
                    (&engage, ControlCommand::KillSwitchCancelAll),
                    (&release, ControlCommand::KillSwitchOff),
                    (&reconcile_release, ControlCommand::ReconcileRelease),
                ] {
                    if flag.swap(false, Ordering::AcqRel) {
                        tracing::warn!(command = command.name(), "control signal received");
                        if control.send(command).is_err() {
                            tracing::error!(
                                command = command.name(),
                                "control lane full, command not queued"
                            );
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .context("starting the signal watcher")?;
    Ok(())
}

/// The config (built-in without a path) with `--rate` applied, validated.
fn load_validated(path: Option<&PathBuf>, rate: Option<u64>) -> Result<Config> {
    let mut config = load_config(path)?;
    if let Some(rate) = rate {
        config.market_data.rate_per_sec = rate;
    }
    config.validate(&path.map_or("built-in default".into(), |p| p.display().to_string()))?;
    Ok(config)
}

fn loopback(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Longest `--duration`: a year, far beyond any run, and far inside what
/// `Duration` and the clock can add without overflow.
const DURATION_S_MAX: f64 = 366.0 * 86_400.0;

/// `--duration` as a `Duration`: a positive number of seconds up to a year.
fn parse_duration(duration: Option<f64>) -> Result<Option<Duration>> {
    match duration {
        Some(secs) if !(secs.is_finite() && secs > 0.0 && secs <= DURATION_S_MAX) => {
            anyhow::bail!(
                "--duration {secs} is outside the allowed range: more than 0 and at most {DURATION_S_MAX} seconds (a year)"
            )
        }
        Some(secs) => Ok(Some(Duration::from_secs_f64(secs))),
        None => Ok(None),
    }
}

/// Ctrl-C (SIGINT) or SIGTERM sets the flag; a second one exits at once.
/// SIGHUP is not a stop: it releases a held reconciliation gate.
fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    // The exit comes first, so it sees the flag the first SIGTERM set.
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGTERM,
        130,
        Arc::clone(&stop),
    )
    .context("installing SIGTERM")?;
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&stop))
        .context("installing SIGTERM")?;
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::AcqRel) {
            eprintln!("genesis: second interrupt, exiting now");
            std::process::exit(130);
        }
        eprintln!("genesis: stopping (Ctrl-C again to exit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(stop)
}

fn venue_sim(
    config_path: Option<PathBuf>,
    options: &genesis_cli::commands::venue_sim::VenueSimOptions,
    duration: Option<f64>,
    rate: Option<u64>,
) -> Result<()> {
    let config = load_validated(config_path.as_ref(), rate)?;
    let duration = parse_duration(duration)?;
    // Ctrl-C and SIGTERM both stop it (and write the summary).
    let stop = stop_on_ctrl_c()?;
    let (lines, commands) = std::sync::mpsc::channel();
    // Operator commands, one a line; the reader ends with standard input.
    std::thread::Builder::new()
        .name("venue-sim-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        })
        .context("starting the command reader")?;
    genesis_cli::commands::venue_sim::run(
        &config,
        options,
        (&stop, Some(commands)),
        duration,
        &mut std::io::stdout(),
    )
    .map_err(|e| anyhow::anyhow!("venue-sim: {e}"))?;
    Ok(())
}

/// `genesis backtest`: exits 1 on a tape error (after the report), like a failed check.
fn backtest(
    tapes: Vec<PathBuf>,
    config_path: &std::path::Path,
    summary_json: Option<PathBuf>,
    journal: Option<PathBuf>,
) -> Result<()> {
    let config = Config::load(config_path)?;
    let options = genesis_cli::backtest::BacktestOptions {
        tapes,
        journal,
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::io::IsTerminal::is_terminal(&std::io::stdout()),
        stop: stop_on_ctrl_c()?,
    };
    let result = genesis_cli::commands::backtest::backtest(
        &config,
        &options,
        summary_json.as_deref(),
        &mut std::io::stdout(),
    );
    if let Err(err) = result {
        eprintln!("genesis: error: {}", error_text(&err));
        let tape_error = err
            .downcast_ref::<genesis_cli::commands::backtest::TapeFailure>()
            .is_some();
        std::process::exit(if tape_error { 1 } else { 2 });
    }
    Ok(())
}

fn run(
    config_path: Option<PathBuf>,
    duration: Option<f64>,
    summary_json: Option<PathBuf>,
    rate: Option<u64>,
) -> Result<()> {
    let config = load_validated(config_path.as_ref(), rate)?;
    let duration = parse_duration(duration)?;
    let stop = stop_on_ctrl_c()?;
    let _dma_latency_hold = prepare_host(&config);
    let assembly = genesis_cli::assemble(&config)?;
    watch_kill_switch_signals(assembly.control.clone(), Arc::clone(&stop))?;
    tracing::info!(
        instruments = config.instruments.len(),
        strategy = %config.strategy.name,
        journal = %config.journal.dir.display(),
        "genesis starting"
    );
    let report = genesis_cli::run(&config, assembly, stop, duration)?;
    print!("{}", report.render());
    if let Some(path) = summary_json {
        let text = serde_json::to_string_pretty(&report.to_json())?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(error) = report.error {
        anyhow::bail!("the run stopped on an error: {error}");
    }
    Ok(())
}
