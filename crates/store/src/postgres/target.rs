//! A PostgreSQL connection string, parsed once: libpq's URL and key=value forms (with
//! `host=/run/postgresql` sockets and `options=-csearch_path=NAME`), libpq's environment
//! defaults (`PGUSER`, `PGPASSWORD`), a connect timeout so that an unreachable server is
//! reported within seconds, and TCP keepalives so that a cut network is noticed.

use std::time::Duration;

use postgres::config::Host;
use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::StoreError;

/// How long connecting may take unless the URL sets `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a PostgreSQL store lives, and how to connect to it.
#[derive(Debug, Clone)]
pub struct Target {
    config: Config,
    url: String,
    described: String,
}

impl Target {
    /// Parses a `postgres://` / `postgresql://` URL.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::BadUrl {
                url: redact(url),
                detail: e.to_string(),
            })?;
        if config.get_user().is_none() {
            let user = std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into());
            config.user(&user);
        }
        if config.get_password().is_none() {
            if let Ok(pw) = std::env::var("PGPASSWORD") {
                config.password(pw);
            }
        }
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("fcnsweep");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        Ok(Self {
            config,
            url: url.to_string(),
            described: redact(url),
        })
    }

    /// Server, database and schema as one name, for the default checkpoint and weights
    /// directories.
    pub fn dir_name(&self) -> String {
        let db = self.config.get_dbname().unwrap_or("");
        let options = self.config.get_options().unwrap_or("");
        let schema = options
            .split_whitespace()
            .find_map(|o| o.strip_prefix("-csearch_path="))
            .unwrap_or("public");
        format!("{}-{db}-{schema}", self.addr().replace([':', '/'], "-"))
    }

    /// The same server and database with `search_path` set to `schema`.
    pub fn with_schema(&self, schema: &str) -> Result<Self, StoreError> {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        Self::parse(&format!(
            "{}{sep}options=-csearch_path%3D{schema}",
            self.url
        ))
    }

    /// The URL without its password.
    pub fn describe(&self) -> String {
        self.described.clone()
    }

    /// The server's address(es): `host:port` or the socket directory.
    pub fn addr(&self) -> String {
        let ports = self.config.get_ports();
        self.config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match h {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Opens a connection, mapping refusals to [`StoreError::Unreachable`],
    /// [`StoreError::Authentication`] and [`StoreError::NoDatabase`].
    pub(crate) fn connect(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(|e| {
            let db = self.describe();
            match e.code() {
                Some(c)
                    if *c == SqlState::INVALID_PASSWORD
                        || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
                {
                    StoreError::Authentication {
                        db,
                        user: self.config.get_user().unwrap_or("?").to_string(),
                        detail: super::message(&e),
                    }
                }
                Some(c) if *c == SqlState::CANNOT_CONNECT_NOW || *c == SqlState::ADMIN_SHUTDOWN => {
                    StoreError::Unreachable {
                        addr: self.addr(),
                        detail: super::message(&e),
                    }
                }
                Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                    StoreError::NoDatabase(format!("{db} ({})", super::message(&e)))
                }
                Some(_) => StoreError::Backend {
                    db,
                    detail: super::message(&e),
                },
                None => StoreError::Unreachable {
                    addr: self.addr(),
                    detail: super::message(&e),
                },
            }
        })
    }
}

/// A connection string with its password replaced by `***` (URL userinfo and `password=`).
pub fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest = &out[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                let start = scheme_end + 3 + colon + 1;
                let end = scheme_end + 3 + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    if let Some(i) = out.find("password=") {
        let start = i + "password=".len();
        let end = out[start..]
            .find(['&', ' '])
            .map(|j| start + j)
            .unwrap_or(out.len());
        out.replace_range(start..end, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact("postgresql://h/db?user=u&password=pw&sslmode=disable"),
            "postgresql://h/db?user=u&password=***&sslmode=disable"
        );
    }

    #[test]
    fn sockets_and_ports_are_named() {
        let t = Target::parse("postgresql:///study?host=/run/postgresql&port=5433").unwrap();
        assert_eq!(t.addr(), "/run/postgresql/.s.PGSQL.5433");
        let t = Target::parse("postgres://u@127.0.0.1:6000/db").unwrap();
        assert_eq!(t.addr(), "127.0.0.1:6000");
    }
}
