//! `tsapi serve`: the router on a TCP socket, with graceful shutdown.

use tokio::net::TcpListener;

use crate::config::ServeArgs;
use crate::db;
use crate::router::router;
use crate::state::AppState;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let pg = args.database.pg_config()?;
    let tls = args.database.tls(&pg)?;
    let pool = db::create_pool_with(pg, &args.pool, &tls, db::Recycling::Trusting)?;
    let state = AppState::new(pool, args.api);
    let listener = TcpListener::bind(args.listen).await?;
    tracing::info!(address = %listener.local_addr()?, "tsapi listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("tsapi stopped");
    Ok(())
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
