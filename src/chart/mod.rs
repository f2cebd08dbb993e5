//! Candlestick charts as SVG, drawn on the server so a browser needs no chart library.

mod axis;

/// The page at `/`: a symbol picker, an interval picker and the chart. Self-contained: it
/// loads nothing from other hosts.
pub const PAGE_HTML: &str = include_str!("page.html");

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::QueryBar;
use axis::{nice_ticks, time_label_format};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 540.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 48.0;
/// Share of the plot height given to prices; the rest, below a gap, to volume.
const PRICE_SHARE: f64 = 0.74;
const GAP: f64 = 12.0;
const UP: &str = "#1a9e77";
const DOWN: &str = "#d7443e";

/// The words around a chart.
#[derive(Debug, Clone)]
pub struct ChartLabels {
    pub title: String,
    /// The zone of the time axis' labels (the candles' own times stay RFC 3339 UTC).
    pub tz: Tz,
    /// Shown under the title, e.g. that the chart was cut short.
    pub note: Option<String>,
}

/// Draws one candle per bar (bars in time order), with a volume strip and axes.
pub fn candlestick_svg(labels: &ChartLabels, bars: &[QueryBar]) -> String {
    let title = labels.title.as_str();
    let candles: Vec<Candle> = bars.iter().filter_map(Candle::from_bar).collect();
    let mut svg = String::with_capacity(1024 + candles.len() * 400);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="{title}">"#,
        title = escape(title)
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text class="title" x="{LEFT}" y="26" font-size="16" font-weight="600" fill="#222">{}</text>"##,
        escape(title)
    );
    if let Some(note) = &labels.note {
        let _ = write!(
            svg,
            r##"<text class="note" x="{}" y="26" text-anchor="end" fill="#a33">{}</text>"##,
            WIDTH - RIGHT,
            escape(note)
        );
    }
    if candles.is_empty() {
        let _ = write!(
            svg,
            r##"<text class="empty" x="{}" y="{}" text-anchor="middle" fill="#666">No bars in this range</text></svg>"##,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }
    let plot = Plot::new(&candles);
    plot.price_axis(&mut svg);
    plot.time_axis(&mut svg, &candles, labels.tz);
    for (i, candle) in candles.iter().enumerate() {
        plot.candle(&mut svg, i, candle);
    }
    svg.push_str("</svg>");
    svg
}

/// A bar with the prices a candle needs.
struct Candle {
    time: DateTime<Utc>,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: i64,
}

impl Candle {
    fn from_bar(bar: &QueryBar) -> Option<Self> {
        let (open, close) = (bar.values.price_open?, bar.values.price_close?);
        Some(Self {
            time: bar.time,
            open,
            close,
            high: bar.values.price_high.unwrap_or(open.max(close)),
            low: bar.values.price_low.unwrap_or(open.min(close)),
            volume: bar.values.trading_volume.unwrap_or(0).max(0),
        })
    }
}

/// Scales from values to pixels.
struct Plot {
    step: f64,
    ticks: Vec<f64>,
    price_min: f64,
    price_max: f64,
    price_bottom: f64,
    volume_top: f64,
    volume_max: f64,
}

impl Plot {
    fn new(candles: &[Candle]) -> Self {
        let low = candles.iter().map(|c| c.low).fold(f64::INFINITY, f64::min);
        let high = candles
            .iter()
            .map(|c| c.high)
            .fold(f64::NEG_INFINITY, f64::max);
        let ticks = nice_ticks(low, high, 6);
        let plot_height = HEIGHT - TOP - BOTTOM;
        let price_bottom = TOP + plot_height * PRICE_SHARE;
        Self {
            step: (WIDTH - LEFT - RIGHT) / candles.len() as f64,
            price_min: ticks.first().copied().unwrap_or(low).min(low),
            price_max: ticks.last().copied().unwrap_or(high).max(high),
            ticks,
            price_bottom,
            volume_top: price_bottom + GAP,
            volume_max: candles.iter().map(|c| c.volume).max().unwrap_or(0).max(1) as f64,
        }
    }

    fn y(&self, price: f64) -> f64 {
        let span = (self.price_max - self.price_min).max(f64::EPSILON);
        self.price_bottom - (price - self.price_min) / span * (self.price_bottom - TOP)
    }

    fn x_center(&self, index: usize) -> f64 {
        LEFT + self.step * (index as f64 + 0.5)
    }

    fn price_axis(&self, svg: &mut String) {
        let decimals = axis::decimals_for(&self.ticks);
        for &tick in &self.ticks {
            let y = self.y(tick);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e6e6e6"/><text class="price-label" x="{}" y="{:.1}" text-anchor="end" fill="#555">{tick:.decimals$}</text>"##,
                WIDTH - RIGHT,
                LEFT - 8.0,
                y + 4.0,
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#888" font-size="10">volume</text>"##,
            LEFT - 8.0,
            self.volume_top + 10.0
        );
    }

    fn time_axis(&self, svg: &mut String, candles: &[Candle], tz: Tz) {
        let first = candles[0].time;
        let last = candles[candles.len() - 1].time;
        let format = time_label_format(last - first);
        let labels = 7.min(candles.len());
        let baseline = HEIGHT - BOTTOM;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{baseline}" y2="{baseline}" stroke="#bbb"/>"##,
            WIDTH - RIGHT
        );
        for k in 0..labels {
            let index = if labels == 1 {
                0
            } else {
                k * (candles.len() - 1) / (labels - 1)
            };
            let x = self.x_center(index);
            // The outermost labels hang inwards so they are not cut at the edges.
            let anchor = match k {
                0 if labels > 1 => "start",
                k if k + 1 == labels && labels > 1 => "end",
                _ => "middle",
            };
            let x = match anchor {
                "start" => x - self.step / 2.0,
                "end" => x + self.step / 2.0,
                _ => x,
            };
            let _ = write!(
                svg,
                r##"<text class="time-label" x="{x:.1}" y="{}" text-anchor="{anchor}" fill="#555">{}</text>"##,
                baseline + 18.0,
                candles[index].time.with_timezone(&tz).format(format)
            );
        }
    }

    fn candle(&self, svg: &mut String, index: usize, c: &Candle) {
        let x = self.x_center(index);
        let colour = if c.close >= c.open { UP } else { DOWN };
        let body_width = (self.step * 0.7).max(1.0);
        let top = self.y(c.open.max(c.close));
        let body_height = (self.y(c.open.min(c.close)) - top).max(1.0);
        let volume_height = c.volume as f64 / self.volume_max * (HEIGHT - BOTTOM - self.volume_top);
        let _ = write!(
            svg,
            r#"<g class="candle"><title>{} O {} H {} L {} C {} V {}</title><line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="{colour}"/><rect x="{:.1}" y="{top:.1}" width="{body_width:.1}" height="{body_height:.1}" fill="{colour}"/><rect class="volume" x="{:.1}" y="{:.1}" width="{body_width:.1}" height="{volume_height:.1}" fill="{colour}" fill-opacity="0.45"/></g>"#,
            crate::render::rfc3339(c.time),
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            self.y(c.high),
            self.y(c.low),
            x - body_width / 2.0,
            x - body_width / 2.0,
            HEIGHT - BOTTOM - volume_height,
        );
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BarValues;

    fn bar(minute: i64, open: f64, close: f64) -> QueryBar {
        QueryBar {
            time: DateTime::from_timestamp(1_636_729_200 + minute * 60, 0).unwrap(),
            symbol: "AAPL".into(),
            count: Some(1),
            values: BarValues {
                price_open: Some(open),
                price_high: Some(open.max(close) + 1.0),
                price_low: Some(open.min(close) - 1.0),
                price_close: Some(close),
                trading_volume: Some(100 * (minute + 1)),
                trade_count: None,
                vwap: None,
            },
        }
    }

    fn labels(title: &str) -> ChartLabels {
        ChartLabels {
            title: title.into(),
            tz: Tz::UTC,
            note: None,
        }
    }

    #[test]
    fn draws_one_coloured_candle_per_bar() {
        let svg = candlestick_svg(
            &labels("AAPL 1min"),
            &[bar(0, 10.0, 12.0), bar(1, 12.0, 11.0)],
        );
        assert_eq!(svg.matches(r#"<g class="candle">"#).count(), 2);
        assert_eq!(
            svg.matches(UP).count(),
            3,
            "wick, body, volume of the up candle"
        );
        assert_eq!(svg.matches(DOWN).count(), 3);
        assert!(svg.contains("AAPL 1min"));
        assert!(svg.contains(r#"class="price-label""#));
        assert!(svg.contains("2021-11-12T15:00:00Z O 10 H 13 L 9 C 12 V 100"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn higher_prices_are_drawn_higher() {
        let svg = candlestick_svg(&labels("x"), &[bar(0, 10.0, 10.0), bar(1, 20.0, 20.0)]);
        let plot = Plot::new(
            &[bar(0, 10.0, 10.0), bar(1, 20.0, 20.0)]
                .iter()
                .filter_map(Candle::from_bar)
                .collect::<Vec<_>>(),
        );
        assert!(plot.y(20.0) < plot.y(10.0));
        assert!(svg.contains("<title>"));
    }

    #[test]
    fn says_so_when_there_is_nothing_to_draw() {
        let svg = candlestick_svg(&labels("<none>"), &[]);
        assert!(svg.contains("No bars in this range"));
        assert!(svg.contains("&lt;none&gt;"));
        assert!(!svg.contains("candle"));
    }

    #[test]
    fn the_time_axis_speaks_the_charts_zone_and_notes_are_shown() {
        // 15:00 and 15:01 UTC are 10:00 and 10:01 in New York (EST, UTC-5) on 2021-11-12.
        let bars = [bar(0, 10.0, 12.0), bar(1, 12.0, 11.0)];
        let utc = candlestick_svg(&labels("x"), &bars);
        assert!(utc.contains(">15:00</text>"), "{utc}");
        let new_york = ChartLabels {
            title: "x".into(),
            tz: chrono_tz::America::New_York,
            note: Some("cut <short>".into()),
        };
        let svg = candlestick_svg(&new_york, &bars);
        assert!(svg.contains(">10:00</text>"), "{svg}");
        assert!(!svg.contains(">15:00</text>"), "{svg}");
        assert!(svg.contains(r#"class="note""#) && svg.contains("cut &lt;short&gt;"));
        assert!(!utc.contains(r#"class="note""#));
    }
}
