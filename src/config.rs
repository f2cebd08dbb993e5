//! Typed configuration, read from the environment; every setting has a mirroring flag.
//!
//! The database can be named by `DATABASE_URL` or by the tutorial's `DB_HOST`, `DB_PORT`,
//! `DB_NAME`, `DB_USER`, `DB_PASS` (and `DB_SSLMODE`). Passwords are never printed: the
//! `Debug` output and `--help` hide them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the database is. Either `DATABASE_URL` or the tutorial's `DB_*` variables.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/db?sslmode=disable.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Hidden>,
    /// Database host (used when DATABASE_URL is not set).
    #[arg(long, env = "DB_HOST")]
    pub db_host: Option<String>,
    /// Database port.
    #[arg(long, env = "DB_PORT", default_value_t = 5432)]
    pub db_port: u16,
    /// Database name.
    #[arg(long, env = "DB_NAME")]
    pub db_name: Option<String>,
    /// Database user.
    #[arg(long, env = "DB_USER")]
    pub db_user: Option<String>,
    /// Database password.
    #[arg(long, env = "DB_PASS", hide_env_values = true)]
    pub db_pass: Option<Hidden>,
    /// TLS mode: disable, allow, prefer, require, verify-ca or verify-full. Every mode but
    /// disable verifies the server's certificate and name (as verify-full); allow reads as prefer.
    #[arg(long, env = "DB_SSLMODE")]
    pub db_sslmode: Option<String>,
    /// PEM file of the CA certificates to trust instead of the public roots (e.g. RDS's bundle).
    #[arg(long, env = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<std::path::PathBuf>,
}

/// A setting that may hold a password (a URL, a password, API key hashes): `Debug`, and so
/// every log line, shows only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(String);

impl Hidden {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl std::str::FromStr for Hidden {
    type Err = std::convert::Infallible;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Ok(Self(raw.to_owned()))
    }
}

/// A configuration mistake, worded for the person starting the program.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl DatabaseArgs {
    /// The driver's connection settings, or an error naming what is missing.
    pub fn pg_config(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let mut config = match &self.database_url {
            Some(url) => url
                .expose()
                .parse::<tokio_postgres::Config>()
                .map_err(|e| {
                    ConfigError(format!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
                })?,
            None => self.config_from_parts()?,
        };
        if let Some(mode) = &self.db_sslmode {
            config.ssl_mode(parse_ssl_mode(mode)?);
        }
        if config.get_application_name().is_none() {
            config.application_name("tsapi");
        }
        config.connect_timeout(Duration::from_secs(5));
        Ok(config)
    }

    fn config_from_parts(&self) -> Result<tokio_postgres::Config, ConfigError> {
        let missing: Vec<&str> = [
            ("DB_HOST", &self.db_host),
            ("DB_NAME", &self.db_name),
            ("DB_USER", &self.db_user),
        ]
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(name, _)| *name)
        .collect();
        if !missing.is_empty() {
            return Err(ConfigError(format!(
                "no database configured: set DATABASE_URL, or DB_HOST, DB_NAME, DB_USER \
                 (and DB_PASS, DB_PORT); missing: {}",
                missing.join(", ")
            )));
        }
        let mut config = tokio_postgres::Config::new();
        config
            .host(self.db_host.as_deref().unwrap_or_default())
            .port(self.db_port)
            .dbname(self.db_name.as_deref().unwrap_or_default())
            .user(self.db_user.as_deref().unwrap_or_default());
        if let Some(pass) = &self.db_pass {
            config.password(pass.expose().as_bytes());
        }
        Ok(config)
    }
}

fn parse_ssl_mode(mode: &str) -> Result<tokio_postgres::config::SslMode, ConfigError> {
    use tokio_postgres::config::SslMode;
    match mode {
        "disable" => Ok(SslMode::Disable),
        "prefer" | "allow" => Ok(SslMode::Prefer),
        "require" | "verify-ca" | "verify-full" => Ok(SslMode::Require),
        other => Err(ConfigError(format!(
            "DB_SSLMODE={other:?} is not one of disable, allow, prefer, require, verify-ca, \
             verify-full"
        ))),
    }
}

/// Settings of `tsapi serve` (and of the Lambda function).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Address to listen on.
    #[arg(long, env = "TSAPI_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// A read replica: GET requests read from it, and from the primary while it is down.
    #[arg(long, env = "TSAPI_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<Hidden>,
    #[command(flatten)]
    pub stream: StreamArgs,
    /// After SIGTERM, how long in-flight requests may take before the server exits anyway.
    #[arg(long, env = "TSAPI_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// How often the symbol catalogue looks for writes made around tsapi (psql, other
    /// tools, deletes) and catches up with them; `0s` turns it off.
    #[arg(long, env = "TSAPI_CATALOG_REFRESH", default_value = "5s", value_parser = humantime::parse_duration)]
    pub catalog_refresh: Duration,
}

/// Live bars: the change feed's listener and the limits of subscriptions.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// A direct (session) connection for the feed's LISTEN; default DATABASE_URL. Set it
    /// when DATABASE_URL goes through a transaction-mode pooler, where LISTEN cannot work.
    #[arg(long, env = "TSAPI_LISTEN_DATABASE_URL", hide_env_values = true)]
    pub listen_database_url: Option<Hidden>,
    /// Run the change feed (streams, latest bars from memory). Off: streams answer 503
    /// and latest bars come from the database.
    #[arg(long, env = "TSAPI_STREAM", default_value_t = true, action = clap::ArgAction::Set)]
    pub stream: bool,
    /// How long the feed's log keeps bars: subscribers can resume within this window.
    #[arg(long, env = "TSAPI_STREAM_REPLAY_WINDOW", default_value = "1h", value_parser = humantime::parse_duration)]
    pub stream_replay_window: Duration,
    /// Events a subscriber may have waiting; past it the subscriber is told it lagged and
    /// dropped (it can resume from its last id).
    #[arg(long, env = "TSAPI_STREAM_QUEUE", default_value_t = 4096)]
    pub stream_queue: usize,
    /// Most stream subscribers at once on one instance.
    #[arg(long, env = "TSAPI_STREAM_MAX_SUBSCRIBERS", default_value_t = 10_000)]
    pub stream_max_subscribers: usize,
    /// Most symbols in one subscription (`*` counts as one).
    #[arg(long, env = "TSAPI_STREAM_MAX_SYMBOLS", default_value_t = 1_000)]
    pub stream_max_symbols: usize,
}

/// A secret setting (a signing key): `Debug` and `--help` never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Shortest secret accepted: shorter ones are guessable.
    pub const MIN_LEN: usize = 16;

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        secret_setting(raw)
    }
}

fn secret_setting(raw: &str) -> Result<Secret, String> {
    if raw.len() < Secret::MIN_LEN {
        return Err(format!("must be at least {} characters", Secret::MIN_LEN));
    }
    Ok(Secret(raw.to_owned()))
}

/// An IANA time zone name, in any case (`utc`, `america/new_york`), as people type them.
pub fn zone_named(raw: &str) -> Option<Tz> {
    raw.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|zone| zone.name().eq_ignore_ascii_case(raw))
    })
}

fn zone_setting(raw: &str) -> Result<Tz, String> {
    zone_named(raw).ok_or_else(|| "not an IANA time zone such as America/New_York".to_owned())
}

/// Who may call the API.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// `keys` (requests need an API key) or `none` (no checks: anyone may read and write).
    #[arg(long, env = "TSAPI_AUTH", default_value = "keys")]
    pub auth: AuthMode,
    /// API keys as comma-separated `name:scopes:sha256hex` entries (see `tsapi keygen`).
    #[arg(long, env = "TSAPI_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<Hidden>,
    /// A file of API key entries, one per line; `#` comments and blank lines allowed.
    #[arg(long, env = "TSAPI_API_KEYS_FILE")]
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Let reads (GET) through without a key; writes still need one.
    #[arg(long, env = "TSAPI_PUBLIC_READS", default_value_t = false, action = clap::ArgAction::Set)]
    pub public_reads: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    Keys,
    None,
}

/// Database pool settings.
#[derive(Debug, Clone, Args)]
pub struct PoolArgs {
    /// Most database connections kept open.
    #[arg(long, env = "TSAPI_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,
    /// Longest wait for a free connection before answering 503.
    #[arg(long, env = "TSAPI_POOL_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub pool_timeout: Duration,
    /// Longest time one SQL statement may run (PostgreSQL's statement_timeout).
    #[arg(long, env = "TSAPI_STATEMENT_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub statement_timeout: Duration,
    /// Prepare each statement once per connection (fast). Set to false behind a
    /// transaction-mode pooler (PgBouncer before 1.21): statements are then sent unnamed.
    #[arg(long, env = "TSAPI_STATEMENT_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub statement_cache: bool,
    /// Send concurrent latest-bar lookups over one shared connection, pipelined, instead of
    /// a pooled connection each: fewer round trips for the database at high request rates.
    /// Takes one connection more than the pool size (two with a replica); off when
    /// TSAPI_STATEMENT_CACHE=false (a pooler might split a pipeline) and in Lambda.
    #[arg(long, env = "TSAPI_PIPELINE_READS", default_value_t = true, action = clap::ArgAction::Set)]
    pub pipeline_reads: bool,
}

/// Limits and input rules of the HTTP API.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Largest request body, in bytes.
    #[arg(long, env = "TSAPI_BODY_LIMIT", default_value_t = 16 * 1024 * 1024)]
    pub body_limit: usize,
    /// Most records in one write request.
    #[arg(long, env = "TSAPI_MAX_ROWS", default_value_t = 100_000)]
    pub max_rows: usize,
    /// Longest value in a write body, in bytes: a JSON string or number, a CSV cell.
    #[arg(long, env = "TSAPI_MAX_VALUE_BYTES", default_value_t = 1024)]
    pub max_value_bytes: usize,
    /// Longest CSV row or NDJSON line in a write body, in bytes.
    #[arg(long, env = "TSAPI_MAX_LINE_BYTES", default_value_t = 64 * 1024)]
    pub max_line_bytes: usize,
    /// Most rows in one response.
    #[arg(long, env = "TSAPI_MAX_PAGE_ROWS", default_value_t = 10_000)]
    pub max_page_rows: usize,
    /// Most rows in one Parquet answer of `/v1/bars`; a range with more ends at this many
    /// rows, and the file's footer metadata holds the `next_page_token` of the rest.
    #[arg(long, env = "TSAPI_MAX_PARQUET_ROWS", default_value_t = 10_000_000)]
    pub max_parquet_rows: usize,
    /// IANA time zone in which naive times (without an offset) are read.
    #[arg(long, env = "TSAPI_TIMEZONE", default_value = "UTC", value_parser = zone_setting)]
    pub timezone: Tz,
    /// Secret (16+ characters) that signs `/v1/bars` page tokens; give every instance the
    /// same one. Unset: a random key per process, so tokens work only where they were issued.
    #[arg(long, env = "TSAPI_PAGE_TOKEN_KEY", hide_env_values = true, value_parser = secret_setting)]
    pub page_token_key: Option<Secret>,
    /// Largest streamed body of `POST /v1/bars`, in bytes (on the wire and after gunzip).
    #[arg(long, env = "TSAPI_BULK_BODY_LIMIT", default_value_t = 1024 * 1024 * 1024)]
    pub bulk_body_limit: u64,
    /// Most records in one `POST /v1/bars` request.
    #[arg(long, env = "TSAPI_BULK_MAX_ROWS", default_value_t = 10_000_000)]
    pub bulk_max_rows: u64,
    /// Longest time one request may take; then 503.
    #[arg(long, env = "TSAPI_REQUEST_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Most requests served at once; more wait briefly for a turn, then get 503.
    #[arg(long, env = "TSAPI_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,
    /// Browser origins allowed to call the API (CORS), comma-separated, e.g.
    /// `https://app.example.com`; `*` allows any origin. Unset: no cross-origin access.
    #[arg(long, env = "TSAPI_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn db(args: &[&str]) -> DatabaseArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            db: DatabaseArgs,
        }
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        Wrap::try_parse_from(argv).unwrap().db
    }

    /// Built by hand: clap would also read the test process's own environment.
    fn tutorial_vars(host: Option<&str>, name: Option<&str>, user: Option<&str>) -> DatabaseArgs {
        DatabaseArgs {
            database_url: None,
            db_host: host.map(Into::into),
            db_port: 6543,
            db_name: name.map(Into::into),
            db_user: user.map(Into::into),
            db_pass: Some("s3cret".parse().unwrap()),
            db_sslmode: None,
            db_sslrootcert: None,
        }
    }

    #[test]
    fn names_every_missing_tutorial_variable() {
        let err = tutorial_vars(None, Some(""), Some("u"))
            .pg_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(err.contains("missing: DB_HOST, DB_NAME"), "{err}");
    }

    #[test]
    fn builds_from_tutorial_variables() {
        let cfg = tutorial_vars(Some("db.example"), Some("markets"), Some("api"))
            .pg_config()
            .unwrap();
        assert_eq!(cfg.get_ports(), &[6543]);
        assert_eq!(cfg.get_dbname(), Some("markets"));
        assert_eq!(cfg.get_user(), Some("api"));
        assert_eq!(cfg.get_password(), Some(&b"s3cret"[..]));
    }

    #[test]
    fn never_shows_passwords() {
        let args = db(&[
            "--database-url=postgres://u:hunter2@h/d",
            "--db-pass=hunter3",
        ]);
        let shown = format!("{args:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        let err = db(&["--database-url=postgres://u:hunter2@h:notaport/d"])
            .pg_config()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn serve_settings_never_show_passwords_or_key_hashes() {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let serve = Wrap::try_parse_from([
            "x",
            "--database-url=postgres://u:hunter1@h/d",
            "--read-database-url=postgres://u:hunter2@replica/d",
            "--listen-database-url=postgres://u:hunter3@direct/d",
            "--api-keys=ops:read:hunter4",
        ])
        .unwrap()
        .serve;
        let shown = format!("{serve:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("read_database_url: Some(<hidden>)"),
            "{shown}"
        );
    }

    #[test]
    fn refuses_unknown_ssl_modes() {
        let err = db(&["--database-url=postgres://h/d", "--db-sslmode=maybe"]).pg_config();
        assert!(err.unwrap_err().to_string().contains("DB_SSLMODE"));
    }
}
