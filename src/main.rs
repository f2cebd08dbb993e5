//! The `tsapi` binary: read the configuration, then serve, migrate, load files or demo data.

use std::process::ExitCode;

use clap::Parser;
use tsapi::config::{Cli, Command, DemoDataArgs};
use tsapi::domain::Symbol;
use tsapi::{db, demo, server, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
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
        Command::Serve(args) => server::serve(args).await,
        Command::Migrate(args) => {
            let mut client = db::connect_one(&args.pg_config()?).await?;
            let report = db::migrate(&mut client).await?;
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            eprintln!("schema is up to date");
            Ok(())
        }
        Command::DemoData(args) => demo_data(args).await,
        Command::Load(args) => tsapi::load::run(args).await,
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
    let mut client = db::connect_one(&args.database.pg_config()?).await?;
    let table = db::TableInfo::load(&client).await?;
    let mut total = db::WriteCounts::default();
    for chunk in bars.chunks(50_000) {
        let counts = db::write_bars(&mut client, &table, chunk, db::OnConflict::Ignore).await?;
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
