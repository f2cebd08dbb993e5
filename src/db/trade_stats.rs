//! How reads name `trade_count` and `vwap` of the table's rows `t`: the columns where the
//! table has them, nulls of the same types where it does not (a table made the tutorial's
//! way), so that every statement has one shape either way.

/// A stored bar's trade count and vwap, in that order.
pub fn stored(trade_stats: bool) -> &'static str {
    if trade_stats {
        "t.trade_count::int8, t.vwap::float8"
    } else {
        "NULL::int8, NULL::float8"
    }
}

/// A group of bars' trade count (the sum) and vwap: Σ(vwap × volume) / Σ volume over the
/// bars with both (`vwap * trading_volume` is null unless both are given), null when there
/// are none or their volumes sum to 0. The products are summed as `numeric`: a sum of
/// doubles depends on the order rows reach it, which differs between plans (a page and a
/// columnar stream of the same buckets), and the same bucket must give the same vwap to the
/// last bit; the division stays in doubles, correctly rounded.
pub fn aggregated(trade_stats: bool) -> &'static str {
    if trade_stats {
        "sum(t.trade_count)::int8, sum((t.vwap * t.trading_volume)::numeric)::float8 \
         / nullif(sum(t.trading_volume) FILTER (WHERE t.vwap IS NOT NULL), 0)::float8"
    } else {
        "NULL::int8, NULL::float8"
    }
}
