//! The command line: which command runs, with which settings. The settings themselves are
//! in [`crate::config`]; this file only assembles them into commands.

use clap::{Args, Parser, Subcommand};

use crate::config::{DatabaseArgs, LogFormat, ServeArgs};

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
    Migrate(MigrateArgs),
    /// Insert deterministic, realistic 1-minute sample bars (existing rows are kept).
    DemoData(DemoDataArgs),
    /// Load a CSV, NDJSON or JSON file (or `-` for stdin) over COPY, committing batch by batch.
    Load(crate::load::LoadArgs),
    /// Export bars (or aggregates) to a Parquet, Arrow IPC, CSV or NDJSON file (or `-` for
    /// stdout), straight from the database, with a progress bar.
    Export(crate::export::ExportArgs),
    /// The symbol catalogue behind whole-market reads (`/v1/symbols`, snapshots, ...).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Create an API key: prints the key once, and the configuration entry that holds only
    /// its SHA-256 digest.
    Keygen(KeygenArgs),
}

/// Settings of `tsapi migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// `on`: also stream bars that other tools (`psql \copy`, the tutorial's Lambda, ...)
    /// write straight into the table, through a trigger that slows their writes (see the
    /// README); `off`: remove that trigger. Absent: leave it as it is.
    #[arg(long, value_name = "on|off")]
    pub feed_trigger: Option<crate::db::FeedTrigger>,
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
    /// Write the bars to this file (`-` for stdout) instead of the database: CSV, NDJSON or
    /// JSON by its extension (.csv, .ndjson or .jsonl, .json), gzipped when it ends in .gz.
    #[arg(long)]
    pub output: Option<std::path::PathBuf>,
    /// Format of `--output`; by default from its extension.
    #[arg(long, value_enum)]
    pub format: Option<crate::load::FileFormat>,
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
