//! The PostgreSQL drain: every journaled event in the database exactly
//! once, without touching the hot path. One way in, journal records (from a
//! feed); two ways out, the database and the gauges of its lag
//! ([`DrainStats`], shown through the engine's telemetry `Gauges`).
//!
//! Pieces, by job:
//! - [`url`]: parse a database URL; show and scrub it without its password;
//!   [`password`]: its password from a file, `$PGPASSWORD` or `.pgpass`.
//! - [`schema`]: versioned migrations ([`migrate`]), code names, instruments.
//! - [`feed`], [`journal_feed`] (the engine's segmented journal, one stream)
//!   and [`folder_feed`] (version-1 files, a stream each): where events come
//!   from, and the watermark (per stream: the last `Event::seq` committed)
//!   that makes resuming exact.
//! - [`loader`]: one chunk = one transaction: binary `COPY` of the events,
//!   `fills`/`orders`/`positions` brought along ([`derive`]), the watermark
//!   advanced, day partitions created on demand ([`partitions`]).
//! - [`offline`]: `genesis drain DIR`: load a finished folder and return.
//! - [`live`]: a thread following the live journal, with reconnect and
//!   backoff, publishing its lag in [`stats::DrainStats`].
//! - [`archive`](mod@archive): detach, export and drop old day partitions.
//!
//! Threads: the live drain owns one thread (`genesis-drain`), which sleeps
//! when idle; everything else runs on the caller's thread.
//!
//! # Documented queries
//! ```sql
//! -- Fills of the last hour, by instrument (events_kind_ts; fills_ts).
//! SELECT instrument, count(*), sum(qty) FROM fills WHERE ts > now() - interval '1 hour' GROUP BY 1;
//! -- Open orders, oldest first (orders_status_created).
//! SELECT * FROM orders WHERE status IN ('new', 'partially_filled') ORDER BY created_at;
//! -- Open positions of a symbol (positions_symbol_status).
//! SELECT * FROM positions WHERE symbol = 'BTCUSDT' AND status = 'open';
//! -- One order's history (events_order_input, events_intent0_order, events_intent1_order).
//! SELECT * FROM events_named WHERE stream = $1
//!   AND ((kind IN (4, 5, 6, 7) AND data0 = $2) OR i0_order_id = $2 OR i1_order_id = $2) ORDER BY seq;
//! -- Drain progress per journal stream.
//! SELECT stream, seq_last, ts_last, finished FROM drain_watermark;
//! ```

pub mod archive;
pub mod derive;
pub mod error;
pub mod feed;
pub mod folder_feed;
pub mod journal_feed;
pub mod live;
pub mod loader;
pub mod offline;
pub mod options;
pub mod partitions;
pub mod password;
pub mod rows;
pub mod schema;
pub mod stats;
pub mod url;
pub mod watermark;

pub use archive::{archive, ArchiveReport, ArchivedDay, OLDER_THAN_DAYS_DEFAULT};
pub use error::{DrainError, FeedError};
pub use feed::{Batch, EventFeed, StreamMark, Watermarks};
pub use folder_feed::{FolderFeed, FolderMode};
pub use journal_feed::{JournalFeed, JOURNAL_STREAM_DEFAULT};
pub use live::LiveDrain;
pub use loader::{FaultInjection, Loader};
pub use offline::{drain_feed, drain_folder, OfflineReport, Progress};
pub use options::DrainOptions;
pub use schema::{migrate, InstrumentRow, MigrateReport, SCHEMA_VERSION};
pub use stats::{DrainSnapshot, DrainStats};
pub use url::DbUrl;
