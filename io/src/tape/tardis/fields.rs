//! Tardis CSV rows: the two datasets' columns, and splitting one line into
//! exactly that many fields.
//!
//! Tardis never quotes a field (comma delimiter, LF line end, see
//! docs.tardis.dev "CSV format details"), so a row is split on commas alone
//! and a double quote anywhere is refused rather than misread. Owning
//! thread: any; pure functions over borrowed bytes, no allocation.

/// Columns of every Tardis dataset read here.
pub(crate) const COLUMN_COUNT: usize = 8;

/// `incremental_book_L2` columns, in file order.
pub(crate) const BOOK_COLUMNS: [&str; COLUMN_COUNT] = [
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "is_snapshot",
    "side",
    "price",
    "amount",
];

/// `trades` columns, in file order.
pub(crate) const TRADE_COLUMNS: [&str; COLUMN_COUNT] = [
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
];

/// The `incremental_book_L2` header line.
pub const BOOK_HEADER: &str =
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";
/// The `trades` header line.
pub const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";

/// Column indices shared by both datasets.
pub(crate) const SYMBOL: usize = 1;
pub(crate) const TIMESTAMP: usize = 2;
pub(crate) const LOCAL_TIMESTAMP: usize = 3;
/// `is_snapshot` (book) or `id` (trades).
pub(crate) const FLAG_OR_ID: usize = 4;
pub(crate) const SIDE: usize = 5;
pub(crate) const PRICE: usize = 6;
pub(crate) const AMOUNT: usize = 7;

/// Why a line could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitFault {
    /// Not [`COLUMN_COUNT`] fields.
    FieldCount(usize),
    /// A double quote in the field at this index.
    Quoted(usize),
}

/// Split `line` into its eight fields, eight bytes at a time: each word
/// yields a bit mask of its commas (and quotes), so the cost is one step per
/// word plus one per comma, with few branches.
#[inline]
pub(crate) fn split_fields(line: &[u8]) -> Result<[&[u8]; COLUMN_COUNT], SplitFault> {
    let mut splitter = Splitter {
        fields: [&[]; COLUMN_COUNT],
        index: 0,
        start: 0,
    };
    let mut chunks = line.chunks_exact(8);
    let mut word_start = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        splitter.word(line, word_start, u64::from_le_bytes(word))?;
        word_start += 8;
    }
    // The tail, padded with zero bytes (never a comma or a quote).
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    splitter.word(line, word_start, u64::from_le_bytes(tail))?;
    if splitter.index + 1 != COLUMN_COUNT {
        return Err(SplitFault::FieldCount(splitter.index + 1));
    }
    splitter.fields[splitter.index] = &line[splitter.start..];
    Ok(splitter.fields)
}

/// Fields found so far.
struct Splitter<'a> {
    fields: [&'a [u8]; COLUMN_COUNT],
    /// Index of the field being read (= commas seen).
    index: usize,
    /// Where that field starts.
    start: usize,
}

impl<'a> Splitter<'a> {
    /// Take the commas of the word at `word_start`; refuse a quote.
    #[inline(always)]
    fn word(&mut self, line: &'a [u8], word_start: usize, word: u64) -> Result<(), SplitFault> {
        let quotes = bytes_equal(word, b'"');
        let mut commas = bytes_equal(word, b',');
        if quotes != 0 {
            // Commas before the quote decide its column.
            let before = commas & (quotes & quotes.wrapping_neg()).wrapping_sub(1);
            return Err(SplitFault::Quoted(
                self.index + before.count_ones() as usize,
            ));
        }
        while commas != 0 {
            let at = word_start + (commas.trailing_zeros() / 8) as usize;
            if let Some(field) = self.fields.get_mut(self.index) {
                *field = &line[self.start..at];
            }
            self.index += 1;
            self.start = at + 1;
            commas &= commas - 1;
        }
        Ok(())
    }
}

/// The high bit of every byte of `word` equal to `byte`, exactly (no
/// borrow crosses bytes: the low seven bits are added separately).
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW_SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let zero_where_equal = word ^ (0x0101_0101_0101_0101 * u64::from(byte));
    !(((zero_where_equal & LOW_SEVEN) + LOW_SEVEN) | zero_where_equal | LOW_SEVEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The word trick finds exactly the bytes asked for, in every position.
    #[test]
    fn bytes_equal_is_exact() {
        for byte in [b',', b'"', 0, 0x80, 0xFF] {
            for value in [
                0u8,
                1,
                b',' - 1,
                b',',
                b',' + 1,
                b'"',
                0x7F,
                0x80,
                0xAC,
                0xFF,
            ] {
                for position in 0..8 {
                    let mut word = [byte.wrapping_add(1); 8];
                    word[position] = value;
                    let mask = bytes_equal(u64::from_le_bytes(word), byte);
                    let expected = if value == byte {
                        0x80u64 << (8 * position)
                    } else {
                        0
                    };
                    assert_eq!(
                        mask, expected,
                        "byte {byte:#x} value {value:#x} at {position}"
                    );
                }
            }
        }
    }

    // Splits agree with a plain split for every line length around a word.
    #[test]
    fn agrees_with_plain_split() {
        for length in 0..40 {
            let line: Vec<u8> = (0..length)
                .map(|i| {
                    if i % 5 == 3 {
                        b','
                    } else {
                        b'a' + (i % 26) as u8
                    }
                })
                .collect();
            let plain: Vec<&[u8]> = line.split(|&b| b == b',').collect();
            match split_fields(&line) {
                Ok(fields) => assert_eq!(fields.to_vec(), plain),
                Err(fault) => assert_eq!(fault, SplitFault::FieldCount(plain.len())),
            }
        }
    }

    // Eight fields split; too few, too many and quoted are refused with where.
    #[test]
    fn splits_exactly_eight() {
        let fields = split_fields(b"deribit,BTC-PERPETUAL,1,2,,buy,10.5,3").unwrap();
        assert_eq!(fields[1], b"BTC-PERPETUAL");
        assert_eq!(fields[4], b"");
        assert_eq!(fields[7], b"3");
        assert_eq!(split_fields(b"a,b,c"), Err(SplitFault::FieldCount(3)));
        assert_eq!(
            split_fields(b"a,b,c,d,e,f,g,h,i,j"),
            Err(SplitFault::FieldCount(10))
        );
        assert_eq!(split_fields(b""), Err(SplitFault::FieldCount(1)));
        assert_eq!(
            split_fields(b"a,b,c,d,\"e\",f,g,h"),
            Err(SplitFault::Quoted(4))
        );
        assert_eq!(BOOK_HEADER, BOOK_COLUMNS.join(","));
        assert_eq!(TRADES_HEADER, TRADE_COLUMNS.join(","));
    }
}
