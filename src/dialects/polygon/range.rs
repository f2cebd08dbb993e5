//! Polygon's path parameters: `multiplier`/`timespan` as an interval, `from`/`to` as dates
//! (days in New York, `to` inclusive) or millisecond timestamps (`to` inclusive).

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};

use crate::dialects::EXCHANGE_TZ;

/// `multiplier` and `timespan` as a core interval (`5`, `minute` -> `5min`).
pub fn timespan_interval(multiplier: &str, timespan: &str) -> Result<String, String> {
    let n: u32 = multiplier
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("multiplier {multiplier:?} is not a positive integer"))?;
    let (n, suffix) = match timespan {
        "minute" => (Some(n), "min"),
        "hour" => (Some(n), "h"),
        "day" => (Some(n), "d"),
        "week" => (Some(n), "w"),
        "month" => (Some(n), "mo"),
        "quarter" => (n.checked_mul(3), "mo"),
        "year" => (Some(n), "y"),
        other => {
            return Err(format!(
                "timespan {other:?} is not one of minute, hour, day, week, month, quarter, year"
            ));
        }
    };
    let n = n.ok_or_else(|| format!("multiplier {multiplier:?} is too large"))?;
    Ok(format!("{n}{suffix}"))
}

/// `from` (the first instant) or `to` (`end`: the first instant after it).
pub fn parse_bound(raw: &str, end: bool) -> Result<DateTime<Utc>, String> {
    let bad = || format!("{raw:?} is neither YYYY-MM-DD nor a millisecond timestamp");
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = raw.parse().map_err(|_| bad())?;
        let ms = if end {
            ms.checked_add(1).ok_or_else(bad)?
        } else {
            ms
        };
        return DateTime::from_timestamp_millis(ms).ok_or_else(bad);
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
    let day = if end {
        day.checked_add_days(Days::new(1)).ok_or_else(bad)?
    } else {
        day
    };
    let midnight = day.and_hms_opt(0, 0, 0).ok_or_else(bad)?;
    EXCHANGE_TZ
        .from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(timespan_interval("5", "minute").unwrap(), "5min");
        assert_eq!(timespan_interval("1", "day").unwrap(), "1d");
        assert_eq!(timespan_interval("2", "quarter").unwrap(), "6mo");
        assert!(timespan_interval("0", "day").is_err());
        assert!(timespan_interval("x", "day").is_err());
        assert!(timespan_interval("1", "second").is_err());
    }

    #[test]
    fn bounds() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            parse_bound("2021-11-01", false).unwrap(),
            t("2021-11-01T04:00:00Z")
        );
        assert_eq!(
            parse_bound("2021-11-06", true).unwrap(),
            t("2021-11-07T04:00:00Z")
        );
        assert_eq!(
            parse_bound("1636000000000", true).unwrap(),
            t("2021-11-04T04:26:40.001Z")
        );
        assert!(parse_bound("2021-13-01", false).is_err());
        assert!(parse_bound("yesterday", false).is_err());
        assert!(parse_bound("99999999999999999999", false).is_err());
    }
}
