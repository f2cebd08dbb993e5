//! `tsapi demo-data`: deterministic, realistic 1-minute bars for trying the API.
//!
//! Each symbol follows its own seeded random walk during New York regular hours
//! (09:30–16:00 local, weekdays), with a U-shaped intraday volume profile. The same seed
//! and dates always give the same bars, so examples and tests can rely on them.

use chrono::{Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::{Bar, BarValues, QueryBar, Symbol};

/// Minutes in a regular New York session.
const SESSION_MINUTES: u32 = 390;

/// Generates `days` weekdays of bars starting at `from`, for each symbol.
pub fn generate(symbols: &[Symbol], from: NaiveDate, days: u32, seed: u64) -> Vec<Bar> {
    let trading_days: Vec<NaiveDate> = from
        .iter_days()
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .take(days as usize)
        .collect();
    let mut bars =
        Vec::with_capacity(symbols.len() * trading_days.len() * SESSION_MINUTES as usize);
    for symbol in symbols {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(symbol.as_str()));
        let mut price = starting_price(symbol.as_str());
        let base_volume = 2_000_000.0 / price.sqrt();
        for day in &trading_days {
            let open_local = day.and_time(NaiveTime::from_hms_opt(9, 30, 0).expect("valid time"));
            let Some(session_open) = New_York.from_local_datetime(&open_local).single() else {
                continue;
            };
            for minute in 0..SESSION_MINUTES {
                let time =
                    (session_open + chrono::Duration::minutes(minute.into())).with_timezone(&Utc);
                let open = price;
                let close = open * (0.0008 * normal(&mut rng)).exp();
                let wick = |rng: &mut ChaCha8Rng| 1.0 + 0.0004 * rng.random::<f64>();
                let high = open.max(close) * wick(&mut rng);
                let low = open.min(close) / wick(&mut rng);
                // Busy at the open and the close, quiet at midday.
                let x = f64::from(minute) / f64::from(SESSION_MINUTES) - 0.5;
                let profile = 0.5 + 6.0 * x * x;
                let volume = base_volume * profile * (0.5 + rng.random::<f64>());
                // Trades of about a hundred shares, priced around the bar's middle.
                let vwap = (cents(open) + cents(close) + cents(high) + cents(low)) / 4.0;
                bars.push(Bar {
                    time,
                    symbol: symbol.clone(),
                    values: BarValues {
                        price_open: Some(cents(open)),
                        price_high: Some(cents(high)),
                        price_low: Some(cents(low)),
                        price_close: Some(cents(close)),
                        trading_volume: Some(volume as i64),
                        trade_count: Some((volume / 97.0).ceil() as i64),
                        vwap: Some((vwap * 10_000.0).round() / 10_000.0),
                    },
                });
                price = close;
            }
        }
    }
    bars
}

fn starting_price(symbol: &str) -> f64 {
    match symbol {
        "AAPL" => 149.0,
        "MSFT" => 331.0,
        "FB" => 340.0,
        "AMZN" => 3400.0,
        "GOOG" => 2900.0,
        "TSLA" => 1000.0,
        other => 20.0 + (fnv1a(other) % 480) as f64,
    }
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A stable string hash, so seeds do not depend on the standard library's hasher.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes bars to a file (`-` for stdout) in a format `tsapi load` and `POST /v1/bars`
/// read, gzipped when the name ends in `.gz`: the kind comes from the name by the rule
/// `load` uses ([`crate::load::file_kind`]) unless `format` is given.
pub fn write_file(
    bars: &[Bar],
    path: &std::path::Path,
    format: Option<crate::load::FileFormat>,
) -> anyhow::Result<()> {
    use std::io::Write;

    use anyhow::Context;

    let (format, gzip) = crate::load::file_kind(path, format)?;
    let out: Box<dyn Write> = if path.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(path).with_context(|| format!("cannot create {path:?}"))?)
    };
    let mut out = std::io::BufWriter::with_capacity(256 * 1024, out);
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
        serialize_bars(bars, format, &mut gz)?;
        gz.finish()?;
    } else {
        serialize_bars(bars, format, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

fn serialize_bars(
    bars: &[Bar],
    format: crate::load::FileFormat,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    use crate::load::FileFormat;
    match format {
        FileFormat::Csv => {
            // The rows `/v1/bars` answers in CSV, which `load` reads back.
            out.write_all(QueryBar::csv_header(false).as_bytes())?;
            for bar in bars {
                out.write_all(QueryBar::from(bar.clone()).csv_line().as_bytes())?;
            }
        }
        FileFormat::Ndjson => {
            for bar in bars {
                serde_json::to_writer(&mut *out, bar)?;
                out.write_all(b"\n")?;
            }
        }
        FileFormat::Json => {
            serde_json::to_writer(out, &serde_json::json!({ "records": bars }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u64) -> Vec<Bar> {
        let symbols = [
            Symbol::parse("AAPL").unwrap(),
            Symbol::parse("ZZZ").unwrap(),
        ];
        generate(
            &symbols,
            NaiveDate::from_ymd_opt(2021, 11, 5).unwrap(),
            3,
            seed,
        )
    }

    #[test]
    fn is_deterministic_per_seed() {
        assert_eq!(sample(7), sample(7));
        assert_ne!(sample(7), sample(8));
    }

    #[test]
    fn covers_regular_hours_of_weekdays_only() {
        let bars = sample(1);
        assert_eq!(bars.len(), 2 * 3 * 390);
        // 2021-11-05 is a Friday (EDT), then Monday 8 and Tuesday 9 (EST after Nov 7).
        assert_eq!(bars[0].time.to_rfc3339(), "2021-11-05T13:30:00+00:00");
        assert_eq!(bars[390].time.to_rfc3339(), "2021-11-08T14:30:00+00:00");
        assert_eq!(
            bars[3 * 390 - 1].time.to_rfc3339(),
            "2021-11-09T20:59:00+00:00"
        );
    }

    #[test]
    fn bars_are_consistent() {
        for bar in sample(3) {
            let (o, h, l, c) = (
                bar.values.price_open.unwrap(),
                bar.values.price_high.unwrap(),
                bar.values.price_low.unwrap(),
                bar.values.price_close.unwrap(),
            );
            assert!(h >= o.max(c) && l <= o.min(c) && l > 0.0, "{bar:?}");
            assert!(bar.values.trading_volume.unwrap() > 0);
            let vwap = bar.values.vwap.unwrap();
            assert!(l <= vwap && vwap <= h, "{bar:?}");
            assert!(
                (1..=bar.values.trading_volume.unwrap()).contains(&bar.values.trade_count.unwrap())
            );
        }
    }
}
