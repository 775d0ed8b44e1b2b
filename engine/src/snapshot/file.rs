//! One snapshot file: a 64-byte header, then the stage state (`replay::state`).
//!
//! ```text
//! offset size field
//!      0    8 magic "GNSSNAP\0"
//!      8    4 format_version (1)
//!     12    4 header_bytes (64)
//!     16    8 seq: the state is the stages' after the journal's record `seq`
//!     24    8 run_seq_first: the run whose stages (and config) the state is in
//!     32    8 fingerprint: instruments, their grids and the strategy (see `fingerprint`)
//!     40    8 payload_bytes
//!     48    4 payload_crc32c (Castagnoli, as the journal's frames)
//!     52    4 event_crc32c: CRC32C of the journal's record `seq` payload (0 when seq is 0)
//!     56    4 reserved, zero
//!     60    4 header_crc32c over bytes 0..60
//! ```
//! All integers little endian. Written atomically: a temporary file created
//! with mode 0600, written, `fsync`ed, renamed to `snapshot-<seq, 20 digits>.gsnap`,
//! then the folder `fsync`ed; a crash leaves the old set or the new one,
//! never half a file under a snapshot's name. Reading checks everything
//! the file alone can prove and names the first thing wrong.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const SNAPSHOT_MAGIC: [u8; 8] = *b"GNSSNAP\0";
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
pub const SNAPSHOT_HEADER_BYTES: usize = 64;
pub const SNAPSHOT_EXTENSION: &str = "gsnap";
/// Largest payload a reader accepts (bounds what a damaged length allocates).
pub const SNAPSHOT_PAYLOAD_BYTES_MAX: u64 = 1 << 30;

/// What a snapshot's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub seq: u64,
    pub run_seq_first: u64,
    pub fingerprint: u64,
    pub payload_bytes: u64,
    pub payload_crc32c: u32,
    pub event_crc32c: u32,
}

/// A snapshot read whole, its header and payload checked.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub path: PathBuf,
    pub header: SnapshotHeader,
    pub payload: Vec<u8>,
}

/// Why a snapshot is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("cannot be read: {0}")]
    Io(String),
    #[error("is not a Genesis snapshot (magic bytes differ)")]
    NotASnapshot,
    #[error("has format version {0}; this build reads version {SNAPSHOT_FORMAT_VERSION}")]
    Version(u32),
    #[error("has a damaged header (CRC32C mismatch)")]
    HeaderCrc,
    #[error("is truncated: {found} of {expected} bytes")]
    Truncated { expected: u64, found: u64 },
    #[error("has a damaged payload (CRC32C mismatch)")]
    PayloadCrc,
    #[error("was written for other instruments or another strategy (fingerprint {found:016x}; the run starting at {run} has {expected:016x})")]
    Fingerprint { run: u64, expected: u64, found: u64 },
    #[error("belongs to a run starting at {0}, which this journal does not record")]
    UnknownRun(u64),
    #[error("is at sequence {seq}, outside its run (sequences {run_first}..={run_last})")]
    OutsideRun {
        seq: u64,
        run_first: u64,
        run_last: u64,
    },
    #[error("is at sequence {seq}, past the journal's last record {journal_last} (records were lost after it was written)")]
    AheadOfJournal { seq: u64, journal_last: u64 },
    #[error("does not match the journal's record {0} (the journal was written again after it)")]
    JournalMismatch(u64),
    #[error("holds state that does not restore: {0}")]
    State(String),
}

/// A snapshot and why it is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("snapshot {}: {reason}", path.display())]
pub struct Refused {
    pub path: PathBuf,
    pub reason: Refusal,
}

/// `DIR/snapshot-<seq, 20 digits>.gsnap`.
pub fn snapshot_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("snapshot-{seq:020}.{SNAPSHOT_EXTENSION}"))
}

/// The sequence a snapshot's file name claims.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix("snapshot-")?
        .strip_suffix(SNAPSHOT_EXTENSION)?
        .strip_suffix('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header's bytes, its CRC computed.
pub fn encode_header(header: &SnapshotHeader) -> [u8; SNAPSHOT_HEADER_BYTES] {
    let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
    bytes[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    bytes[8..12].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    bytes[12..16].copy_from_slice(&(SNAPSHOT_HEADER_BYTES as u32).to_le_bytes());
    bytes[16..24].copy_from_slice(&header.seq.to_le_bytes());
    bytes[24..32].copy_from_slice(&header.run_seq_first.to_le_bytes());
    bytes[32..40].copy_from_slice(&header.fingerprint.to_le_bytes());
    bytes[40..48].copy_from_slice(&header.payload_bytes.to_le_bytes());
    bytes[48..52].copy_from_slice(&header.payload_crc32c.to_le_bytes());
    bytes[52..56].copy_from_slice(&header.event_crc32c.to_le_bytes());
    seal_header(&mut bytes);
    bytes
}

/// Writes the header CRC over bytes 0..60 (tests forge headers with it).
pub fn seal_header(bytes: &mut [u8; SNAPSHOT_HEADER_BYTES]) {
    let crc = crc32c::crc32c(&bytes[0..60]);
    bytes[60..64].copy_from_slice(&crc.to_le_bytes());
}

/// Reads a header, checking magic, version, size and CRC.
pub fn decode_header(bytes: &[u8; SNAPSHOT_HEADER_BYTES]) -> Result<SnapshotHeader, Refusal> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if bytes[0..8] != SNAPSHOT_MAGIC {
        return Err(Refusal::NotASnapshot);
    }
    if crc32c::crc32c(&bytes[0..60]) != u32_at(60) {
        return Err(Refusal::HeaderCrc);
    }
    let version = u32_at(8);
    if version != SNAPSHOT_FORMAT_VERSION || u32_at(12) as usize != SNAPSHOT_HEADER_BYTES {
        return Err(Refusal::Version(version));
    }
    Ok(SnapshotHeader {
        seq: u64_at(16),
        run_seq_first: u64_at(24),
        fingerprint: u64_at(32),
        payload_bytes: u64_at(40),
        payload_crc32c: u32_at(48),
        event_crc32c: u32_at(52),
    })
}

/// Reads a snapshot's header only.
pub fn read_header(path: &Path) -> Result<SnapshotHeader, Refusal> {
    use std::io::Read;
    let mut file = File::open(path).map_err(|e| Refusal::Io(e.to_string()))?;
    let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
    let mut read = 0;
    while read < bytes.len() {
        match file.read(&mut bytes[read..]) {
            Ok(0) => break,
            Ok(count) => read += count,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Refusal::Io(e.to_string())),
        }
    }
    if read < bytes.len() {
        return Err(Refusal::Truncated {
            expected: SNAPSHOT_HEADER_BYTES as u64,
            found: read as u64,
        });
    }
    decode_header(&bytes)
}

/// Reads a snapshot and checks what the file alone can prove.
pub fn read_snapshot(path: &Path) -> Result<Snapshot, Refused> {
    let refused = |reason| Refused {
        path: path.to_path_buf(),
        reason,
    };
    let header = read_header(path).map_err(refused)?;
    if header.payload_bytes > SNAPSHOT_PAYLOAD_BYTES_MAX {
        return Err(refused(Refusal::Truncated {
            expected: header.payload_bytes,
            found: 0,
        }));
    }
    let bytes = std::fs::read(path).map_err(|e| refused(Refusal::Io(e.to_string())))?;
    let expected = SNAPSHOT_HEADER_BYTES as u64 + header.payload_bytes;
    if bytes.len() as u64 != expected {
        return Err(refused(Refusal::Truncated {
            expected,
            found: bytes.len() as u64,
        }));
    }
    let payload = bytes[SNAPSHOT_HEADER_BYTES..].to_vec();
    if crc32c::crc32c(&payload) != header.payload_crc32c {
        return Err(refused(Refusal::PayloadCrc));
    }
    Ok(Snapshot {
        path: path.to_path_buf(),
        header,
        payload,
    })
}

/// Creates `dir` (mode 0700) if it is missing.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (mode
/// 0600), fsync, rename, then the folder's fsync.
pub fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// What a snapshot stands for: the header's fields but the payload's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub seq: u64,
    pub run_seq_first: u64,
    pub fingerprint: u64,
    pub event_crc32c: u32,
}

/// The journal's end state, as a snapshot of the last run that journaled.
/// Labelled with that run (not the new one), it stays valid whatever the
/// new run does, even if it dies before journaling anything.
#[derive(Clone, Debug)]
pub struct StartSnapshot {
    pub meta: SnapshotMeta,
    pub payload: Vec<u8>,
}

/// Writes a snapshot of `payload` into `dir`; returns its path.
pub fn write_snapshot(dir: &Path, meta: &SnapshotMeta, payload: &[u8]) -> std::io::Result<PathBuf> {
    create_dir(dir)?;
    let header = SnapshotHeader {
        seq: meta.seq,
        run_seq_first: meta.run_seq_first,
        fingerprint: meta.fingerprint,
        payload_bytes: payload.len() as u64,
        payload_crc32c: crc32c::crc32c(payload),
        event_crc32c: meta.event_crc32c,
    };
    let path = snapshot_path(dir, meta.seq);
    write_atomically(&path, &[&encode_header(&header), payload])?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A written snapshot reads back; every kind of damage is named.
    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SnapshotMeta {
            seq: 42,
            run_seq_first: 7,
            fingerprint: 0xfeed,
            event_crc32c: 9,
        };
        let path = write_snapshot(dir.path(), &meta, b"state bytes").unwrap();
        assert_eq!(
            path.file_name().unwrap(),
            "snapshot-00000000000000000042.gsnap"
        );
        let mode = std::fs::metadata(&path).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
        let snapshot = read_snapshot(&path).unwrap();
        assert_eq!(
            (snapshot.header.seq, snapshot.header.run_seq_first),
            (42, 7)
        );
        assert_eq!(snapshot.payload, b"state bytes");
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000042.gsnap"),
            Some(42)
        );

        let good = std::fs::read(&path).unwrap();
        let damaged = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut bytes = good.clone();
            edit(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            read_snapshot(&path).unwrap_err().reason
        };
        assert_eq!(damaged(&|b| b[70] ^= 1), Refusal::PayloadCrc);
        assert_eq!(damaged(&|b| b[20] ^= 1), Refusal::HeaderCrc);
        assert_eq!(damaged(&|b| b[0] = b'X'), Refusal::NotASnapshot);
        assert!(matches!(
            damaged(&|b| b.truncate(70)),
            Refusal::Truncated { .. }
        ));
        assert!(matches!(
            damaged(&|b| b.truncate(10)),
            Refusal::Truncated { .. }
        ));
        let version = damaged(&|b| {
            b[8] = 2;
            let mut header: [u8; 64] = b[..64].try_into().unwrap();
            seal_header(&mut header);
            b[..64].copy_from_slice(&header);
        });
        assert_eq!(version, Refusal::Version(2));
    }
}
