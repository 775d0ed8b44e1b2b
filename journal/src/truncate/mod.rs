//! Cutting a journal at a sequence: the operator's way past damage that
//! `Writer::open` refuses (a flipped bit in the zeroed tail, a damaged or
//! missing segment, a hole after a power loss). `genesis journal truncate`
//! shows the plan, asks, journals the operator action and executes it.
//!
//! Runs on the caller's thread. Planning only reads; executing takes the
//! folder lock (so never beside a live writer), checks the journal still
//! gives the same plan, and then: writes the segment holding the cut anew
//! under a temporary name (the header and every record before the cut,
//! zeros after), copies the original into an aside folder, drops the seals
//! of that segment and later ones, moves every later segment into the aside
//! folder (newest first), and renames the new segment into place. Nothing
//! is deleted: what is cut off stays in `DIR/truncated-<seq>-<n>/`.
//!
//! After it, the segment holding the cut is the newest and appending
//! resumes at the cut sequence. A crash part way leaves the journal either
//! uncut (run it again) or cut.
//!
//! Files: this one plans (types, where to cut, what it discards); `walk`
//! finds the first damage in sequence order; `cut` executes a plan.

mod cut;
mod walk;

pub use cut::truncate;

use crate::chain::Folder;
use crate::layout::Layout;
use crate::naming;
use crate::segment;
use crate::JournalError;
use std::path::{Path, PathBuf};
use walk::{count_valid_from, first_damage, Found};

/// Where to cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncateAt {
    /// Discard this sequence and every later one; the next append gets it.
    Seq(u64),
    /// Cut at the first place, in sequence order, where the journal stops
    /// being a clean log: a missing or unreadable segment, an invalid record
    /// in a closed segment, a closed segment that no longer matches its
    /// seal, or in the newest segment a damaged record or any non-zero byte
    /// after the last record.
    FirstDamage,
}

/// What a cut would do, for the operator to confirm; `truncate` executes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatePlan {
    pub at: TruncateAt,
    pub dir: PathBuf,
    /// The first sequence cut off; appending resumes here.
    pub seq_cut: u64,
    /// Why here: the damage found, or the sequence asked for.
    pub reason: String,
    /// The segment that will hold the cut (rewritten plain, as the newest).
    pub segment: PathBuf,
    /// That segment's file as found (plain or compressed), if there is one.
    pub segment_before: Option<PathBuf>,
    /// Byte offset in `segment` from which every byte becomes zero.
    pub offset: u64,
    /// Valid records at or after the cut, which are discarded.
    pub records_discarded: u64,
    /// First and last sequence among them.
    pub seq_discarded: Option<(u64, u64)>,
    /// Later segment files, moved aside.
    pub later_segments: Vec<PathBuf>,
    /// True when the journal already ends cleanly at the cut: nothing changes.
    pub nothing_to_cut: bool,
}

impl std::fmt::Display for TruncatePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.nothing_to_cut {
            return write!(
                f,
                "journal {}: nothing to cut, it ends cleanly at sequence {} ({})",
                self.dir.display(),
                self.seq_cut,
                self.reason
            );
        }
        write!(
            f,
            "journal {}: cut at sequence {} ({}). {} keeps the records before it; every byte from offset {} on becomes zero. {} valid record(s) discarded",
            self.dir.display(),
            self.seq_cut,
            self.reason,
            self.segment.display(),
            self.offset,
            self.records_discarded
        )?;
        if let Some((first, last)) = self.seq_discarded {
            write!(f, " (sequences {first}..={last})")?;
        }
        write!(
            f,
            "; {} later segment file(s) moved aside. Appending resumes at sequence {}.",
            self.later_segments.len(),
            self.seq_cut
        )
    }
}

/// What `truncate` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncateReport {
    pub plan: TruncatePlan,
    /// Where the original of the cut segment and every later segment went
    /// (`None` when nothing was cut).
    pub aside_dir: Option<PathBuf>,
}

/// The journal, its geometry and its first sequence.
struct Context {
    folder: Folder,
    layout: Layout,
    seq_origin: u64,
}

fn context(dir: &Path) -> Result<Context, JournalError> {
    let folder = Folder::load(dir)?;
    if folder.segments.is_empty() {
        return Err(JournalError::NoJournal {
            path: dir.to_path_buf(),
            reason: "the folder holds no segment file: nothing to cut".into(),
        });
    }
    let layout = folder
        .segments
        .iter()
        .find_map(|listed| {
            let open = segment::open_listed(listed).ok()?;
            Layout::of_header(&open.header, &open.path).ok()
        })
        .ok_or_else(|| JournalError::Damaged {
            path: dir.to_path_buf(),
            reason: "no segment has a readable header: the journal's geometry is unknown".into(),
            remedy: "restore the segment files from a backup".into(),
        })?;
    let seq_origin = folder.seq_origin().expect("segments are present");
    Ok(Context {
        folder,
        layout,
        seq_origin,
    })
}

/// Plans a cut of the journal in `dir`; changes nothing.
pub fn plan_truncate(dir: &Path, at: TruncateAt) -> Result<TruncatePlan, JournalError> {
    let ctx = context(dir)?;
    let mut buffer = Vec::new();
    let found = first_damage(&ctx, &mut buffer)?;
    let seq_first_live = ctx.folder.segments[0].seq_first;
    let (seq_cut, reason, clean_end) = match (at, found) {
        (TruncateAt::FirstDamage, Found::Damage { seq_cut, reason }) => (seq_cut, reason, None),
        (TruncateAt::FirstDamage, Found::CleanEnd { seq_end }) => {
            (seq_end, "no damage found".to_string(), Some(seq_end))
        }
        (TruncateAt::Seq(seq), found) => {
            let clean_end = match found {
                Found::CleanEnd { seq_end } if seq <= seq_end => Some(seq_end),
                Found::Damage { seq_cut, .. } if seq <= seq_cut => None,
                Found::CleanEnd { seq_end } => return Err(cut_refused(dir, format!("sequence {seq} is past the end of the journal (the next sequence is {seq_end})"))),
                Found::Damage { seq_cut, reason } => return Err(cut_refused(dir, format!("the journal is damaged before sequence {seq}, at {seq_cut} ({reason}): cut there or earlier"))),
            };
            if seq < seq_first_live {
                return Err(cut_refused(dir, format!("sequence {seq} precedes the first live segment, which starts at {seq_first_live}")));
            }
            (seq, format!("cut asked at sequence {seq}"), clean_end)
        }
    };
    plan_cut(&ctx, at, seq_cut, reason, clean_end, &mut buffer)
}

fn cut_refused(dir: &Path, reason: String) -> JournalError {
    JournalError::Damaged {
        path: dir.to_path_buf(),
        reason: format!("cannot cut there: {reason}"),
        remedy: format!(
            "see where the journal ends and what is damaged with `genesis journal verify {}`",
            dir.display()
        ),
    }
}

/// The plan for a cut at `seq_cut`; `clean_end` is where the log ends when it has no damage.
fn plan_cut(
    ctx: &Context,
    at: TruncateAt,
    seq_cut: u64,
    reason: String,
    clean_end: Option<u64>,
    buffer: &mut Vec<u8>,
) -> Result<TruncatePlan, JournalError> {
    let dir = &ctx.folder.dir;
    let slots = ctx.layout.slots_per_segment;
    let holder = ctx.seq_origin + (seq_cut - ctx.seq_origin) / slots * slots;
    let segments = &ctx.folder.segments;
    let segment_before = segments
        .iter()
        .find(|s| s.seq_first == holder)
        .map(|s| s.path.clone());
    let later_segments: Vec<PathBuf> = segments
        .iter()
        .filter(|s| s.seq_first > holder)
        .map(|s| s.path.clone())
        .collect();
    let (records_discarded, seq_discarded) = count_valid_from(ctx, seq_cut, buffer)?;
    let holder_is_compressed = segments
        .iter()
        .any(|s| s.seq_first == holder && s.compressed);
    Ok(TruncatePlan {
        at,
        dir: dir.clone(),
        seq_cut,
        reason,
        segment: naming::segment_path(dir, holder),
        segment_before,
        offset: ctx.layout.slot_offset(seq_cut - holder),
        records_discarded,
        seq_discarded,
        // At a clean end the holder is the newest segment (plain), or the
        // one after a full newest, which does not exist yet.
        nothing_to_cut: clean_end == Some(seq_cut)
            && later_segments.is_empty()
            && !holder_is_compressed,
        later_segments,
    })
}
