//! Walking a journal in sequence order, for `truncate`: the first place it
//! stops being a clean log, and the valid records after a cut. Only reads.

use super::Context;
use crate::chain::{self, Fix};
use crate::naming;
use crate::scan::{self, FirstInvalid};
use crate::seal::Seal;
use crate::segment;
use crate::slot::SlotState;
use crate::JournalError;
use std::ops::ControlFlow;

/// What walking the journal in sequence order found first.
pub(super) enum Found {
    Damage { seq_cut: u64, reason: String },
    CleanEnd { seq_end: u64 },
}

/// Walks the journal in sequence order to the first damage or the clean end.
pub(super) fn first_damage(ctx: &Context, buffer: &mut Vec<u8>) -> Result<Found, JournalError> {
    let segments = &ctx.folder.segments;
    let problems = ctx
        .folder
        .chain_problems(ctx.layout.slots_per_segment, ctx.seq_origin);
    if let Some(problem) = problems.iter().find(|p| p.fix == Fix::RestoreOnly) {
        return Err(chain::Problem::into_error(problem.clone(), &ctx.folder.dir));
    }
    let mut seq_expected = segments[0].seq_first;
    for (index, listed) in segments.iter().enumerate() {
        if listed.seq_first != seq_expected {
            return Ok(Found::Damage {
                seq_cut: seq_expected,
                reason: format!(
                    "the segment holding sequences from {seq_expected} on is missing (the next file present is {})",
                    listed.path.display()
                ),
            });
        }
        let is_newest = index + 1 == segments.len();
        if let Some(found) = segment_damage(ctx, listed, is_newest, buffer)? {
            return Ok(found);
        }
        seq_expected += ctx.layout.slots_per_segment;
    }
    unreachable!("the newest segment ends the walk")
}

/// The first damage in one segment; for the newest, its clean end if none.
fn segment_damage(
    ctx: &Context,
    listed: &naming::SegmentFile,
    is_newest: bool,
    buffer: &mut Vec<u8>,
) -> Result<Option<Found>, JournalError> {
    let damage = |seq_cut: u64, reason: String| Ok(Some(Found::Damage { seq_cut, reason }));
    let slots = ctx.layout.slots_per_segment;
    let opened = segment::open_listed(listed).and_then(|open| {
        ctx.layout
            .check_header(&open.header, &open.path)
            .map(|()| open)
    });
    let mut open = match opened {
        Ok(open) => open,
        Err(err) => return damage(listed.seq_first, err.to_string()),
    };
    let first_bad = scan::first_invalid(
        &mut open.source,
        &listed.path,
        listed.seq_first,
        &ctx.layout,
        buffer,
    )?;
    if let Some(found) = first_bad.and_then(|bad| slot_found(ctx, listed, is_newest, bad)) {
        return Ok(Some(found));
    }
    let sealed = ctx.folder.seal_of(listed.seq_first);
    if is_newest && (sealed.is_some() || listed.compressed) {
        return damage(
            listed.seq_first + slots,
            format!(
                "the newest segment {} is sealed or compressed, so the segment after it is missing",
                listed.path.display()
            ),
        );
    }
    if is_newest {
        return Ok(Some(Found::CleanEnd {
            seq_end: listed.seq_first + slots,
        }));
    }
    if let Some(seal) = sealed {
        if !matches_seal(ctx, listed, &mut open, seal, buffer)? {
            return damage(
                listed.seq_first,
                format!(
                    "{} does not match its seal, though every record checks",
                    listed.path.display()
                ),
            );
        }
    }
    Ok(None)
}

/// What the first invalid slot of a segment means: damage (any invalid
/// slot of a closed segment; in the newest, a damaged one or one with data
/// after it), or the newest segment's clean end.
fn slot_found(
    ctx: &Context,
    listed: &naming::SegmentFile,
    is_newest: bool,
    first: FirstInvalid,
) -> Option<Found> {
    let (slot, state) = (first.slot_index, first.state);
    let data_after = first.slot_data_after.is_some();
    let seq = listed.seq_first + slot;
    if is_newest && !data_after && state == SlotState::Empty {
        return Some(Found::CleanEnd { seq_end: seq });
    }
    let what = match state {
        SlotState::Damaged(slot_damage) => slot_damage.to_string(),
        _ => "record missing (zero bytes)".into(),
    };
    let tail = if is_newest && state == SlotState::Empty {
        ", with non-zero bytes after the last record"
    } else {
        ""
    };
    Some(Found::Damage {
        seq_cut: seq,
        reason: format!(
            "{} at byte offset {}: sequence {seq}: {what}{tail}",
            listed.path.display(),
            ctx.layout.slot_offset(slot)
        ),
    })
}

fn matches_seal(
    ctx: &Context,
    listed: &naming::SegmentFile,
    open: &mut segment::OpenSegment,
    seal: &Seal,
    buffer: &mut Vec<u8>,
) -> Result<bool, JournalError> {
    let body_crc = scan::body_crc(&mut open.source, &listed.path, &ctx.layout, buffer)?;
    let expected = body_crc
        .map(|crc| Seal::of_full_segment(&ctx.layout, listed.seq_first, open.header.crc(), crc));
    Ok(expected.as_ref() == Some(seal))
}

/// Valid records at or after `seq_cut`: how many, first and last.
pub(super) fn count_valid_from(
    ctx: &Context,
    seq_cut: u64,
    buffer: &mut Vec<u8>,
) -> Result<(u64, Option<(u64, u64)>), JournalError> {
    let slots = ctx.layout.slots_per_segment;
    let mut count = 0;
    let mut range: Option<(u64, u64)> = None;
    for listed in &ctx.folder.segments {
        if listed.seq_first + slots <= seq_cut {
            continue;
        }
        let Ok(mut open) = segment::open_listed(listed) else {
            continue;
        };
        let slot_from = seq_cut.saturating_sub(listed.seq_first);
        let scanned = scan::for_each_slot(
            &mut open.source,
            &listed.path,
            &ctx.layout,
            listed.seq_first,
            slot_from..slots,
            buffer,
            |slot_index, state, _| {
                if state == SlotState::Valid {
                    let seq = listed.seq_first + slot_index;
                    count += 1;
                    range = Some(range.map_or((seq, seq), |(first, _)| (first, seq)));
                }
                ControlFlow::Continue(())
            },
        );
        // An unreadable segment has nothing valid to count.
        let _ = scanned;
    }
    Ok((count, range))
}
