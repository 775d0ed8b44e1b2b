//! Opening a named segment file and checking that it is what its name and
//! header say: a version-2 header, the first sequence of its name, and the
//! full size its header declares.

use crate::scan;
use crate::segment_header::SegmentHeader;
use crate::JournalError;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// A segment file open for reading (or writing, for the writer).
pub(crate) struct OpenSegment {
    pub file: File,
    pub path: PathBuf,
    pub header: SegmentHeader,
}

/// Opens `path`, which the folder listing named for `seq_first_named`.
pub(crate) fn open_segment(
    path: &Path,
    seq_first_named: u64,
    writable: bool,
) -> Result<OpenSegment, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .map_err(JournalError::io(path, "open segment"))?;
    let header = scan::read_header(&file, path)?;
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
    let file_len_bytes = file
        .metadata()
        .map_err(JournalError::io(path, "stat segment"))?
        .len();
    if file_len_bytes != header.segment_size_bytes {
        return Err(layout_error(format!(
            "file is {file_len_bytes} bytes, its header says segments are {} bytes",
            header.segment_size_bytes
        )));
    }
    Ok(OpenSegment {
        file,
        path: path.to_path_buf(),
        header,
    })
}
