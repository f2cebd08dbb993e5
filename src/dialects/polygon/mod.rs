//! Polygon's (Massive's) aggregates API, under `/polygon`:
//! `massive.RESTClient(api_key=KEY, base=".../polygon")` works unchanged. The key comes
//! as `Authorization: Bearer KEY` (what the client sends) or the `apiKey` query parameter.

pub mod aggs;
mod range;

pub use range::{parse_bound, timespan_interval};
