//! The seal log, `SEALS`: one seal per closed segment, written when the
//! segment closes, so that opening a journal can check every closed
//! segment without judging it record by record.
//!
//! Threads: the writer's preallocating helper appends a seal after each
//! rollover (see `crate::prealloc`); `Writer::open` and `truncate` read it
//! and may rewrite it whole, all under the folder lock. `verify` and
//! `archive` only read it (a torn last entry reads as absent).
//!
//! A seal records the segment's first and last sequence, its record count,
//! the CRC32C of its header and of its whole body (every byte after the
//! header). Invariants: a seal is appended only after the sealed segment's
//! data, and the folder entry of the segment after it, are on disk; so a
//! sealed segment always has a successor, and its bytes never change again.
//! Entries are in increasing order of first sequence, one per segment.

use crate::layout::Layout;
use crate::naming;
use crate::JournalError;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// First bytes of a seal log.
pub const SEALS_MAGIC: [u8; 8] = *b"GNSSEALS";
/// The seal log format this build writes and reads.
pub const SEALS_VERSION: u32 = 1;
/// Size of the seal log header and of every seal.
pub const SEAL_BYTES: usize = 64;
const CRC_OFFSET: usize = SEAL_BYTES - 4;

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Stores the CRC32C of bytes `0..60` in bytes `60..64`.
fn seal_crc(out: &mut [u8; SEAL_BYTES]) {
    let crc = crc32c::crc32c(&out[..CRC_OFFSET]);
    out[CRC_OFFSET..].copy_from_slice(&crc.to_le_bytes());
}

fn crc_ok(bytes: &[u8]) -> bool {
    bytes.len() == SEAL_BYTES && crc32c::crc32c(&bytes[..CRC_OFFSET]) == u32_at(bytes, CRC_OFFSET)
}

/// What a closed segment looked like when it was sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seal {
    pub seq_first: u64,
    /// Records in the segment (every slot: closed segments are full).
    pub records: u64,
    pub seq_last: u64,
    /// CRC32C of every byte after the 64-byte header.
    pub body_crc: u32,
    /// The CRC32C stored in the segment's header.
    pub header_crc: u32,
}

impl Seal {
    pub fn encode(&self) -> [u8; SEAL_BYTES] {
        let mut out = [0u8; SEAL_BYTES];
        out[0..8].copy_from_slice(&self.seq_first.to_le_bytes());
        out[8..16].copy_from_slice(&self.records.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq_last.to_le_bytes());
        out[24..28].copy_from_slice(&self.body_crc.to_le_bytes());
        out[28..32].copy_from_slice(&self.header_crc.to_le_bytes());
        seal_crc(&mut out);
        out
    }

    /// `None` when the entry's CRC does not match.
    pub fn decode(bytes: &[u8]) -> Option<Seal> {
        if !crc_ok(bytes) {
            return None;
        }
        Some(Seal {
            seq_first: u64_at(bytes, 0),
            records: u64_at(bytes, 8),
            seq_last: u64_at(bytes, 16),
            body_crc: u32_at(bytes, 24),
            header_crc: u32_at(bytes, 28),
        })
    }

    /// The seal a full segment of `layout` with this header and body CRC gets.
    pub fn of_full_segment(
        layout: &Layout,
        seq_first: u64,
        header_crc: u32,
        body_crc: u32,
    ) -> Seal {
        Seal {
            seq_first,
            records: layout.slots_per_segment,
            seq_last: seq_first + layout.slots_per_segment - 1,
            body_crc,
            header_crc,
        }
    }
}

/// The seal log header: which journal the seals belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealLogHeader {
    pub record_size_bytes: u32,
    pub segment_size_bytes: u64,
    /// First sequence of the journal.
    pub seq_origin: u64,
}

impl SealLogHeader {
    pub fn encode(&self) -> [u8; SEAL_BYTES] {
        let mut out = [0u8; SEAL_BYTES];
        out[0..8].copy_from_slice(&SEALS_MAGIC);
        out[8..12].copy_from_slice(&SEALS_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&self.record_size_bytes.to_le_bytes());
        out[16..24].copy_from_slice(&self.segment_size_bytes.to_le_bytes());
        out[24..32].copy_from_slice(&self.seq_origin.to_le_bytes());
        seal_crc(&mut out);
        out
    }

    fn decode(bytes: &[u8]) -> Result<SealLogHeader, String> {
        if bytes.len() < SEAL_BYTES {
            return Err(format!("{} bytes, shorter than its header", bytes.len()));
        }
        if bytes[0..8] != SEALS_MAGIC {
            return Err("magic bytes do not match: not a seal log".into());
        }
        if !crc_ok(&bytes[..SEAL_BYTES]) {
            return Err("header CRC32C does not match".into());
        }
        let version = u32_at(bytes, 8);
        if version != SEALS_VERSION {
            return Err(format!("version {version} is unknown to this build"));
        }
        Ok(SealLogHeader {
            record_size_bytes: u32_at(bytes, 12),
            segment_size_bytes: u64_at(bytes, 16),
            seq_origin: u64_at(bytes, 24),
        })
    }
}

/// A seal log as read from disk.
#[derive(Clone, Debug)]
pub(crate) struct SealLog {
    pub header: SealLogHeader,
    pub seals: BTreeMap<u64, Seal>,
    /// The last entry was cut short or failed its CRC with nothing after
    /// it: an append a crash interrupted. It is ignored (and dropped at
    /// the next rewrite); the segment it was sealing counts as unsealed.
    pub torn: bool,
}

/// What `load` found.
pub(crate) enum Loaded {
    /// No seal log: a new journal, or one written before seals existed.
    Missing,
    /// The file cannot be trusted (bad header, a bad entry followed by
    /// others, entries out of order); the reason says which.
    Damaged(String),
    Found(SealLog),
}

pub(crate) fn seals_path(dir: &Path) -> PathBuf {
    dir.join(naming::SEALS_FILE_NAME)
}

/// Reads `DIR/SEALS`.
pub(crate) fn load(dir: &Path) -> Result<Loaded, JournalError> {
    let path = seals_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(JournalError::io(&path, "read seal log")(e)),
    };
    Ok(parse(&bytes))
}

fn parse(bytes: &[u8]) -> Loaded {
    let header = match SealLogHeader::decode(bytes) {
        Ok(header) => header,
        Err(reason) => return Loaded::Damaged(reason),
    };
    let mut seals = BTreeMap::new();
    let mut torn = false;
    let entries = &bytes[SEAL_BYTES..];
    for (index, entry) in entries.chunks(SEAL_BYTES).enumerate() {
        let offset = SEAL_BYTES * (index + 1);
        let rest_zero = bytes[offset..].iter().all(|&b| b == 0);
        let Some(seal) = Seal::decode(entry) else {
            if rest_zero || entries.len() - index * SEAL_BYTES <= SEAL_BYTES {
                torn = !rest_zero;
                break;
            }
            return Loaded::Damaged(format!(
                "entry at byte offset {offset} fails its CRC32C and more entries follow"
            ));
        };
        let in_order = seals
            .last_key_value()
            .is_none_or(|(&last, _)| last < seal.seq_first);
        if !in_order {
            return Loaded::Damaged(format!(
                "entry at byte offset {offset} seals sequence {} out of order",
                seal.seq_first
            ));
        }
        seals.insert(seal.seq_first, seal);
    }
    Loaded::Found(SealLog {
        header,
        seals,
        torn,
    })
}

/// Writes a whole seal log under a temporary name, syncs it, and renames it
/// over `DIR/SEALS` (then syncs the folder): a crash leaves the old or the new.
pub(crate) fn rewrite<'a>(
    dir: &Path,
    header: &SealLogHeader,
    seals: impl Iterator<Item = &'a Seal>,
) -> Result<(), JournalError> {
    let path = seals_path(dir);
    let tmp = dir.join(format!(".{}.tmp", naming::SEALS_FILE_NAME));
    let mut bytes = header.encode().to_vec();
    for seal in seals {
        bytes.extend_from_slice(&seal.encode());
    }
    let io = |op| JournalError::io(&tmp, op);
    let mut file = File::create(&tmp).map_err(io("create seal log"))?;
    file.write_all(&bytes).map_err(io("write seal log"))?;
    file.sync_all().map_err(io("fsync seal log"))?;
    std::fs::rename(&tmp, &path).map_err(JournalError::io(&path, "rename seal log into place"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir, "fsync folder"))
}

/// Opens `DIR/SEALS` for appending (the log must exist and end on a whole entry).
pub(crate) fn open_for_append(dir: &Path) -> Result<File, JournalError> {
    let path = seals_path(dir);
    OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(JournalError::io(&path, "open seal log"))
}

/// Appends one seal, and syncs it when `sync`.
pub(crate) fn append(
    file: &mut File,
    path: &Path,
    seal: &Seal,
    sync: bool,
) -> Result<(), JournalError> {
    file.write_all(&seal.encode())
        .map_err(JournalError::io(path, "append to seal log"))?;
    if sync {
        file.sync_data()
            .map_err(JournalError::io(path, "fdatasync seal log"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SealLogHeader {
        SealLogHeader {
            record_size_bytes: 24,
            segment_size_bytes: 1024,
            seq_origin: 1,
        }
    }

    fn seal(seq_first: u64) -> Seal {
        Seal {
            seq_first,
            records: 10,
            seq_last: seq_first + 9,
            body_crc: 7,
            header_crc: 9,
        }
    }

    fn log(seals: &[Seal]) -> Vec<u8> {
        let mut bytes = header().encode().to_vec();
        for seal in seals {
            bytes.extend_from_slice(&seal.encode());
        }
        bytes
    }

    // Seals round-trip, in order.
    #[test]
    fn seals_round_trip() {
        let Loaded::Found(found) = parse(&log(&[seal(1), seal(11)])) else {
            panic!("not found")
        };
        assert_eq!(found.header, header());
        assert_eq!(
            found.seals.values().copied().collect::<Vec<_>>(),
            [seal(1), seal(11)]
        );
        assert!(!found.torn);
    }

    // An append cut short by a crash is a torn tail: the seals before it stand.
    #[test]
    fn torn_last_entry_is_ignored() {
        let mut bytes = log(&[seal(1), seal(11)]);
        bytes.truncate(bytes.len() - 10);
        let Loaded::Found(found) = parse(&bytes) else {
            panic!("not found")
        };
        assert_eq!(found.seals.len(), 1);
        assert!(found.torn);
    }

    // A bad entry with good ones after it is damage, not a torn tail.
    #[test]
    fn bad_entry_mid_log_is_damage() {
        let mut bytes = log(&[seal(1), seal(11), seal(21)]);
        bytes[SEAL_BYTES + 3] ^= 1;
        assert!(matches!(parse(&bytes), Loaded::Damaged(reason) if reason.contains("offset 64")));
    }

    // Entries out of order are damage.
    #[test]
    fn out_of_order_is_damage() {
        assert!(matches!(
            parse(&log(&[seal(11), seal(1)])),
            Loaded::Damaged(_)
        ));
    }
}
