//! The whole market at once: catalogue entries, snapshots, daily bars of a day.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Bar, BarValues, QueryBar};

/// A symbol's daily bar as the catalogue keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct DailyBarRow {
    pub day: NaiveDate,
    pub values: BarValues,
    /// Stored bars that day.
    pub bars: i64,
}

impl DailyBarRow {
    /// As a row of `/v1/bars`: `time` is the day's first instant in `zone`.
    pub fn to_query_bar(&self, symbol: &str, zone: Tz) -> QueryBar {
        QueryBar {
            time: crate::db::local_midnight(zone, self.day).unwrap_or_default(),
            symbol: symbol.to_owned(),
            values: self.values,
            count: Some(self.bars),
        }
    }
}

/// One symbol in the catalogue: its first time, latest bar and two newest daily bars.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    pub first_time: DateTime<Utc>,
    pub latest: Bar,
    /// The newest day with bars.
    pub day1: DailyBarRow,
    /// The day with bars before `day1`.
    pub day2: Option<DailyBarRow>,
}

impl CatalogEntry {
    /// The daily bar of `today` and that of the last day before it with bars, as far as
    /// the two newest days tell. `None` for the second when both stored days are later than
    /// `today` (bars dated in the future), which the caller then looks up itself.
    pub fn around(&self, today: NaiveDate) -> Around<'_> {
        let days = [Some(&self.day1), self.day2.as_ref()];
        let today_bar = days.into_iter().flatten().find(|d| d.day == today);
        let before = days.into_iter().flatten().find(|d| d.day < today);
        let known = before.is_some() || self.day2.is_none() || self.day1.day <= today;
        Around {
            today: today_bar,
            previous: before,
            complete: known,
        }
    }
}

/// See [`CatalogEntry::around`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Around<'a> {
    pub today: Option<&'a DailyBarRow>,
    pub previous: Option<&'a DailyBarRow>,
    /// Whether `previous` is certain (else an older day not kept may be the one).
    pub complete: bool,
}

/// Per symbol: the latest bar, today's daily bar so far and the previous day's.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Snapshot {
    #[schema(example = "AAPL")]
    pub symbol: String,
    pub latest_bar: Bar,
    /// Today's daily bar so far (`time` is the day's start); `null` before the first bar.
    pub day: Option<QueryBar>,
    /// The daily bar of the last day before today with bars.
    pub prev_day: Option<QueryBar>,
}

impl Snapshot {
    pub const CSV_HEADER: &'static str = "symbol,time,price_open,price_high,price_low,\
        price_close,trading_volume,trade_count,vwap,day_time,day_open,day_high,day_low,\
        day_close,day_volume,day_trade_count,day_vwap,day_count,prev_time,prev_open,prev_high,\
        prev_low,prev_close,prev_volume,prev_trade_count,prev_vwap,prev_count\n";

    /// One CSV record: the latest bar, then today's and the previous day's bar (empty
    /// fields when absent).
    pub fn csv_line(&self) -> String {
        let latest = QueryBar::from(self.latest_bar.clone());
        // The plain bar's CSV line is `time,symbol,...`; the snapshot leads with the symbol.
        let line = latest.csv_line();
        let (time, rest) = line.trim_end().split_once(',').unwrap_or_default();
        let (symbol, values) = rest.split_once(',').unwrap_or_default();
        let mut out = format!("{symbol},{time},{values}");
        for day in [&self.day, &self.prev_day] {
            match day {
                Some(d) => {
                    let line = d.csv_line();
                    let (time, rest) = line.trim_end().split_once(',').unwrap_or_default();
                    let (_, values) = rest.split_once(',').unwrap_or_default();
                    out.push_str(&format!(",{time},{values}"));
                }
                None => out.push_str(",,,,,,,,,"),
            }
        }
        out.push('\n');
        out
    }

    pub fn ndjson_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// Today's date in `zone`.
pub fn today_in(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;

    fn day(d: &str, close: f64) -> DailyBarRow {
        DailyBarRow {
            day: d.parse().unwrap(),
            values: BarValues {
                price_open: Some(1.0),
                price_high: Some(close),
                price_low: Some(0.5),
                price_close: Some(close),
                trading_volume: Some(7),
                trade_count: Some(5),
                vwap: Some(1.5),
            },
            bars: 2,
        }
    }

    fn entry(day1: DailyBarRow, day2: Option<DailyBarRow>) -> CatalogEntry {
        CatalogEntry {
            first_time: "2021-01-04T15:00:00Z".parse().unwrap(),
            latest: Bar {
                time: "2021-11-12T20:00:00Z".parse().unwrap(),
                symbol: Symbol::parse("A").unwrap(),
                values: BarValues {
                    price_open: Some(1.0),
                    price_high: None,
                    price_low: Some(0.5),
                    price_close: Some(2.0),
                    trading_volume: Some(3),
                    trade_count: None,
                    vwap: Some(1.75),
                },
            },
            day1,
            day2,
        }
    }

    #[test]
    fn today_and_previous_come_from_the_two_newest_days() {
        let today: NaiveDate = "2021-11-12".parse().unwrap();
        let traded_today = entry(day("2021-11-12", 2.0), Some(day("2021-11-10", 1.5)));
        let around = traded_today.around(today);
        assert_eq!(around.today.unwrap().values.price_close, Some(2.0));
        assert_eq!(around.previous.unwrap().day.to_string(), "2021-11-10");
        assert!(around.complete);

        // Delisted weeks ago: nothing today, its last day is the previous one.
        let delisted = entry(day("2021-10-01", 9.0), Some(day("2021-09-30", 8.0)));
        let around = delisted.around(today);
        assert!(around.today.is_none());
        assert_eq!(around.previous.unwrap().values.price_close, Some(9.0));

        // Only bars dated after today: the previous day is not among the two kept.
        let future = entry(day("2021-11-14", 1.0), Some(day("2021-11-13", 1.0)));
        assert!(!future.around(today).complete);
        let only_today = entry(day("2021-11-12", 1.0), None);
        let around = only_today.around(today);
        assert!(around.complete && around.previous.is_none());
    }

    #[test]
    fn a_snapshot_is_one_flat_csv_record() {
        let e = entry(day("2021-11-12", 2.0), None);
        let snapshot = Snapshot {
            symbol: "A".into(),
            latest_bar: e.latest.clone(),
            day: Some(e.day1.to_query_bar("A", chrono_tz::UTC)),
            prev_day: None,
        };
        assert_eq!(
            snapshot.csv_line(),
            "A,2021-11-12T20:00:00Z,1,,0.5,2,3,,1.75,2021-11-12T00:00:00Z,1,2,0.5,2,7,5,1.5,2,,,,,,,,,\n"
        );
        assert_eq!(
            Snapshot::CSV_HEADER.split(',').count(),
            snapshot.csv_line().split(',').count()
        );
    }
}
