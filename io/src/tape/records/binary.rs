//! The compact binary tape: [`TapeRecord`]s as fixed 48-byte records
//! behind a header naming the instruments, what `genesis tape convert`
//! writes so that a tape is parsed once and replayed many times.
//!
//! Layout (little endian):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | magic `GNSTAPE\n` |
//! | 8 | 4 | format version, 1 |
//! | 12 | 4 | record size, 48 |
//! | 16 | 4 | instrument count |
//! | 20 | 4 | header size in bytes (a multiple of 8), where records start |
//! | 24 | … | per instrument: symbol, tick size, lot size, each a u16 length and its bytes; zero padding to the header size |
//!
//! A record: `ts_local_ns` u64, `ts_exchange_ns` u64, `price` i64, `qty` i64,
//! `trade_id` u64, `instrument` u16, `kind` u8, `flags` u8, 4 zero bytes.
//!
//! Owning thread: the reader's or writer's. Invariants: the reader refuses,
//! naming the file and byte offset, a bad magic or version, a record cut
//! short, a kind, flag or instrument that is not valid, nonzero reserved
//! bytes, a negative price or quantity, and a `ts_local_ns` before the
//! previous record's; a tape whose
//! instruments differ from the ones asked for (same symbol, other grid) is
//! refused at open. Reading does not allocate per record.

use super::{RecordInstrument, RecordKind, TapeRecord, FLAGS_ALL};
use crate::tape::error::{Location, TapeError, TapeErrorKind};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

/// The first eight bytes of every binary tape.
pub const MAGIC: [u8; 8] = *b"GNSTAPE\n";
/// The format version this build reads and writes.
pub const VERSION: u32 = 1;
/// Bytes per record.
pub const RECORD_BYTES: usize = 48;
/// Bytes of the fixed part of the header.
const FIXED_HEADER_BYTES: usize = 24;
/// Read-ahead of the reader: 64 KiB, so the records read in stay in the
/// core's L2 until they are decoded (1 MiB left the first half evicted by
/// the copy of the second: the decode waited on its loads; see
/// `docs/performance.md`, "Fourteenth round: the read-ahead's window").
const READ_BUFFER_BYTES: usize = 1 << 16;

/// Whether `path` starts with the binary tape's magic.
pub fn is_binary_tape(path: &Path) -> Result<bool, TapeError> {
    let mut file = File::open(path).map_err(|e| TapeError::new(path, Location::File, e.into()))?;
    let mut head = [0u8; 8];
    let mut held = 0;
    while held < head.len() {
        match file.read(&mut head[held..]) {
            Ok(0) => break,
            Ok(count) => held += count,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(TapeError::new(path, Location::File, e.into())),
        }
    }
    Ok(held == head.len() && head == MAGIC)
}

/// Encodes one record.
pub fn encode(record: &TapeRecord, out: &mut [u8; RECORD_BYTES]) {
    out[0..8].copy_from_slice(&record.ts_local_ns.to_le_bytes());
    out[8..16].copy_from_slice(&record.ts_exchange_ns.to_le_bytes());
    out[16..24].copy_from_slice(&record.price.to_le_bytes());
    out[24..32].copy_from_slice(&record.qty.to_le_bytes());
    out[32..40].copy_from_slice(&record.trade_id.to_le_bytes());
    out[40..42].copy_from_slice(&record.instrument.to_le_bytes());
    out[42] = record.kind as u8;
    out[43] = record.flags;
    out[44..48].fill(0);
}

/// Decodes one record, or says which field is wrong.
pub fn decode(bytes: &[u8; RECORD_BYTES]) -> Result<TapeRecord, &'static str> {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let kind = RecordKind::from_u8(bytes[42]).ok_or("kind")?;
    if bytes[43] & !FLAGS_ALL != 0 {
        return Err("flags");
    }
    if bytes[44..48] != [0; 4] {
        return Err("reserved bytes");
    }
    // A converted tape never holds a negative price or quantity (the
    // Tardis reader refuses them); one here is a damaged file, and the
    // venue's queue arithmetic assumes neither.
    let (price, qty) = (word(16) as i64, word(24) as i64);
    if price < 0 {
        return Err("price (negative)");
    }
    if qty < 0 {
        return Err("qty (negative)");
    }
    Ok(TapeRecord {
        ts_local_ns: word(0),
        ts_exchange_ns: word(8),
        price,
        qty,
        trade_id: word(32),
        instrument: u16::from_le_bytes([bytes[40], bytes[41]]),
        kind,
        flags: bytes[43],
    })
}

/// Writes a binary tape.
pub struct BinaryTapeWriter<W: Write> {
    out: W,
    records_written: u64,
    instrument_count: u16,
}

impl BinaryTapeWriter<BufWriter<File>> {
    /// Creates (or truncates) `path`, naming `instruments` in its header.
    pub fn create(
        path: &Path,
        instruments: &[RecordInstrument],
    ) -> io::Result<BinaryTapeWriter<BufWriter<File>>> {
        BinaryTapeWriter::new(
            BufWriter::with_capacity(1 << 20, File::create(path)?),
            instruments,
        )
    }
}

impl<W: Write> BinaryTapeWriter<W> {
    /// Writes the header for `instruments` into `out`.
    pub fn new(mut out: W, instruments: &[RecordInstrument]) -> io::Result<BinaryTapeWriter<W>> {
        let instrument_count = u16::try_from(instruments.len())
            .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "more than 65535 instruments"))?;
        let mut table = Vec::new();
        for instrument in instruments {
            for text in [
                &instrument.symbol,
                &instrument.tick_size,
                &instrument.lot_size,
            ] {
                let length = u16::try_from(text.len()).map_err(|_| {
                    io::Error::new(ErrorKind::InvalidInput, format!("{text:?} is too long"))
                })?;
                table.extend_from_slice(&length.to_le_bytes());
                table.extend_from_slice(text.as_bytes());
            }
        }
        let header_bytes = (FIXED_HEADER_BYTES + table.len()).next_multiple_of(8);
        table.resize(header_bytes - FIXED_HEADER_BYTES, 0);
        out.write_all(&MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&(RECORD_BYTES as u32).to_le_bytes())?;
        out.write_all(&u32::from(instrument_count).to_le_bytes())?;
        out.write_all(&(header_bytes as u32).to_le_bytes())?;
        out.write_all(&table)?;
        Ok(BinaryTapeWriter {
            out,
            records_written: 0,
            instrument_count,
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &TapeRecord) -> io::Result<()> {
        if record.instrument >= self.instrument_count {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "record of instrument {} in a tape of {}",
                    record.instrument, self.instrument_count
                ),
            ));
        }
        let mut bytes = [0u8; RECORD_BYTES];
        encode(record, &mut bytes);
        self.records_written += 1;
        self.out.write_all(&bytes)
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.records_written
    }

    /// Flushes and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// One open binary tape file.
struct BinaryFile {
    path: PathBuf,
    input: BufReader<File>,
    /// Offset of the next record.
    offset: u64,
    /// Tape instrument index → index asked for.
    index_map: Vec<u16>,
    last_ts_local_ns: u64,
}

impl BinaryFile {
    fn open(path: &Path, wanted: &[RecordInstrument]) -> Result<BinaryFile, TapeError> {
        let fail = |location, kind: TapeErrorKind| TapeError::new(path, location, kind);
        let file = File::open(path).map_err(|e| fail(Location::File, e.into()))?;
        let mut input = BufReader::with_capacity(READ_BUFFER_BYTES, file);
        let (header_bytes, instruments) = read_header(&mut input)
            .map_err(|(offset, kind)| fail(Location::Offset(offset), kind))?;
        let index_map = map_instruments(&instruments, wanted).map_err(|message| {
            fail(
                Location::File,
                io::Error::new(ErrorKind::InvalidInput, message).into(),
            )
        })?;
        Ok(BinaryFile {
            path: path.to_path_buf(),
            input,
            offset: header_bytes,
            index_map,
            last_ts_local_ns: 0,
        })
    }

    /// Decodes up to `max` records that lie whole in the read buffer,
    /// each where it lies, handing each to `take`; how many. The buffer is
    /// consumed, and the offset and the last time kept, once for them all.
    /// Stops before a record that is not valid (fewer than whole): the
    /// caller reads it through [`BinaryFile::next_record`], which names
    /// what is wrong and where (the checks are [`BinaryFile::accept`]'s).
    #[inline(always)]
    fn read_buffered(&mut self, max: usize, take: &mut impl FnMut(&TapeRecord)) -> usize {
        let buffer = self.input.buffer();
        let whole = (buffer.len() / RECORD_BYTES).min(max);
        let index_map = self.index_map.as_slice();
        let mut last_ts_local_ns = self.last_ts_local_ns;
        let mut read = 0;
        for bytes in buffer[..whole * RECORD_BYTES].chunks_exact(RECORD_BYTES) {
            let Some(record) = decode_accepted(bytes, index_map, last_ts_local_ns) else {
                break;
            };
            last_ts_local_ns = record.ts_local_ns;
            take(&record);
            read += 1;
        }
        self.input.consume(read * RECORD_BYTES);
        self.offset += (read * RECORD_BYTES) as u64;
        self.last_ts_local_ns = last_ts_local_ns;
        read
    }

    #[inline]
    fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        // Decoded where it lies in the read buffer when that holds a whole
        // record (all but one record in READ_BUFFER_BYTES / RECORD_BYTES).
        if let Some(whole) = self.input.buffer().first_chunk::<RECORD_BYTES>() {
            let decoded = decode(whole);
            self.input.consume(RECORD_BYTES);
            return self.accept(decoded).map(Some);
        }
        let mut bytes = [0u8; RECORD_BYTES];
        let held = read_full(&mut self.input, &mut bytes)
            .map_err(|e| TapeError::new(&self.path, Location::Offset(self.offset), e.into()))?;
        if held == 0 {
            return Ok(None);
        }
        if held < RECORD_BYTES {
            let kind = TapeErrorKind::Truncated {
                needed: RECORD_BYTES,
                available: held,
            };
            return Err(TapeError::new(
                &self.path,
                Location::Offset(self.offset),
                kind,
            ));
        }
        self.accept(decode(&bytes)).map(Some)
    }

    /// Checks a decoded record (its instrument, its time against the one
    /// before) and maps it onto the instruments asked for.
    #[inline(always)]
    fn accept(
        &mut self,
        decoded: Result<TapeRecord, &'static str>,
    ) -> Result<TapeRecord, TapeError> {
        let at = Location::Offset(self.offset);
        let mut record = decoded.map_err(|field| {
            let kind = TapeErrorKind::BadValue {
                expected: "a valid record",
                found: field.to_string(),
            };
            TapeError::new(&self.path, at, kind)
        })?;
        let Some(&index) = self.index_map.get(usize::from(record.instrument)) else {
            let kind = TapeErrorKind::BadValue {
                expected: "an instrument of the header",
                found: record.instrument.to_string(),
            };
            return Err(TapeError::new(&self.path, at, kind));
        };
        if record.ts_local_ns < self.last_ts_local_ns {
            let kind = TapeErrorKind::OutOfOrder {
                previous_ns: self.last_ts_local_ns,
                found_ns: record.ts_local_ns,
            };
            return Err(TapeError::new(&self.path, at, kind));
        }
        self.last_ts_local_ns = record.ts_local_ns;
        record.instrument = index;
        self.offset += RECORD_BYTES as u64;
        Ok(record)
    }
}

/// A record as [`BinaryFile::accept`] takes it (decoded, its instrument
/// in the tape's header and mapped onto the ones asked for, its time not
/// before `last_ts_local_ns`), or None where `accept` would refuse it.
#[inline(always)]
fn decode_accepted(bytes: &[u8], index_map: &[u16], last_ts_local_ns: u64) -> Option<TapeRecord> {
    let mut record = decode(bytes.first_chunk::<RECORD_BYTES>()?).ok()?;
    let index = *index_map.get(usize::from(record.instrument))?;
    if record.ts_local_ns < last_ts_local_ns {
        return None;
    }
    record.instrument = index;
    Some(record)
}

/// Reads until `bytes` is full or the file ends; how many bytes it got.
fn read_full(input: &mut impl Read, bytes: &mut [u8]) -> io::Result<usize> {
    let mut held = 0;
    while held < bytes.len() {
        match input.read(&mut bytes[held..]) {
            Ok(0) => break,
            Ok(count) => held += count,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(held)
}

/// The header's size and instruments, or the offset and what is wrong.
fn read_header(
    input: &mut impl Read,
) -> Result<(u64, Vec<RecordInstrument>), (u64, TapeErrorKind)> {
    let mut fixed = [0u8; FIXED_HEADER_BYTES];
    let held = read_full(input, &mut fixed).map_err(|e| (0, e.into()))?;
    if held < FIXED_HEADER_BYTES {
        return Err((
            0,
            TapeErrorKind::Truncated {
                needed: FIXED_HEADER_BYTES,
                available: held,
            },
        ));
    }
    let u32_at = |at: usize| u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
    let bad = |at: u64, expected: &'static str, found: String| {
        (at, TapeErrorKind::BadValue { expected, found })
    };
    if fixed[0..8] != MAGIC {
        return Err(bad(
            0,
            "the binary tape magic GNSTAPE",
            crate::tape::error::quote(&fixed[0..8]),
        ));
    }
    if u32_at(8) != VERSION {
        return Err(bad(8, "format version 1", u32_at(8).to_string()));
    }
    if u32_at(12) as usize != RECORD_BYTES {
        return Err(bad(12, "record size 48", u32_at(12).to_string()));
    }
    let count = u32_at(16) as usize;
    let header_bytes = u32_at(20) as usize;
    if header_bytes < FIXED_HEADER_BYTES
        || !header_bytes.is_multiple_of(8)
        || count > usize::from(u16::MAX)
    {
        return Err(bad(
            16,
            "an instrument count and header size that fit",
            format!("{count}, {header_bytes}"),
        ));
    }
    let mut table = vec![0u8; header_bytes - FIXED_HEADER_BYTES];
    let held = read_full(input, &mut table).map_err(|e| (FIXED_HEADER_BYTES as u64, e.into()))?;
    if held < table.len() {
        return Err((
            FIXED_HEADER_BYTES as u64,
            TapeErrorKind::Truncated {
                needed: table.len(),
                available: held,
            },
        ));
    }
    let instruments = parse_table(&table, count).ok_or_else(|| {
        bad(
            FIXED_HEADER_BYTES as u64,
            "an instrument table",
            format!("{count} instruments"),
        )
    })?;
    Ok((header_bytes as u64, instruments))
}

/// `count` instruments out of the header's table.
fn parse_table(table: &[u8], count: usize) -> Option<Vec<RecordInstrument>> {
    let mut at = 0;
    let mut text = || -> Option<String> {
        let length = usize::from(u16::from_le_bytes(table.get(at..at + 2)?.try_into().ok()?));
        let bytes = table.get(at + 2..at + 2 + length)?;
        at += 2 + length;
        String::from_utf8(bytes.to_vec()).ok()
    };
    (0..count)
        .map(|_| {
            Some(RecordInstrument {
                symbol: text()?,
                tick_size: text()?,
                lot_size: text()?,
            })
        })
        .collect()
}

/// For each of the tape's instruments, the index of the same one asked for.
fn map_instruments(
    tape: &[RecordInstrument],
    wanted: &[RecordInstrument],
) -> Result<Vec<u16>, String> {
    tape.iter()
        .map(|instrument| {
            let index = wanted
                .iter()
                .position(|w| w.symbol == instrument.symbol)
                .ok_or_else(|| format!("the tape holds {:?}, which the config does not list", instrument.symbol))?;
            let w = &wanted[index];
            if w.tick_size != instrument.tick_size || w.lot_size != instrument.lot_size {
                return Err(format!(
                    "{:?} was converted with tick {} and lot {}, the config says tick {} and lot {}",
                    instrument.symbol, instrument.tick_size, instrument.lot_size, w.tick_size, w.lot_size
                ));
            }
            // The config holds at most 65535 instruments (its ids are u16).
            Ok(index as u16)
        })
        .collect()
}

/// The records of binary tapes, read one file after the other.
pub struct BinaryRecords {
    paths: Vec<PathBuf>,
    wanted: Vec<RecordInstrument>,
    file_index: usize,
    file: Option<BinaryFile>,
    bytes_of_done_files: u64,
}

impl BinaryRecords {
    /// Opens the first of `paths`, mapping its instruments onto `wanted`.
    pub fn open(
        paths: &[PathBuf],
        wanted: &[RecordInstrument],
    ) -> Result<BinaryRecords, TapeError> {
        let first = paths.first().cloned().unwrap_or_default();
        Ok(BinaryRecords {
            file: Some(BinaryFile::open(&first, wanted)?),
            paths: paths.to_vec(),
            wanted: wanted.to_vec(),
            file_index: 0,
            bytes_of_done_files: 0,
        })
    }

    /// The next record, `Ok(None)` after the last file.
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        loop {
            let Some(file) = self.file.as_mut() else {
                return Ok(None);
            };
            if let Some(record) = file.next_record()? {
                return Ok(Some(record));
            }
            self.bytes_of_done_files += file.offset;
            self.file = None;
            self.file_index += 1;
            if let Some(path) = self.paths.get(self.file_index) {
                self.file = Some(BinaryFile::open(path, &self.wanted)?);
            }
        }
    }

    /// Up to `max` records, each handed to `take`; how many (fewer: the
    /// last file ended; an error comes with how many came before it). The
    /// records of `max` calls of
    /// [`BinaryRecords::next_record`]: those whole in the read buffer
    /// decoded in one loop, the rest (a record across a refill, the next
    /// file, the end, a record that is not valid, whose error comes from
    /// there) through `next_record`, out of line.
    #[inline]
    pub fn read_run(
        &mut self,
        max: usize,
        mut take: impl FnMut(&TapeRecord),
    ) -> Result<usize, (usize, TapeError)> {
        let mut count = 0;
        while count < max {
            if let Some(file) = self.file.as_mut() {
                count += file.read_buffered(max - count, &mut take);
                if count == max {
                    break;
                }
            }
            match self
                .next_record_refilled()
                .map_err(|error| (count, error))?
            {
                Some(record) => {
                    take(&record);
                    count += 1;
                }
                None => break,
            }
        }
        Ok(count)
    }

    /// [`BinaryRecords::next_record`] when the buffer holds no whole record.
    #[inline(never)]
    fn next_record_refilled(&mut self) -> Result<Option<TapeRecord>, TapeError> {
        self.next_record()
    }

    /// Bytes of the files read so far.
    pub fn file_bytes_read(&self) -> u64 {
        self.bytes_of_done_files + self.file.as_ref().map_or(0, |f| f.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument(symbol: &str) -> RecordInstrument {
        RecordInstrument {
            symbol: symbol.into(),
            tick_size: "0.1".into(),
            lot_size: "0.001".into(),
        }
    }

    fn record(ts: u64, instrument: u16) -> TapeRecord {
        TapeRecord {
            ts_local_ns: ts,
            ts_exchange_ns: ts - 5,
            price: 420_000,
            qty: 7,
            trade_id: 99,
            instrument,
            kind: RecordKind::TradeSell,
            flags: super::super::CONTINUES,
        }
    }

    // Records written are read back as they were, mapped onto the instruments asked for.
    #[test]
    fn round_trips_and_maps_instruments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gtape");
        let mut writer =
            BinaryTapeWriter::create(&path, &[instrument("AAA"), instrument("BBB")]).unwrap();
        writer.write(&record(10, 0)).unwrap();
        writer.write(&record(20, 1)).unwrap();
        writer.finish().unwrap();
        assert!(is_binary_tape(&path).unwrap());
        let wanted = [instrument("BBB"), instrument("AAA")];
        let mut records = BinaryRecords::open(&[path], &wanted).unwrap();
        assert_eq!(records.next_record().unwrap(), Some(record(10, 1)));
        assert_eq!(records.next_record().unwrap(), Some(record(20, 0)));
        assert_eq!(records.next_record().unwrap(), None);
    }

    // A record cut short, a bad kind and a grid that differs are refused with the offset or the reason.
    #[test]
    fn refuses_bad_tapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gtape");
        let mut writer = BinaryTapeWriter::create(&path, &[instrument("AAA")]).unwrap();
        writer.write(&record(10, 0)).unwrap();
        writer.write(&record(20, 0)).unwrap();
        writer.finish().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let first_record = bytes.len() - 2 * RECORD_BYTES;
        bytes.truncate(bytes.len() - 10);
        std::fs::write(&path, &bytes).unwrap();
        let mut records =
            BinaryRecords::open(std::slice::from_ref(&path), &[instrument("AAA")]).unwrap();
        assert!(records.next_record().unwrap().is_some());
        let error = records.next_record().unwrap_err();
        assert_eq!(error.offset(), Some((first_record + RECORD_BYTES) as u64));
        assert!(error.to_string().contains("t.gtape"), "{error}");

        bytes[first_record + 42] = 9;
        std::fs::write(&path, &bytes).unwrap();
        let mut records =
            BinaryRecords::open(std::slice::from_ref(&path), &[instrument("AAA")]).unwrap();
        let error = records.next_record().unwrap_err();
        assert_eq!(error.offset(), Some(first_record as u64));
        assert!(error.to_string().contains("kind"), "{error}");

        let other_grid = RecordInstrument {
            tick_size: "0.01".into(),
            ..instrument("AAA")
        };
        let error = BinaryRecords::open(&[path], &[other_grid]).err().unwrap();
        assert!(
            error.to_string().contains("converted with tick 0.1"),
            "{error}"
        );
    }

    /// Every record of `records` and how it ended, read in runs of the
    /// sizes given in turn.
    fn read_in_runs(
        mut records: BinaryRecords,
        runs: &[usize],
    ) -> (Vec<TapeRecord>, Option<Option<u64>>) {
        let mut out = Vec::new();
        for &run in runs.iter().cycle() {
            let before = out.len();
            match records.read_run(run, |record| out.push(*record)) {
                Ok(read) if read == run => {}
                Ok(_) => return (out, None),
                Err((taken, error)) => {
                    assert_eq!(taken, out.len() - before, "the records before the error");
                    return (out, Some(error.offset()));
                }
            }
        }
        unreachable!("runs cycle")
    }

    // Runs read the records that one-at-a-time reading does, in order,
    // across the read buffer's refills (a record cut by one) and from one
    // file into the next, and stop at a bad record with its offset, after
    // the good ones before it.
    #[test]
    fn runs_read_what_single_records_do() {
        let dir = tempfile::tempdir().unwrap();
        let per_file = READ_BUFFER_BYTES / RECORD_BYTES * 2 + 5;
        let paths: Vec<PathBuf> = (0..2)
            .map(|file| {
                let path = dir.path().join(format!("t{file}.gtape"));
                let mut writer =
                    BinaryTapeWriter::create(&path, &[instrument("AAA"), instrument("BBB")])
                        .unwrap();
                for index in 0..per_file {
                    let ts = 10 + (file * per_file + index) as u64;
                    writer.write(&record(ts, (index % 2) as u16)).unwrap();
                }
                writer.finish().unwrap();
                path
            })
            .collect();
        let wanted = [instrument("BBB"), instrument("AAA")];
        let mut one_by_one = Vec::new();
        let mut records = BinaryRecords::open(&paths, &wanted).unwrap();
        while let Some(record) = records.next_record().unwrap() {
            one_by_one.push(record);
        }
        assert_eq!(one_by_one.len(), 2 * per_file);
        for runs in [&[1][..], &[16], &[7, 256, 3], &[100_000]] {
            let (read, end) = read_in_runs(BinaryRecords::open(&paths, &wanted).unwrap(), runs);
            assert_eq!(end, None, "runs {runs:?} end cleanly");
            assert!(read == one_by_one, "runs {runs:?} read the same records");
        }

        // A bad kind in the second file, past its first refill.
        let bad_index = READ_BUFFER_BYTES / RECORD_BYTES + 3;
        let mut bytes = std::fs::read(&paths[1]).unwrap();
        let header = bytes.len() - per_file * RECORD_BYTES;
        bytes[header + bad_index * RECORD_BYTES + 42] = 9;
        std::fs::write(&paths[1], &bytes).unwrap();
        let bad_offset = (header + bad_index * RECORD_BYTES) as u64;
        for runs in [&[1][..], &[16], &[7, 256, 3]] {
            let (read, end) = read_in_runs(BinaryRecords::open(&paths, &wanted).unwrap(), runs);
            assert_eq!(
                end,
                Some(Some(bad_offset)),
                "runs {runs:?} stop at the bad kind"
            );
            assert!(
                read[..] == one_by_one[..per_file + bad_index],
                "runs {runs:?} read every record before it"
            );
        }
    }

    // Every way a record can be refused (kind, flags, reserved bytes, a
    // negative price or quantity, an instrument the header lacks, a time before the last) stops a run at
    // that record with the error one-at-a-time reading gives (same text,
    // same offset), after the records before it: the run's own check
    // refuses what `accept` refuses, and lets the checked path say why.
    #[test]
    fn runs_refuse_each_bad_record_as_single_records_do() {
        let dir = tempfile::tempdir().unwrap();
        let count = 40;
        let bad_index = 23;
        type Corrupt = fn(&mut [u8]);
        let corruptions: [(&str, Corrupt); 8] = [
            ("kind", |r| r[42] = 5),
            ("flags", |r| r[43] = 0x80),
            ("reserved", |r| r[46] = 1),
            ("price", |r| r[23] = 0x80),
            ("qty", |r| r[31] = 0x80),
            ("instrument", |r| r[40] = 2),
            ("time", |r| r[0..8].copy_from_slice(&3u64.to_le_bytes())),
            ("none", |_| {}),
        ];
        for (what, corrupt) in corruptions {
            let path = dir.path().join(format!("{what}.gtape"));
            let mut writer =
                BinaryTapeWriter::create(&path, &[instrument("AAA"), instrument("BBB")]).unwrap();
            for index in 0..count {
                writer
                    .write(&record(10 + index as u64, (index % 2) as u16))
                    .unwrap();
            }
            writer.finish().unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            let at = bytes.len() - (count - bad_index) * RECORD_BYTES;
            corrupt(&mut bytes[at..at + RECORD_BYTES]);
            std::fs::write(&path, &bytes).unwrap();
            let wanted = [instrument("AAA"), instrument("BBB")];
            let mut single = Vec::new();
            let mut records = BinaryRecords::open(std::slice::from_ref(&path), &wanted).unwrap();
            let single_end = loop {
                match records.next_record() {
                    Ok(Some(record)) => single.push(record),
                    Ok(None) => break None,
                    Err(error) => break Some((error.to_string(), error.offset())),
                }
            };
            if what == "none" {
                assert_eq!(single_end, None);
            } else {
                assert_eq!(
                    single.len(),
                    bad_index,
                    "{what}: records before the bad one"
                );
                assert_eq!(single_end.as_ref().unwrap().1, Some(at as u64), "{what}");
                if what == "price" || what == "qty" {
                    let text = &single_end.as_ref().unwrap().0;
                    assert!(text.contains(&format!("{what} (negative)")), "{text}");
                }
            }
            for run in [1, 7, 64, 1_000] {
                let mut records =
                    BinaryRecords::open(std::slice::from_ref(&path), &wanted).unwrap();
                let mut read = Vec::new();
                let run_end = loop {
                    let before = read.len();
                    match records.read_run(run, |record| read.push(*record)) {
                        Ok(taken) if taken == run => {}
                        Ok(_) => break None,
                        Err((taken, error)) => {
                            assert_eq!(
                                taken,
                                read.len() - before,
                                "{what}, runs of {run}: the records before the error counted"
                            );
                            break Some((error.to_string(), error.offset()));
                        }
                    }
                };
                assert_eq!(run_end, single_end, "{what}, runs of {run}: the same end");
                assert!(read == single, "{what}, runs of {run}: the same records");
            }
        }
    }
}
