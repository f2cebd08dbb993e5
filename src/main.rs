//! The `tsapi` binary: read the configuration, then serve, migrate, load files or demo data.

use std::process::ExitCode;

use clap::Parser;
use tsapi::cli::{Cli, Command, DemoDataArgs};
use tsapi::domain::Symbol;
use tsapi::{db, demo, server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    if tsapi::lambda::is_lambda() {
        return tsapi::lambda::main().await;
    }
    let cli = Cli::parse();
    let _logs = telemetry::init(cli.log_format);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tsapi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server::serve(*args).await,
        Command::Migrate(args) => {
            let mut client = db::connect(&args.database).await?;
            let report = db::migrate_with(&mut client, args.feed_trigger).await?;
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            eprintln!("schema is up to date");
            Ok(())
        }
        Command::DemoData(args) => demo_data(args).await,
        Command::Load(args) => tsapi::load::run(args).await,
        Command::Export(args) => tsapi::export::run(args).await,
        Command::Keygen(args) => keygen(&args),
        Command::Catalog(tsapi::cli::CatalogCommand::Refresh(args)) => {
            let mut client = db::connect(&args.database).await?;
            let report = db::rebuild_catalog(&mut client, args.zone).await?;
            eprintln!(
                "catalogue rebuilt: {} symbols, {} daily bars, {} chunks",
                report.symbols, report.days, report.chunks
            );
            Ok(())
        }
    }
}

async fn demo_data(args: DemoDataArgs) -> anyhow::Result<()> {
    let symbols = args
        .symbols
        .iter()
        .map(|s| Symbol::parse(s).map_err(|e| anyhow::anyhow!("symbol {s:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bars = demo::generate(&symbols, args.from, args.days, args.seed);
    if let Some(path) = &args.output {
        return demo::write_file(&bars, path, args.format);
    }
    let mut client = db::connect(&args.database).await?;
    let table = db::TableInfo::load(&client).await?;
    let mut total = db::WriteCounts::default();
    for chunk in bars.chunks(50_000) {
        let counts = db::write_all(&mut client, &table, chunk, db::OnConflict::Ignore).await?;
        total.inserted += counts.inserted;
        total.skipped += counts.skipped;
    }
    eprintln!(
        "demo data: {} bars for {} symbols, {} inserted, {} already present",
        bars.len(),
        symbols.len(),
        total.inserted,
        total.skipped
    );
    Ok(())
}

/// Prints a new key once (stdout, for scripts) and its configuration entry.
fn keygen(args: &tsapi::cli::KeygenArgs) -> anyhow::Result<()> {
    use tsapi::auth::{ApiKey, Scopes, generate_key};
    if args.name.is_empty()
        || args.name.contains([':', ','])
        || args.name.contains(char::is_whitespace)
    {
        anyhow::bail!("--name must be non-empty without ':', ',' or spaces");
    }
    let scopes = Scopes::parse(&args.scopes).map_err(anyhow::Error::msg)?;
    let key = generate_key().map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    println!("{key}");
    eprintln!(
        "API key for {:?} printed above; it is shown only this once.",
        args.name
    );
    eprintln!("Configuration entry (TSAPI_API_KEYS, or a line of TSAPI_API_KEYS_FILE):");
    println!("{}", ApiKey::entry(&args.name, scopes, &key));
    Ok(())
}
