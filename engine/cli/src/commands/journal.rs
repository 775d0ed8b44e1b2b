//! `genesis journal verify | cat`, and the event formats `cat` and
//! `replay` print. `archive` and `truncate` are in `journal_archive` and
//! `journal_truncate`.
//!
//! Standard output carries only what was asked for (the report, or the
//! events, as JSON lines with `--json`); diagnostics such as a torn tail go
//! to the separate diagnostics writer (stderr in the binary).

use crate::commands::journal_input::{input_json, input_text};
use anyhow::{bail, Result};
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
        "journal {}: {} segment(s) ({} compressed), {} record(s), {range}; {} seal(s) checked",
        dir.display(),
        report.segments,
        report.compressed,
        report.records,
        report.seals_checked
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

/// Prints events `from..=to` to `out`, one per line, human-readable or as
/// JSON lines; a torn tail is reported to `diagnostics`. A gap in the
/// sequence (a missing segment) is an error naming it, after the events
/// before it were printed.
pub fn cat(
    dir: &Path,
    (from, to): (u64, u64),
    as_json: bool,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<u64> {
    if from > to {
        bail!("--from {from} is after --to {to}: no sequence is in that range");
    }
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
        writeln!(
            diagnostics,
            "genesis: torn tail at sequence {}: {} (the next start truncates it)",
            torn.seq, torn.reason
        )?;
    }
    Ok(printed)
}

/// One event as a line: sequence, time, input, gates, outcome, intents.
pub fn event_line(event: &Event) -> String {
    let mut line = format!(
        "{:>10} {} {:<12} i{} {:?} {}{}{} gate={}/{} outcome={}",
        event.seq,
        event.ts_recv_ns,
        event.kind.name(),
        event.instrument.0,
        event.side,
        input_text(&event.input()),
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
    if let Some(action) = crate::commands::journal_truncate::OperatorAction::of(event) {
        line.push_str(&format!(" | {action}"));
    }
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

/// One event as a JSON object: the input's fields by name (`input`), and
/// its four raw words (`data`).
pub fn event_json(event: &Event) -> serde_json::Value {
    let intents: Vec<serde_json::Value> = event
        .intents
        .iter()
        .filter(|i| !i.is_empty())
        .map(intent_json)
        .collect();
    let operator = crate::commands::journal_truncate::OperatorAction::of(event)
        .map(|action| action.to_string());
    json!({
        "seq": event.seq,
        "ts_recv_ns": event.ts_recv_ns,
        "ts_venue_ns": event.ts_venue_ns,
        "kind": event.kind.name(),
        "instrument": event.instrument.0,
        "side": format!("{:?}", event.side).to_lowercase(),
        "flags": event.flags,
        "input": input_json(&event.input()),
        "data": event.data,
        "gate_global": event.gate_global.name(),
        "gate_instrument": event.gate_instrument.name(),
        "outcome": event.outcome.name(),
        "intents": intents,
        "operator": operator,
    })
}
