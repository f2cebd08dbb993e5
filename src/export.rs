//! `tsapi export`: bars straight from the database into a Parquet, Arrow IPC, CSV or NDJSON
//! file, for pulls too large for one HTTP answer to be convenient.
//!
//! The rows come from the query core that serves `/v1/bars` (same validation, same SQL,
//! same order), over one connection without a statement timeout, and are written as they
//! arrive: memory stays at one record batch and one Parquet row group whatever the size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use futures_util::{Stream, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::columnar::{self, Columnar, Plan, SymbolDictionary};
use crate::config::{DatabaseArgs, PoolArgs};
use crate::db::{self, Conn, DbTls, PooledClient, Recycling, StatementMode};
use crate::domain::{
    BarsContext, BarsParams, BarsQuery, PageTokenKey, QueryBar, ResponseFormat, Symbol, TimeParser,
};

/// Output formats, by name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Parquet,
    Arrow,
    Csv,
    Ndjson,
}

/// Settings of `tsapi export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Comma-separated symbols, e.g. `AAPL,MSFT` (at most 1000).
    #[arg(long)]
    pub symbols: String,
    /// Inclusive start: RFC 3339, or `YYYY-MM-DD[ HH:MM:SS]` read in `--tz` (else
    /// `TSAPI_TIMEZONE`). Absent: from the first bar.
    #[arg(long)]
    pub start: Option<String>,
    /// Exclusive end, same forms as `--start`. Absent: to the last bar.
    #[arg(long)]
    pub end: Option<String>,
    /// Bucket width (`1min`, `1h`, `1d`, `1w`, `1mo`, ...): aggregates with `count`, as
    /// `/v1/bars?interval=` gives them. Absent: the stored bars.
    #[arg(long)]
    pub interval: Option<String>,
    /// IANA zone of calendar buckets and naive times, as `/v1/bars?tz=`.
    #[arg(long)]
    pub tz: Option<String>,
    /// `raw` (default), `split`, `dividend` or `all`: prices adjusted for the stored
    /// corporate actions, as `/v1/bars?adjustment=`.
    #[arg(long)]
    pub adjustment: Option<String>,
    /// `YYYY-MM-DD`: read each symbol as it was named that day, across renames, as
    /// `/v1/bars?asof=`.
    #[arg(long)]
    pub asof: Option<String>,
    /// Output format; by default from the extension of `-o` (.parquet, .arrow or
    /// .arrows, .csv, .ndjson or .jsonl).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// The file to write, or `-` for standard output. Rows go to a temporary file beside
    /// it that takes this name when the export succeeds: a failed export leaves no file
    /// (or the older one, untouched).
    #[arg(short, long)]
    pub output: PathBuf,
    /// IANA time zone in which naive times are read when `--tz` is absent.
    #[arg(long, env = "TSAPI_TIMEZONE", default_value = "UTC", value_parser = crate::domain::parse_zone)]
    pub timezone: Tz,
}

/// The format of `path` by its extension, unless `format` says.
pub fn format_of(path: &Path, format: Option<ExportFormat>) -> anyhow::Result<ExportFormat> {
    if let Some(format) = format {
        return Ok(format);
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    let by_extension = [
        (".parquet", ExportFormat::Parquet),
        (".arrow", ExportFormat::Arrow),
        (".arrows", ExportFormat::Arrow),
        (".csv", ExportFormat::Csv),
        (".ndjson", ExportFormat::Ndjson),
        (".jsonl", ExportFormat::Ndjson),
    ];
    match by_extension.iter().find(|(ext, _)| name.ends_with(ext)) {
        Some((_, format)) => Ok(*format),
        None => bail!("cannot tell the format of {path:?}; pass --format parquet|arrow|csv|ndjson"),
    }
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let format = format_of(&args.output, args.format)?;
    let query = parse_query(&args, format)?;
    let client = connect(&args.database).await?;
    let mut out = Output::open(&args.output)?;
    let progress = progress_bar();
    let started = Instant::now();
    let bytes = export(client, query, format, out.writer(), &progress).await?;
    out.commit()?;
    progress.finish_and_clear();
    let rows = progress.position();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "exported {rows} rows ({bytes} bytes) in {seconds:.1} s ({:.0} rows/s)",
        rows as f64 / seconds.max(1e-9)
    );
    Ok(())
}

/// The export's query, validated as `/v1/bars` validates its parameters.
fn parse_query(args: &ExportArgs, format: ExportFormat) -> anyhow::Result<BarsQuery> {
    // Every format streams the whole range; CSV stands for the columnar ones here, which
    // only decides that there is no default page size.
    let wire = match format {
        ExportFormat::Ndjson => "ndjson",
        _ => "csv",
    };
    let params = BarsParams {
        symbols: Some(args.symbols.clone()),
        start: args.start.clone(),
        end: args.end.clone(),
        interval: args.interval.clone(),
        tz: args.tz.clone(),
        adjustment: args.adjustment.clone(),
        asof: args.asof.clone(),
        format: Some(wire.into()),
        ..BarsParams::default()
    };
    let tokens = PageTokenKey::random();
    let context = BarsContext {
        times: TimeParser::new(args.timezone),
        max_page_rows: bars_page_rows(),
        tokens: &tokens,
        negotiated: ResponseFormat::Json,
    };
    BarsQuery::parse(&params, &context).map_err(|e| anyhow::anyhow!("--{}: {}", e.param, e.message))
}

/// Not used by streamed formats; any positive number does.
fn bars_page_rows() -> usize {
    crate::domain::bars_query::DEFAULT_LIMIT
}

/// One connection, with no statement timeout: an export takes as long as its rows do.
async fn connect(database: &DatabaseArgs) -> anyhow::Result<Conn> {
    let pg = database.pg_config()?;
    let tls = DbTls::for_database(database, &pg)?;
    let settings = PoolArgs {
        pool_size: 1,
        pool_timeout: Duration::from_secs(30),
        statement_timeout: Duration::ZERO,
        statement_cache: true,
        pipeline_reads: false,
    };
    let pool = db::create_pool_with(pg, &settings, &tls, Recycling::Trusting)?;
    let client = pool
        .get()
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    let mode = StatementMode::Cached;
    let trade_stats = db::TableInfo::load(&**client).await?.trade_stats;
    Ok(Conn::pooled(PooledClient::new(client, mode), mode).with_trade_stats(trade_stats))
}

/// Writes every row of `query` to `out` in `format`; returns the bytes written.
async fn export(
    client: Conn,
    query: BarsQuery,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
    progress: &ProgressBar,
) -> anyhow::Result<u64> {
    let columnar = match format {
        ExportFormat::Parquet => Some(Columnar::Parquet),
        ExportFormat::Arrow => Some(Columnar::Arrow),
        ExportFormat::Csv | ExportFormat::Ndjson => None,
    };
    let aggregated = query.interval.is_some();
    let chunks: std::pin::Pin<Box<dyn Stream<Item = anyhow::Result<Bytes>> + Send>> = match columnar
    {
        Some(columnar) => {
            let plan = Plan {
                format: columnar,
                symbols: SymbolDictionary::new(query.symbols.iter().map(Symbol::as_str)),
                aggregated,
                cap: None,
                token_for: None,
            };
            let counter = progress.clone();
            let rows = db::stream_paged_bars(client, query)
                .await?
                .inspect_ok(move |_| counter.inc(1));
            Box::pin(columnar::encode_stream(plan, rows)?.map_err(anyhow::Error::from))
        }
        None => {
            let header = match format {
                ExportFormat::Csv => QueryBar::csv_header(aggregated),
                _ => "",
            };
            let counter = progress.clone();
            let lines = db::stream_bars(client, query)
                .await?
                .map_ok(move |bar| {
                    counter.inc(1);
                    Bytes::from(match format {
                        ExportFormat::Csv => bar.csv_line(),
                        _ => bar.ndjson_line(),
                    })
                })
                .map_err(anyhow::Error::from);
            let header = futures_util::stream::iter([Ok(Bytes::from_static(header.as_bytes()))]);
            Box::pin(header.chain(lines))
        }
    };
    let mut chunks = chunks;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        out.write_all(&chunk).context("cannot write the output")?;
        written += chunk.len() as u64;
    }
    Ok(written)
}

/// Where the export goes: standard output, or a temporary file beside the output that
/// takes its name only once every row is written. An export that fails part way (the
/// connection lost, the statement cancelled) leaves no file that looks complete, and an
/// older file of that name stays as it was.
struct Output {
    writer: BufWriter<Box<dyn Write + Send>>,
    /// `(temporary, final)` paths of a file output; `None` for standard output.
    paths: Option<(PathBuf, PathBuf)>,
}

impl Output {
    fn open(path: &Path) -> anyhow::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::buffered(Box::new(io::stdout()), None));
        }
        let name = path
            .file_name()
            .with_context(|| format!("{path:?} names no file"))?;
        let mut partial = std::ffi::OsString::from(".");
        partial.push(name);
        partial.push(format!(".partial-{}", std::process::id()));
        let temporary = path.with_file_name(partial);
        let file = File::create(&temporary)
            .with_context(|| format!("cannot create {temporary:?} (beside {path:?})"))?;
        Ok(Self::buffered(
            Box::new(file),
            Some((temporary, path.to_path_buf())),
        ))
    }

    fn buffered(sink: Box<dyn Write + Send>, paths: Option<(PathBuf, PathBuf)>) -> Self {
        Self {
            writer: BufWriter::with_capacity(1 << 20, sink),
            paths,
        }
    }

    fn writer(&mut self) -> &mut (dyn Write + Send) {
        &mut self.writer
    }

    /// Flushes, and gives a file output its name.
    fn commit(mut self) -> anyhow::Result<()> {
        self.writer.flush().context("cannot write the output")?;
        if let Some((temporary, path)) = self.paths.take()
            && let Err(e) = std::fs::rename(&temporary, &path)
        {
            let _ = std::fs::remove_file(&temporary);
            return Err(e).with_context(|| format!("cannot rename {temporary:?} to {path:?}"));
        }
        Ok(())
    }
}

impl Drop for Output {
    /// An output dropped before [`Output::commit`] is an export that failed.
    fn drop(&mut self) {
        if let Some((temporary, _)) = &self.paths {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

/// Rows so far and their rate, on a terminal only (indicatif draws nothing otherwise).
fn progress_bar() -> ProgressBar {
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {human_pos} rows ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    progress.enable_steady_tick(Duration::from_millis(200));
    progress
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension_unless_given() {
        let of = |name: &str| format_of(Path::new(name), None).ok();
        assert_eq!(of("bars.parquet"), Some(ExportFormat::Parquet));
        assert_eq!(of("BARS.ARROW"), Some(ExportFormat::Arrow));
        assert_eq!(of("bars.jsonl"), Some(ExportFormat::Ndjson));
        assert_eq!(of("bars.csv"), Some(ExportFormat::Csv));
        assert_eq!(of("bars.txt"), None);
        assert_eq!(of("-"), None);
        assert_eq!(
            format_of(Path::new("-"), Some(ExportFormat::Arrow)).unwrap(),
            ExportFormat::Arrow
        );
    }
}
