//! Opening a segment file and checking that it is what its name and header
//! say: a known header version, the first sequence of its name, and the
//! full size its header declares. Plain segments open as files (the writer
//! needs one); listed segments, plain or compressed, open as a
//! [`SegmentSource`] for readers.

use crate::naming::SegmentFile;
use crate::scan;
use crate::segment_header::SegmentHeader;
use crate::source::{GzSource, SegmentSource};
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// A segment open for reading.
pub(crate) struct OpenSegment {
    pub source: SegmentSource,
    pub path: PathBuf,
    pub header: SegmentHeader,
}

/// Opens the plain segment `path`, which the folder listing named for
/// `seq_first_named`, and checks its header and size.
pub(crate) fn open_plain(
    path: &Path,
    seq_first_named: u64,
    writable: bool,
) -> Result<(File, SegmentHeader), JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .map_err(JournalError::io(path, "open segment"))?;
    let header = scan::read_header(&file, path)?;
    let len_bytes = file
        .metadata()
        .map_err(JournalError::io(path, "stat segment"))?
        .len();
    check_named(path, &header, seq_first_named, len_bytes, false)?;
    Ok((file, header))
}

/// Opens a listed segment, plain or compressed, for reading.
pub(crate) fn open_listed(segment: &SegmentFile) -> Result<OpenSegment, JournalError> {
    let path = segment.path.as_path();
    if !segment.compressed {
        let (file, header) = open_plain(path, segment.seq_first, false)?;
        return Ok(OpenSegment {
            source: SegmentSource::Plain(file),
            path: path.to_path_buf(),
            header,
        });
    }
    let file = File::open(path).map_err(JournalError::io(path, "open segment"))?;
    let gz = GzSource::open(file).map_err(JournalError::io(path, "open compressed segment"))?;
    let mut source = SegmentSource::Gz(Box::new(gz));
    let header = scan::read_header(&mut source, path)?;
    let len_bytes = source
        .len_bytes()
        .map_err(JournalError::io(path, "stat segment"))?;
    check_named(path, &header, segment.seq_first, len_bytes, true)?;
    Ok(OpenSegment {
        source,
        path: path.to_path_buf(),
        header,
    })
}

/// The header must carry the name's first sequence, and the file (or, for
/// gzip, its trailer, modulo 2^32) the size the header declares.
fn check_named(
    path: &Path,
    header: &SegmentHeader,
    seq_first_named: u64,
    len_bytes: u64,
    len_is_modular: bool,
) -> Result<(), JournalError> {
    let layout_error = |reason: String| JournalError::Layout {
        path: path.to_path_buf(),
        reason,
    };
    if header.seq_first != seq_first_named {
        return Err(layout_error(format!(
            "header says the first sequence is {}, the file name says {seq_first_named}",
            header.seq_first
        )));
    }
    let expected = if len_is_modular {
        header.segment_size_bytes & u64::from(u32::MAX)
    } else {
        header.segment_size_bytes
    };
    if len_bytes != expected {
        return Err(layout_error(format!(
            "{} is {len_bytes} bytes, its header says segments are {} bytes",
            if len_is_modular {
                "the uncompressed segment (gzip trailer)"
            } else {
                "file"
            },
            header.segment_size_bytes
        )));
    }
    Ok(())
}
