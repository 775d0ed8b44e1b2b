//! The async baseline: one `tokio` task per stage on a two-worker
//! multi-thread runtime, connected by bounded `tokio::sync::mpsc` channels.
//! Same stage objects and ingest as Genesis; ingest runs on the harness
//! thread and hands events to the first channel with `try_send`.

use crate::drive::{drive, BASELINE_INGEST_WAIT};
use crate::outcome::Outcome;
use crate::setup::{bench_config, stage_chains, PLAN_FUSED};
use crate::threaded::outcome_of;
use anyhow::{anyhow, Result};
use genesis_engine::clock::EpochClock;
use genesis_engine::event::Event;
use genesis_engine::ingest::Sink;
use genesis_engine::topology::chain::Chain;
use std::path::Path;
use tokio::sync::mpsc::{self, Receiver, Sender};

/// Worker threads of the runtime: one per core of this two-core machine.
const WORKER_THREADS: usize = 2;

struct TokioSink(Sender<Event>);

impl Sink for TokioSink {
    fn offer(&mut self, event: &Event) -> bool {
        self.0.try_send(*event).is_ok()
    }
}

async fn stage_task(
    mut chain: Chain,
    mut input: Receiver<Event>,
    output: Option<Sender<Event>>,
) -> Chain {
    loop {
        let event = match input.try_recv() {
            Ok(event) => Some(event),
            Err(_) => {
                chain.on_idle();
                input.recv().await
            }
        };
        let Some(mut event) = event else { break };
        chain.process(&mut event);
        if let Some(output) = &output {
            if output.send(event).await.is_err() {
                break;
            }
        }
    }
    chain.finish();
    chain
}

/// Runs the four stages as tokio tasks for `seconds` at `rate_per_sec` (0: unpaced).
pub fn run(
    name: &'static str,
    journal_dir: &Path,
    rate_per_sec: u64,
    seconds: f64,
) -> Result<Outcome> {
    let config = bench_config(journal_dir, PLAN_FUSED, false);
    let clock = EpochClock::new();
    let (mut ingest, chains, _beside) = stage_chains(&config, rate_per_sec, &clock)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("baseline-tokio")
        .build()?;
    let capacity = config.topology.ring_capacity;
    let (head_tx, mut rx) = mpsc::channel::<Event>(capacity);
    let last_index = chains.len() - 1;
    let mut handles = Vec::new();
    for (index, chain) in chains.into_iter().enumerate() {
        let (tx, next_rx) = mpsc::channel::<Event>(capacity);
        let input = std::mem::replace(&mut rx, next_rx);
        let output = (index != last_index).then_some(tx);
        handles.push(runtime.spawn(stage_task(chain, input, output)));
    }
    let mut sink = TokioSink(head_tx);
    let started = drive(&mut ingest, &mut sink, seconds);
    drop(sink);
    let mut chains = runtime.block_on(async {
        let mut chains = Vec::new();
        for handle in handles {
            chains.push(
                handle
                    .await
                    .map_err(|e| anyhow!("{name}: a stage task failed: {e}"))?,
            );
        }
        Ok::<_, anyhow::Error>(chains)
    })?;
    let elapsed = started.elapsed();
    let plan = format!(
        "tokio multi-thread runtime, {WORKER_THREADS} workers, unpinned: one task per stage (risk | strategy | execution | journal), bounded tokio::sync::mpsc of {capacity}; ingest on the harness thread"
    );
    let wait = format!(
        "ingest: {}; tasks: await (workers park when idle)",
        BASELINE_INGEST_WAIT.name()
    );
    outcome_of(
        name,
        plan,
        wait,
        rate_per_sec,
        &ingest,
        &mut chains,
        elapsed,
    )
}
