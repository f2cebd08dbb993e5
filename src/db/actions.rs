//! Corporate actions: their table, writes, reads, and the adjustment plan of a read (which
//! stored symbols make up each requested one, and the factors of its history).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::{Conn, DbError, TABLE};
use crate::domain::actions::{
    ActionKind, Adjustable, Adjustment, CorporateAction, EX_DATE_ZONE, FactorEvent, Factors,
    ex_instant,
};
use crate::domain::{Order, Symbol};

/// The table of corporate actions, keyed by what identifies one: (symbol, ex_date, type).
pub const ACTIONS_TABLE: &str = "tsapi_corporate_actions";

/// Made by `tsapi migrate`; additive and idempotent.
pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tsapi_corporate_actions (
        symbol       text             NOT NULL,
        ex_date      date             NOT NULL,
        kind         text             NOT NULL
                     CHECK (kind IN ('split', 'dividend', 'symbol_change')),
        split_from   double precision CHECK (split_from > 0),
        split_to     double precision CHECK (split_to > 0),
        cash_amount  double precision CHECK (cash_amount > 0),
        currency     text,
        new_symbol   text,
        PRIMARY KEY (symbol, ex_date, kind)
    );
    CREATE INDEX IF NOT EXISTS tsapi_corporate_actions_new_symbol
        ON tsapi_corporate_actions (new_symbol) WHERE new_symbol IS NOT NULL;
";

/// Most symbol changes followed from one symbol (a chain of renames), so a cycle in the
/// data cannot loop.
const MAX_RENAMES: usize = 32;

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ActionCounts {
    /// Actions that were new.
    pub inserted: u64,
    /// Actions whose (type, symbol, ex_date) was stored: their values were replaced.
    pub updated: u64,
}

/// Stores `actions` in one statement (all or nothing); an action already stored under
/// its (type, symbol, ex_date) takes the new values, so posting the same data again
/// changes nothing.
pub async fn write_actions(
    client: &impl GenericClient,
    actions: &[CorporateAction],
) -> Result<ActionCounts, DbError> {
    let mut cols = Columns::default();
    for a in actions {
        cols.push(a);
    }
    let sql = format!(
        "INSERT INTO {ACTIONS_TABLE} AS a \
           (symbol, ex_date, kind, split_from, split_to, cash_amount, currency, new_symbol) \
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::float8[], $5::float8[], \
                              $6::float8[], $7::text[], $8::text[]) \
         ON CONFLICT (symbol, ex_date, kind) DO UPDATE SET \
           split_from = excluded.split_from, split_to = excluded.split_to, \
           cash_amount = excluded.cash_amount, currency = excluded.currency, \
           new_symbol = excluded.new_symbol \
         RETURNING (xmax = 0)"
    );
    let rows = client
        .query_typed(
            &sql,
            &[
                (&cols.symbol, Type::TEXT_ARRAY),
                (&cols.ex_date, Type::DATE_ARRAY),
                (&cols.kind, Type::TEXT_ARRAY),
                (&cols.split_from, Type::FLOAT8_ARRAY),
                (&cols.split_to, Type::FLOAT8_ARRAY),
                (&cols.cash_amount, Type::FLOAT8_ARRAY),
                (&cols.currency, Type::TEXT_ARRAY),
                (&cols.new_symbol, Type::TEXT_ARRAY),
            ],
        )
        .await?;
    let inserted = rows.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
    Ok(ActionCounts {
        inserted,
        updated: rows.len() as u64 - inserted,
    })
}

/// Actions as columns, for `unnest`.
#[derive(Default)]
struct Columns {
    symbol: Vec<String>,
    ex_date: Vec<NaiveDate>,
    kind: Vec<&'static str>,
    split_from: Vec<Option<f64>>,
    split_to: Vec<Option<f64>>,
    cash_amount: Vec<Option<f64>>,
    currency: Vec<Option<String>>,
    new_symbol: Vec<Option<String>>,
}

impl Columns {
    fn push(&mut self, a: &CorporateAction) {
        self.symbol.push(a.symbol.to_string());
        self.ex_date.push(a.ex_date);
        self.kind.push(a.kind.name());
        let (mut from, mut to, mut cash, mut currency, mut new) = (None, None, None, None, None);
        match &a.kind {
            ActionKind::Split {
                split_from,
                split_to,
            } => (from, to) = (Some(*split_from), Some(*split_to)),
            ActionKind::Dividend {
                cash_amount,
                currency: c,
            } => (cash, currency) = (Some(*cash_amount), Some(c.clone())),
            ActionKind::SymbolChange { new_symbol } => new = Some(new_symbol.to_string()),
        }
        self.split_from.push(from);
        self.split_to.push(to);
        self.cash_amount.push(cash);
        self.currency.push(currency);
        self.new_symbol.push(new);
    }
}

const SELECT_ACTIONS: &str = "SELECT symbol, ex_date, kind, split_from, split_to, cash_amount, \
     currency, new_symbol FROM tsapi_corporate_actions";

fn action_of(row: &tokio_postgres::Row) -> Option<CorporateAction> {
    let kind: &str = row.get(2);
    let kind = match kind {
        "split" => ActionKind::Split {
            split_from: row.get::<_, Option<f64>>(3)?,
            split_to: row.get::<_, Option<f64>>(4)?,
        },
        "dividend" => ActionKind::Dividend {
            cash_amount: row.get::<_, Option<f64>>(5)?,
            currency: row
                .get::<_, Option<String>>(6)
                .unwrap_or_else(|| "USD".into()),
        },
        _ => ActionKind::SymbolChange {
            new_symbol: Symbol::from_stored(row.get::<_, Option<String>>(7)?),
        },
    };
    Some(CorporateAction {
        symbol: Symbol::from_stored(row.get(0)),
        ex_date: row.get(1),
        kind,
    })
}

/// Stored actions by ex-date, then symbol and type: of `symbols` (as the old or the new
/// symbol of a change) when given, with ex-dates in [`start`, `end`), at most `limit`.
pub async fn list_actions(
    client: &Conn,
    symbols: Option<&[Symbol]>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    limit: i64,
) -> Result<Vec<CorporateAction>, DbError> {
    let names: Option<Vec<&str>> = symbols.map(|s| s.iter().map(Symbol::as_str).collect());
    let sql = format!(
        "{SELECT_ACTIONS} WHERE ($1::text[] IS NULL OR symbol = ANY($1) OR new_symbol = ANY($1)) \
           AND ($2::date IS NULL OR ex_date >= $2) AND ($3::date IS NULL OR ex_date < $3) \
         ORDER BY ex_date, symbol COLLATE \"C\", kind LIMIT $4"
    );
    let rows = client
        .query(
            &sql,
            &[
                (&names, Type::TEXT_ARRAY),
                (&start, Type::DATE),
                (&end, Type::DATE),
                (&limit, Type::INT8),
            ],
        )
        .await?;
    Ok(rows.iter().filter_map(action_of).collect())
}

/// Where one requested symbol's rows are stored: under `stored` from `from` (inclusive)
/// until `until` (exclusive); `None` bounds are open.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub stored: String,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// How a read turns stored rows into the requested ones.
#[derive(Debug, Clone, Default)]
pub struct AdjustPlan {
    /// Per requested symbol: its segments in time order, and its factors.
    pub symbols: BTreeMap<String, (Vec<Segment>, Factors)>,
}

impl AdjustPlan {
    /// Whether the plan changes nothing: each symbol is stored under its own name and no
    /// factor differs from 1, so the plain statement gives the same rows.
    pub fn is_identity(&self) -> bool {
        self.symbols.iter().all(|(name, (segments, factors))| {
            factors.is_identity()
                && matches!(segments.as_slice(), [s] if s.stored == *name && s.from.is_none() && s.until.is_none())
        })
    }

    /// Whether some symbol is read under other names too.
    pub fn has_renames(&self) -> bool {
        self.symbols.iter().any(|(name, (segments, _))| {
            !matches!(segments.as_slice(), [s] if s.stored == *name && s.from.is_none() && s.until.is_none())
        })
    }

    /// The factors of `symbol` (identity when it has none).
    pub fn factors(&self, symbol: &str) -> Option<&Factors> {
        self.symbols.get(symbol).map(|(_, f)| f)
    }

    /// The plan as flat arrays for SQL: segments (requested, stored, from, until) in the
    /// order rows are read, and factors (requested, bound, price, volume).
    pub fn arrays(&self, order: Order) -> PlanArrays {
        let mut out = PlanArrays::default();
        for (name, (segments, factors)) in &self.symbols {
            let mut segments: Vec<&Segment> = segments.iter().collect();
            if order == Order::Desc {
                segments.reverse();
            }
            for s in segments {
                out.seg_req.push(name.clone());
                out.seg_sym.push(s.stored.clone());
                out.seg_from.push(s.from);
                out.seg_until.push(s.until);
            }
            for i in 0..factors.bounds.len() {
                out.f_req.push(name.clone());
                out.f_until.push(factors.bounds[i]);
                out.f_price.push(factors.price[i]);
                out.f_volume.push(factors.volume[i]);
            }
        }
        out
    }
}

/// [`AdjustPlan::arrays`].
#[derive(Debug, Clone, Default)]
pub struct PlanArrays {
    pub seg_req: Vec<String>,
    pub seg_sym: Vec<String>,
    pub seg_from: Vec<Option<DateTime<Utc>>>,
    pub seg_until: Vec<Option<DateTime<Utc>>>,
    pub f_req: Vec<String>,
    pub f_until: Vec<DateTime<Utc>>,
    pub f_price: Vec<f64>,
    pub f_volume: Vec<f64>,
}

/// The plan of a read of `symbols` with `adjustment`, names as known on `asof` (none:
/// literal names). One or two small queries: the symbol changes (with `asof`), then the
/// splits and dividends of the stored symbols with each dividend's previous close.
pub async fn plan(
    client: &Conn,
    symbols: &[Symbol],
    adjustment: Adjustment,
    asof: Option<NaiveDate>,
) -> Result<AdjustPlan, DbError> {
    let mut plan = AdjustPlan::default();
    let changes = match asof {
        Some(_) => renames_around(client, symbols).await?,
        None => Vec::new(),
    };
    for symbol in symbols {
        let segments = match asof {
            Some(day) => segments_of(symbol.as_str(), day, &changes),
            None => vec![Segment {
                stored: symbol.to_string(),
                from: None,
                until: None,
            }],
        };
        plan.symbols
            .insert(symbol.to_string(), (segments, Factors::default()));
    }
    if adjustment == Adjustment::Raw {
        return Ok(plan);
    }
    let stored: Vec<String> = plan
        .symbols
        .values()
        .flat_map(|(segments, _)| segments.iter().map(|s| s.stored.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let events = split_and_dividend_events(client, &stored, adjustment).await?;
    for (segments, factors) in plan.symbols.values_mut() {
        let mine: Vec<(DateTime<Utc>, FactorEvent)> = events
            .iter()
            .filter(|(symbol, at, _)| {
                segments.iter().any(|s| {
                    s.stored == *symbol
                        && s.from.is_none_or(|f| *at >= f)
                        && s.until.is_none_or(|u| *at < u)
                })
            })
            .map(|(_, at, event)| (*at, event.clone()))
            .collect();
        *factors = Factors::from_events(mine, adjustment);
    }
    Ok(plan)
}

/// Adjusts bars read some other way (latest bars, snapshots, whole-market days) by the
/// factors of their symbols at their times: one query for all their symbols.
pub async fn adjust_in_place(
    client: &Conn,
    adjustment: Adjustment,
    mut bars: Vec<&mut dyn Adjustable>,
) -> Result<(), DbError> {
    if adjustment == Adjustment::Raw || bars.is_empty() {
        return Ok(());
    }
    let symbols: Vec<Symbol> = bars
        .iter()
        .map(|b| b.symbol().to_owned())
        .collect::<HashSet<_>>()
        .into_iter()
        .map(Symbol::from_stored)
        .collect();
    let plan = plan(client, &symbols, adjustment, None).await?;
    for bar in bars.iter_mut() {
        if let Some(factors) = plan.factors(bar.symbol()) {
            let (price, volume) = factors.at(bar.time());
            if (price, volume) != (1.0, 1.0) {
                bar.scale(price, volume);
            }
        }
    }
    Ok(())
}

/// Splits and dividends of `stored` symbols, as (symbol, ex-date instant, event); each
/// dividend with the last stored close before its ex-date.
///
/// That close is the close of the symbol's last daily bar before the ex-date in the symbol
/// catalogue (`tsapi_daily`, a plain table: one index probe), whose days are New York days
/// like ex-dates. Only when the catalogue follows another zone is it looked up in the
/// hypertable, where each probe may have to open many chunks (a 10-year daily series in
/// 7-day chunks has 522; 40 such probes cost more than reading the series).
async fn split_and_dividend_events(
    client: &Conn,
    stored: &[String],
    adjustment: Adjustment,
) -> Result<Vec<(String, DateTime<Utc>, FactorEvent)>, DbError> {
    let kinds = kinds_for(adjustment);
    let sql = format!(
        "SELECT a.symbol, a.ex_date, a.kind, a.split_from, a.split_to, a.cash_amount, d.close, \
                m.zone = '{zone}' \
         FROM {ACTIONS_TABLE} a \
         LEFT JOIN tsapi_catalog_meta m ON true \
         LEFT JOIN LATERAL ( \
           SELECT d.price_close AS close FROM tsapi_daily d \
           WHERE a.kind = 'dividend' AND d.symbol = a.symbol AND d.day < a.ex_date \
           ORDER BY d.day DESC LIMIT 1) d ON true \
         {OF_SYMBOLS_AND_KINDS}",
        zone = EX_DATE_ZONE.name()
    );
    let rows = event_rows(client, &sql, stored, &kinds).await?;
    if rows
        .iter()
        .any(|r| !r.get::<_, Option<bool>>(7).unwrap_or(false))
    {
        return events_from_table(client, stored, &kinds).await;
    }
    Ok(rows.iter().filter_map(event_of).collect())
}

/// The filter of both event reads: `$1` the stored symbols, `$2` the kinds of action.
const OF_SYMBOLS_AND_KINDS: &str = "WHERE a.symbol = ANY($1::text[]) AND a.kind = ANY($2::text[])";

/// The rows of `sql`, an event read filtered by [`OF_SYMBOLS_AND_KINDS`].
async fn event_rows(
    client: &Conn,
    sql: &str,
    stored: &[String],
    kinds: &[&str],
) -> Result<Vec<tokio_postgres::Row>, DbError> {
    client
        .query(
            sql,
            &[(&stored, Type::TEXT_ARRAY), (&kinds, Type::TEXT_ARRAY)],
        )
        .await
}

/// Dividend factors need the splits of their ex-date (see `Factors::from_events`).
fn kinds_for(adjustment: Adjustment) -> Vec<&'static str> {
    [Some("split"), adjustment.dividends().then_some("dividend")]
        .into_iter()
        .flatten()
        .collect()
}

/// (symbol, ex-date, kind, split_from, split_to, cash_amount, previous close) as an event.
fn event_of(r: &tokio_postgres::Row) -> Option<(String, DateTime<Utc>, FactorEvent)> {
    let at = ex_instant(r.get(1));
    let event = match r.get::<_, &str>(2) {
        "split" => FactorEvent::Split {
            split_from: r.get::<_, Option<f64>>(3)?,
            split_to: r.get::<_, Option<f64>>(4)?,
        },
        _ => FactorEvent::Dividend {
            cash_amount: r.get::<_, Option<f64>>(5)?,
            previous_close: r.get(6),
        },
    };
    Some((r.get(0), at, event))
}

/// [`split_and_dividend_events`] with each previous close probed in the hypertable.
async fn events_from_table(
    client: &Conn,
    stored: &[String],
    kinds: &[&str],
) -> Result<Vec<(String, DateTime<Utc>, FactorEvent)>, DbError> {
    let sql = format!(
        "SELECT a.symbol, a.ex_date, a.kind, a.split_from, a.split_to, a.cash_amount, p.close \
         FROM {ACTIONS_TABLE} a \
         LEFT JOIN LATERAL ( \
           SELECT t.price_close::float8 AS close FROM {TABLE} t \
           WHERE a.kind = 'dividend' AND t.symbol = a.symbol \
             AND t.time < (a.ex_date::timestamp AT TIME ZONE '{zone}') \
           ORDER BY t.time DESC LIMIT 1) p ON true \
         {OF_SYMBOLS_AND_KINDS}",
        zone = EX_DATE_ZONE.name()
    );
    let rows = event_rows(client, &sql, stored, kinds).await?;
    Ok(rows.iter().filter_map(event_of).collect())
}

/// A symbol change: `old` became `new` on `at`.
#[derive(Debug, Clone)]
struct Rename {
    old: String,
    new: String,
    at: DateTime<Utc>,
}

/// Every symbol change reachable from `symbols` through old or new names (a chain of
/// renames), a query per step of the chain.
async fn renames_around(client: &Conn, symbols: &[Symbol]) -> Result<Vec<Rename>, DbError> {
    let sql = format!(
        "SELECT symbol, new_symbol, ex_date FROM {ACTIONS_TABLE} \
         WHERE kind = 'symbol_change' AND (symbol = ANY($1::text[]) OR new_symbol = ANY($1::text[]))"
    );
    let mut seen: HashSet<String> = HashSet::new();
    let mut frontier: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    let mut found: Vec<Rename> = Vec::new();
    for _ in 0..MAX_RENAMES {
        frontier.retain(|s| seen.insert(s.clone()));
        if frontier.is_empty() {
            break;
        }
        let rows = client.query(&sql, &[(&frontier, Type::TEXT_ARRAY)]).await?;
        frontier.clear();
        for r in rows {
            let rename = Rename {
                old: r.get(0),
                new: r.get(1),
                at: ex_instant(r.get(2)),
            };
            if found
                .iter()
                .any(|f| f.old == rename.old && f.at == rename.at)
            {
                continue;
            }
            frontier.push(rename.old.clone());
            frontier.push(rename.new.clone());
            found.push(rename);
        }
    }
    Ok(found)
}

/// The segments of the symbol known as `name` on `asof`: back in time through the
/// changes that made it (`X -> name` before `asof`), forward through those that changed
/// it later (`name -> Y` after `asof`).
fn segments_of(name: &str, asof: NaiveDate, changes: &[Rename]) -> Vec<Segment> {
    let asof = ex_instant(asof);
    let mut segments = vec![Segment {
        stored: name.to_owned(),
        from: None,
        until: None,
    }];
    // Back: the latest change into the current name that happened by then.
    let mut current = name.to_owned();
    let mut bound = asof;
    for _ in 0..MAX_RENAMES {
        let Some(change) = changes
            .iter()
            .filter(|c| c.new == current && c.at <= bound)
            .max_by_key(|c| c.at)
        else {
            break;
        };
        segments[0].from = Some(change.at);
        segments.insert(
            0,
            Segment {
                stored: change.old.clone(),
                from: None,
                until: Some(change.at),
            },
        );
        current = change.old.clone();
        bound = change.at - chrono::Duration::microseconds(1);
    }
    // Forward: the earliest change away from the current name after `asof`.
    let mut current = name.to_owned();
    let mut bound = asof;
    for _ in 0..MAX_RENAMES {
        let Some(change) = changes
            .iter()
            .filter(|c| c.old == current && c.at > bound)
            .min_by_key(|c| c.at)
        else {
            break;
        };
        if let Some(last) = segments.last_mut() {
            last.until = Some(change.at);
        }
        segments.push(Segment {
            stored: change.new.clone(),
            from: Some(change.at),
            until: None,
        });
        current = change.new.clone();
        bound = change.at;
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rename(old: &str, new: &str, day: &str) -> Rename {
        Rename {
            old: old.into(),
            new: new.into(),
            at: ex_instant(day.parse().unwrap()),
        }
    }

    #[test]
    fn a_name_maps_to_its_whole_history() {
        let changes = [rename("FB", "META", "2022-06-09")];
        let at = ex_instant("2022-06-09".parse().unwrap());
        let after: Vec<_> = segments_of("META", "2023-01-01".parse().unwrap(), &changes)
            .into_iter()
            .map(|s| (s.stored, s.from, s.until))
            .collect();
        assert_eq!(
            after,
            [
                ("FB".to_owned(), None, Some(at)),
                ("META".to_owned(), Some(at), None)
            ]
        );
        let before = segments_of("FB", "2021-01-01".parse().unwrap(), &changes);
        assert_eq!(before.len(), 2);
        assert_eq!(before[1].stored, "META");
        // Nothing was called META before the change: the name is taken literally.
        let other = segments_of("META", "2021-01-01".parse().unwrap(), &changes);
        assert_eq!(other.len(), 1);
        assert_eq!((other[0].stored.as_str(), other[0].until), ("META", None));
    }
}
