//! Where the database password comes from when the URL carries none, in
//! libpq's order with one source in front: a `password_file` the config
//! names (its first line), then `$PGPASSWORD`, then the first matching line
//! of `$PGPASSFILE` or `~/.pgpass` (`host:port:database:user:password`,
//! `*` matching anything, `\:` and `\\` escaped; ignored, as libpq does,
//! when group or others may read it).
//!
//! Runs on the caller's thread, once per connection set-up. Invariant:
//! nothing here formats the password into a message; errors name the file
//! and what is wrong with it only.

use crate::error::DrainError;
use std::path::{Path, PathBuf};

/// A password and where it came from (for a log line that names the source, never the value).
pub struct Found {
    pub password: String,
    pub source: String,
}

/// What a `.pgpass` line is matched against.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
}

/// The password for `target` from the first source that has one, if any.
pub fn find(
    password_file: Option<&Path>,
    target: &Target<'_>,
) -> Result<Option<Found>, DrainError> {
    if let Some(path) = password_file.filter(|path| !path.as_os_str().is_empty()) {
        let text = std::fs::read_to_string(path).map_err(|source| DrainError::PasswordFile {
            path: path.to_path_buf(),
            reason: source.to_string(),
        })?;
        let password = text.lines().next().unwrap_or("").to_string();
        if password.is_empty() {
            return Err(DrainError::PasswordFile {
                path: path.to_path_buf(),
                reason: "its first line is empty".into(),
            });
        }
        return Ok(Some(Found {
            password,
            source: format!("postgres.password_file {}", path.display()),
        }));
    }
    if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
        return Ok(Some(Found {
            password,
            source: "$PGPASSWORD".into(),
        }));
    }
    let Some(path) = pgpass_path() else {
        return Ok(None);
    };
    Ok(from_pgpass(&path, target).map(|password| Found {
        password,
        source: path.display().to_string(),
    }))
}

/// `$PGPASSFILE`, else `$HOME/.pgpass`.
fn pgpass_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pgpass"))
}

/// The password of the first line of the `.pgpass` file at `path` that
/// matches `target`; none when the file is missing, unreadable or open to
/// group or others (with a warning naming the file, as libpq gives).
fn from_pgpass(path: &Path, target: &Target<'_>) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).ok()?;
    if metadata.permissions().mode() & 0o077 != 0 {
        tracing::warn!(file = %path.display(), "password file has group or world access; ignored (chmod 0600 it)");
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| match_line(line, target))
}

/// The password of one `.pgpass` line if its four fields match `target`.
fn match_line(line: &str, target: &Target<'_>) -> Option<String> {
    let fields = split_fields(line);
    let [host, port, database, user, password] = fields.as_slice() else {
        return None;
    };
    let port_text = target.port.to_string();
    let matches = |field: &str, value: &str| field == "*" || field == value;
    let host_matches = matches(host, target.host)
        || (host == "localhost" && (target.host == "127.0.0.1" || target.host.starts_with('/')));
    (host_matches
        && matches(port, &port_text)
        && matches(database, target.database)
        && matches(user, target.user))
    .then(|| password.clone())
}

/// A line's `:`-separated fields, with `\:` and `\\` unescaped.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(escaped), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(escaped);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target<'static> {
        Target {
            host: "db.example",
            port: 5432,
            database: "genesis",
            user: "trader",
        }
    }

    // The first matching line wins; wildcards and escapes are honoured.
    #[test]
    fn pgpass_lines_match_in_order() {
        assert_eq!(match_line("other:5432:genesis:trader:no", &target()), None);
        assert_eq!(
            match_line("*:5432:*:trader:a\\:b\\\\c", &target()).as_deref(),
            Some("a:b\\c")
        );
        assert_eq!(
            match_line("db.example:*:genesis:*:pw:with:colons", &target()).as_deref(),
            Some("pw:with:colons")
        );
        assert_eq!(
            match_line("db.example:5433:genesis:trader:no", &target()),
            None
        );
        assert_eq!(match_line("too:few:fields", &target()), None);
    }

    // A .pgpass readable by others is ignored, as libpq ignores it.
    #[test]
    fn open_pgpass_is_ignored() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(from_pgpass(&path, &target()), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(from_pgpass(&path, &target()).as_deref(), Some("s3cret"));
    }
}
