//! Where the soak's resident memory is, taken in the soak child at steady
//! state and at the end: resident memory per mapping class (from
//! `/proc/self/smaps`), the mappings that grew most, and each thread's
//! minor page faults (from `/proc/self/task/*/stat`). A page that grows RSS
//! is first touched by some thread, and that thread takes a minor fault for
//! it, so the faults say who touched memory after warm-up; the mappings say
//! where (the main heap, a thread's malloc arena, a large allocation of its
//! own). This is how the growth of reserved-but-untouched memory (zeroed
//! rings filling for minutes) was found.
//!
//! Read-only parsing of `/proc`; runs on the soak child's sampling thread.
//! Invariant: a mapping is identified by its start address across the two
//! readings (mappings that come or go count as zero on the other side).

use serde_json::{json, Value};
use std::fmt::Write;

/// glibc places each thread arena's heap at a multiple of `HEAP_MAX_SIZE`
/// (64 MiB on 64-bit); no other anonymous mapping here is aligned so.
const ARENA_ALIGN: u64 = 64 << 20;
/// Mappings listed in the report's "grew most" table.
const GREW_MOST_LISTED: usize = 6;

/// What a mapping holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// The main thread's malloc heap (`[heap]`, grown with brk).
    MainHeap,
    /// A glibc thread arena: small and medium allocations of other threads.
    ThreadArena,
    /// Anonymous mappings of their own: large allocations (mmap'd by
    /// malloc), thread stacks.
    OtherAnon,
    /// The main thread's stack.
    Stack,
    /// File-backed: the binary, libraries, the journal's mapped segment.
    File,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::MainHeap,
        Class::ThreadArena,
        Class::OtherAnon,
        Class::Stack,
        Class::File,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::MainHeap => "main heap ([heap])",
            Class::ThreadArena => "thread malloc arenas",
            Class::OtherAnon => "other anonymous (large allocations, thread stacks)",
            Class::Stack => "main stack",
            Class::File => "file-backed",
        }
    }
}

/// One mapping with resident pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub size_kib: u64,
    pub rss_kib: u64,
    pub class: Class,
}

/// One reading.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    /// Seconds since the soak began.
    pub at_s: f64,
    pub mappings: Vec<Mapping>,
    /// (thread name, minor page faults so far).
    pub threads: Vec<(String, u64)>,
}

/// Mappings of an smaps text that have resident pages.
pub fn parse_smaps(text: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    let mut current: Option<Mapping> = None;
    for line in text.lines() {
        if let Some(mapping) = header(line) {
            out.extend(current.take().filter(|m| m.rss_kib > 0));
            current = Some(mapping);
        } else if let (Some(rest), Some(mapping)) = (line.strip_prefix("Rss:"), current.as_mut()) {
            mapping.rss_kib = rest
                .split_whitespace()
                .next()
                .and_then(|kb| kb.parse().ok())
                .unwrap_or(0);
        }
    }
    out.extend(current.filter(|m| m.rss_kib > 0));
    out
}

/// A mapping's header line (`start-end perms offset dev inode [path]`).
fn header(line: &str) -> Option<Mapping> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    let _perms = fields.next()?;
    let _offset = fields.next()?;
    fields.next()?.contains(':').then_some(())?; // the device, major:minor
    let inode: u64 = fields.next()?.parse().ok()?;
    let path = fields.next().unwrap_or("");
    let class = match path {
        "[heap]" => Class::MainHeap,
        "[stack]" => Class::Stack,
        _ if inode != 0 || path.starts_with('/') => Class::File,
        _ if start % ARENA_ALIGN == 0 => Class::ThreadArena,
        _ => Class::OtherAnon,
    };
    Some(Mapping {
        start,
        size_kib: end.saturating_sub(start) / 1024,
        rss_kib: 0,
        class,
    })
}

/// A thread's name and minor faults from its `stat` line (the name is in
/// parentheses and may hold spaces or parentheses itself).
pub fn parse_thread_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    // After the name: state(3) ppid pgrp session tty_nr tpgid flags minflt(10).
    let minflt = stat
        .get(close + 1..)?
        .split_whitespace()
        .nth(7)?
        .parse()
        .ok()?;
    Some((name, minflt))
}

impl Breakdown {
    /// Reads this process's mappings and threads now.
    pub fn now(at_s: f64) -> Breakdown {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
        let mut threads: Vec<(String, u64)> = std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| std::fs::read_to_string(task.path().join("stat")).ok())
            .filter_map(|stat| parse_thread_stat(&stat))
            .collect();
        threads.sort();
        Breakdown {
            at_s,
            mappings: parse_smaps(&smaps),
            threads,
        }
    }

    /// Resident KiB of one class.
    pub fn class_kib(&self, class: Class) -> u64 {
        self.mappings
            .iter()
            .filter(|m| m.class == class)
            .map(|m| m.rss_kib)
            .sum()
    }

    fn rss_at(&self, start: u64) -> u64 {
        self.mappings
            .iter()
            .find(|m| m.start == start)
            .map_or(0, |m| m.rss_kib)
    }

    fn faults_of(&self, name: &str) -> u64 {
        self.threads
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f)
            .sum()
    }

    pub fn to_json(&self) -> Value {
        json!({
            "at_s": self.at_s,
            "mappings": self.mappings.iter().map(|m| json!([m.start, m.size_kib, m.rss_kib, m.class as u8])).collect::<Vec<_>>(),
            "threads": self.threads.iter().map(|(n, f)| json!([n, f])).collect::<Vec<_>>(),
        })
    }

    pub fn from_json(value: &Value) -> Option<Breakdown> {
        let mappings = value["mappings"]
            .as_array()?
            .iter()
            .map(|m| {
                Some(Mapping {
                    start: m[0].as_u64()?,
                    size_kib: m[1].as_u64()?,
                    rss_kib: m[2].as_u64()?,
                    class: *Class::ALL.get(m[3].as_u64()? as usize)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let threads = value["threads"]
            .as_array()?
            .iter()
            .map(|t| Some((t[0].as_str()?.to_string(), t[1].as_u64()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Breakdown {
            at_s: value["at_s"].as_f64()?,
            mappings,
            threads,
        })
    }
}

/// The mappings whose resident memory changed most from `steady` to `last`:
/// (start, size KiB, class, steady KiB, last KiB), largest change first.
pub fn grew_most(steady: &Breakdown, last: &Breakdown) -> Vec<(u64, u64, Class, u64, u64)> {
    let mut starts: Vec<(u64, u64, Class)> = steady
        .mappings
        .iter()
        .chain(&last.mappings)
        .map(|m| (m.start, m.size_kib, m.class))
        .collect();
    starts.sort_by_key(|s| s.0);
    starts.dedup_by_key(|s| s.0);
    let mut rows: Vec<_> = starts
        .into_iter()
        .map(|(start, size, class)| (start, size, class, steady.rss_at(start), last.rss_at(start)))
        .filter(|r| r.3 != r.4)
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse((r.4 as i64 - r.3 as i64).unsigned_abs()));
    rows.truncate(GREW_MOST_LISTED);
    rows
}

/// The breakdown tables of a soak report.
pub fn render(out: &mut String, steady: &Breakdown, last: &Breakdown) {
    let _ = writeln!(out, "\nWhere the resident memory is, at steady state ({:.0} s) and at the end ({:.0} s), from `/proc/self/smaps`:\n", steady.at_s, last.at_s);
    let _ = writeln!(out, "| mapping class | steady | last | growth |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for class in Class::ALL {
        let (a, b) = (steady.class_kib(class), last.class_kib(class));
        let _ = writeln!(
            out,
            "| {} | {a} KiB | {b} KiB | {:+} KiB |",
            class.name(),
            b as i64 - a as i64
        );
    }
    let _ = writeln!(out, "\nThe mappings that changed most:\n");
    let _ = writeln!(out, "| mapping | size | class | steady | last | growth |");
    let _ = writeln!(out, "|---|---:|---|---:|---:|---:|");
    for (start, size, class, a, b) in grew_most(steady, last) {
        let _ = writeln!(
            out,
            "| `{start:#x}` | {size} KiB | {} | {a} KiB | {b} KiB | {:+} KiB |",
            class.name(),
            b as i64 - a as i64
        );
    }
    let _ = writeln!(out, "\nMinor page faults per thread after warm-up (each first touch of a page is one; file pages of the journal's mapped segment count too), × 4 KiB:\n");
    let _ = writeln!(out, "| thread | faults after warm-up | × 4 KiB |");
    let _ = writeln!(out, "|---|---:|---:|");
    let mut names: Vec<&str> = last.threads.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    for name in names {
        let faults = last.faults_of(name).saturating_sub(steady.faults_of(name));
        let _ = writeln!(out, "| {name} | {faults} | {} KiB |", faults * 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r-xp 00000000 fd:01 1234 /usr/bin/genesis
Rss:                 512 kB
55d0c1000000-55d0c1400000 rw-p 00000000 00:00 0                          [heap]
Rss:                2048 kB
7f4510000000-7f4510800000 rw-p 00000000 00:00 0 
Rss:                 700 kB
7f4513bff000-7f4513e00000 rw-p 00000000 00:00 0 
Rss:                  40 kB
7f4514000000-7f4514021000 rw-p 00000000 00:00 0 
Rss:                   0 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                 132 kB
";

    // Each mapping lands in its class; mappings with nothing resident are left out.
    #[test]
    fn smaps_mappings_are_classed() {
        let mappings = parse_smaps(SMAPS);
        let classes: Vec<(Class, u64)> = mappings.iter().map(|m| (m.class, m.rss_kib)).collect();
        assert_eq!(
            classes,
            vec![
                (Class::File, 512),
                (Class::MainHeap, 2048),
                (Class::ThreadArena, 700),
                (Class::OtherAnon, 40),
                (Class::Stack, 132),
            ]
        );
        assert_eq!(mappings[2].size_kib, 8 * 1024);
    }

    // A thread name with spaces and parentheses does not shift the fields.
    #[test]
    fn thread_stat_name_and_minor_faults() {
        let stat = "4242 (ingest (x) +y) S 1 2 3 0 -1 4194368 777 0 0 0 5 6";
        assert_eq!(
            parse_thread_stat(stat),
            Some(("ingest (x) +y".to_string(), 777))
        );
        assert_eq!(parse_thread_stat("garbage"), None);
    }

    // The growth table pairs mappings by start and lists the largest change first.
    #[test]
    fn grew_most_pairs_by_start() {
        let steady = Breakdown {
            at_s: 60.0,
            mappings: parse_smaps(SMAPS),
            threads: vec![("engine".into(), 100)],
        };
        let mut last = steady.clone();
        last.mappings[2].rss_kib += 400;
        last.mappings[1].rss_kib += 4;
        last.mappings.remove(3);
        let rows = grew_most(&steady, &last);
        let changes: Vec<i64> = rows.iter().map(|r| r.4 as i64 - r.3 as i64).collect();
        assert_eq!(changes, vec![400, -40, 4]);
        assert_eq!(rows[0].2, Class::ThreadArena);
        let round = Breakdown::from_json(&last.to_json()).expect("round trip");
        assert_eq!(round, last);
        let mut text = String::new();
        render(&mut text, &steady, &last);
        assert!(text.contains("| thread malloc arenas | 700 KiB | 1100 KiB | +400 KiB |"));
    }
}
