//! The database schema as numbered migrations, and `migrate`, which applies
//! the missing ones in one transaction under an advisory lock.
//!
//! Run by the CLI (`genesis db migrate`) and by every drain when it
//! connects. Invariants: a migration's text never changes once released
//! (new ones are appended); a second run applies nothing and changes no row;
//! a database newer than this build is refused, not downgraded.

use crate::error::DrainError;
use crate::url::DbUrl;
use genesis_engine::decision::{Action, ExecResult, Gate, Outcome, RejectReason};
use genesis_engine::event::{ControlCommand, EventKind, RejectedRequest};

/// One schema version: its number, a name, and the SQL that creates it.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first; versions are consecutive from 1.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "events, orders, fills, positions, instruments, watermark",
    sql: V1,
}];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Key of the advisory lock that serialises concurrent `migrate` calls.
const MIGRATE_LOCK_KEY: i64 = 0x6765_6e65_7369_7301;

const V1: &str = r#"
CREATE TABLE instruments (
    instrument  integer PRIMARY KEY,
    symbol      text NOT NULL,
    tick_size   text NOT NULL,
    lot_size    text NOT NULL,
    tick_value  bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Stable names of the one-byte codes stored in events (decision.rs, event.rs).
CREATE TABLE codes (
    field  text NOT NULL,
    code   smallint NOT NULL,
    name   text NOT NULL,
    PRIMARY KEY (field, code)
);

-- One row per journaled event. `stream` names the journal the event came
-- from (a run's file, or the segmented journal), `seq` its sequence in it.
-- Intent columns are NULL when the slot is empty.
CREATE TABLE events (
    stream           text NOT NULL,
    seq              bigint NOT NULL,
    ts               timestamptz NOT NULL,
    ts_recv_ns       bigint NOT NULL,
    ts_venue_ns      bigint NOT NULL,
    kind             smallint NOT NULL,
    side             smallint NOT NULL,
    instrument       integer NOT NULL,
    flags            smallint NOT NULL,
    gate_global      smallint NOT NULL,
    gate_instrument  smallint NOT NULL,
    outcome          smallint NOT NULL,
    data0            bigint NOT NULL,
    data1            bigint NOT NULL,
    data2            bigint NOT NULL,
    data3            bigint NOT NULL,
    i0_order_id      bigint,
    i0_price         bigint,
    i0_qty           bigint,
    i0_instrument    integer,
    i0_action        smallint,
    i0_side          smallint,
    i0_reject        smallint,
    i0_exec          smallint,
    i1_order_id      bigint,
    i1_price         bigint,
    i1_qty           bigint,
    i1_instrument    integer,
    i1_action        smallint,
    i1_side          smallint,
    i1_reject        smallint,
    i1_exec          smallint,
    PRIMARY KEY (stream, seq, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_kind_ts ON events (kind, ts);
-- Order history: venue inputs (ack, fill, reject, cancel ack) carry the order id in data0.
CREATE INDEX events_order_input ON events (stream, data0) WHERE kind IN (4, 5, 6, 7);
CREATE INDEX events_intent0_order ON events (stream, i0_order_id) WHERE i0_order_id IS NOT NULL;
CREATE INDEX events_intent1_order ON events (stream, i1_order_id) WHERE i1_order_id IS NOT NULL;

-- Current state of every order; its history is the events that name it.
CREATE TABLE orders (
    stream          text NOT NULL,
    order_id        bigint NOT NULL,
    instrument      integer NOT NULL,
    side            smallint NOT NULL,
    price           bigint NOT NULL,
    qty             bigint NOT NULL,
    filled_qty      bigint NOT NULL,
    status          text NOT NULL,
    status_before   text NOT NULL,
    replace_price   bigint NOT NULL,
    replace_qty     bigint NOT NULL,
    venue_order_id  bigint,
    reject_reason   smallint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    seq_created     bigint NOT NULL,
    seq_updated     bigint NOT NULL,
    PRIMARY KEY (stream, order_id)
);
CREATE INDEX orders_status_created ON orders (status, created_at);

CREATE TABLE fills (
    stream      text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    order_id    bigint NOT NULL,
    exec_id     bigint NOT NULL,
    instrument  integer NOT NULL,
    side        smallint NOT NULL,
    price       bigint NOT NULL,
    qty         bigint NOT NULL,
    duplicate   boolean NOT NULL,
    outcome     smallint NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE INDEX fills_order ON fills (stream, order_id);
CREATE INDEX fills_ts ON fills (ts);

-- Position per journal stream and instrument, by average cost, as risk keeps it.
CREATE TABLE positions (
    stream              text NOT NULL,
    instrument          integer NOT NULL,
    symbol              text NOT NULL,
    qty                 bigint NOT NULL,
    cost_tick_lots      numeric NOT NULL,
    realized_tick_lots  numeric NOT NULL,
    status              text NOT NULL,
    fills               bigint NOT NULL,
    updated_at          timestamptz NOT NULL,
    seq_updated         bigint NOT NULL,
    PRIMARY KEY (stream, instrument)
);
CREATE INDEX positions_symbol_status ON positions (symbol, status);

-- The last sequence loaded per stream, advanced in the chunk's own transaction.
CREATE TABLE drain_watermark (
    stream      text PRIMARY KEY,
    seq_last    bigint NOT NULL,
    ts_last     timestamptz NOT NULL,
    events      bigint NOT NULL,
    finished    boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE archived_partitions (
    day          date PRIMARY KEY,
    partition    text NOT NULL,
    rows         bigint NOT NULL,
    file         text NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW events_named AS
SELECT e.*,
       (SELECT name FROM codes WHERE field = 'kind' AND code = e.kind) AS kind_name,
       (SELECT name FROM codes WHERE field = 'outcome' AND code = e.outcome) AS outcome_name,
       (SELECT name FROM codes WHERE field = 'gate' AND code = e.gate_global) AS gate_global_name,
       (SELECT name FROM codes WHERE field = 'gate' AND code = e.gate_instrument) AS gate_instrument_name,
       (SELECT name FROM codes WHERE field = 'action' AND code = e.i0_action) AS i0_action_name,
       (SELECT name FROM codes WHERE field = 'reject' AND code = e.i0_reject) AS i0_reject_name,
       (SELECT name FROM codes WHERE field = 'exec' AND code = e.i0_exec) AS i0_exec_name,
       (SELECT name FROM codes WHERE field = 'action' AND code = e.i1_action) AS i1_action_name,
       (SELECT name FROM codes WHERE field = 'reject' AND code = e.i1_reject) AS i1_reject_name,
       (SELECT name FROM codes WHERE field = 'exec' AND code = e.i1_exec) AS i1_exec_name
FROM events e;
"#;

/// What `migrate` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// Versions applied by this call, oldest first (empty when up to date).
    pub applied: Vec<i32>,
    /// The schema version the database now holds.
    pub version: i32,
    /// Code names added to `codes` (zero once in sync).
    pub codes_added: u64,
}

/// Connects to `url` and brings its schema to `SCHEMA_VERSION`.
pub fn migrate(url: &DbUrl) -> Result<MigrateReport, DrainError> {
    let mut client = url.connect(std::time::Duration::from_secs(10))?;
    migrate_client(url, &mut client)
}

/// `migrate` on an open connection (used by drains when they connect).
pub fn migrate_client(
    url: &DbUrl,
    client: &mut postgres::Client,
) -> Result<MigrateReport, DrainError> {
    let db = |what| move |error: postgres::Error| url.db_error(what, &error);
    let mut tx = client.transaction().map_err(db("begin migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK_KEY])
        .map_err(db("take the migration lock"))?;
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version     integer PRIMARY KEY,
             name        text NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );",
    )
    .map_err(db("create schema_migrations"))?;
    let found: i32 = tx
        .query_one(
            "SELECT COALESCE(max(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(db("read schema version"))?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(DrainError::SchemaTooNew {
            url: url.redacted().to_string(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    let mut report = MigrateReport {
        version: found,
        ..MigrateReport::default()
    };
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.batch_execute(migration.sql)
            .map_err(db("apply a migration"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&migration.version, &migration.name],
        )
        .map_err(db("record a migration"))?;
        report.applied.push(migration.version);
        report.version = migration.version;
    }
    report.codes_added = sync_codes(&mut tx).map_err(db("fill the code names"))?;
    tx.commit().map_err(db("commit migration"))?;
    Ok(report)
}

/// Inserts the names of codes this build knows and the table lacks.
fn sync_codes(tx: &mut postgres::Transaction<'_>) -> Result<u64, postgres::Error> {
    let mut fields: Vec<String> = Vec::new();
    let mut codes: Vec<i16> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut add = |field: &str, code: u8, name: &str| {
        fields.push(field.to_string());
        codes.push(i16::from(code));
        names.push(name.to_string());
    };
    for value in EventKind::ALL {
        add("kind", *value as u8, value.name());
    }
    for value in Gate::ALL {
        add("gate", *value as u8, value.name());
    }
    for value in Outcome::ALL {
        add("outcome", *value as u8, value.name());
    }
    for value in Action::ALL {
        add("action", *value as u8, value.name());
    }
    for value in RejectReason::ALL {
        add("reject", *value as u8, value.name());
    }
    for value in ExecResult::ALL {
        add("exec", *value as u8, value.name());
    }
    for value in ControlCommand::ALL {
        add("control", *value as u8, value.name());
    }
    for value in RejectedRequest::ALL {
        add("rejected_request", *value as u8, value.name());
    }
    for (code, name) in [(0u8, "none"), (1, "buy"), (2, "sell")] {
        add("side", code, name);
    }
    tx.execute(
        "INSERT INTO codes (field, code, name)
         SELECT * FROM unnest($1::text[], $2::smallint[], $3::text[])
         ON CONFLICT (field, code) DO NOTHING",
        &[&fields, &codes, &names],
    )
}

/// The rows of `instruments`: what the drain knows of the configured instruments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentRow {
    pub instrument: u16,
    pub symbol: String,
    pub tick_size: String,
    pub lot_size: String,
    pub tick_value: i64,
}

impl InstrumentRow {
    /// One row per configured instrument, in config order (the instrument id is the index).
    pub fn from_config(config: &genesis_engine::config::Config) -> Vec<InstrumentRow> {
        config
            .instruments
            .iter()
            .enumerate()
            .map(|(index, instrument)| InstrumentRow {
                instrument: index as u16,
                symbol: instrument.symbol.clone(),
                tick_size: instrument.tick_size.clone(),
                lot_size: instrument.lot_size.clone(),
                tick_value: instrument.tick_value,
            })
            .collect()
    }
}

/// Upserts `rows` into `instruments`; rows already equal are left alone.
pub fn register_instruments(
    url: &DbUrl,
    client: &mut postgres::Client,
    rows: &[InstrumentRow],
) -> Result<(), DrainError> {
    for row in rows {
        client
            .execute(
                "INSERT INTO instruments (instrument, symbol, tick_size, lot_size, tick_value)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (instrument) DO UPDATE SET
                     symbol = EXCLUDED.symbol, tick_size = EXCLUDED.tick_size,
                     lot_size = EXCLUDED.lot_size, tick_value = EXCLUDED.tick_value,
                     updated_at = now()
                 WHERE (instruments.symbol, instruments.tick_size, instruments.lot_size, instruments.tick_value)
                     IS DISTINCT FROM (EXCLUDED.symbol, EXCLUDED.tick_size, EXCLUDED.lot_size, EXCLUDED.tick_value)",
                &[
                    &i32::from(row.instrument),
                    &row.symbol,
                    &row.tick_size,
                    &row.lot_size,
                    &row.tick_value,
                ],
            )
            .map_err(|error| url.db_error("register instruments", &error))?;
    }
    Ok(())
}
