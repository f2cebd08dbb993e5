//! Typed configuration, read from the environment; every setting has a mirroring flag.
//!
//! The database can be named by `DATABASE_URL` or by the tutorial's `DB_HOST`, `DB_PORT`,
//! `DB_NAME`, `DB_USER`, `DB_PASS` (and `DB_SSLMODE`). Passwords are never printed: the
//! `Debug` output and `--help` hide them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{PageTokenKey, TimeParser};

#[derive(Debug, Parser)]
#[command(
    name = "tsapi",
    version,
    about = "A data API for market bars in TimescaleDB",
    after_help = "The database is named by DATABASE_URL, or by the tutorial's DB_HOST, DB_PORT, \
DB_NAME, DB_USER, DB_PASS and DB_SSLMODE. Every other setting is a TSAPI_* variable or the \
flag shown by `tsapi <command> --help`. RUST_LOG filters the logs (default: info).\n\n\
Quick start:\n  tsapi migrate && tsapi demo-data\n  \
tsapi keygen --name me --scopes read+write   # line 1: the key, line 2: its entry\n  \
TSAPI_API_KEYS='<entry>' tsapi serve\n  \
curl -H 'Authorization: Bearer <key>' 'http://127.0.0.1:8080/ticker?symbol=MSFT'"
)]
pub struct Cli {
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, global = true, env = "TSAPI_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (default address 127.0.0.1:8080).
    ///
    /// Connections are opened on first use, so the server starts while the database is
    /// still down (`/healthz` answers, `/readyz` says 503). SIGTERM or Ctrl-C stop accepting
    /// connections and finish in-flight requests before exit.
    Serve(Box<ServeArgs>),
    /// Create or upgrade the schema: extension, table, hypertable, unique index. Idempotent.
    ///
    /// Creates only what is missing and never drops or rewrites data; an existing table made
    /// the tutorial's way is kept as it is, with notes on what could be improved.
    Migrate(DatabaseArgs),
    /// Insert deterministic, realistic 1-minute sample bars (existing rows are kept).
    DemoData(DemoDataArgs),
    /// Load a CSV, NDJSON or JSON file (or `-` for stdin) over COPY, committing batch by batch.
    Load(crate::load::LoadArgs),
    /// The symbol catalogue behind whole-market reads (`/v1/symbols`, snapshots, ...).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Create an API key: prints the key once, and the configuration entry that holds only
    /// its SHA-256 digest.
    Keygen(KeygenArgs),
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Recompute the catalogue from the table, exactly: after writes made around tsapi,
    /// without waiting for `tsapi serve`'s periodic refresh.
    Refresh(CatalogRefreshArgs),
}

#[derive(Debug, Args)]
pub struct CatalogRefreshArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Make daily bars follow this IANA zone's calendar from now on (default: keep the
    /// catalogue's zone, initially America/New_York). Restart servers after changing it.
    #[arg(long)]
    pub zone: Option<chrono_tz::Tz>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the database is. Either `DATABASE_URL` or the tutorial's `DB_*` variables.
#[derive(Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/db?sslmode=disable.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
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
    pub db_pass: Option<String>,
    /// TLS mode: disable, prefer or require.
    #[arg(long, env = "DB_SSLMODE")]
    pub db_sslmode: Option<String>,
    /// PEM file of the CA certificates to trust instead of the public roots (e.g. RDS's bundle).
    #[arg(long, env = "DB_SSLROOTCERT")]
    pub db_sslrootcert: Option<std::path::PathBuf>,
}

impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "<hidden>"),
            )
            .field("db_host", &self.db_host)
            .field("db_port", &self.db_port)
            .field("db_name", &self.db_name)
            .field("db_user", &self.db_user)
            .field("db_pass", &self.db_pass.as_ref().map(|_| "<hidden>"))
            .field("db_sslmode", &self.db_sslmode)
            .field("db_sslrootcert", &self.db_sslrootcert)
            .finish()
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
            Some(url) => url.parse::<tokio_postgres::Config>().map_err(|e| {
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

    /// How to secure the connections of [`Self::pg_config`]: TLS per its `sslmode`, with the
    /// CA file's certificates when `DB_SSLROOTCERT` names one.
    pub fn tls(&self, pg: &tokio_postgres::Config) -> Result<crate::db::DbTls, ConfigError> {
        crate::db::DbTls::new(pg.get_ssl_mode(), self.db_sslrootcert.as_deref())
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
            config.password(pass.as_bytes());
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
            "DB_SSLMODE={other:?} is not one of disable, prefer, require"
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
    pub read_database_url: Option<String>,
    /// After SIGTERM, how long in-flight requests may take before the server exits anyway.
    #[arg(long, env = "TSAPI_SHUTDOWN_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// How often the symbol catalogue looks for writes made around tsapi (psql, other
    /// tools, deletes) and catches up with them; `0s` turns it off.
    #[arg(long, env = "TSAPI_CATALOG_REFRESH", default_value = "5s", value_parser = humantime::parse_duration)]
    pub catalog_refresh: Duration,
}

/// Who may call the API.
#[derive(Clone, Args)]
pub struct AuthArgs {
    /// `keys` (requests need an API key) or `none` (no checks: anyone may read and write).
    #[arg(long, env = "TSAPI_AUTH", default_value = "keys")]
    pub auth: AuthMode,
    /// API keys as comma-separated `name:scopes:sha256hex` entries (see `tsapi keygen`).
    #[arg(long, env = "TSAPI_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,
    /// A file of API key entries, one per line; `#` comments and blank lines allowed.
    #[arg(long, env = "TSAPI_API_KEYS_FILE")]
    pub api_keys_file: Option<std::path::PathBuf>,
    /// Let reads (GET) through without a key; writes still need one.
    #[arg(long, env = "TSAPI_PUBLIC_READS", default_value_t = false, action = clap::ArgAction::Set)]
    pub public_reads: bool,
}

impl fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthArgs")
            .field("auth", &self.auth)
            .field("api_keys", &self.api_keys.as_ref().map(|_| "<hidden>"))
            .field("api_keys_file", &self.api_keys_file)
            .field("public_reads", &self.public_reads)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    Keys,
    None,
}

impl AuthArgs {
    pub fn load(&self) -> Result<crate::auth::Auth, ConfigError> {
        match self.auth {
            AuthMode::None => Ok(crate::auth::Auth::Disabled),
            AuthMode::Keys => crate::auth::Auth::from_config(
                self.api_keys.as_deref(),
                self.api_keys_file.as_deref(),
                self.public_reads,
            ),
        }
    }
}

/// Settings of `tsapi keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Who holds the key (shown in logs, never the key itself).
    #[arg(long)]
    pub name: String,
    /// `read`, `write` or `read+write`.
    #[arg(long, default_value = "read+write")]
    pub scopes: String,
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
    /// Most rows in one response.
    #[arg(long, env = "TSAPI_MAX_PAGE_ROWS", default_value_t = 10_000)]
    pub max_page_rows: usize,
    /// IANA time zone in which naive times (without an offset) are read.
    #[arg(long, env = "TSAPI_TIMEZONE", default_value = "UTC")]
    pub timezone: Tz,
    /// Secret (16+ characters) that signs `/v1/bars` page tokens; give every instance the
    /// same one. Unset: a random key per process, so tokens work only where they were issued.
    #[arg(long, env = "TSAPI_PAGE_TOKEN_KEY", hide_env_values = true)]
    pub page_token_key: Option<PageTokenKey>,
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

impl ApiArgs {
    pub fn time_parser(&self) -> TimeParser {
        TimeParser::new(self.timezone)
    }
}

/// Settings of `tsapi demo-data`.
#[derive(Debug, Clone, Args)]
pub struct DemoDataArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Symbols to generate.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "AAPL,MSFT,FB,AMZN,GOOG,TSLA"
    )]
    pub symbols: Vec<String>,
    /// First trading day (New York calendar).
    #[arg(long, default_value = "2021-10-15")]
    pub from: chrono::NaiveDate,
    /// Number of weekdays to generate.
    #[arg(long, default_value_t = 20)]
    pub days: u32,
    /// Seed of the random walk: the same seed gives the same bars.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the bars to this file (`-` for stdout) instead of the database.
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
    /// Format of `--output`; by default from its extension.
    #[arg(long, value_enum)]
    pub format: Option<crate::load::FileFormat>,
}

#[cfg(test)]
mod tests {
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
            db_pass: Some("s3cret".into()),
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
    fn refuses_unknown_ssl_modes() {
        let err = db(&["--database-url=postgres://h/d", "--db-sslmode=maybe"]).pg_config();
        assert!(err.unwrap_err().to_string().contains("DB_SSLMODE"));
    }
}
