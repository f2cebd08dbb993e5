//! Other vendors' APIs, translated onto tsapi's: shapes and parameters only.

pub mod alpaca_stream;
