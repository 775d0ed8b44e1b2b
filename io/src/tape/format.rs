//! Which reader a tape file needs, told from its first (decompressed)
//! bytes, never from its name: a Tardis header line, or else ITCH 5.0.
//!
//! Owning thread: the caller's; reads at most one header line.

use super::error::{Location, TapeError};
use super::input::TapeInput;
use super::tardis::{BOOK_HEADER, TRADES_HEADER};
use std::io::Read;
use std::path::Path;

/// The formats the tape readers know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TapeFormat {
    /// Length-prefixed ITCH 5.0 messages ([`super::ItchFileReader`]).
    Itch,
    /// Tardis `incremental_book_L2` CSV ([`super::tardis::TardisReader`]).
    TardisBook,
    /// Tardis `trades` CSV ([`super::tardis::TardisReader`]).
    TardisTrades,
}

impl TapeFormat {
    /// The format of the file at `path` (plain or gzip).
    pub fn detect(path: impl AsRef<Path>) -> Result<TapeFormat, TapeError> {
        let path = path.as_ref();
        let fail = |error: std::io::Error| TapeError::new(path, Location::File, error.into());
        let input = TapeInput::open(path).map_err(fail)?;
        let mut head = Vec::with_capacity(BOOK_HEADER.len() + 1);
        input
            .take(BOOK_HEADER.len().max(TRADES_HEADER.len()) as u64 + 1)
            .read_to_end(&mut head)
            .map_err(fail)?;
        Ok(TapeFormat::of_head(&head))
    }

    /// The format of a file that starts with `head`.
    pub fn of_head(head: &[u8]) -> TapeFormat {
        let is_header = |header: &str| {
            head.strip_prefix(header.as_bytes())
                .is_some_and(|rest| rest.starts_with(b"\n") || rest.starts_with(b"\r"))
        };
        if is_header(BOOK_HEADER) {
            TapeFormat::TardisBook
        } else if is_header(TRADES_HEADER) {
            TapeFormat::TardisTrades
        } else {
            TapeFormat::Itch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Headers tell the Tardis datasets apart; anything else is ITCH.
    #[test]
    fn tells_formats_apart() {
        assert_eq!(
            TapeFormat::of_head(format!("{BOOK_HEADER}\nx").as_bytes()),
            TapeFormat::TardisBook
        );
        assert_eq!(
            TapeFormat::of_head(format!("{TRADES_HEADER}\r\n").as_bytes()),
            TapeFormat::TardisTrades
        );
        assert_eq!(
            TapeFormat::of_head(BOOK_HEADER.as_bytes()),
            TapeFormat::Itch
        );
        assert_eq!(TapeFormat::of_head(&[0, 12, b'S']), TapeFormat::Itch);
    }
}
