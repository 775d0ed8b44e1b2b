//! A PostgreSQL URL, parsed once and only ever shown with its password removed.
//!
//! Owned by whoever connects (the CLI, the drain thread). Invariant: nothing
//! this module formats (`redacted`, `scrub`, every error built from it)
//! contains the password, even when the URL does not parse.

use crate::error::DrainError;
use postgres::config::Host;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// A parsed database URL (`postgres://user:pass@host:port/db` or libpq `key=value` form).
#[derive(Clone)]
pub struct DbUrl {
    config: postgres::Config,
    redacted: String,
    /// Secrets to strip from any message that may echo them.
    secrets: Vec<String>,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl std::fmt::Display for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl DbUrl {
    /// Parses `url`; the error never repeats the URL's password.
    pub fn parse(url: &str) -> Result<DbUrl, DrainError> {
        let secrets = password_candidates(url);
        let config = postgres::Config::from_str(url).map_err(|error| DrainError::BadUrl {
            reason: scrub_with(&secrets, &error.to_string()),
        })?;
        let mut secrets = secrets;
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        secrets.retain(|secret| !secret.is_empty());
        let redacted = redact(&config);
        Ok(DbUrl {
            config,
            redacted,
            secrets,
        })
    }

    /// The URL with a password from `password_file`, `$PGPASSWORD` or
    /// `.pgpass` when it carries none itself (see [`crate::password`]); the
    /// source is logged by name, the password never.
    pub fn with_password_from(mut self, password_file: Option<&Path>) -> Result<DbUrl, DrainError> {
        if self.config.get_password().is_some() {
            return Ok(self);
        }
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_string(),
        };
        let user = self.config.get_user().unwrap_or("").to_string();
        let database = self.config.get_dbname().unwrap_or(&user).to_string();
        let target = crate::password::Target {
            host: &host,
            port: self.config.get_ports().first().copied().unwrap_or(5432),
            database: &database,
            user: &user,
        };
        if let Some(found) = crate::password::find(password_file, &target)? {
            tracing::info!(database = %self.redacted, source = %found.source, "database password taken from a password source");
            self.config.password(found.password.as_bytes());
            self.secrets.push(found.password);
        }
        Ok(self)
    }

    /// `postgres://user@host:port/db`: the URL without its password, for logs and errors.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Connects without TLS (the drain runs beside the database or over a trusted link).
    pub fn connect(&self, timeout: Duration) -> Result<postgres::Client, DrainError> {
        let mut config = self.config.clone();
        config.connect_timeout(timeout);
        config
            .connect(postgres::NoTls)
            .map_err(|error| DrainError::Connect {
                url: self.redacted.clone(),
                reason: self.scrub(&error_text(&error)),
            })
    }

    /// `message` with every occurrence of the password replaced by `***`.
    pub fn scrub(&self, message: &str) -> String {
        scrub_with(&self.secrets, message)
    }

    /// A database error for `what`, scrubbed.
    pub(crate) fn db_error(&self, what: &'static str, error: &postgres::Error) -> DrainError {
        DrainError::Db {
            url: self.redacted.clone(),
            what,
            reason: self.scrub(&error_text(error)),
        }
    }
}

/// The error's text with its database detail, if it has one.
fn error_text(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({}: {})", db.message(), db.severity(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

fn scrub_with(secrets: &[String], message: &str) -> String {
    let mut text = message.to_string();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// Passwords written in `url` as `scheme://user:password@…` or `password=…`,
/// found without parsing, so that even a URL that does not parse is scrubbed.
fn password_candidates(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(after_scheme) = url.split_once("://").map(|(_, rest)| rest) {
        let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                found.push(password.to_string());
                found.push(percent_decode(password));
            }
        }
    }
    for part in url.split(['&', ' ', '?']) {
        if let Some(value) = part.trim().strip_prefix("password=") {
            let value = value.trim_matches('\'');
            found.push(value.to_string());
            found.push(percent_decode(value));
        }
    }
    found.retain(|secret| !secret.is_empty());
    found
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn redact(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(index).or(config.get_ports().first()) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    let at = if user.is_empty() { "" } else { "@" };
    format!(
        "postgres://{user}{at}{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // A URL with a password shows user, host, port and database, never the password.
    #[test]
    fn redacted_url_drops_the_password() {
        let url = DbUrl::parse("postgres://trader:s3cr%21t@127.0.0.1:5433/genesis").unwrap();
        assert_eq!(url.redacted(), "postgres://trader@127.0.0.1:5433/genesis");
        assert_eq!(url.scrub("auth failed for s3cr!t"), "auth failed for ***");
        assert!(!format!("{url:?}").contains("s3cr"));
    }

    // A key=value URL is scrubbed too.
    #[test]
    fn key_value_url_is_scrubbed() {
        let url = DbUrl::parse("host=localhost user=a password=hunter2 dbname=x").unwrap();
        assert!(!url.redacted().contains("hunter2"));
        assert_eq!(url.scrub("x hunter2 y"), "x *** y");
    }

    // A URL that does not parse gives an error without its password.
    #[test]
    fn bad_url_error_has_no_password() {
        let err = DbUrl::parse("postgres://u:topsecret@host:notaport/db").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("database URL"), "{text}");
    }
}
