//! The baseline a user would write first: one thread per stage, connected by
//! bounded channels (`crossbeam-channel` or `std::sync::mpsc`), each thread
//! blocking on its input. Same stage objects as Genesis, same ingest.
//!
//! Each stage thread calls `Chain::on_idle` when its input runs dry before it
//! blocks, as Genesis's threads do, so the journal flushes on the same terms.

use crate::drive::{drive, BASELINE_INGEST_WAIT};
use crate::outcome::{Outcome, StageFigures};
use crate::setup::{bench_config, stage_chains, PLAN_FUSED};
use anyhow::{anyhow, Result};
use genesis_engine::clock::EpochClock;
use genesis_engine::event::Event;
use genesis_engine::ingest::{Ingest, Sink};
use genesis_engine::topology::chain::Chain;
use std::path::Path;
use std::time::Duration;

/// A bounded channel kind.
pub trait Link: 'static {
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx);
    /// Blocks while full; false once the receiver is gone.
    fn send(tx: &Self::Tx, event: Event) -> bool;
    fn try_send(tx: &Self::Tx, event: Event) -> bool;
    fn try_recv(rx: &Self::Rx) -> Option<Event>;
    /// Blocks while empty; `None` once every sender is gone.
    fn recv(rx: &Self::Rx) -> Option<Event>;
}

pub struct Crossbeam;

impl Link for Crossbeam {
    const NAME: &'static str = "crossbeam-channel";
    type Tx = crossbeam_channel::Sender<Event>;
    type Rx = crossbeam_channel::Receiver<Event>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(capacity)
    }
    fn send(tx: &Self::Tx, event: Event) -> bool {
        tx.send(event).is_ok()
    }
    fn try_send(tx: &Self::Tx, event: Event) -> bool {
        tx.try_send(event).is_ok()
    }
    fn try_recv(rx: &Self::Rx) -> Option<Event> {
        rx.try_recv().ok()
    }
    fn recv(rx: &Self::Rx) -> Option<Event> {
        rx.recv().ok()
    }
}

pub struct StdMpsc;

impl Link for StdMpsc {
    const NAME: &'static str = "std::sync::mpsc";
    type Tx = std::sync::mpsc::SyncSender<Event>;
    type Rx = std::sync::mpsc::Receiver<Event>;
    fn bounded(capacity: usize) -> (Self::Tx, Self::Rx) {
        std::sync::mpsc::sync_channel(capacity)
    }
    fn send(tx: &Self::Tx, event: Event) -> bool {
        tx.send(event).is_ok()
    }
    fn try_send(tx: &Self::Tx, event: Event) -> bool {
        tx.try_send(event).is_ok()
    }
    fn try_recv(rx: &Self::Rx) -> Option<Event> {
        rx.try_recv().ok()
    }
    fn recv(rx: &Self::Rx) -> Option<Event> {
        rx.recv().ok()
    }
}

/// The first channel, as ingest's sink: `try_send` (full: ingest keeps the
/// event and its thread yields, [`BASELINE_INGEST_WAIT`]), or, with
/// `blocking`, `send`, which parks the ingest thread until there is room.
struct LinkSink<L: Link> {
    tx: L::Tx,
    blocking: bool,
}

impl<L: Link> Sink for LinkSink<L> {
    fn offer(&mut self, event: &Event) -> bool {
        if self.blocking {
            return L::send(&self.tx, *event);
        }
        L::try_send(&self.tx, *event)
    }
}

/// One stage thread: drain the input, process, pass on; finish when the input closes.
fn stage_loop<L: Link>(mut chain: Chain, input: L::Rx, output: Option<L::Tx>) -> Chain {
    loop {
        let event = match L::try_recv(&input) {
            Some(event) => Some(event),
            None => {
                chain.on_idle();
                L::recv(&input)
            }
        };
        let Some(mut event) = event else { break };
        chain.process(&mut event);
        if let Some(output) = &output {
            if !L::send(output, event) {
                break;
            }
        }
    }
    chain.finish();
    chain
}

/// Runs the four stages thread-per-stage over `L` for `seconds` at
/// `rate_per_sec` (0: unpaced), ingest handing over with a blocking `send`
/// (its thread parks while the first channel is full), as a user would
/// write it. Measured side by side in turns, that beat `try_send` and a
/// yield (`bench throughput --rows crossbeam,crossbeam-yield`), so it is
/// the baseline the goals are judged against.
pub fn run<L: Link>(
    name: &'static str,
    journal_dir: &Path,
    rate_per_sec: u64,
    seconds: f64,
) -> Result<Outcome> {
    run_with::<L>(name, journal_dir, rate_per_sec, seconds, true)
}

/// As [`run`]; without `blocking`, ingest hands over with `try_send` and
/// yields while the first channel is full (`--rows crossbeam-yield`).
pub fn run_with<L: Link>(
    name: &'static str,
    journal_dir: &Path,
    rate_per_sec: u64,
    seconds: f64,
    blocking: bool,
) -> Result<Outcome> {
    let config = bench_config(journal_dir, PLAN_FUSED, false);
    let clock = EpochClock::new();
    let (mut ingest, chains, _beside) = stage_chains(&config, rate_per_sec, &clock)?;
    let capacity = config.topology.ring_capacity;
    let (head_tx, mut rx) = L::bounded(capacity);
    let last_index = chains.len() - 1;
    let mut handles = Vec::new();
    for (index, chain) in chains.into_iter().enumerate() {
        let (tx, next_rx) = L::bounded(capacity);
        let input = std::mem::replace(&mut rx, next_rx);
        let output = (index != last_index).then_some(tx);
        handles.push(
            std::thread::Builder::new()
                .name(format!("baseline-stage-{index}"))
                .spawn(move || stage_loop::<L>(chain, input, output))?,
        );
    }
    let mut sink = LinkSink::<L> {
        tx: head_tx,
        blocking,
    };
    let started = drive(&mut ingest, &mut sink, seconds);
    drop(sink);
    let mut chains = Vec::new();
    for handle in handles {
        chains.push(
            handle
                .join()
                .map_err(|_| anyhow!("{name}: a stage thread panicked"))?,
        );
    }
    let plan = format!(
        "5 threads, unpinned: ingest (harness thread) | risk | strategy | execution | journal, bounded {} channels of {capacity}",
        L::NAME
    );
    let wait = if blocking {
        format!(
            "ingest: blocking send ({} while nothing is due); stages: blocking receive",
            BASELINE_INGEST_WAIT.name()
        )
    } else {
        format!(
            "ingest: {}; stages: blocking receive",
            BASELINE_INGEST_WAIT.name()
        )
    };
    outcome_of(
        name,
        plan,
        wait,
        rate_per_sec,
        &ingest,
        &mut chains,
        started.elapsed(),
    )
}

/// Gathers a baseline's figures from its ingest and its finished stage chains.
pub fn outcome_of(
    name: &'static str,
    plan: String,
    wait: String,
    rate_per_sec: u64,
    ingest: &Ingest,
    chains: &mut [Chain],
    elapsed: Duration,
) -> Result<Outcome> {
    if let Some(error) = chains.iter().find_map(|c| c.fatal.clone()) {
        return Err(anyhow!("{name}: {error}"));
    }
    let mut stages = vec![StageFigures::of(ingest.metrics())];
    for chain in chains.iter_mut() {
        stages.extend(chain.metrics_mut().map(|m| StageFigures::of(m)));
    }
    let journal = chains
        .iter()
        .find_map(|c| c.journal.as_ref())
        .ok_or_else(|| anyhow!("{name}: no journal stage"))?;
    let end_to_end = crate::latency::Summary::of(&journal.metrics.since_recv_ns);
    Ok(Outcome {
        name,
        plan,
        wait,
        offered_per_sec: rate_per_sec,
        events: journal.stage.records,
        seconds: elapsed.as_secs_f64(),
        end_to_end,
        stages,
    })
}
