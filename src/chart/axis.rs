//! Axis helpers: round price ticks and date labels that suit the time span.

use chrono::TimeDelta;

/// About `count` evenly spaced round numbers (steps of 1, 2 or 5 times a power of ten)
/// covering `low..=high`.
pub fn nice_ticks(low: f64, high: f64, count: usize) -> Vec<f64> {
    if !low.is_finite() || !high.is_finite() {
        return Vec::new();
    }
    // A flat series gets a small band around its one price.
    let (low, high) = if high > low {
        (low, high)
    } else {
        let pad = low.abs().max(1.0) * 0.01;
        (low - pad, high + pad)
    };
    let span = high - low;
    let raw = span / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (low / step).floor() * step;
    let last = (high / step).ceil() * step;
    let n = ((last - first) / step).round() as usize;
    (0..=n.min(50)).map(|i| first + step * i as f64).collect()
}

/// Enough decimals to tell the ticks apart, and no more.
pub fn decimals_for(ticks: &[f64]) -> usize {
    match ticks {
        [a, b, ..] => {
            let step = (b - a).abs();
            if step >= 1.0 {
                0
            } else {
                (-step.log10()).ceil() as usize
            }
        }
        _ => 2,
    }
}

/// Dates for long spans, dates with times for a few days, times within a day.
pub fn time_label_format(span: TimeDelta) -> &'static str {
    if span >= TimeDelta::days(60) {
        "%Y-%m-%d"
    } else if span >= TimeDelta::days(2) {
        "%m-%d %H:%M"
    } else {
        "%H:%M"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let ticks = nice_ticks(143.7, 148.58, 6);
        assert_eq!(ticks, vec![143.0, 144.0, 145.0, 146.0, 147.0, 148.0, 149.0]);
        let ticks = nice_ticks(0.0012, 0.0031, 5);
        assert!(ticks[0] <= 0.0012 && *ticks.last().unwrap() >= 0.0031);
        assert_eq!(decimals_for(&ticks), 4);
        assert!(
            nice_ticks(5.0, 5.0, 6).len() >= 2,
            "a flat series still gets an axis"
        );
        assert!(nice_ticks(f64::NAN, 1.0, 6).is_empty());
    }

    #[test]
    fn label_format_follows_the_span() {
        assert_eq!(time_label_format(TimeDelta::days(365)), "%Y-%m-%d");
        assert_eq!(time_label_format(TimeDelta::days(5)), "%m-%d %H:%M");
        assert_eq!(time_label_format(TimeDelta::hours(6)), "%H:%M");
    }
}
