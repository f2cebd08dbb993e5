//! TLS to the database against a real PostgreSQL with `ssl=on`: a throwaway server started
//! here (as the `postgres` OS user) with a certificate from a CA generated here by openssl.

mod common;

use std::path::Path;

use common::tls_server::TlsServer;
use tokio_postgres::config::SslMode;
use tsapi::db::{DbTls, connect_one_with};

fn config(host: &str, server: &TlsServer) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(host)
        .port(server.port)
        .user("postgres")
        .dbname("postgres")
        .ssl_mode(SslMode::Require);
    pg
}

/// The error with its causes, as `tsapi` prints it.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(&format!(": {e}"));
        cause = e.source();
    }
    text
}

async fn connect(host: &str, server: &TlsServer, ca_file: Option<&Path>) -> Result<bool, String> {
    let tls = DbTls::new(SslMode::Require, ca_file).map_err(|e| e.to_string())?;
    let client = connect_one_with(&config(host, server), &tls)
        .await
        .map_err(|e| with_causes(&e))?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn require_with_the_servers_ca_connects_encrypted() {
    let server = TlsServer::start();
    let encrypted = connect("localhost", &server, Some(&server.ca_file)).await;
    assert_eq!(encrypted, Ok(true));
}

#[tokio::test]
async fn an_unverifiable_certificate_is_refused() {
    let server = TlsServer::start();
    // Another CA than the one that signed the server's certificate.
    let wrong_ca = connect("localhost", &server, Some(&server.other_ca_file)).await;
    assert!(
        wrong_ca.as_ref().is_err_and(|e| e.contains("certificate")),
        "{wrong_ca:?}"
    );
    // The public roots do not know a private CA.
    let public_roots = connect("localhost", &server, None).await;
    assert!(
        public_roots
            .as_ref()
            .is_err_and(|e| e.contains("UnknownIssuer")),
        "{public_roots:?}"
    );
    // The right CA, but the certificate names localhost, not 127.0.0.1.
    let wrong_name = connect("127.0.0.1", &server, Some(&server.ca_file)).await;
    assert!(
        wrong_name
            .as_ref()
            .is_err_and(|e| e.contains("certificate")),
        "{wrong_name:?}"
    );
}

/// Every command connects the same way: `load` trusts `DB_SSLROOTCERT` as `serve`,
/// `migrate` and `demo-data` do.
#[tokio::test]
async fn load_trusts_the_ca_file_like_every_command() {
    let server = TlsServer::start();
    let tls = DbTls::new(SslMode::Require, Some(&server.ca_file)).unwrap();
    let client = connect_one_with(&config("localhost", &server), &tls)
        .await
        .unwrap();
    client
        .batch_execute(
            "CREATE TABLE stocks_intraday (time timestamptz NOT NULL, symbol text NOT NULL, \
             price_open double precision, price_high double precision, \
             price_low double precision, price_close double precision, trading_volume bigint)",
        )
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("tsapi-tls-load-{}.csv", std::process::id()));
    std::fs::write(&file, "time,symbol,price_close\n2021-11-12,TLS,1.5\n").unwrap();
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=require",
        server.port
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsapi"))
        .args(["load", file.to_str().unwrap()])
        .env("DATABASE_URL", &url)
        .env("DB_SSLROOTCERT", &server.ca_file)
        .env_remove("DB_SSLMODE")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let count: i64 = client
        .query_one("SELECT count(*) FROM stocks_intraday", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}
