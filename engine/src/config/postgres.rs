//! `[postgres]`: the database the binary's drain loads the journal into
//! (the engine itself never connects).

use serde::{Deserialize, Serialize};

/// The PostgreSQL drain: a thread that follows the journal into a database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/db`; "" falls back to $DATABASE_URL,
    /// and with neither the engine runs without a drain.
    pub url: String,
    /// Events per COPY chunk (one transaction each, with the watermark).
    pub chunk_events: usize,
}

impl Default for PostgresConfig {
    fn default() -> PostgresConfig {
        PostgresConfig {
            url: String::new(),
            chunk_events: 10_000,
        }
    }
}

impl PostgresConfig {
    /// The configured URL, else $DATABASE_URL.
    pub fn effective_url(&self) -> Option<String> {
        if !self.url.is_empty() {
            return Some(self.url.clone());
        }
        std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty())
    }
}
