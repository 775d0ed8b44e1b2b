//! Where each event of a traced run waited: the engine's per-event trace
//! (`genesis_engine::topology::trace`, one table per thread) turned into
//! consecutive parts from the event's scheduled time to its journal exit,
//! so the slowest events can be read part by part and placed on the
//! `CLOCK_MONOTONIC` timeline of `perf sched record -k CLOCK_MONOTONIC`.
//!
//! Per thread `g`, an event *arrives* at its scheduled time (the first
//! thread, which polls the paced source) or when the thread before handed
//! it to the ring (`sent`). The thread *starts* it at the later of when it
//! took it and when it finished the event before (and that event's batch
//! end, if it closed one). The wait between is cut in three: **queue**,
//! behind the thread's earlier events (from arrival until the previous
//! event was done), **batch end**, the previous batch's closing work (the
//! journal's write, the doorbell, the board), and **away**, the rest: the
//! thread was on none of these (off its CPU, in idle work, polling other
//! sources or sending orders, or spinning on a line that had not arrived). Then each stage's time (exit less the previous
//! exit or the start), then the hand-over to the next ring. The parts of
//! an event add up to its end-to-end latency (journal exit less schedule),
//! the figure the run reports, give or take the few ns by which a reader
//! may stamp its pick-up before its producer stamps the hand-over.
//!
//! Runs after the engine, on the harness's thread; allocates freely.

use genesis_engine::topology::trace::{Recorded, TraceRow, TRACED_STAGES};

/// The stages a trace row has exits for, in pipeline order.
pub const STAGE_NAMES: [&str; TRACED_STAGES] = ["risk", "strategy", "execution", "journal"];

/// What an event was waiting for during one part of its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Behind the thread's earlier events (on the first thread: events
    /// the paced source released in the same poll, or before it).
    Queue,
    /// Behind the end of the thread's previous batch (the journal's
    /// write to the page cache, the doorbell, the board).
    BatchEnd,
    /// Arrived and the thread free, but not yet taken: the thread was away.
    Away,
    /// In a stage (index into [`STAGE_NAMES`]).
    Stage(usize),
    /// The thread's hand-over to the next ring.
    Send,
}

/// One part of an event's way, on thread `group`, in engine-clock epoch ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub kind: Kind,
    pub group: usize,
    pub from_ns: u64,
    pub to_ns: u64,
}

impl Part {
    pub fn ns(&self) -> u64 {
        self.to_ns.saturating_sub(self.from_ns)
    }

    /// A name for tables: which thread or ring, and what it waited for.
    pub fn label(&self) -> String {
        label(self.kind, self.group)
    }
}

/// A part's name: "source: queue", "ring 1: reader away", "strategy", …
pub fn label(kind: Kind, group: usize) -> String {
    match (kind, group) {
        (Kind::Queue, 0) => "source: behind earlier events".into(),
        (Kind::Away, 0) => "source: head thread away".into(),
        (Kind::BatchEnd, g) => format!("thread {g}: end of its previous batch"),
        (Kind::Queue, g) => format!("ring {g}: reader busy with earlier events"),
        (Kind::Away, g) => format!("ring {g}: reader away"),
        (Kind::Stage(s), _) => STAGE_NAMES[s].into(),
        (Kind::Send, g) => format!("hand-over to ring {}", g + 1),
    }
}

/// One event's way through every thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    pub seq: u64,
    /// Its scheduled time (the receipt the run measures from).
    pub due_ns: u64,
    /// When it left the last stage.
    pub done_ns: u64,
    /// Per thread, the CPU it was on when it took the event.
    pub cpus: Vec<u32>,
    pub parts: Vec<Part>,
}

impl Traced {
    /// End to end: the last stage's exit less the scheduled time.
    pub fn total_ns(&self) -> u64 {
        self.done_ns.saturating_sub(self.due_ns)
    }

    /// The longest part (the first of equals).
    pub fn dominant(&self) -> Option<&Part> {
        self.parts
            .iter()
            .reduce(|best, part| if part.ns() > best.ns() { part } else { best })
    }
}

/// When a row's thread was done with it: its hand-over, or its last exit.
fn done_ns(row: &TraceRow) -> u64 {
    if row.sent_ns != 0 {
        row.sent_ns
    } else {
        row.exits_ns.iter().copied().max().unwrap_or(0)
    }
}

/// Every event's parts, from the threads' tables in plan order. Row `i`
/// of each table must be the same event; an error names the first row
/// where they differ. Events past the shortest table are left out.
pub fn breakdown(groups: &[&[TraceRow]]) -> Result<Vec<Traced>, String> {
    let rows = groups.iter().map(|g| g.len()).min().unwrap_or(0);
    let mut events = Vec::with_capacity(rows);
    for index in 0..rows {
        let seq = groups[0][index].seq;
        let mut parts = Vec::with_capacity(groups.len() * 3 + TRACED_STAGES);
        let mut cpus = Vec::with_capacity(groups.len());
        let mut arrival = groups[0][index].ts_recv_ns;
        let mut last = arrival;
        for (group, table) in groups.iter().enumerate() {
            let row = &table[index];
            if row.seq != seq {
                return Err(format!(
                    "trace row {index}: thread {group} has event {} where thread 0 has {seq}",
                    row.seq
                ));
            }
            let previous = index.checked_sub(1).map(|i| &table[i]);
            let previous_done = previous.map_or(0, done_ns);
            let previous_end = previous.map_or(0, |p| p.batch_end_ns.max(done_ns(p)));
            let start = row.taken_ns.max(previous_end);
            let free = arrival.max(previous_end);
            let queue_end = previous_done.clamp(arrival, start.max(arrival));
            parts.push(Part {
                kind: Kind::Queue,
                group,
                from_ns: arrival,
                to_ns: queue_end,
            });
            parts.push(Part {
                kind: Kind::BatchEnd,
                group,
                from_ns: queue_end,
                to_ns: previous_end.clamp(queue_end, start.max(queue_end)),
            });
            parts.push(Part {
                kind: Kind::Away,
                group,
                from_ns: free,
                to_ns: start.max(free),
            });
            last = start.max(arrival);
            for (stage, &exit_ns) in row.exits_ns.iter().enumerate() {
                if exit_ns != 0 {
                    parts.push(Part {
                        kind: Kind::Stage(stage),
                        group,
                        from_ns: last,
                        to_ns: exit_ns,
                    });
                    last = exit_ns;
                }
            }
            if row.sent_ns != 0 {
                parts.push(Part {
                    kind: Kind::Send,
                    group,
                    from_ns: last,
                    to_ns: row.sent_ns,
                });
                last = row.sent_ns;
                arrival = row.sent_ns;
            }
            cpus.push(row.cpu);
        }
        events.push(Traced {
            seq,
            due_ns: groups[0][index].ts_recv_ns,
            done_ns: last,
            cpus,
            parts,
        });
    }
    Ok(events)
}

/// What began the wait of `events[index]`: its longest part, or, when
/// that is a queue behind earlier events on a thread, the part of an
/// earlier event on that thread (not itself a queue) that covers most of
/// the queued time: the stall that built the backlog. Returns that part
/// and its event's index. A backlog no single part explains (the best
/// covers under a tenth of the queue: the thread ran slower than the
/// offered rate over many events) is its own root: the queue part itself.
pub fn root_cause(events: &[Traced], index: usize) -> Option<(Part, usize)> {
    let dominant = *events.get(index)?.dominant()?;
    if dominant.kind != Kind::Queue {
        return Some((dominant, index));
    }
    let (from, to) = (dominant.from_ns, dominant.to_ns);
    let mut best: Option<(Part, usize, u64)> = None;
    for earlier in (0..index).rev() {
        let on_thread = || {
            events[earlier]
                .parts
                .iter()
                .filter(|p| p.group == dominant.group)
        };
        // Threads take events in order: once one was done before the
        // queue began, every earlier one was too.
        if on_thread().map(|p| p.to_ns).max().unwrap_or(0) <= from {
            break;
        }
        for part in on_thread().filter(|p| p.kind != Kind::Queue) {
            let overlap = part.to_ns.min(to).saturating_sub(part.from_ns.max(from));
            if overlap > best.map_or(0, |b| b.2) {
                best = Some((*part, earlier, overlap));
            }
        }
    }
    match best {
        Some((part, earlier, overlap)) if overlap * 10 >= dominant.ns() => Some((part, earlier)),
        _ => Some((dominant, index)),
    }
}

/// The indices of the `k` slowest events (end to end), slowest first.
pub fn slowest(events: &[Traced], k: usize) -> Vec<usize> {
    let mut sorted: Vec<usize> = (0..events.len()).collect();
    sorted.sort_by_key(|&i| std::cmp::Reverse(events[i].total_ns()));
    sorted.truncate(k);
    sorted
}

/// Over the events at `indices`: per root cause ([`root_cause`]: kind and
/// thread), the events it delayed, the distinct events that began their
/// backlogs (episodes), and the mean length of that beginning part.
/// Ordered by events delayed, most first.
pub fn root_causes(events: &[Traced], indices: &[usize]) -> Vec<(Kind, usize, usize, usize, u64)> {
    use std::collections::{BTreeMap, BTreeSet};
    let mut causes: BTreeMap<(Kind, usize), (usize, BTreeSet<usize>, u64)> = BTreeMap::new();
    for &index in indices {
        if let Some((part, began)) = root_cause(events, index) {
            let entry = causes.entry((part.kind, part.group)).or_default();
            entry.0 += 1;
            if entry.1.insert(began) {
                entry.2 += part.ns();
            }
        }
    }
    let mut rows: Vec<_> = causes
        .into_iter()
        .map(|((kind, group), (delayed, began, sum))| {
            let episodes = began.len();
            (kind, group, delayed, episodes, sum / episodes.max(1) as u64)
        })
        .collect();
    rows.sort_by_key(|&(kind, group, delayed, ..)| (std::cmp::Reverse(delayed), kind, group));
    rows
}

/// Per part (kind and thread), over `events`: how many events it was the
/// longest part of, and its mean ns. Ordered by the first, most first.
pub fn dominant_parts(events: &[&Traced]) -> Vec<(Kind, usize, usize, u64)> {
    use std::collections::BTreeMap;
    let mut sums: BTreeMap<(Kind, usize), (usize, u64)> = BTreeMap::new();
    for event in events {
        for part in &event.parts {
            sums.entry((part.kind, part.group)).or_default().1 += part.ns();
        }
        if let Some(part) = event.dominant() {
            sums.entry((part.kind, part.group)).or_default().0 += 1;
        }
    }
    let count = events.len().max(1) as u64;
    let mut rows: Vec<(Kind, usize, usize, u64)> = sums
        .into_iter()
        .map(|((kind, group), (dominant, sum))| (kind, group, dominant, sum / count))
        .collect();
    rows.sort_by_key(|&(kind, group, dominant, _)| (std::cmp::Reverse(dominant), kind, group));
    rows
}

/// The trace's `CLOCK_MONOTONIC` offset (epoch ns − monotonic ns): the
/// mean of the readings at the run's start and end.
pub fn monotonic_offset_ns(recorded: &Recorded) -> i64 {
    (recorded.monotonic_offset_start_ns + recorded.monotonic_offset_end_ns) / 2
}

/// The events at `indices` as CSV, one line each, times on
/// `CLOCK_MONOTONIC` (ns) for `perf/sched/slow_events.py`: the event, its
/// window, each thread's CPU, its longest part, what began its wait
/// ([`root_cause`]: the part, its thread and its span) and every part as
/// `label@group=from:to`.
pub fn to_csv(events: &[Traced], indices: &[usize], offset_ns: i64) -> String {
    let mono = |ns: u64| ns as i64 - offset_ns;
    let mut out = String::from(
        "seq,total_ns,due_mono_ns,done_mono_ns,cpus,dominant,dominant_group,dominant_ns,\
         root,root_group,root_seq,root_from_mono_ns,root_to_mono_ns,parts\n",
    );
    for &index in indices {
        let event = &events[index];
        let root = root_cause(events, index).map_or_else(
            || String::from(",0,0,0,0"),
            |(part, began)| {
                format!(
                    "{},{},{},{},{}",
                    part.label(),
                    part.group,
                    events[began].seq,
                    mono(part.from_ns),
                    mono(part.to_ns)
                )
            },
        );
        let cpus: Vec<String> = event.cpus.iter().map(u32::to_string).collect();
        let (dominant, group, ns) = event
            .dominant()
            .map_or((String::new(), 0, 0), |p| (p.label(), p.group, p.ns()));
        let parts: Vec<String> = event
            .parts
            .iter()
            .map(|p| {
                format!(
                    "{}@{}={}:{}",
                    p.label(),
                    p.group,
                    mono(p.from_ns),
                    mono(p.to_ns)
                )
            })
            .collect();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            event.seq,
            event.total_ns(),
            mono(event.due_ns),
            mono(event.done_ns),
            cpus.join(" "),
            dominant,
            group,
            ns,
            root,
            parts.join(";")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(seq: u64, due: u64, taken: u64, risk: u64, sent: u64) -> TraceRow {
        TraceRow {
            seq,
            ts_recv_ns: due,
            taken_ns: taken,
            exits_ns: [risk, 0, 0, 0],
            sent_ns: sent,
            batch_end_ns: 0,
            cpu: 0,
        }
    }

    fn tail(seq: u64, due: u64, taken: u64, exits: [u64; 3]) -> TraceRow {
        TraceRow {
            seq,
            ts_recv_ns: due,
            taken_ns: taken,
            exits_ns: [0, exits[0], exits[1], exits[2]],
            sent_ns: 0,
            batch_end_ns: 0,
            cpu: 1,
        }
    }

    fn part_ns(event: &Traced, kind: Kind, group: usize) -> u64 {
        event
            .parts
            .iter()
            .filter(|p| p.kind == kind && p.group == group)
            .map(Part::ns)
            .sum()
    }

    // Two events the source released in one late poll, read by the ring's
    // reader in one batch: the first waits for the head thread (away), the
    // second behind the first on both threads; every event's parts add up
    // to its end-to-end time.
    #[test]
    fn parts_add_up_and_split_queue_from_away() {
        let heads = [
            head(1, 1_000, 1_500, 1_600, 1_650),
            head(2, 1_100, 1_660, 1_700, 1_750),
        ];
        let tails = [
            tail(1, 1_000, 1_800, [1_900, 2_000, 2_100]),
            tail(2, 1_100, 1_800, [2_200, 2_300, 2_400]),
        ];
        let events = breakdown(&[&heads, &tails]).unwrap();
        assert_eq!(events.len(), 2);
        for event in &events {
            let sum: u64 = event.parts.iter().map(Part::ns).sum();
            assert_eq!(sum, event.total_ns(), "event {}", event.seq);
        }
        let (first, second) = (&events[0], &events[1]);
        assert_eq!(first.total_ns(), 1_100);
        assert_eq!(part_ns(first, Kind::Away, 0), 500, "head thread late");
        assert_eq!(part_ns(first, Kind::Queue, 0), 0);
        assert_eq!(
            part_ns(first, Kind::Away, 1),
            150,
            "reader took it 150 ns after the hand-over"
        );
        assert_eq!(
            part_ns(second, Kind::Queue, 0),
            550,
            "behind the first on the head"
        );
        assert_eq!(part_ns(second, Kind::Away, 0), 10);
        assert_eq!(
            part_ns(second, Kind::Queue, 1),
            350,
            "behind the first in the batch"
        );
        assert_eq!(part_ns(second, Kind::Away, 1), 0);
        assert_eq!(part_ns(second, Kind::Stage(1), 1), 100);
        assert_eq!(first.dominant().unwrap().kind, Kind::Away);
        assert_eq!(first.cpus, vec![0, 1]);
    }

    // The reader's next batch waits for the end of its previous one (the
    // journal's write) before it counts as away.
    #[test]
    fn a_batch_end_is_its_own_part() {
        let heads = [
            head(1, 1_000, 1_000, 1_100, 1_110),
            head(2, 1_200, 1_200, 1_300, 1_310),
        ];
        let mut tails = [
            tail(1, 1_000, 1_120, [1_150, 1_160, 1_170]),
            tail(2, 1_200, 1_900, [1_950, 1_960, 1_970]),
        ];
        tails[0].batch_end_ns = 1_800;
        let events = breakdown(&[&heads, &tails]).unwrap();
        let second = &events[1];
        assert_eq!(
            part_ns(second, Kind::Queue, 1),
            0,
            "the first event was done at 1,170"
        );
        assert_eq!(part_ns(second, Kind::BatchEnd, 1), 490, "1,310 to 1,800");
        assert_eq!(part_ns(second, Kind::Away, 1), 100, "1,800 to 1,900");
        let sum: u64 = second.parts.iter().map(Part::ns).sum();
        assert_eq!(sum, second.total_ns());
    }

    // A backlog is traced back to the stall that built it: the third
    // event queued on the head behind the first, whose own wait was the
    // head thread away, not behind the venue event between them that
    // arrived late and went straight through.
    #[test]
    fn a_queue_is_traced_back_to_what_began_it() {
        let heads = [
            head(1, 1_000, 9_000, 9_100, 9_110),
            head(2, 9_050, 9_120, 9_200, 9_210),
            head(3, 1_020, 9_220, 9_300, 9_310),
        ];
        let events = breakdown(&[&heads]).unwrap();
        assert_eq!(events[2].dominant().unwrap().kind, Kind::Queue);
        assert_eq!(events[1].dominant().unwrap().kind, Kind::Stage(0));
        let (part, began) = root_cause(&events, 2).unwrap();
        assert_eq!((part.kind, part.group, began), (Kind::Away, 0, 0));
        assert_eq!(part.ns(), 8_000);
        let (part, began) = root_cause(&events, 0).unwrap();
        assert_eq!((part.kind, began), (Kind::Away, 0));
        // Two events delayed by one stall of 8,000 ns; one by its own risk.
        assert_eq!(
            root_causes(&events, &[0, 1, 2]),
            vec![(Kind::Away, 0, 2, 1, 8_000), (Kind::Stage(0), 0, 1, 1, 80)]
        );
    }

    // A CSV line names the event's longest part and what began its wait,
    // with the beginning part's span on CLOCK_MONOTONIC (epoch less the offset).
    #[test]
    fn the_csv_names_the_part_that_began_the_wait() {
        let heads = [
            head(1, 1_000, 9_000, 9_100, 9_110),
            head(2, 1_010, 9_120, 9_200, 9_210),
        ];
        let events = breakdown(&[&heads]).unwrap();
        let csv = to_csv(&events, &[1], 1_000);
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.starts_with("2,8200,10,8210,0,source: behind earlier events,0,8100,source: head thread away,0,1,0,8000,"),
            "{line}"
        );
        assert_eq!(csv.lines().count(), 2);
    }

    // A backlog built by many short delays, none covering a tenth of it,
    // is not pinned on any one of them.
    #[test]
    fn a_backlog_of_many_small_delays_is_its_own_root() {
        // Each event arrives every 100 ns and takes 150 ns of risk: the
        // queue grows by 50 ns an event, with no stall.
        let heads: Vec<TraceRow> = (0..100u64)
            .map(|i| {
                let start = 1_000 + i * 150;
                head(i + 1, 1_000 + i * 100, start, start + 140, start + 150)
            })
            .collect();
        let events = breakdown(&[&heads]).unwrap();
        let last = events.len() - 1;
        assert_eq!(events[last].dominant().unwrap().kind, Kind::Queue);
        let (part, began) = root_cause(&events, last).unwrap();
        assert_eq!((part.kind, began), (Kind::Queue, last));
    }

    // Threads whose rows are not the same events are refused, by row.
    #[test]
    fn misaligned_tables_are_refused() {
        let heads = [head(1, 10, 20, 30, 40), head(2, 20, 40, 50, 60)];
        let tails = [tail(1, 10, 50, [60, 70, 80]), tail(3, 30, 90, [91, 92, 93])];
        let err = breakdown(&[&heads, &tails]).unwrap_err();
        assert!(err.contains("row 1") && err.contains("event 3"), "{err}");
    }

    // The slowest come first, and each counts once for its longest part.
    #[test]
    fn the_slowest_and_their_longest_parts() {
        let heads: Vec<TraceRow> = (1..=4u64)
            .map(|seq| {
                let (due, risk) = (seq * 10_000, seq * 10_000 + 100 + seq * 200);
                head(seq, due, due + 100, risk, risk + 10)
            })
            .collect();
        let events = breakdown(&[&heads]).unwrap();
        let slow: Vec<&Traced> = slowest(&events, 2)
            .into_iter()
            .map(|i| &events[i])
            .collect();
        assert_eq!(slow.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 3]);
        let counts = dominant_parts(&slow);
        let counted: usize = counts.iter().map(|row| row.2).sum();
        assert_eq!(counted, 2);
        assert_eq!((counts[0].0, counts[0].2), (Kind::Stage(0), 2));
    }
}
