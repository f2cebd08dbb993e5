//! `GET /v1/bars` reads: stored bars or bucket aggregates, one keyset page or a stream.
//!
//! Each requested symbol is read by its own index-ordered subquery (a `LATERAL` join over
//! the symbol list, in list order), so a page stops reading as soon as it is full and no
//! OFFSET is ever scanned. Where a page resumes comes from the page token as a time bound.
//! Rows come out in symbol-list order: the nested loop over the ordered list keeps it, and
//! an outer `ORDER BY` would force reading every symbol's rows before the first is sent.
//!
//! Adjusted reads (`adjustment`, `asof`) use the same statements over an adjusted row
//! source ([`adjusted_rows`]): each requested symbol reads its stored segments in time
//! order (renames), and each stored bar is multiplied by the factors of the first ex-date
//! after it, found by `width_bucket` over the symbol's sorted ex-date instants, before
//! any aggregation. A read that the stored actions do not change runs the plain statement.

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::actions::{AdjustPlan, plan};
use super::rows::bar_values;
use super::{Conn, DbError, TABLE, trade_stats};
use crate::domain::actions::{Adjustable, Adjustment};
use crate::domain::{BarsQuery, Fill, Order, QueryBar};

/// A result row, and where a page that ends with it resumes.
#[derive(Debug, Clone)]
pub struct PagedBar {
    pub bar: QueryBar,
    /// Ascending: the first time of the next row (the next bucket's start for aggregates);
    /// descending: this row's time.
    pub resume: DateTime<Utc>,
}

/// An owned parameter and its SQL type (unnamed statements cannot ask the server for it).
type Param = (Box<dyn ToSql + Sync + Send>, Type);

/// The per-symbol time bounds of stored rows, by order: ascending pages resume at a lower
/// bound, descending pages at an upper one.
fn time_bounds(order: Order) -> &'static str {
    match order {
        Order::Asc => {
            "t.time >= coalesce(greatest($3::timestamptz, k.resume), '-infinity') \
             AND t.time < coalesce($4::timestamptz, 'infinity')"
        }
        Order::Desc => {
            "t.time >= coalesce($3::timestamptz, '-infinity') \
             AND t.time < coalesce(least($4::timestamptz, k.resume), 'infinity')"
        }
    }
}

fn direction(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

/// The symbol list with each symbol's resume bound: `$1` and `$2`.
const SYMBOLS: &str =
    "unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS k(symbol, resume, ord)";

/// The aggregate columns of one bucket; casts make `real`/`integer` tables read alike.
fn aggregates(stats: bool) -> String {
    let (tc, vw) = trade_stats::aggregated(stats)
        .split_once(", ")
        .unwrap_or_default();
    format!(
        "first(t.price_open::float8, t.time) AS o, max(t.price_high)::float8 AS h, \
         min(t.price_low)::float8 AS l, last(t.price_close::float8, t.time) AS c, \
         sum(t.trading_volume)::int8 AS v, count(*) AS n, {tc} AS tc, {vw} AS vw"
    )
}

/// The adjusted rows of requested symbol `k` within `bounds` (over `t`), as a relation
/// `t` with the table's price, volume, trade count and vwap columns (the vwap is a price;
/// the trade count is never adjusted); the lateral `a` holds `k`'s factors ([`factors`]). With `limit` (stored bars) at most that many rows are read in `dir`
/// order, so a page never reads a symbol's whole history.
///
/// Without renames (`segments` is `None`) the rows are the symbol's own, read in index
/// order as the plain statement reads them, each multiplied by its factors. With renames,
/// `$p`..`$p+3` are the segments (requested, stored, from, until), read in time order.
fn adjusted_rows(
    bounds: &str,
    segments: Option<usize>,
    limit: Option<(&str, usize)>,
    stats: bool,
) -> String {
    let inner_limit = limit
        .map(|(dir, l)| format!("ORDER BY t.time {dir} LIMIT ${l}"))
        .unwrap_or_default();
    let stats = match stats {
        true => "t.trade_count, t.vwap::float8 * f.p AS vwap",
        false => "NULL::int8 AS trade_count, NULL::float8 AS vwap",
    };
    let adjusted = format!(
        "t.time, t.price_open::float8 * f.p AS price_open, \
         t.price_high::float8 * f.p AS price_high, t.price_low::float8 * f.p AS price_low, \
         t.price_close::float8 * f.p AS price_close, \
         round(t.trading_volume * f.v)::int8 AS trading_volume, {stats}"
    );
    const FACTOR: &str = "CROSS JOIN LATERAL (SELECT coalesce(a.pf[w.i], 1) AS p, \
         coalesce(a.vf[w.i], 1) AS v FROM (SELECT width_bucket(t.time, a.bounds) + 1 AS i) w) f";
    let Some(p) = segments else {
        return format!(
            "(SELECT {adjusted} FROM {TABLE} t {FACTOR} \
              WHERE t.symbol = k.symbol AND {bounds} {inner_limit}) t"
        );
    };
    let (q1, q2, q3) = (p + 1, p + 2, p + 3);
    format!(
        "(SELECT {adjusted} \
          FROM (SELECT s.sym, s.lo, s.hi FROM unnest(${p}::text[], ${q1}::text[], \
                  ${q2}::timestamptz[], ${q3}::timestamptz[]) WITH ORDINALITY s(req, sym, lo, hi, o) \
                WHERE s.req = k.symbol ORDER BY s.o) s \
          CROSS JOIN LATERAL (SELECT t.* FROM {TABLE} t WHERE t.symbol = s.sym \
                AND t.time >= coalesce(s.lo, '-infinity') AND t.time < coalesce(s.hi, 'infinity') \
                AND {bounds} {inner_limit}) t {FACTOR}) t"
    )
}

/// Requested symbol `k`'s factors from `$p`..`$p+3` (requested, bound, price, volume):
/// sorted bounds and the factors of the rows before each.
fn factors(p: usize) -> String {
    let (q1, q2, q3) = (p + 1, p + 2, p + 3);
    format!(
        "CROSS JOIN LATERAL (SELECT array_agg(x.until ORDER BY x.until) AS bounds, \
           array_agg(x.pf ORDER BY x.until) AS pf, array_agg(x.vf ORDER BY x.until) AS vf \
         FROM unnest(${p}::text[], ${q1}::timestamptz[], ${q2}::float8[], ${q3}::float8[]) \
           x(req, until, pf, vf) WHERE x.req = k.symbol) a"
    )
}

/// Where each statement reads the rows of symbol `k` within `bounds`: the table, or the
/// adjusted rows when `adjusted` names the first plan parameter.
struct Source {
    adjusted: Option<usize>,
    /// Whether some symbol is read across renames (segment parameters come first).
    renames: bool,
    /// Whether the table has `trade_count` and `vwap` (else they read as nulls).
    stats: bool,
}

impl Source {
    /// `FROM ... WHERE ...` over relation `t`.
    fn rows(&self, bounds: &str, limit: Option<(&str, usize)>) -> String {
        match self.adjusted {
            None => format!("{TABLE} t WHERE t.symbol = k.symbol AND {bounds}"),
            Some(p) => {
                let segments = self.renames.then_some(p);
                let rows = adjusted_rows(bounds, segments, limit, self.stats);
                format!("{rows} WHERE true")
            }
        }
    }

    /// The factors join after the symbol list.
    fn factors(&self) -> String {
        let skip = if self.renames { 4 } else { 0 };
        self.adjusted.map(|p| factors(p + skip)).unwrap_or_default()
    }

    /// A stored row's trade count and vwap: the adjusted relation always has both.
    fn stored_stats(&self) -> &'static str {
        trade_stats::stored(self.stats || self.adjusted.is_some())
    }

    /// The symbol column of stored bars: as stored, or as requested (renames).
    fn symbol(&self) -> &'static str {
        if self.adjusted.is_some() {
            "k.symbol"
        } else {
            "t.symbol"
        }
    }
}

/// Every row has the same columns: time, symbol, open, high, low, close, volume,
/// count (aggregates), next bucket start (aggregates), carried close (gap filling), trade
/// count, vwap.
fn statement(query: &BarsQuery, stats: bool) -> String {
    statement_from(
        query,
        &Source {
            adjusted: None,
            renames: false,
            stats,
        },
    )
}

/// The parameter number of the row limit.
fn limit_param(query: &BarsQuery) -> usize {
    if query.interval.is_some() { 7 } else { 5 }
}

fn statement_from(query: &BarsQuery, src: &Source) -> String {
    let dir = direction(query.order);
    let factors = src.factors();
    let aggregates = aggregates(src.stats || src.adjusted.is_some());
    match (query.interval, query.fill) {
        (None, _) => format!(
            "SELECT b.* FROM {SYMBOLS} {factors} CROSS JOIN LATERAL ( \
               SELECT t.time, {symbol}, t.price_open::float8, t.price_high::float8, \
                      t.price_low::float8, t.price_close::float8, t.trading_volume::int8, \
                      NULL::int8, NULL::timestamptz, NULL::float8, {stats} \
               FROM {rows} \
               ORDER BY t.time {dir} LIMIT $5) b \
             LIMIT $5",
            symbol = src.symbol(),
            stats = src.stored_stats(),
            rows = src.rows(time_bounds(query.order), Some((dir, 5)))
        ),
        // Buckets of a day or longer follow `$5`'s calendar; shorter ones use 'UTC'. The next
        // bucket starts one width later in local time.
        (Some(_), Fill::None) => format!(
            "SELECT b.* FROM {SYMBOLS} {factors} CROSS JOIN LATERAL ( \
               SELECT g.bucket, k.symbol, g.o, g.h, g.l, g.c, g.v, g.n, \
                      ((g.bucket AT TIME ZONE $5::text) + $6::text::interval) AT TIME ZONE $5::text, NULL::float8, \
                      g.tc, g.vw \
               FROM (SELECT time_bucket($6::text::interval, t.time, $5::text) AS bucket, {aggregates} \
                     FROM {rows} GROUP BY 1) g \
               ORDER BY g.bucket {dir} LIMIT $7) b \
             LIMIT $7",
            rows = src.rows(time_bounds(query.order), None)
        ),
        // Gap filling: every bucket of [start, end) from a series, joined to the aggregates.
        // The carried close is the close of the last bucket that has one (a group starts at
        // each non-null close), computed over the whole range so every page agrees.
        (Some(_), Fill::Null | Fill::Previous) => {
            let resumed = match query.order {
                Order::Asc => "z.bucket >= coalesce(k.resume, '-infinity')",
                Order::Desc => "z.bucket < coalesce(k.resume, 'infinity')",
            };
            let rows = src.rows(
                "t.time >= $3::timestamptz AND t.time < $4::timestamptz",
                None,
            );
            format!(
                "SELECT b.* FROM {SYMBOLS} {factors} CROSS JOIN LATERAL ( \
                   SELECT z.bucket, k.symbol, z.o, z.h, z.l, z.c, z.v, z.n, z.next, z.carried, \
                          z.tc, z.vw \
                   FROM ( \
                     SELECT y.*, first_value(y.c) OVER (PARTITION BY y.grp ORDER BY y.bucket) \
                            AS carried \
                     FROM ( \
                       SELECT s.bucket, s.next, a.o, a.h, a.l, a.c, a.v, a.tc, a.vw, \
                              coalesce(a.n, 0) AS n, count(a.c) OVER (ORDER BY s.bucket) AS grp \
                       FROM (SELECT g AT TIME ZONE $5::text AS bucket, \
                                    (g + $6::text::interval) AT TIME ZONE $5::text AS next \
                             FROM generate_series( \
                               time_bucket($6::text::interval, $3::timestamptz, $5::text) AT TIME ZONE $5::text, \
                               $4::timestamptz AT TIME ZONE $5::text, $6::text::interval) g) s \
                       LEFT JOIN ( \
                         SELECT time_bucket($6::text::interval, t.time, $5::text) AS bucket, {aggregates} \
                         FROM {rows} \
                         GROUP BY 1) a ON a.bucket = s.bucket \
                       WHERE s.bucket < $4::timestamptz) y) z \
                   WHERE {resumed} \
                   ORDER BY z.bucket {dir} LIMIT $7) b \
                 LIMIT $7"
            )
        }
    }
}

/// The statement's parameters, numbered as [`statement`] uses them.
fn params(query: &BarsQuery, limit: Option<i64>) -> Vec<Param> {
    let remaining = query.remaining();
    let symbols: Vec<String> = remaining.iter().map(|(s, _)| s.to_string()).collect();
    let resumes: Vec<Option<DateTime<Utc>>> = remaining.iter().map(|(_, r)| *r).collect();
    let mut params: Vec<Param> = vec![
        (Box::new(symbols), Type::TEXT_ARRAY),
        (Box::new(resumes), Type::TIMESTAMPTZ_ARRAY),
        (Box::new(query.range.start), Type::TIMESTAMPTZ),
        (Box::new(query.range.end), Type::TIMESTAMPTZ),
    ];
    if let Some(interval) = query.interval {
        let zone = if interval.is_calendar() {
            query.tz.name()
        } else {
            "UTC"
        };
        params.push((Box::new(zone.to_owned()), Type::TEXT));
        params.push((Box::new(interval.to_sql()), Type::TEXT));
    }
    params.push((Box::new(limit), Type::INT8));
    params
}

fn paged_bar(row: &Row, query: &BarsQuery) -> PagedBar {
    let time: DateTime<Utc> = row.get(0);
    let count: Option<i64> = row.get(7);
    let next: Option<DateTime<Utc>> = row.get(8);
    let mut bar = QueryBar {
        time,
        symbol: row.get(1),
        values: bar_values(row, 2, 10),
        count,
    };
    if query.fill == Fill::Previous && count == Some(0) {
        let carried: Option<f64> = row.get(9);
        bar.values.price_open = carried;
        bar.values.price_high = carried;
        bar.values.price_low = carried;
        bar.values.price_close = carried;
        bar.values.trading_volume = Some(0);
    }
    let resume = match query.order {
        Order::Desc => time,
        // Stored bars: one microsecond on, PostgreSQL's time resolution.
        Order::Asc => next.unwrap_or(time + chrono::Duration::microseconds(1)),
    };
    PagedBar { bar, resume }
}

/// The plan parameters after the row limit: the segments (with renames), then the factors.
fn plan_params(plan: &AdjustPlan, order: Order, renames: bool) -> Vec<Param> {
    let a = plan.arrays(order);
    let mut params: Vec<Param> = Vec::new();
    if renames {
        params.push((Box::new(a.seg_req), Type::TEXT_ARRAY));
        params.push((Box::new(a.seg_sym), Type::TEXT_ARRAY));
        params.push((Box::new(a.seg_from), Type::TIMESTAMPTZ_ARRAY));
        params.push((Box::new(a.seg_until), Type::TIMESTAMPTZ_ARRAY));
    }
    params.extend::<[Param; 4]>([
        (Box::new(a.f_req), Type::TEXT_ARRAY),
        (Box::new(a.f_until), Type::TIMESTAMPTZ_ARRAY),
        (Box::new(a.f_price), Type::FLOAT8_ARRAY),
        (Box::new(a.f_volume), Type::FLOAT8_ARRAY),
    ]);
    params
}

/// The statement and parameters of `query`: plain, or over adjusted rows when the stored
/// corporate actions change what it returns.
///
/// Stored bars of symbols read under their own names need no SQL of their own: the plain
/// statement reads them and each row is multiplied on arrival ([`RowFactors`]), by the same
/// double multiplications and rounding the SQL would do, so the numbers are identical.
async fn prepared(
    client: &Conn,
    query: &BarsQuery,
    limit: Option<i64>,
) -> Result<(String, Vec<Param>, RowFactors), DbError> {
    let mut params = params(query, limit);
    let stats = client.trade_stats();
    if query.adjustment == Adjustment::Raw && query.asof.is_none() {
        return Ok((statement(query, stats), params, RowFactors(None)));
    }
    let symbols: Vec<_> = query
        .remaining()
        .into_iter()
        .map(|(s, _)| s.clone())
        .collect();
    let plan = plan(client, &symbols, query.adjustment, query.asof).await?;
    if plan.is_identity() {
        return Ok((statement(query, stats), params, RowFactors(None)));
    }
    if query.interval.is_none() && !plan.has_renames() {
        return Ok((statement(query, stats), params, RowFactors(Some(plan))));
    }
    let src = Source {
        adjusted: Some(limit_param(query) + 1),
        renames: plan.has_renames(),
        stats,
    };
    params.extend(plan_params(&plan, query.order, src.renames));
    Ok((statement_from(query, &src), params, RowFactors(None)))
}

/// Factors applied to rows as they arrive, when the statement itself does not apply them.
struct RowFactors(Option<AdjustPlan>);

impl RowFactors {
    fn apply(&self, mut bar: PagedBar) -> PagedBar {
        if let Some(factors) = self.0.as_ref().and_then(|p| p.factors(&bar.bar.symbol)) {
            let (price, volume) = factors.at(bar.bar.time);
            if (price, volume) != (1.0, 1.0) {
                bar.bar.scale(price, volume);
            }
        }
        bar
    }
}

/// Up to `limit` rows of `query`, from its cursor on.
pub async fn query_bars(
    client: &Conn,
    query: &BarsQuery,
    limit: usize,
) -> Result<Vec<PagedBar>, DbError> {
    let (sql, params, factors) = prepared(client, query, Some(limit as i64)).await?;
    let rows = client.query(&sql, &borrowed(&params)).await?;
    Ok(rows
        .iter()
        .map(|row| factors.apply(paged_bar(row, query)))
        .collect())
}

/// Every row of `query` (up to its limit) as a stream; holds `client` until it ends. Rows
/// are read from the server as the consumer takes them, so memory stays constant.
pub async fn stream_bars(
    client: Conn,
    query: BarsQuery,
) -> Result<impl Stream<Item = Result<QueryBar, DbError>> + Send + 'static, DbError> {
    Ok(stream_paged_bars(client, query)
        .await?
        .map(|row| row.map(|row| row.bar)))
}

/// [`stream_bars`] with each row's resume point, for answers that end with a page token
/// (columnar answers cut at a row limit).
pub async fn stream_paged_bars(
    client: Conn,
    query: BarsQuery,
) -> Result<impl Stream<Item = Result<PagedBar, DbError>> + Send + 'static, DbError> {
    let (sql, params, factors) = prepared(&client, &query, query.limit.map(|l| l as i64)).await?;
    let rows = client.query_stream(&sql, &borrowed(&params)).await?;
    Ok(rows.map_err(DbError::from).map(move |row| {
        // The pooled connection goes back to the pool only when the stream is dropped.
        let _held = &client;
        row.map(|row| factors.apply(paged_bar(&row, &query)))
    }))
}

fn borrowed(params: &[Param]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    params
        .iter()
        .map(|(value, ty)| (value.as_ref() as &(dyn ToSql + Sync), ty.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{BarsContext, BarsParams, PageTokenKey, ResponseFormat, TimeParser};

    /// The benchmark compares the API with this very statement run by pgbench.
    #[test]
    fn the_benchmark_runs_the_served_statement() {
        let params: BarsParams =
            serde_urlencoded::from_str("symbols=A&interval=1d&start=2021-01-01&end=2022-01-01")
                .unwrap();
        let context = BarsContext {
            times: TimeParser::UTC,
            max_page_rows: 10_000,
            tokens: &PageTokenKey::random(),
            negotiated: ResponseFormat::Json,
        };
        let query = BarsQuery::parse(&params, &context).unwrap();
        let mut bench: String = include_str!("../../bench/aggregate.sql")
            .lines()
            .filter(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join(" ");
        for (i, name) in [
            "symbols", "resumes", "start", "end", "zone", "width", "limit",
        ]
        .iter()
        .enumerate()
        {
            bench = bench.replace(&format!(":{name}"), &format!("${}", i + 1));
        }
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            words(bench.trim_end().trim_end_matches(';')),
            words(&statement(&query, true))
        );
    }
}
