//! The archive boundary, `ARCHIVED`: the first sequence still in the live
//! folder after `archive` moved older segments out on purpose.
//!
//! Without it a journal whose first segments were archived could not be
//! told apart from one whose first segments were deleted. Written only by
//! `archive` (which runs beside a live writer, so it never touches the
//! seal log), before it moves anything out: the boundary may run ahead of
//! the files, never behind. Read by `Writer::open`, `verify` and `truncate`.
//!
//! 32 bytes: magic `GNSARCHV`, version u32 (1), reserved u32, the first
//! live sequence u64, reserved u32, CRC32C of the bytes before it.

use crate::naming;
use crate::JournalError;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"GNSARCHV";
const VERSION: u32 = 1;
const BYTES: usize = 32;

pub(crate) fn boundary_path(dir: &Path) -> PathBuf {
    dir.join(naming::ARCHIVED_FILE_NAME)
}

fn encode(seq_first_live: u64) -> [u8; BYTES] {
    let mut out = [0u8; BYTES];
    out[0..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out[16..24].copy_from_slice(&seq_first_live.to_le_bytes());
    let crc = crc32c::crc32c(&out[..BYTES - 4]);
    out[BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != BYTES || bytes[0..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[BYTES - 4..].try_into().expect("4 bytes"));
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if crc != crc32c::crc32c(&bytes[..BYTES - 4]) || version != VERSION {
        return None;
    }
    Some(u64::from_le_bytes(
        bytes[16..24].try_into().expect("8 bytes"),
    ))
}

/// The first sequence still live, if `archive` ever moved segments out.
pub(crate) fn load(dir: &Path) -> Result<Option<u64>, JournalError> {
    let path = boundary_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(JournalError::io(&path, "read archive boundary")(e)),
    };
    match decode(&bytes) {
        Some(seq) => Ok(Some(seq)),
        None => Err(JournalError::Damaged {
            path,
            reason: "the archive boundary file is damaged (bad magic, version or CRC32C)".into(),
            remedy: "it names the first sequence still in the live folder after `genesis journal archive` moved older segments out; run `genesis journal archive` again to rewrite it, or remove it if no segment was ever archived".into(),
        }),
    }
}

/// Records that segments before `seq_first_live` are moved out (never lowers it).
pub(crate) fn raise(dir: &Path, seq_first_live: u64) -> Result<(), JournalError> {
    if load(dir)?.is_some_and(|current| current >= seq_first_live) {
        return Ok(());
    }
    let path = boundary_path(dir);
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        naming::ARCHIVED_FILE_NAME,
        std::process::id()
    ));
    let io = |op| JournalError::io(&tmp, op);
    let mut file = File::create(&tmp).map_err(io("create archive boundary"))?;
    file.write_all(&encode(seq_first_live))
        .map_err(io("write archive boundary"))?;
    file.sync_all().map_err(io("fsync archive boundary"))?;
    std::fs::rename(&tmp, &path).map_err(JournalError::io(&path, "rename archive boundary"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io(dir, "fsync folder"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The boundary only ever rises, and a damaged file is an error naming it.
    #[test]
    fn boundary_rises_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        raise(dir.path(), 21).unwrap();
        raise(dir.path(), 11).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(21));
        let path = boundary_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[17] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ARCHIVED") && err.contains("damaged"), "{err}");
    }
}
