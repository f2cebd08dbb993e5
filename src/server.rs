//! `tsapi serve`: the router on a TCP socket, with graceful shutdown.

use std::future::IntoFuture;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::auth::{Auth, AuthHandle};
use crate::config::{AuthArgs, ServeArgs};
use crate::db;
use crate::router::router;
use crate::state::AppState;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut state = app_state(&args, db::Recycling::Trusting)?;
    if args.stream.stream {
        let feed = crate::feed::start_for(&args, state.pool.clone())?;
        state = state.with_feed(feed);
    }
    reload_keys_on_hangup(state.auth.clone(), args.auth.clone());
    if !args.catalog_refresh.is_zero() {
        tokio::spawn(refresh_catalog(state.clone(), args.catalog_refresh));
    }
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "tsapi listening");
    // Answers are small and complete when written: send them at once, not after an ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stopping_tx.send(());
        })
        .into_future();
    // In-flight requests get the grace period; past it the process exits anyway.
    let grace_over = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(args.shutdown_grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = grace_over => tracing::warn!(
            grace = %humantime::format_duration(args.shutdown_grace),
            "grace period over: exiting with requests still in flight"
        ),
    }
    tracing::info!("tsapi stopped");
    Ok(())
}

/// On SIGHUP, reads the keys again (`TSAPI_API_KEYS_FILE` and the rest of the key
/// settings): a key can be added or revoked without a restart and without dropping a
/// request. A file that no longer parses keeps the keys in force, and says why.
fn reload_keys_on_hangup(auth: Arc<AuthHandle>, settings: AuthArgs) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: API keys load only at start");
            return;
        };
        while hangups.recv().await.is_some() {
            match Auth::from_args(&settings) {
                Ok(keys) => {
                    keys.log_summary();
                    auth.replace(keys);
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: keys not reloaded; the old ones stay in force")
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (auth, settings);
}

/// Every `every`, brings the symbol catalogue up to date with writes made around tsapi
/// (see `db::refresh_catalog`), on a pooled primary connection. Failures are logged and
/// retried at the next tick.
async fn refresh_catalog(state: AppState, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let result = match state.db().await {
            Ok(mut client) => {
                let work = client.start();
                let started = std::time::Instant::now();
                let result = db::refresh_catalog(&mut client).await;
                work.end();
                result.map(|report| report.map(|r| (r, started.elapsed())))
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(Some((report, took))) if report.chunks > 0 => tracing::info!(
                chunks = report.chunks,
                days = report.days,
                symbols = report.symbols,
                ms = took.as_millis() as u64,
                "catalogue caught up with changed chunks"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "catalogue refresh failed"),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The shared state from `tsapi serve`'s settings, for the server and for Lambda alike:
/// pools (primary, optional replica), statement mode and API keys. Nothing connects yet.
pub fn app_state(args: &ServeArgs, recycling: db::Recycling) -> anyhow::Result<AppState> {
    let auth = Auth::from_args(&args.auth)?;
    auth.log_summary();
    let pg = args.database.pg_config()?;
    let tls = db::DbTls::for_database(&args.database, &pg)?;
    let pool = db::create_pool_with(pg, &args.pool, &tls, recycling)?;
    let mut state = AppState::new(pool, args.api.clone())
        .with_auth(auth)
        .with_statements(db::StatementMode::from_cache_setting(
            args.pool.statement_cache,
        ))
        .with_pipelined_reads(args.pool.pipeline_reads);
    if let Some(url) = &args.read_database_url {
        let pg: tokio_postgres::Config = url.expose().parse().map_err(|e| {
            crate::config::ConfigError(format!(
                "TSAPI_READ_DATABASE_URL is not a valid PostgreSQL URL: {e}"
            ))
        })?;
        // The CA bundle of DB_SSLROOTCERT applies to the replica too; its sslmode is its
        // URL's.
        let tls = db::DbTls::for_database(&args.database, &pg)?;
        state = state.with_replica(db::create_read_pool(pg, &args.pool, &tls, recycling)?);
        tracing::info!("reads go to the replica while it answers");
    }
    Ok(state)
}
