//! Test helpers beyond the database harness in `common`.
#![allow(dead_code)] // each test binary uses a different part

pub mod lambda_process;
pub mod runtime_api;
pub mod tls_server;
