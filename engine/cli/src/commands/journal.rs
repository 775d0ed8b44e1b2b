//! `genesis journal verify | cat | archive`.

use anyhow::Result;
use genesis_engine::decision::Intent;
use genesis_engine::event::Event;
use genesis_engine::journal_stage::EventReader;
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Checks every segment header and record, and that every record is a valid
/// event. Prints the record count, the sequence range and each damage;
/// returns false if anything is damaged.
pub fn verify(dir: &Path, out: &mut dyn Write) -> Result<bool> {
    let report = genesis_journal::verify(dir)?;
    let range = match (report.seq_first, report.seq_last) {
        (Some(first), Some(last)) => format!("sequences {first}..={last}"),
        _ => "no records".to_string(),
    };
    writeln!(
        out,
        "journal {}: {} segment(s), {} record(s), {range}",
        dir.display(),
        report.segments,
        report.records
    )?;
    if let Some(torn) = &report.torn_tail {
        writeln!(
            out,
            "torn tail: {} at byte offset {} (sequence {}): {} — the next start truncates it",
            torn.path.display(),
            torn.offset,
            torn.seq,
            torn.reason
        )?;
    }
    for damage in &report.damages {
        writeln!(out, "DAMAGE: {damage}")?;
    }
    if report.damages_unlisted > 0 {
        writeln!(out, "DAMAGE: {} more not listed", report.damages_unlisted)?;
    }
    let mut decode_damage = 0u64;
    if report.is_clean() {
        let mut reader = EventReader::open(dir, report.seq_first.unwrap_or(1), u64::MAX)?;
        loop {
            match reader.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(err) => {
                    writeln!(out, "DAMAGE: {err}")?;
                    decode_damage += 1;
                    break;
                }
            }
        }
    }
    let clean = report.is_clean() && decode_damage == 0;
    writeln!(
        out,
        "{}",
        if clean {
            "verify: clean"
        } else {
            "verify: DAMAGED"
        }
    )?;
    Ok(clean)
}

/// Prints events `from..=to`, one per line, human-readable or as JSON lines.
pub fn cat(dir: &Path, from: u64, to: u64, as_json: bool, out: &mut dyn Write) -> Result<u64> {
    let mut reader = EventReader::open(dir, from.max(1), to)?;
    let mut printed = 0;
    while let Some(event) = reader.next_event()? {
        if as_json {
            writeln!(out, "{}", event_json(&event))?;
        } else {
            writeln!(out, "{}", event_line(&event))?;
        }
        printed += 1;
    }
    if let Some(torn) = reader.torn_tail() {
        writeln!(out, "# torn tail at sequence {}: {}", torn.seq, torn.reason)?;
    }
    Ok(printed)
}

/// One event as a line: sequence, time, input, gates, outcome, intents.
pub fn event_line(event: &Event) -> String {
    let mut line = format!(
        "{:>10} {} {:<12} i{} {:?} {:?}{}{} gate={}/{} outcome={}",
        event.seq,
        event.ts_recv_ns,
        event.kind.name(),
        event.instrument.0,
        event.side,
        event.input(),
        if event.is_duplicate() {
            " DUPLICATE"
        } else {
            ""
        },
        if event.flags & genesis_engine::event::FLAG_CONFLATED != 0 {
            " CONFLATED"
        } else {
            ""
        },
        event.gate_global.name(),
        event.gate_instrument.name(),
        event.outcome.name(),
    );
    for intent in event.intents.iter().filter(|i| !i.is_empty()) {
        line.push_str(&format!(
            " | {} #{} i{} {:?} {}@{} risk={} exec={}",
            intent.action.name(),
            intent.order_id.0,
            intent.instrument.0,
            intent.side,
            intent.qty.0,
            intent.price.0,
            intent.reject.name(),
            intent.exec.name()
        ));
    }
    line
}

fn intent_json(intent: &Intent) -> serde_json::Value {
    json!({
        "action": intent.action.name(),
        "order_id": intent.order_id.0,
        "instrument": intent.instrument.0,
        "side": format!("{:?}", intent.side).to_lowercase(),
        "price": intent.price.0,
        "qty": intent.qty.0,
        "reject": intent.reject.name(),
        "exec": intent.exec.name(),
    })
}

/// One event as a JSON object (the input words as named by its kind).
pub fn event_json(event: &Event) -> serde_json::Value {
    let intents: Vec<serde_json::Value> = event
        .intents
        .iter()
        .filter(|i| !i.is_empty())
        .map(intent_json)
        .collect();
    json!({
        "seq": event.seq,
        "ts_recv_ns": event.ts_recv_ns,
        "ts_venue_ns": event.ts_venue_ns,
        "kind": event.kind.name(),
        "instrument": event.instrument.0,
        "side": format!("{:?}", event.side).to_lowercase(),
        "flags": event.flags,
        "input": format!("{:?}", event.input()),
        "data": event.data,
        "gate_global": event.gate_global.name(),
        "gate_instrument": event.gate_instrument.name(),
        "outcome": event.outcome.name(),
        "intents": intents,
    })
}

/// Compresses and moves out closed segments by age; the active one is never touched.
pub fn archive(
    dir: &Path,
    compress_after_days: u64,
    archive_after_days: u64,
    archive_dir: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    const DAY_S: u64 = 86_400;
    let policy = genesis_journal::ArchivePolicy {
        compress_after: std::time::Duration::from_secs(compress_after_days * DAY_S),
        archive_after: std::time::Duration::from_secs(
            archive_after_days.max(compress_after_days) * DAY_S,
        ),
        archive_dir: archive_dir.to_path_buf(),
    };
    #[allow(clippy::disallowed_methods)] // segment ages are wall-clock file ages
    let now = std::time::SystemTime::now();
    let report = genesis_journal::archive(dir, &policy, now)?;
    for path in &report.compressed {
        writeln!(out, "compressed {}", path.display())?;
    }
    for path in &report.archived {
        writeln!(out, "archived {}", path.display())?;
    }
    if let Some(active) = &report.active_segment {
        writeln!(out, "active segment left alone: {}", active.display())?;
    }
    writeln!(
        out,
        "archive: {} compressed, {} moved to {}; {} bytes became {}",
        report.compressed.len(),
        report.archived.len(),
        archive_dir.display(),
        report.bytes_before_compression,
        report.bytes_after_compression
    )?;
    Ok(())
}
