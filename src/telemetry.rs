//! Logging setup. `RUST_LOG` filters (default `info`); the format is text or JSON.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// For the server: lines are written to stderr by a background thread, so a request never
/// waits on a slow terminal or pipe. Keep the guard alive until exit; dropping it flushes
/// what is left.
pub fn init(format: LogFormat) -> WorkerGuard {
    // Not lossy: under a flood the writer waits rather than drop lines.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    install(format, writer);
    guard
}

/// For Lambda: every line is written before the call returns, because the environment
/// may be frozen as soon as the response is sent.
pub fn init_direct(format: LogFormat) {
    install(format, std::io::stderr);
}

fn install<W>(format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
