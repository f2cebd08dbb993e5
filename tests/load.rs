//! `tsapi load` and `tsapi demo-data --output`, driven as the real binary.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::bodies::gzip;
use common::process::DEMO_TWO_DAYS;
use common::scratch::Scratch;
use common::{Schema, TestDb};

fn tsapi(args: &[&str], db: &TestDb, stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tsapi"));
    cmd.args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run tsapi");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().expect("tsapi output")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn demo_file(db: &TestDb, name: &str) -> Scratch {
    let file = Scratch::new(name);
    let mut args = DEMO_TWO_DAYS.to_vec();
    args.extend(["--output", file.path()]);
    let out = tsapi(&args, db, None);
    assert!(out.status.success(), "{}", stderr(&out));
    file
}

#[tokio::test]
async fn loads_demo_data_written_in_every_format_the_same_as_demo_data_itself() {
    // The reference: demo-data straight into a database.
    let reference = TestDb::new(Schema::Migrated).await;
    let out = tsapi(&DEMO_TWO_DAYS, &reference, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = reference.rows().await;
    assert_eq!(expected.len(), 1560);

    // Every name `load` reads, `demo-data` writes, by the same rule.
    for name in [
        "bars.csv",
        "bars.ndjson",
        "bars.json",
        "bars.jsonl",
        "bars.csv.gz",
        "bars.NDJSON.GZ",
    ] {
        let db = TestDb::new(Schema::Migrated).await;
        let file = demo_file(&db, name);
        assert_eq!(
            db.count().await,
            0,
            "--output must not write to the database"
        );
        let out = tsapi(&["load", file.path(), "--batch-rows", "500"], &db, None);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let summary = stderr(&out);
        assert!(
            summary.contains("loaded 1560 rows") && summary.contains("1560 inserted"),
            "{summary}"
        );
        assert_eq!(db.rows().await, expected, "{name}");
        // Loading again: refused as duplicates by default, skipped with ignore.
        let out = tsapi(&["load", file.path()], &db, None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("0 rows committed"),
            "{}",
            stderr(&out)
        );
        let out = tsapi(&["load", file.path(), "--on-conflict", "ignore"], &db, None);
        assert!(
            stderr(&out).contains("0 inserted, 0 updated, 1560 skipped"),
            "{}",
            stderr(&out)
        );
        assert_eq!(db.rows().await, expected);
    }
}

#[tokio::test]
async fn loads_standard_input_with_a_format_flag() {
    let db = TestDb::new(Schema::Migrated).await;
    let csv = "time,symbol,price_close\n2021-11-12 15:00:00,AAPL,1.5\n2021-11-12 15:01:00,AAPL,\n";
    let out = tsapi(&["load", "-", "--format", "csv"], &db, Some(csv.as_bytes()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        db.rows().await,
        ["AAPL|2021-11-12T15:00:00Z|1.5", "AAPL|2021-11-12T15:01:00Z"]
    );
    let ndjson = r#"{"time": "2021-11-12T15:01:00Z", "symbol": "AAPL", "price_close": 2}"#;
    let out = tsapi(
        &["load", "-", "--format", "ndjson", "--on-conflict", "update"],
        &db,
        Some(ndjson.as_bytes()),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 inserted, 1 updated"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.rows().await[1], "AAPL|2021-11-12T15:01:00Z|2");
    // Without a format, standard input cannot be read.
    let out = tsapi(&["load", "-"], &db, Some(b""));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_bad_line_is_named_with_the_rows_committed_before_it() {
    let db = TestDb::new(Schema::Migrated).await;
    let file = Scratch::new("bad.ndjson");
    let mut body = String::new();
    for i in 0..25 {
        body.push_str(&format!(
            "{{\"time\": \"2021-11-12T15:{i:02}:00Z\", \"symbol\": \"X\"}}\n"
        ));
    }
    // Line 26 is fine, line 27 has a bad volume.
    body.push_str("{\"time\": \"2021-11-12T16:00:00Z\", \"symbol\": \"X\"}\n");
    body.push_str(
        "{\"time\": \"2021-11-12T16:01:00Z\", \"symbol\": \"X\", \"trading_volume\": \"many\"}\n",
    );
    std::fs::write(file.path(), body).unwrap();
    let out = tsapi(&["load", file.path(), "--batch-rows", "10"], &db, None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("line 27, field trading_volume"), "{err}");
    // Two full batches of 10 were committed; the 6 rows of the third were not.
    assert!(err.contains("20 rows committed"), "{err}");
    assert_eq!(db.count().await, 20);

    let csv = Scratch::new("bad.csv");
    std::fs::write(
        csv.path(),
        "time,symbol\n2021-11-13 15:00:00,Y\n2021-11-13 15:01:00,Y,extra\n",
    )
    .unwrap();
    let out = tsapi(&["load", csv.path()], &db, None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("line 3") && err.contains("0 rows committed"),
        "{err}"
    );
    assert_eq!(db.count().await, 20);
}

#[tokio::test]
async fn gzip_files_are_read_by_their_name() {
    let db = TestDb::new(Schema::Migrated).await;
    let file = Scratch::new("bars.csv.gz");
    let body = gzip("time,symbol,trading_volume\n2021-11-12,GZ,7\n");
    std::fs::write(file.path(), body).unwrap();
    let out = tsapi(&["load", file.path()], &db, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.rows().await, ["GZ|2021-11-12T00:00:00Z|7"]);
}

#[tokio::test]
async fn a_value_over_its_bound_is_named_and_the_bound_is_a_setting() {
    let db = TestDb::new(Schema::Migrated).await;
    let long = format!("1.{}", "0".repeat(2000));
    let csv = format!("time,symbol,price_close\n2021-11-12,AAPL,{long}\n");
    let out = tsapi(&["load", "-", "--format", "csv"], &db, Some(csv.as_bytes()));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("line 2, field price_close"), "{err}");
    assert!(err.contains("longer than 1024 bytes"), "{err}");
    assert!(!err.contains(&long), "{err}");
    let args = ["load", "-", "--format", "csv", "--max-value-bytes", "4096"];
    let out = tsapi(&args, &db, Some(csv.as_bytes()));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(db.rows().await, ["AAPL|2021-11-12T00:00:00Z|1"]);
}
