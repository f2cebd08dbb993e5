//! tsapi: a data API for market bars in TimescaleDB.
//!
//! One binary serves the tutorial's paths (`/ticker`, `/ticker/daily`, `/insert`) and
//! operations endpoints over the `stocks_intraday` hypertable, as a server or a Lambda.
//!
//! Module map, from the outside in:
//! - [`cli`]: the command line: which command runs, with which settings.
//! - [`config`]: typed settings from the environment and flags; imports nothing of ours.
//! - [`server`]: `tsapi serve`, the router on a socket.
//! - [`router`]: the one route table and its layers, built from one [`state::AppState`].
//! - [`routes`]: thin handlers, one file per resource.
//! - [`dialects`]: Alpaca- and Polygon-compatible routes that translate to the `/v1` core.
//! - [`domain`]: validated types (`Bar`, `Symbol`, times, record parsing), `Accept`
//!   negotiation, signed chart links, and corporate actions with their adjustment factors
//!   (`domain::actions`).
//! - [`db`]: every SQL statement: pool, migrations, reads, COPY ingest, the symbol
//!   catalogue behind whole-market reads (kept by writes, refreshed for other writers), and
//!   corporate actions with the adjustment plan of a read (`db::actions`).
//! - [`error`]: `ApiError`, the one mapping from failures to problem+json responses.
//! - [`observe`]: request ids, per-request logs and Prometheus metrics.
//! - [`telemetry`]: logging setup (text or JSON, `RUST_LOG`).
//! - [`render`]: how values look on the wire (times, numbers).
//! - [`state`]: `AppState`, what every handler shares: pools, settings, keys, the feed.
//! - [`demo`]: the deterministic sample-data generator.
//! - [`openapi`]: the OpenAPI document of every endpoint, served at `/openapi.json`.
//! - [`ingest`]: streaming decoders (JSON, NDJSON, CSV, gzip) feeding binary COPY batches.
//! - [`load`]: `tsapi load`, files into the table over COPY with a progress bar.
//! - [`export`]: `tsapi export`, bars out of the table into Parquet, Arrow, CSV or NDJSON
//!   files, with a progress bar.
//! - [`columnar`]: Arrow IPC and Parquet encoding of bars, batch by batch.
//! - [`lambda`]: Lambda mode, the same router behind API Gateway or a Function URL.
//! - [`auth`]: API keys with scopes, checked before any handler runs; signed chart links.
//! - [`limits`]: backpressure: concurrent requests, the request deadline, the URI length.
//! - [`cors`]: cross-origin access for browser apps (`TSAPI_CORS_ORIGINS`).
//! - [`chart`]: candlestick charts drawn as SVG, and the page that shows them.
//! - [`dialects`]: other vendors' APIs (the Alpaca stream) over tsapi's.
//! - [`feed`]: the change feed: LISTEN/NOTIFY, latest bars in memory, subscriptions.

pub mod auth;
pub mod chart;
pub mod cli;
pub mod columnar;
pub mod config;
pub mod cors;
pub mod db;
pub mod demo;
pub mod dialects;
pub mod domain;
pub mod error;
pub mod export;
pub mod feed;
pub mod ingest;
pub mod lambda;
pub mod limits;
pub mod load;
pub mod observe;
pub mod openapi;
pub mod render;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
