//! The report as markdown: the machine, then one section per part of the
//! harness, each table naming the core plan and wait strategy it ran.

use crate::latency::human_ns;
use crate::machine::mib;
use crate::memory::Soak;
use crate::outcome::Outcome;
use crate::ratios;
use crate::report::*;
use std::fmt::Write as _;

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn rate(events_per_sec: f64) -> String {
    if events_per_sec >= 1e6 {
        format!("{:.2} M", events_per_sec / 1e6)
    } else if events_per_sec >= 1e3 {
        format!("{:.1} k", events_per_sec / 1e3)
    } else {
        format!("{events_per_sec:.0}")
    }
}

fn multiple(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}×")
    } else {
        format!("{value:.2}×")
    }
}

fn offered(events_per_sec: u64) -> String {
    if events_per_sec == 0 {
        "max (unpaced)".into()
    } else {
        rate(events_per_sec as f64)
    }
}

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    header(&mut out, report);
    pipelines(&mut out, report);
    floor(&mut out, report);
    over_sockets(&mut out, report);
    load(&mut out, report);
    memory(&mut out, report);
    regression(&mut out, report);
    if !report.notes.is_empty() {
        let _ = writeln!(out, "\n## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

fn header(out: &mut String, report: &Report) {
    let m = &report.machine;
    let _ = writeln!(out, "# Genesis benchmark report\n");
    let _ = writeln!(
        out,
        "- Machine: {}, {} CPUs online ({} usable by this process), Linux {}, load average {:.2} at start",
        m.cpu_model, m.cores_online, m.cores_usable, m.kernel, m.load_average_1m
    );
    let pressure = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{p:.0} %"));
    let _ = writeln!(
        out,
        "- CPU pressure (PSI `some avg60`, share of the last minute some task waited for a CPU): {} at start, {} at end{}",
        pressure(m.cpu_pressure_pct_start),
        pressure(report.cpu_pressure_pct_end),
        if m.cpu_pressure_pct_start.unwrap_or(0.0) > 20.0 { " — others were using this machine; absolute figures are inflated, ratios less so" } else { "" }
    );
    let _ = writeln!(
        out,
        "- Run: `{}` ({} mode, {:.1} s per variant), Unix time {}",
        report.command, report.mode, report.seconds_per_variant, report.unix_time_s
    );
    let _ = writeln!(out, "- Input: the pipeline comparisons (sections 1, 2 and 4) are driven **in-process** by the harness's load generator (`perf/src/schedule.rs`), a `Source` that stamps each event with its *scheduled* time, so every variant gets the same input; latency is counted from that time (coordinated omission corrected) to the journal stage's exit: that is \"end to end\" below. Section 3 drives the engine **over loopback sockets**: the simulated venue's ITCH (UDP) and WebSocket feeds in, FIX (TCP) out.");
    let _ = writeln!(out, "- Every variant runs the same stage objects (`RiskStage`, `StrategyStage` with the bundled market maker, `ExecutionStage` with the simulated venue, `JournalStage` in the page cache) wrapped in `topology::chain::Chain`, and the same `Ingest`; no conflation. Events/s counts every event through the journal (market data, acks, fills, timers).");
    let _ = writeln!(out, "- Stage timing (every variant, `Chain`): one clock read per event as it leaves a thread's stages (the last stage's time since receipt is exact for every event, except on the first thread while ingest is behind: after a poll that came back full, that stage's time since receipt is measured on the same sample as below); each stage's processing time, and the time since receipt of stages before the last, are **measured on a 1-in-{} sample** of events chosen at random by ingest's countdown (gaps drawn geometric, so no period in the input aliases with it); the other events are counted in the buckets of the last measurement, so every histogram's count is exact. Ingest's hand-off is timed on the same sample.", genesis_engine::topology::chain::LAP_SAMPLE_EVERY);
}

fn variant_rows(out: &mut String, outcomes: &[Outcome], extra: impl Fn(&Outcome) -> String) {
    for o in outcomes {
        let e = o.end_to_end;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            o.name,
            o.plan,
            o.wait,
            rate(o.events_per_sec()),
            human_ns(e.p50_ns),
            human_ns(e.p99_ns),
            human_ns(e.p99_9_ns),
            human_ns(e.max_ns),
            extra(o)
        );
    }
}

fn pipelines(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\n## 1. Pipelines: Genesis against what a user would pick instead\n"
    );
    let _ = writeln!(out, "### Throughput, every variant unpaced\n");
    let _ = writeln!(out, "Latency here is queueing under saturation (from generation to journal exit), shown for completeness.\n");
    let _ = writeln!(out, "| variant | core plan | wait strategy | events/s | p50 | p99 | p99.9 | max | Genesis fused ÷ / pipelined ÷ this (events/s) |");
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    let fused = report.max_of(FUSED).map_or(0.0, Outcome::events_per_sec);
    let pipelined = report
        .max_of(PIPELINED)
        .map_or(0.0, Outcome::events_per_sec);
    variant_rows(out, &report.max, |o| {
        format!(
            "{:.2}× / {:.2}×",
            fused / o.events_per_sec(),
            pipelined / o.events_per_sec()
        )
    });
    let _ = writeln!(out);
    throughput_goal(
        out,
        report,
        CROSSBEAM,
        "crossbeam",
        GOAL_FUSED_OVER_CROSSBEAM,
    );
    throughput_goal(out, report, TOKIO, "tokio", GOAL_FUSED_OVER_TOKIO);
    two_thread_note(out, report);
    let _ = writeln!(
        out,
        "\n### Latency at the same offered load: {} market-data events/s\n",
        rate(report.offered_per_sec as f64)
    );
    let _ = writeln!(out, "| variant | core plan | wait strategy | events/s | p50 | p99 | p99.9 | max | this p99 ÷ Genesis fused / pipelined p99 |");
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|");
    let p99 = |name| {
        report
            .at_rate_of(name)
            .map_or(1, |o| o.end_to_end.p99_ns.max(1)) as f64
    };
    let (fused_p99, pipelined_p99) = (p99(FUSED), p99(PIPELINED));
    variant_rows(out, &report.at_rate, |o| {
        let mine = o.end_to_end.p99_ns as f64;
        format!("{:.1}× / {:.1}×", mine / fused_p99, mine / pipelined_p99)
    });
    if let Some(tokio) = report.at_rate_of(TOKIO) {
        let tokio_p99 = tokio.end_to_end.p99_ns as f64;
        let (a, b) = (tokio_p99 / fused_p99, tokio_p99 / pipelined_p99);
        let _ = writeln!(
            out,
            "\nGoal: p99 ≥ {GOAL_TOKIO_P99_OVER_GENESIS}× lower than the tokio pipeline at the same offered load: fused **{a:.1}×, {}**; pipelined **{b:.1}×, {}**.",
            met(a >= GOAL_TOKIO_P99_OVER_GENESIS),
            met(b >= GOAL_TOKIO_P99_OVER_GENESIS)
        );
    }
    if report.at_rate_of(FUSED).is_some() && report.at_rate_of(PIPELINED).is_some() {
        let ratio = pipelined_p99 / fused_p99;
        let _ = writeln!(
            out,
            "Goal: pipelined p99 ≤ {GOAL_PIPELINED_P99_OVER_FUSED}× fused p99 at the same offered load (`{PIPELINED}`, threads pinned as the engine's plans are by default): **{ratio:.1}×, {}**.",
            met(ratio <= GOAL_PIPELINED_P99_OVER_FUSED)
        );
    }
    if let Some(unpinned) = report.at_rate_of(PIPELINED_UNPINNED) {
        let _ = writeln!(
            out,
            "The same plan unpinned (`{PIPELINED_UNPINNED}`, not the goal row): p99 {:.1}× fused.",
            unpinned.end_to_end.p99_ns as f64 / fused_p99
        );
    }
}

/// The goal line "fused ≥ `goal`× `baseline`", each verdict naming its row:
/// the default fused row alone, or, when the report has it, the fused plan
/// with the journal's write thread, said to be that, with the default fused
/// row's ratio and verdict beside it.
fn throughput_goal(out: &mut String, report: &Report, baseline: &str, short: &str, goal: f64) {
    let Some(base) = report.max_of(baseline) else {
        return;
    };
    let verdict = |name| {
        report.max_of(name).map(|g| {
            let ratio = g.events_per_sec() / base.events_per_sec();
            format!("**{ratio:.2}×, {}**", met(ratio >= goal))
        })
    };
    let Some(fused) = verdict(FUSED) else {
        return;
    };
    let head = format!("Goal: fused ≥ {goal}× the {short} pipeline's throughput");
    match verdict(FUSED_WRITE_THREAD) {
        None => {
            let _ = writeln!(out, "{head} (`{FUSED}`): {fused}.");
        }
        Some(write_thread) => {
            let _ = writeln!(
                out,
                "{head}: `{FUSED_WRITE_THREAD}` ({FUSED_WRITE_THREAD_IS}) {write_thread}; beside it `{FUSED}` ({FUSED_IS}) {fused}."
            );
        }
    }
}

/// The 2-thread plan's ratios, said to be a 2-thread plan (the goal is the fused row's).
fn two_thread_note(out: &mut String, report: &Report) {
    let Some(two) = report.max_of(TWO_THREAD) else {
        return;
    };
    let over = |name| {
        report.max_of(name).map_or("n/a".to_string(), |b| {
            multiple(two.events_per_sec() / b.events_per_sec())
        })
    };
    let _ = writeln!(
        out,
        "2-thread plan (`{TWO_THREAD}`: ingest, risk, strategy and execution fused on core 0, the journal on core 1; not the goal row): **{}** the crossbeam pipeline, **{}** the tokio pipeline.",
        over(CROSSBEAM),
        over(TOKIO)
    );
}

fn floor(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\n## 2. The hardware floor (same run)\n");
    let _ = writeln!(
        out,
        "| what | core plan | wait | untimed (median batch) | timed p50 | p99 | p99.9 | max |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|");
    for (name, plan, wait, rt) in [
        (
            "cache-line ping-pong (round trip)",
            "2 threads pinned to cores 0 and 1",
            "busy-spin (pause hint)",
            report.ping_pong,
        ),
        (
            "loopback TCP round trip, 64 B, TCP_NODELAY",
            "2 threads, unpinned",
            "blocking read",
            report.tcp,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {plan} | {wait} | {:.0} ns | {} | {} | {} | {} |",
            rt.untimed_ns,
            human_ns(rt.timed.p50_ns),
            human_ns(rt.timed.p99_ns),
            human_ns(rt.timed.p99_9_ns),
            human_ns(rt.timed.max_ns)
        );
    }
    let ping = report.ping_pong.timed.p50_ns.max(1) as f64;
    let tcp = report.tcp.timed.p50_ns.max(1) as f64;
    let _ = writeln!(out);
    if let Some(hop) = report.stage_hop_ns() {
        let _ = writeln!(
            out,
            "- Genesis stage hop (ring between `ingest+risk` on core 0 and `strategy+execution+journal` on core 1, at {} events/s; median strategy entry − median risk exit): **{}** = {:.1}× the cache-line round trip, {:.2}× the loopback TCP round trip (p50s). Goal ≤ {GOAL_HOP_OVER_PING_PONG}× the cache-line round trip: **{}**.",
            rate(report.offered_per_sec as f64),
            human_ns(hop.max(0) as u64),
            hop.max(0) as f64 / ping,
            hop.max(0) as f64 / tcp,
            met(hop.max(0) as f64 / ping <= GOAL_HOP_OVER_PING_PONG)
        );
    }
    for name in [FUSED, PIPELINED] {
        if let Some(o) = report.at_rate_of(name) {
            let p50 = o.end_to_end.p50_ns as f64;
            let _ = writeln!(
                out,
                "- {name} end to end (scheduled → journal exit) p50 {}: {:.1}× the cache-line round trip, {:.2}× the loopback TCP round trip.",
                human_ns(o.end_to_end.p50_ns),
                p50 / ping,
                p50 / tcp
            );
        }
    }
    let _ = writeln!(out, "- Tick-to-trade over sockets, beside a loopback TCP round trip from the same row: section 3.");
}

fn over_sockets(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\n## 3. Over loopback sockets: market data in, orders out\n"
    );
    let Some(first) = report.loopback.first() else {
        let _ = writeln!(out, "Not run.");
        return;
    };
    let _ = writeln!(out, "The engine as `genesis run` assembles it ({}, wait `{}`, unpinned); the simulated venue on its own thread publishes ITCH 5.0 over MoldUDP64 on UDP (`itch-sim`) or Binance-compatible WebSocket streams (`binance-sim`) and takes orders over FIX 4.4 on TCP; journal in the page cache. Each row ran {:.1} s; its TCP round trip was measured in the same row, so the ratios survive a noisy machine. µs throughout.\n", first.plan, first.wait, first.seconds);
    crate::loopback::markdown_tables(out, &report.loopback);
    let _ = writeln!(
        out,
        "\nMore rates: `cargo run --release -p genesis-perf --bin loopback`."
    );
}

fn load(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "\n## 4. Load generator: Genesis fused at fixed rates\n"
    );
    let plan = report
        .ladder
        .first()
        .map_or(String::new(), |o| format!("{} — wait {}", o.plan, o.wait));
    let _ = writeln!(out, "Plan: {plan}. In-process scheduled source (see Input above), coordinated omission corrected.\n");
    let _ = writeln!(
        out,
        "| offered market data/s | events/s through journal | p50 | p99 | p99.9 | max |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    for o in &report.ladder {
        let e = o.end_to_end;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            offered(o.offered_per_sec),
            rate(o.events_per_sec()),
            human_ns(e.p50_ns),
            human_ns(e.p99_ns),
            human_ns(e.p99_9_ns),
            human_ns(e.max_ns)
        );
    }
    original_targets(out, report);
}

/// Genesis against the original guide's scenarios and targets.
fn original_targets(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\n### The original guide's scenarios and targets\n");
    let _ = writeln!(
        out,
        "| scenario | original target | Genesis | multiple (> 1 beats the target) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    if let Some(max) = report.max_of(FUSED) {
        let _ = writeln!(
            out,
            "| throughput (fused, unpaced) | {ORIGINAL_EVENTS_PER_SEC:.0} events/s | {} events/s | {} |",
            rate(max.events_per_sec()),
            multiple(max.events_per_sec() / ORIGINAL_EVENTS_PER_SEC)
        );
    }
    for (scenario, offered_per_sec) in [
        ("1,000 events/s", 1_000),
        ("latency under load, 100k events/s", 100_000),
    ] {
        if let Some(o) = report.ladder_at(offered_per_sec) {
            for (label, target, value) in [
                ("p50", ORIGINAL_P50_NS, o.end_to_end.p50_ns),
                ("p99", ORIGINAL_P99_NS, o.end_to_end.p99_ns),
            ] {
                let _ = writeln!(
                    out,
                    "| {scenario}: {label} | {} | {} | {} |",
                    human_ns(target),
                    human_ns(value),
                    multiple(target as f64 / value.max(1) as f64)
                );
            }
        }
    }
    if let Some(soak) = &report.soak {
        let steady = mib(soak.steady().total_bytes);
        let _ = writeln!(
            out,
            "| sustained load with flat memory: RSS ({} events/s for {:.0} s) | {ORIGINAL_RSS_MIB:.0} MB | {steady:.1} MiB, grew {:+.2} MiB after warm-up | {} |",
            rate(soak.rate_per_sec as f64),
            soak.elapsed_s,
            soak.growth_total_bytes() as f64 / (1024.0 * 1024.0),
            multiple(ORIGINAL_RSS_MIB / steady.max(0.001))
        );
    }
}

fn memory(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\n## 5. Memory\n");
    if let Some(soak) = &report.soak {
        soak_section(out, soak);
    }
    if let Some(alloc) = report.alloc {
        let _ = writeln!(
            out,
            "\nHeap allocations per event after warm-up (counting global allocator, fused stages on the harness thread, unpaced, {} events warm-up): **{} allocations in {} events = {:.6} per event**.",
            alloc.events_warm_up, alloc.allocations, alloc.events_counted, alloc.per_event()
        );
    }
}

/// The soak's paragraph, RSS table, plot link and goals (also written alone by `bench soak`).
pub fn soak_section(out: &mut String, soak: &Soak) {
    let (steady, last, max) = (soak.steady(), soak.last(), soak.max());
    let _ = writeln!(out, "Engine on its defaults ({}; the simulated venue's ITCH feed over UDP loopback at {} events/s, orders over FIX on a loopback port, the journal in a scratch folder, the metrics endpoint on an ephemeral port) in a child process, RSS sampled {} times over {:.1} s; steady state = first sample after {:.1} s of warm-up. The curve is in `rss.svg` beside this report.\n\n![RSS over the soak](rss.svg)\n", soak.plan, rate(soak.rate_per_sec as f64), soak.samples.len(), soak.elapsed_s, soak.warm_up_s);
    let _ = writeln!(
        out,
        "| RSS | steady (after warm-up) | last | max | growth after warm-up (last − steady) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (label, pick) in [
        ("total", 0),
        ("anonymous (heap, stacks)", 1),
        ("file-backed (binary, journal map)", 2),
    ] {
        let get = |r: crate::machine::Rss| match pick {
            0 => r.total_bytes,
            1 => r.anon_bytes,
            _ => r.file_bytes,
        };
        let _ = writeln!(
            out,
            "| {label} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:+.2} MiB |",
            mib(get(steady)),
            mib(get(last)),
            mib(get(max)),
            (get(last) as f64 - get(steady) as f64) / (1024.0 * 1024.0)
        );
    }
    let growth = soak.growth_total_bytes() as f64 / (1024.0 * 1024.0);
    let growth_verdict = if soak.rate_held() {
        met(growth < GOAL_GROWTH_MIB).to_string()
    } else {
        format!(
            "not judged: the engine processed {:.0} % of the requested rate (the host was busy), and its bounded tables fill by events, not by seconds, so it was still warming up when the warm-up ended",
            soak.rate_kept() * 100.0
        )
    };
    let _ = writeln!(
        out,
        "\nGoals: RSS at steady state < {GOAL_RSS_MIB:.0} MB: **{:.1} MiB, {}**. Soak growth < {GOAL_GROWTH_MIB:.0} MB: **{growth:+.2} MiB over the {:.0} s after warm-up, {growth_verdict}** (the goal is for a 10-minute soak; this run asked for {:.0} s — `bench soak --seconds 600`, or `bench --soak-seconds 600`, runs the full one). Growth rate after warm-up: {:+.3} MiB/min, {:+.2} MiB over 10 minutes if it held (pages of preallocated tables are still being touched early on: only the full soak settles it); over the last 5 minutes (least squares): {:+.3} MiB/min. The soak processed {} events ({}/s).",
        mib(steady.total_bytes),
        met(mib(steady.total_bytes) < GOAL_RSS_MIB),
        soak.elapsed_s - soak.warm_up_s,
        soak.seconds_requested,
        soak.growth_mib_per_min(),
        soak.growth_mib_per_min() * 10.0,
        soak.growth_mib_per_min_last(crate::memory::LAST_WINDOW_S),
        soak.events,
        rate(soak.events_per_sec())
    );
    if let (Some(steady), Some(last)) = (&soak.detail_steady, &soak.detail_last) {
        crate::soak_breakdown::render(out, steady, last);
    }
}

fn regression(out: &mut String, report: &Report) {
    let _ = writeln!(out, "\n## 6. Figures the regression check compares\n");
    let _ = writeln!(out, "`perf/compare.sh` flags any of these more than 20 % worse than `perf/baseline/report.json`.\n");
    let _ = writeln!(out, "| key | value | better | what |");
    let _ = writeln!(out, "|---|---:|---|---|");
    for r in ratios::of(report) {
        let _ = writeln!(
            out,
            "| `{}` | {:.3} | {} | {} |",
            r.key,
            r.value,
            r.better.name(),
            r.what
        );
    }
}
