//! Corporate actions (splits, cash dividends, symbol changes) and the price and volume
//! factors they imply, so that every read path adjusts bars by the same numbers.
//!
//! An ex-date begins at 00:00 in New York (the exchange's day, [`EX_DATE_ZONE`]): a bar at
//! or after that instant is "on or after the ex-date". Factors are cumulative products over
//! the actions after a bar, so they are computed once per query from the few actions of the
//! requested symbols and applied to each stored bar before any aggregation.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{FieldError, Symbol, quote};

/// The zone whose midnight starts an ex-date: the exchange's.
pub const EX_DATE_ZONE: Tz = chrono_tz::America::New_York;
/// Most records in one `POST /v1/corporate-actions`.
pub const MAX_ACTIONS_PER_REQUEST: usize = 10_000;
/// Largest split ratio side and dividend accepted: far beyond any real one, small enough
/// that cumulative factors stay finite.
const MAX_RATIO: f64 = 1e6;

/// Which corporate actions a read adjusts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adjustment {
    /// Prices as stored.
    #[default]
    Raw,
    /// Splits only.
    Split,
    /// Cash dividends only.
    Dividend,
    /// Splits and dividends.
    All,
}

impl Adjustment {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "raw" => Ok(Self::Raw),
            "split" => Ok(Self::Split),
            "dividend" => Ok(Self::Dividend),
            "all" => Ok(Self::All),
            other => Err(format!(
                "{} is not one of raw, split, dividend, all",
                quote(other)
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Split => "split",
            Self::Dividend => "dividend",
            Self::All => "all",
        }
    }

    pub fn splits(self) -> bool {
        matches!(self, Self::Split | Self::All)
    }

    pub fn dividends(self) -> bool {
        matches!(self, Self::Dividend | Self::All)
    }
}

/// What happened, with its own numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// `split_to` new shares for every `split_from` old ones (4-for-1: from 1, to 4).
    Split { split_from: f64, split_to: f64 },
    /// A cash dividend per share, in `currency`.
    Dividend { cash_amount: f64, currency: String },
    /// From the ex-date on, the symbol is `new_symbol`.
    SymbolChange { new_symbol: Symbol },
}

impl ActionKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Split { .. } => "split",
            Self::Dividend { .. } => "dividend",
            Self::SymbolChange { .. } => "symbol_change",
        }
    }
}

/// A validated corporate action; (`type`, `symbol`, `ex_date`) is its natural key.
#[derive(Debug, Clone, PartialEq)]
pub struct CorporateAction {
    pub symbol: Symbol,
    pub ex_date: NaiveDate,
    pub kind: ActionKind,
}

/// A corporate action as the API writes and reads it (Polygon's field names).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ActionRecord {
    /// `split`, `dividend` or `symbol_change`.
    #[serde(rename = "type")]
    #[schema(example = "split", pattern = "^(split|dividend|symbol_change)$")]
    pub kind: String,
    /// The symbol the action is recorded under (for a change, the old one).
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// `YYYY-MM-DD`; the day begins at 00:00 in New York.
    #[schema(example = "2020-08-31", format = Date)]
    pub ex_date: String,
    /// Splits: old shares (4-for-1: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1)]
    pub split_from: Option<f64>,
    /// Splits: new shares (4-for-1: 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 4)]
    pub split_to: Option<f64>,
    /// Dividends: cash per share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_amount: Option<f64>,
    /// Dividends: ISO 4217 code (default `USD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Symbol changes: the symbol from the ex-date on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_symbol: Option<String>,
}

impl From<&CorporateAction> for ActionRecord {
    fn from(a: &CorporateAction) -> Self {
        let mut record = ActionRecord {
            kind: a.kind.name().to_owned(),
            symbol: a.symbol.to_string(),
            ex_date: a.ex_date.to_string(),
            split_from: None,
            split_to: None,
            cash_amount: None,
            currency: None,
            new_symbol: None,
        };
        match &a.kind {
            ActionKind::Split {
                split_from,
                split_to,
            } => {
                record.split_from = Some(*split_from);
                record.split_to = Some(*split_to);
            }
            ActionKind::Dividend {
                cash_amount,
                currency,
            } => {
                record.cash_amount = Some(*cash_amount);
                record.currency = Some(currency.clone());
            }
            ActionKind::SymbolChange { new_symbol } => {
                record.new_symbol = Some(new_symbol.to_string());
            }
        }
        record
    }
}

/// The fields each type takes, besides `type`, `symbol` and `ex_date`.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "split" => &["split_from", "split_to"],
        "dividend" => &["cash_amount", "currency"],
        _ => &["new_symbol"],
    }
}

/// Every field a record may have.
pub const ALL_FIELDS: [&str; 8] = [
    "type",
    "symbol",
    "ex_date",
    "split_from",
    "split_to",
    "cash_amount",
    "currency",
    "new_symbol",
];

/// Validates one record (a JSON object, or a CSV row as text values; empty or `null`
/// values are absent). Every problem is reported, each naming its field.
pub fn parse_action(
    fields: &Map<String, Value>,
    index: usize,
    line: Option<u64>,
    max_value_bytes: usize,
) -> Result<CorporateAction, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            index,
            line,
            field: Some(field.to_owned()),
            message,
        })
    };
    let present = |name: &str| fields.get(name).filter(|v| !is_blank(v));
    for (name, value) in fields {
        if !ALL_FIELDS.contains(&name.as_str()) {
            fail(
                &clip(name),
                format!("unknown field; fields are {}", ALL_FIELDS.join(", ")),
            );
        } else if value_len(value) > max_value_bytes {
            fail(name, format!("is longer than {max_value_bytes} bytes"));
        }
    }
    let text = |name: &str, fail: &mut dyn FnMut(&str, String)| match present(name) {
        None => {
            fail(name, "is required".into());
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            fail(name, "must be a string".into());
            None
        }
    };
    let kind = text("type", &mut fail);
    let symbol = text("symbol", &mut fail).and_then(|s| {
        Symbol::parse(&s)
            .map_err(|e| fail("symbol", format!("{} {e}", quote(&s))))
            .ok()
    });
    let ex_date = text("ex_date", &mut fail)
        .and_then(|s| parse_ex_date(&s).map_err(|e| fail("ex_date", e)).ok());
    let kind = kind.and_then(|k| match k.as_str() {
        "split" | "dividend" | "symbol_change" => Some(k),
        other => {
            fail(
                "type",
                format!(
                    "{} is not one of split, dividend, symbol_change",
                    quote(other)
                ),
            );
            None
        }
    });
    let Some(kind) = kind else {
        return Err(errors);
    };
    for name in &ALL_FIELDS[3..] {
        if present(name).is_some() && !fields_of(&kind).contains(name) {
            fail(name, format!("is not a field of a {kind}"));
        }
    }
    let number = |name: &str, fail: &mut dyn FnMut(&str, String)| {
        let value = match present(name) {
            None => {
                fail(name, "is required".into());
                return None;
            }
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        match value {
            Some(v) if v.is_finite() && v > 0.0 && v <= MAX_RATIO => Some(v),
            _ => {
                fail(
                    name,
                    format!("must be a number above 0 and at most {MAX_RATIO}"),
                );
                None
            }
        }
    };
    let action = match kind.as_str() {
        "split" => {
            let from = number("split_from", &mut fail);
            let to = number("split_to", &mut fail);
            match (from, to) {
                (Some(f), Some(t)) if f == t => {
                    fail("split_to", "equals split_from: that is not a split".into());
                    None
                }
                (Some(split_from), Some(split_to)) => Some(ActionKind::Split {
                    split_from,
                    split_to,
                }),
                _ => None,
            }
        }
        "dividend" => {
            let cash_amount = number("cash_amount", &mut fail);
            let currency = match present("currency") {
                None => Some("USD".to_owned()),
                Some(Value::String(c))
                    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) =>
                {
                    Some(c.clone())
                }
                Some(_) => {
                    fail(
                        "currency",
                        "must be a 3-letter ISO 4217 code such as USD".into(),
                    );
                    None
                }
            };
            cash_amount
                .zip(currency)
                .map(|(cash_amount, currency)| ActionKind::Dividend {
                    cash_amount,
                    currency,
                })
        }
        _ => text("new_symbol", &mut fail).and_then(|s| match Symbol::parse(&s) {
            Ok(new) if Some(&new) == symbol.as_ref() => {
                fail("new_symbol", "equals symbol: that is not a change".into());
                None
            }
            Ok(new_symbol) => Some(ActionKind::SymbolChange { new_symbol }),
            Err(e) => {
                fail("new_symbol", format!("{} {e}", quote(&s)));
                None
            }
        }),
    };
    match (symbol, ex_date, action) {
        (Some(symbol), Some(ex_date), Some(kind)) if errors.is_empty() => Ok(CorporateAction {
            symbol,
            ex_date,
            kind,
        }),
        _ => Err(errors),
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn value_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

/// A field name for a message: at most 80 characters of it.
fn clip(name: &str) -> String {
    name.chars().take(80).collect()
}

/// `YYYY-MM-DD` between 1800 and 2200.
pub fn parse_ex_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (1800..=2200).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| {
            format!(
                "{} is not a date YYYY-MM-DD between 1800 and 2200",
                quote(raw)
            )
        })
}

/// The instant an ex-date begins: 00:00 in New York.
pub fn ex_instant(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    EX_DATE_ZONE
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// A split or dividend as the factor computation sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FactorEvent {
    Split {
        split_from: f64,
        split_to: f64,
    },
    /// `previous_close`: the last stored close before the ex-date (none: no bar before it,
    /// so nothing to adjust).
    Dividend {
        cash_amount: f64,
        previous_close: Option<f64>,
    },
}

/// Price and volume factors of one symbol's history: a bar at `t` is multiplied by the
/// factors of the first bound after `t` (none: 1, as stored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Factors {
    /// Ex-date instants, ascending.
    pub bounds: Vec<DateTime<Utc>>,
    /// Price factor of bars before `bounds[i]` (and at or after `bounds[i - 1]`).
    pub price: Vec<f64>,
    /// Volume factor, likewise.
    pub volume: Vec<f64>,
}

impl Factors {
    /// Cumulative factors from events (ex-date instant, event), in any order.
    ///
    /// Walking back from the newest: a split multiplies the price factor of earlier bars
    /// by `split_from / split_to` and the volume factor by its inverse; a dividend
    /// multiplies the price factor by `1 - cash_amount / previous_close`, where the previous
    /// close is first put in the ex-date's terms by the splits of that same ex-date (the
    /// amount is per share of that day, whatever `adjustment` applies). A dividend at or
    /// above that close, or without one, changes nothing. Only the kinds `adjustment` names
    /// change the factors.
    pub fn from_events(
        mut events: Vec<(DateTime<Utc>, FactorEvent)>,
        adjustment: Adjustment,
    ) -> Self {
        events.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut out = Self::default();
        let (mut price, mut volume) = (1.0_f64, 1.0_f64);
        let mut i = 0;
        while i < events.len() {
            let at = events[i].0;
            let day: Vec<&FactorEvent> = events[i..]
                .iter()
                .take_while(|(t, _)| *t == at)
                .map(|(_, e)| e)
                .collect();
            i += day.len();
            let same_day_split: f64 = day
                .iter()
                .map(|e| match e {
                    FactorEvent::Split {
                        split_from,
                        split_to,
                    } => split_from / split_to,
                    FactorEvent::Dividend { .. } => 1.0,
                })
                .product();
            for event in day {
                match event {
                    FactorEvent::Split {
                        split_from,
                        split_to,
                    } if adjustment.splits() => {
                        price *= split_from / split_to;
                        volume *= split_to / split_from;
                    }
                    FactorEvent::Dividend {
                        cash_amount,
                        previous_close: Some(close),
                    } if adjustment.dividends() => {
                        let close = close * same_day_split;
                        if close.is_finite() && close > *cash_amount {
                            price *= 1.0 - cash_amount / close;
                        }
                    }
                    _ => {}
                }
            }
            out.bounds.push(at);
            out.price.push(price);
            out.volume.push(volume);
        }
        out.bounds.reverse();
        out.price.reverse();
        out.volume.reverse();
        out
    }

    pub fn is_identity(&self) -> bool {
        self.price.iter().chain(&self.volume).all(|f| *f == 1.0)
    }

    /// The (price, volume) factors of a bar at `t`.
    pub fn at(&self, t: DateTime<Utc>) -> (f64, f64) {
        let i = self.bounds.partition_point(|b| *b <= t);
        match (self.price.get(i), self.volume.get(i)) {
            (Some(p), Some(v)) => (*p, *v),
            _ => (1.0, 1.0),
        }
    }
}

/// An adjusted volume: rounded to the nearest integer, ties to even (as PostgreSQL rounds
/// a double, so bars adjusted in SQL and in Rust agree); a factor of 1 leaves it exact.
pub fn adjust_volume(volume: i64, factor: f64) -> i64 {
    if factor == 1.0 {
        volume
    } else {
        (volume as f64 * factor).round_ties_even() as i64
    }
}

/// A bar that factors apply to (stored bars, aggregates, snapshot days).
pub trait Adjustable: Send {
    fn symbol(&self) -> &str;
    fn time(&self) -> DateTime<Utc>;
    /// Multiplies prices (the vwap too) by `price` and volume by `volume` (rounded, see
    /// [`adjust_volume`]); the trade count stays as it was.
    fn scale(&mut self, price: f64, volume: f64);
}

macro_rules! adjustable {
    ($t:ty) => {
        impl Adjustable for $t {
            fn symbol(&self) -> &str {
                self.symbol.as_str()
            }
            fn time(&self) -> DateTime<Utc> {
                self.time
            }
            fn scale(&mut self, price: f64, volume: f64) {
                for p in [
                    &mut self.values.price_open,
                    &mut self.values.price_high,
                    &mut self.values.price_low,
                    &mut self.values.price_close,
                    &mut self.values.vwap,
                ] {
                    *p = p.map(|p| p * price);
                }
                self.values.trading_volume =
                    self.values.trading_volume.map(|v| adjust_volume(v, volume));
            }
        }
    };
}

adjustable!(super::QueryBar);
adjustable!(super::Bar);

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Result<CorporateAction, Vec<FieldError>> {
        let Value::Object(map) = serde_json::from_str(json).unwrap() else {
            panic!("an object")
        };
        parse_action(&map, 0, None, 256)
    }

    fn failed_fields(json: &str) -> Vec<String> {
        record(json)
            .unwrap_err()
            .into_iter()
            .filter_map(|e| e.field)
            .collect()
    }

    fn t(day: &str) -> DateTime<Utc> {
        ex_instant(day.parse().unwrap())
    }

    #[test]
    fn reads_the_three_shapes() {
        let split = record(r#"{"type":"split","symbol":"AAPL","ex_date":"2020-08-31","split_from":1,"split_to":4}"#).unwrap();
        assert_eq!(
            split.kind,
            ActionKind::Split {
                split_from: 1.0,
                split_to: 4.0
            }
        );
        let dividend = record(
            r#"{"type":"dividend","symbol":"AAPL","ex_date":"2020-08-07","cash_amount":"0.82"}"#,
        )
        .unwrap();
        assert_eq!(
            dividend.kind,
            ActionKind::Dividend {
                cash_amount: 0.82,
                currency: "USD".into()
            }
        );
        let change = record(
            r#"{"type":"symbol_change","symbol":"FB","new_symbol":"META","ex_date":"2022-06-09"}"#,
        )
        .unwrap();
        assert_eq!(
            ActionRecord::from(&change).new_symbol.as_deref(),
            Some("META")
        );
    }

    #[test]
    fn names_each_bad_field() {
        assert_eq!(
            failed_fields(r#"{"symbol":"A","ex_date":"2020-01-01"}"#),
            ["type"]
        );
        assert_eq!(
            failed_fields(
                r#"{"type":"split","symbol":"A","ex_date":"2020-13-01","split_from":0,"split_to":4}"#
            ),
            ["ex_date", "split_from"]
        );
        assert_eq!(
            failed_fields(
                r#"{"type":"dividend","symbol":"A","ex_date":"2020-01-01","cash_amount":1,"split_to":4}"#
            ),
            ["split_to"]
        );
        assert_eq!(
            failed_fields(
                r#"{"type":"symbol_change","symbol":"A","ex_date":"2020-01-01","new_symbol":"A"}"#
            ),
            ["new_symbol"]
        );
        assert_eq!(
            failed_fields(
                r#"{"type":"split","symbol":"A","ex_date":"2020-01-01","split_from":2,"split_to":2,"extra":1}"#
            ),
            ["extra", "split_to"]
        );
    }

    #[test]
    fn factors_multiply_back_in_time() {
        // 7:1 on 2014-06-09, then 4:1 on 2020-08-31.
        let f = Factors::from_events(
            vec![
                (
                    t("2020-08-31"),
                    FactorEvent::Split {
                        split_from: 1.0,
                        split_to: 4.0,
                    },
                ),
                (
                    t("2014-06-09"),
                    FactorEvent::Split {
                        split_from: 1.0,
                        split_to: 7.0,
                    },
                ),
            ],
            Adjustment::All,
        );
        let before = t("2014-06-06");
        assert_eq!(f.at(before), (1.0 / 7.0 / 4.0, 28.0));
        assert_eq!(f.at(t("2014-06-09")), (0.25, 4.0));
        assert_eq!(f.at(t("2020-08-31")), (1.0, 1.0));
    }

    #[test]
    fn a_dividend_on_a_split_day_is_per_new_share() {
        // Close 100 before a 2-for-1 and a 1.00 dividend: the close is 50 in new shares.
        let events = vec![
            (
                t("2021-01-04"),
                FactorEvent::Dividend {
                    cash_amount: 1.0,
                    previous_close: Some(100.0),
                },
            ),
            (
                t("2021-01-04"),
                FactorEvent::Split {
                    split_from: 1.0,
                    split_to: 2.0,
                },
            ),
        ];
        let f = Factors::from_events(events.clone(), Adjustment::All);
        let (price, volume) = f.at(t("2021-01-01"));
        assert!((price - 0.5 * (1.0 - 1.0 / 50.0)).abs() < 1e-15);
        assert_eq!(volume, 2.0);
        let dividend_only = Factors::from_events(events, Adjustment::Dividend);
        assert_eq!(dividend_only.at(t("2021-01-01")), (1.0 - 1.0 / 50.0, 1.0));
    }

    #[test]
    fn ex_dates_begin_at_midnight_in_new_york() {
        assert_eq!(
            t("2020-08-31"),
            "2020-08-31T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            t("2020-12-01"),
            "2020-12-01T05:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(adjust_volume(12_340, 0.1), 1234);
        assert_eq!(adjust_volume(5, 0.5), 2);
        assert_eq!(adjust_volume(7, 1.0), 7);
    }
}
