//! HTTP handlers, one file per resource. Handlers are thin: parse into domain types,
//! call one `db` function, render.

pub mod actions;
pub mod bars;
pub mod chart;
pub mod columnar;
pub mod extract;
pub mod fallback;
pub mod health;
pub mod insert;
pub mod market;
pub mod market_cache;
pub mod metrics;
pub mod stream;
pub mod symbols;
pub mod ticker;
pub mod write;
pub mod ws;
