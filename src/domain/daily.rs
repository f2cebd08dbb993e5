//! Daily bars in the catalogue's time zone, and what one write adds to them.
//!
//! A write summarizes its bars per (symbol, day) while it encodes them, so the catalogue is
//! brought up to date from a few rows per symbol instead of reading the table back.

use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::{Bar, BarValues};

/// One symbol's bars on one day: the daily bar (open of the first bar, highest high, lowest
/// low, close of the last bar, summed volume, count) and the last bar itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DayAgg {
    pub first_time: DateTime<Utc>,
    pub last_time: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub volume: Option<i64>,
    pub bars: i64,
    /// Summed trade counts.
    pub trade_count: Option<i64>,
    /// The day's vwap as its two sums: vwap × volume and volume, over bars with both.
    pub vwap_notional: Option<f64>,
    pub vwap_volume: Option<i64>,
    /// The last bar's values, whose close is the day's: the latest bar of the symbol when
    /// this is its newest day.
    pub last: BarValues,
}

impl DayAgg {
    pub fn of(bar: &Bar) -> Self {
        let v = bar.values;
        Self {
            first_time: bar.time,
            last_time: bar.time,
            open: v.price_open,
            high: v.price_high,
            low: v.price_low,
            volume: v.trading_volume,
            bars: 1,
            trade_count: v.trade_count,
            vwap_notional: v.vwap.zip(v.trading_volume).map(|(p, v)| p * v as f64),
            vwap_volume: v.vwap.and(v.trading_volume),
            last: v,
        }
    }

    /// Adds the bars of `other` (the same symbol and day). At equal times the later write
    /// wins, as it does in the table.
    pub fn add(&mut self, other: &DayAgg) {
        if other.first_time < self.first_time {
            self.first_time = other.first_time;
            self.open = other.open;
        }
        if other.last_time >= self.last_time {
            self.last_time = other.last_time;
            self.last = other.last;
        }
        // As SQL's max/min/sum: nulls are skipped, all-null stays null.
        self.high = pick(self.high, other.high, f64::max);
        self.low = pick(self.low, other.low, f64::min);
        self.volume = pick(self.volume, other.volume, i64::saturating_add);
        self.trade_count = pick(self.trade_count, other.trade_count, i64::saturating_add);
        self.vwap_notional = pick(self.vwap_notional, other.vwap_notional, |a, b| a + b);
        self.vwap_volume = pick(self.vwap_volume, other.vwap_volume, i64::saturating_add);
        self.bars += other.bars;
    }
}

fn pick<T>(a: Option<T>, b: Option<T>, f: impl Fn(T, T) -> T) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, b) => a.or(b),
    }
}

/// The calendar day of an instant in a zone, remembering the last day's bounds: bars come
/// in runs of the same day, and most lookups then skip the zone conversion.
#[derive(Debug, Clone)]
pub struct DayOf {
    zone: Tz,
    last: Option<(Range<DateTime<Utc>>, NaiveDate)>,
}

impl DayOf {
    pub fn new(zone: Tz) -> Self {
        Self { zone, last: None }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn day(&mut self, t: DateTime<Utc>) -> NaiveDate {
        if let Some((range, day)) = &self.last
            && range.contains(&t)
        {
            return *day;
        }
        let day = t.with_timezone(&self.zone).date_naive();
        self.last = day_bounds(self.zone, day).map(|range| (range, day));
        day
    }
}

/// Where `day` starts and ends in `zone`, as instants; `None` when its midnight is skipped
/// or repeated by a clock change (the caller then converts every time).
pub fn day_bounds(zone: Tz, day: NaiveDate) -> Option<Range<DateTime<Utc>>> {
    let start = |d: NaiveDate| {
        zone.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .single()
            .map(|t| t.with_timezone(&Utc))
    };
    Some(start(day)?..start(day.succ_opt()?)?)
}

/// What one write adds: per (symbol, day) the [`DayAgg`] of its bars.
#[derive(Debug, Clone)]
pub struct WriteSummary {
    days: DayOf,
    by_day: HashMap<(String, NaiveDate), DayAgg>,
}

impl WriteSummary {
    pub fn new(zone: Tz) -> Self {
        Self {
            days: DayOf::new(zone),
            by_day: HashMap::new(),
        }
    }

    pub fn zone(&self) -> Tz {
        self.days.zone()
    }

    pub fn add(&mut self, bar: &Bar) {
        let day = self.days.day(bar.time);
        let agg = DayAgg::of(bar);
        match self.by_day.get_mut(&(bar.symbol.as_str().to_owned(), day)) {
            Some(known) => known.add(&agg),
            None => {
                self.by_day
                    .insert((bar.symbol.as_str().to_owned(), day), agg);
            }
        }
    }

    /// Adds a later batch of the same write.
    pub fn merge(&mut self, later: WriteSummary) {
        for (key, agg) in later.by_day {
            match self.by_day.get_mut(&key) {
                Some(known) => known.add(&agg),
                None => {
                    self.by_day.insert(key, agg);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_day.is_empty()
    }

    /// Every (symbol, day) and its bars, ordered by day then symbol (byte order): writers
    /// lock catalogue rows in this one order, so concurrent writes never deadlock.
    pub fn days(&self) -> Vec<(&str, NaiveDate, &DayAgg)> {
        let mut days: Vec<_> = self
            .by_day
            .iter()
            .map(|((symbol, day), agg)| (symbol.as_str(), *day, agg))
            .collect();
        days.sort_unstable_by(|a, b| (a.1, a.0.as_bytes()).cmp(&(b.1, b.0.as_bytes())));
        days
    }

    /// The symbols written, in byte order.
    pub fn symbols(&self) -> Vec<&str> {
        let mut symbols: Vec<&str> = self.by_day.keys().map(|(s, _)| s.as_str()).collect();
        symbols.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        symbols.dedup();
        symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;

    fn bar(time: &str, o: f64, h: f64, l: f64, c: f64, v: Option<i64>) -> Bar {
        Bar {
            time: time.parse().unwrap(),
            symbol: Symbol::parse("AAPL").unwrap(),
            values: BarValues {
                price_open: Some(o),
                price_high: Some(h),
                price_low: Some(l),
                price_close: Some(c),
                trading_volume: v,
                trade_count: v.map(|v| v / 2),
                vwap: Some((o + c) / 2.0),
            },
        }
    }

    #[test]
    fn a_day_is_its_first_open_extremes_last_close_and_summed_volume() {
        let mut summary = WriteSummary::new(chrono_tz::America::New_York);
        // Out of order, as a backfill may send them; 03:00Z is still the previous NY day.
        summary.add(&bar("2021-11-12T16:00:00Z", 3.0, 9.0, 2.0, 4.0, Some(10)));
        summary.add(&bar("2021-11-12T15:00:00Z", 1.0, 5.0, 0.5, 2.0, None));
        summary.add(&bar("2021-11-12T20:00:00Z", 4.0, 6.0, 3.0, 5.0, Some(5)));
        summary.add(&bar("2021-11-12T03:00:00Z", 7.0, 7.0, 7.0, 7.0, Some(1)));
        let days = summary.days();
        assert_eq!(days.len(), 2);
        let (symbol, day, agg) = days[1];
        assert_eq!((symbol, day.to_string()), ("AAPL", "2021-11-12".into()));
        assert_eq!(
            (
                agg.open,
                agg.high,
                agg.low,
                agg.last.price_close,
                agg.volume,
                agg.bars
            ),
            (Some(1.0), Some(9.0), Some(0.5), Some(5.0), Some(15), 3)
        );
        assert_eq!(
            agg.last_time,
            "2021-11-12T20:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            (agg.last.price_open, agg.last.trading_volume),
            (Some(4.0), Some(5))
        );
        // Trade counts sum (5 + 2); the vwap's sums skip the bar without a volume:
        // 3.5 × 10 + 4.5 × 5 over 15.
        assert_eq!(agg.trade_count, Some(7));
        assert_eq!((agg.vwap_notional, agg.vwap_volume), (Some(57.5), Some(15)));
        assert_eq!((agg.last.trade_count, agg.last.vwap), (Some(2), Some(4.5)));
        assert_eq!(days[0].1.to_string(), "2021-11-11");
        assert_eq!(summary.symbols(), ["AAPL"]);
    }

    #[test]
    fn days_follow_clock_changes() {
        let mut days = DayOf::new(chrono_tz::America::New_York);
        // 2021-11-07 is 25 hours long in New York: 04:00Z to 05:00Z the next day.
        for (t, d) in [
            ("2021-11-07T04:00:00Z", "2021-11-07"),
            ("2021-11-08T04:30:00Z", "2021-11-07"),
            ("2021-11-08T05:00:00Z", "2021-11-08"),
            ("2021-11-07T03:59:59Z", "2021-11-06"),
        ] {
            assert_eq!(days.day(t.parse().unwrap()).to_string(), d, "{t}");
        }
    }

    #[test]
    fn later_batches_merge_like_one() {
        let zone = chrono_tz::UTC;
        let bars = [
            bar("2021-11-12T15:00:00Z", 1.0, 2.0, 1.0, 2.0, Some(1)),
            bar("2021-11-12T16:00:00Z", 2.0, 3.0, 1.5, 2.5, Some(2)),
            bar("2021-11-12T14:00:00Z", 0.5, 0.9, 0.1, 0.8, Some(4)),
        ];
        let mut whole = WriteSummary::new(zone);
        bars.iter().for_each(|b| whole.add(b));
        let mut first = WriteSummary::new(zone);
        let mut second = WriteSummary::new(zone);
        first.add(&bars[0]);
        bars[1..].iter().for_each(|b| second.add(b));
        first.merge(second);
        assert_eq!(first.days(), whole.days());
    }
}
