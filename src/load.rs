//! `tsapi load FILE`: CSV, NDJSON or JSON files (or standard input) into the table over
//! binary COPY, in batches, with a progress bar on a terminal and a summary line.
//!
//! Unlike an API request, a load is not one transaction: each batch commits on its own,
//! so a file of any size loads in bounded memory and a failure keeps what came before it.
//! Batches go to the database over a few connections at once (`--workers`), so they may
//! commit out of order. On an error the loader names the line and says how many rows were
//! committed; with `--on-conflict ignore` the same file can then be loaded again from the
//! start.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono_tz::Tz;
use clap::{Args, ValueEnum};
use futures_util::future::join_all;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{Mutex, mpsc};

use crate::config::DatabaseArgs;
use crate::db::{
    self, BulkWrite, CopyEncoder, EncodedBatch, OnConflict, Prepared, TableInfo, WriteCounts,
};
use crate::domain::{FieldError, InputBounds, RecordRules, TimeParser};
use crate::error::ApiError;
use crate::ingest::body::{FaultSlot, Gunzip};
use crate::ingest::{Batcher, BodyFormat, IngestError, decode_batches};

/// File formats, by name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Csv,
    Ndjson,
    Json,
}

impl From<FileFormat> for BodyFormat {
    fn from(f: FileFormat) -> Self {
        match f {
            FileFormat::Csv => BodyFormat::Csv,
            FileFormat::Ndjson => BodyFormat::Ndjson,
            FileFormat::Json => BodyFormat::Json,
        }
    }
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadKind {
    /// Bars (the default).
    Bars,
    /// Corporate actions (splits, dividends, symbol changes), as `POST /v1/corporate-actions`
    /// takes them; loaded in one transaction, all or nothing.
    CorporateActions,
}

/// Settings of `tsapi load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The file to load, or `-` for standard input. A name ending in `.gz` is gunzipped.
    pub file: PathBuf,
    /// Input format; by default from the extension (.csv, .ndjson or .jsonl, .json).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// What the file holds: bars or corporate actions.
    #[arg(long, value_enum, default_value = "bars")]
    pub kind: LoadKind,
    /// What to do with a bar whose (symbol, time) is already stored: error, ignore, update.
    #[arg(long, default_value = "error", value_parser = OnConflict::parse)]
    pub on_conflict: OnConflict,
    /// Rows per batch; each batch is one COPY and one commit.
    #[arg(long, default_value_t = 50_000)]
    pub batch_rows: usize,
    /// Connections that load batches side by side. PostgreSQL writes a COPY on one core
    /// per connection, so a second one roughly doubles what the database can take in.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,
    /// Longest value in the file, in bytes: a JSON string or number, a CSV cell.
    #[arg(long, env = "TSAPI_MAX_VALUE_BYTES", default_value_t = InputBounds::default().value_bytes)]
    pub max_value_bytes: usize,
    /// Longest CSV row or NDJSON line in the file, in bytes.
    #[arg(long, env = "TSAPI_MAX_LINE_BYTES", default_value_t = InputBounds::default().line_bytes)]
    pub max_line_bytes: usize,
    /// IANA time zone in which naive times (without an offset) are read.
    #[arg(long, env = "TSAPI_TIMEZONE", default_value = "UTC", value_parser = crate::domain::parse_zone)]
    pub timezone: Tz,
}

/// What a file holds, from its name unless `--format` says: the format from the extension
/// (`.csv`, `.ndjson` or `.jsonl`, `.json`, in any case) and gzip when the name ends in
/// `.gz`. `load` reads and `demo-data --output` writes by this one rule.
pub fn file_kind(path: &Path, format: Option<FileFormat>) -> anyhow::Result<(FileFormat, bool)> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    let gzip = name.ends_with(".gz");
    let format = match format {
        Some(format) => format,
        None => match BodyFormat::from_file_name(&name) {
            Some(BodyFormat::Csv) => FileFormat::Csv,
            Some(BodyFormat::Ndjson) => FileFormat::Ndjson,
            Some(BodyFormat::Json | BodyFormat::Records) => FileFormat::Json,
            None => bail!("cannot tell the format of {path:?}; pass --format csv|ndjson|json"),
        },
    };
    Ok((format, gzip))
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let name = args.file.to_string_lossy().into_owned();
    let (format, gzip) = file_kind(&args.file, args.format)?;
    let format = BodyFormat::from(format);
    let (input, size) = open(&args)?;
    if args.kind == LoadKind::CorporateActions {
        return load_actions(&args, &name, input, (format, gzip)).await;
    }
    let mut clients = Vec::with_capacity(args.workers.into());
    for _ in 0..args.workers {
        clients.push(db::connect(&args.database).await?);
    }
    let table = TableInfo::load(&clients[0]).await?;
    let rules = RecordRules {
        times: TimeParser::new(args.timezone),
        volume: table.volume,
        trade_stats: table.trade_stats,
        bounds: InputBounds {
            value_bytes: args.max_value_bytes,
            line_bytes: args.max_line_bytes,
        },
    };
    let progress = Progress::new(size);
    let bytes_read = progress.bytes.clone();
    let encoder = CopyEncoder::new(&table);
    let batch_rows = args.batch_rows;
    let (batch_tx, batch_rx) = mpsc::channel::<EncodedBatch>(2 * usize::from(args.workers));
    let decoder = tokio::task::spawn_blocking(move || {
        let slot = FaultSlot::default();
        let counted = Counted {
            inner: input,
            bytes: bytes_read,
        };
        let input: Box<dyn Read> = if gzip {
            Box::new(Gunzip::new(counted, slot.clone()))
        } else {
            Box::new(counted)
        };
        let batcher = Batcher::new(encoder, batch_rows, u64::MAX, |batch| {
            batch_tx.blocking_send(batch).is_ok()
        })
        .stop_at_first_error();
        decode_batches(input, format, &rules, batcher, &slot)
    });

    let queue = Mutex::new(batch_rx);
    let tally = Mutex::new(Tally::default());
    let worker = Worker {
        queue: &queue,
        tally: &tally,
        table: &table,
        mode: args.on_conflict,
        format,
        progress: &progress,
    };
    join_all(clients.iter_mut().map(|client| worker.run(client))).await;
    // Unblocks the decoder if the workers stopped early.
    drop(queue);
    let decoded = decoder.await.context("the decoder thread failed")?;
    progress.finish();
    let Tally {
        counts: total,
        committed,
        failure,
    } = tally.into_inner();
    let failure = failure.or_else(|| match decoded {
        Ok(_) | Err(IngestError::WriterGone) => None,
        Err(IngestError::Invalid { errors, .. }) => errors.first().map(where_and_why),
        Err(other) => Some(other.to_string()),
    });
    if let Some(failure) = failure {
        bail!("{name}: {failure}; {committed} rows committed before the error");
    }
    let secs = progress.started.elapsed().as_secs_f64();
    eprintln!(
        "loaded {committed} rows from {name} in {secs:.2}s ({:.0} rows/s): \
         {} inserted, {} updated, {} skipped",
        committed as f64 / secs.max(1e-9),
        total.inserted,
        total.updated,
        total.skipped
    );
    Ok(())
}

fn position_word(format: BodyFormat, plural: bool) -> &'static str {
    match (format, plural) {
        (BodyFormat::Json | BodyFormat::Records, true) => "records",
        (BodyFormat::Json | BodyFormat::Records, false) => "record",
        (_, true) => "lines",
        (_, false) => "line",
    }
}

/// What the workers have done so far.
#[derive(Default)]
struct Tally {
    counts: WriteCounts,
    committed: u64,
    /// The first failure; the workers stop taking batches once it is set.
    failure: Option<String>,
}

/// One connection's share of a load: takes batches from the queue until it is empty or a
/// batch fails, each batch in its own transaction.
#[derive(Clone, Copy)]
struct Worker<'a> {
    queue: &'a Mutex<mpsc::Receiver<EncodedBatch>>,
    tally: &'a Mutex<Tally>,
    table: &'a TableInfo,
    mode: OnConflict,
    format: BodyFormat,
    progress: &'a Progress,
}

impl Worker<'_> {
    async fn run(self, client: &mut tokio_postgres::Client) {
        loop {
            let Some(batch) = self.queue.lock().await.recv().await else {
                return;
            };
            if self.tally.lock().await.failure.is_some() {
                return;
            }
            let (first, last, rows) = (batch.first_line, batch.last_line, batch.rows);
            let result = write_batch(client, self.table, batch, self.mode).await;
            let mut tally = self.tally.lock().await;
            match result {
                Ok(counts) => {
                    tally.counts.inserted += counts.inserted;
                    tally.counts.updated += counts.updated;
                    tally.counts.skipped += counts.skipped;
                    tally.committed += rows;
                    self.progress.rows(tally.committed);
                }
                Err(e) => {
                    let what = format!(
                        "{} {first}-{last}: {}",
                        position_word(self.format, true),
                        ApiError::from(e)
                    );
                    tally.failure.get_or_insert(what);
                    return;
                }
            }
        }
    }
}

/// Largest corporate-actions file read: far more than all actions of a whole market.
const MAX_ACTIONS_FILE_BYTES: u64 = 1 << 30;

/// A file of corporate actions, validated whole, then stored in one transaction.
async fn load_actions(
    args: &LoadArgs,
    name: &str,
    input: Box<dyn Read + Send>,
    (format, gzip): (BodyFormat, bool),
) -> anyhow::Result<()> {
    let max_value_bytes = args.max_value_bytes;
    let decoded = tokio::task::spawn_blocking(move || {
        crate::ingest::actions::decode_actions(
            input,
            gzip,
            format,
            MAX_ACTIONS_FILE_BYTES,
            max_value_bytes,
            usize::MAX,
        )
    })
    .await
    .context("the decoder thread failed")?;
    let actions = match decoded {
        Ok(actions) => actions,
        Err(IngestError::Invalid { errors, .. }) => {
            let first = errors.first().map(where_and_why);
            bail!(
                "{name}: {} invalid record(s), first {}; nothing was stored",
                errors.len(),
                first.unwrap_or_default()
            );
        }
        Err(other) => bail!("{name}: {other}; nothing was stored"),
    };
    let mut client = db::connect(&args.database).await?;
    let tx = client.transaction().await?;
    let mut counts = db::actions::ActionCounts::default();
    for chunk in actions.chunks(10_000) {
        let done = db::actions::write_actions(&tx, chunk).await?;
        counts.inserted += done.inserted;
        counts.updated += done.updated;
    }
    tx.commit().await?;
    eprintln!(
        "loaded {} corporate actions from {name}: {} inserted, {} updated",
        actions.len(),
        counts.inserted,
        counts.updated
    );
    Ok(())
}

/// One batch in its own transaction.
async fn write_batch(
    client: &mut tokio_postgres::Client,
    table: &TableInfo,
    batch: EncodedBatch,
    mode: OnConflict,
) -> Result<WriteCounts, db::DbError> {
    let write = BulkWrite::begin(client, table, mode, Prepared::PerWrite).await?;
    write.copy(batch).await?.commit().await
}

/// The input and its size, when known.
fn open(args: &LoadArgs) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if args.file.as_os_str() == "-" {
        return Ok((Box::new(io::stdin()), None));
    }
    let file = File::open(&args.file).with_context(|| format!("cannot open {:?}", args.file))?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size))
}

/// Counts bytes read, for the progress bar.
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A progress bar on a terminal (bytes for the ETA, rows and rows/s in the message),
/// nothing otherwise.
struct Progress {
    bar: ProgressBar,
    bytes: Arc<AtomicU64>,
    started: Instant,
}

impl Progress {
    fn new(size: Option<u64>) -> Self {
        let bar = if !io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else if let Some(size) = size {
            ProgressBar::new(size).with_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} {wide_bar} {bytes}/{total_bytes} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        } else {
            ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {bytes} read, {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            )
        };
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            bar,
            bytes: Arc::default(),
            started: Instant::now(),
        }
    }

    fn rows(&self, rows: u64) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_position(self.bytes.load(Ordering::Relaxed));
        self.bar
            .set_message(format!("{rows} rows, {:.0} rows/s", rows as f64 / secs));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// An invalid record as a file's reader finds it: `line 7, field price_low: ...`, or by
/// its place (`record 3`) where the format has no lines.
fn where_and_why(error: &FieldError) -> String {
    let at = match error.line {
        Some(line) => format!("line {line}"),
        None => format!("record {}", error.index),
    };
    let field = error
        .field
        .as_deref()
        .map_or(String::new(), |f| format!(", field {f}"));
    format!("{at}{field}: {}", error.message)
}
