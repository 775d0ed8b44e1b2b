//! Tardis CSV rows: the two datasets' columns, and splitting one line into
//! exactly that many fields.
//!
//! Tardis never quotes a field (comma delimiter, LF line end, see
//! docs.tardis.dev "CSV format details"), so a row is split on commas alone
//! and a double quote anywhere is refused rather than misread. Owning
//! thread: any; pure functions over borrowed bytes, no allocation.

use memchr::{memchr, memchr_iter};

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

/// Split `line` into its eight fields.
#[inline]
pub(crate) fn split_fields(line: &[u8]) -> Result<[&[u8]; COLUMN_COUNT], SplitFault> {
    if let Some(quote_at) = memchr(b'"', line) {
        let column = memchr_iter(b',', &line[..quote_at]).count();
        return Err(SplitFault::Quoted(column));
    }
    let mut fields: [&[u8]; COLUMN_COUNT] = [&[]; COLUMN_COUNT];
    let mut start = 0;
    let mut index = 0;
    for comma in memchr_iter(b',', line) {
        if index + 1 == COLUMN_COUNT {
            let found = COLUMN_COUNT + 1 + memchr_iter(b',', &line[comma + 1..]).count();
            return Err(SplitFault::FieldCount(found));
        }
        fields[index] = &line[start..comma];
        start = comma + 1;
        index += 1;
    }
    if index + 1 != COLUMN_COUNT {
        return Err(SplitFault::FieldCount(index + 1));
    }
    fields[index] = &line[start..];
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

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
