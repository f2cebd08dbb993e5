-- The statement of GET /v1/bars?interval=... (src/db/query.rs; a unit test keeps them equal),
-- with its parameters as pgbench variables.
SELECT b.* FROM unnest(:symbols::text[], :resumes::timestamptz[]) WITH ORDINALITY AS k(symbol, resume, ord)
CROSS JOIN LATERAL (
  SELECT g.bucket, k.symbol, g.o, g.h, g.l, g.c, g.v, g.n,
         ((g.bucket AT TIME ZONE :zone::text) + :width::text::interval) AT TIME ZONE :zone::text, NULL::float8,
         g.tc, g.vw
  FROM (SELECT time_bucket(:width::text::interval, t.time, :zone::text) AS bucket,
               first(t.price_open::float8, t.time) AS o, max(t.price_high)::float8 AS h,
               min(t.price_low)::float8 AS l, last(t.price_close::float8, t.time) AS c,
               sum(t.trading_volume)::int8 AS v, count(*) AS n, sum(t.trade_count)::int8 AS tc,
               sum((t.vwap * t.trading_volume)::numeric)::float8
                 / nullif(sum(t.trading_volume) FILTER (WHERE t.vwap IS NOT NULL), 0)::float8 AS vw
        FROM stocks_intraday t
        WHERE t.symbol = k.symbol
          AND t.time >= coalesce(greatest(:start::timestamptz, k.resume), '-infinity')
          AND t.time < coalesce(:end::timestamptz, 'infinity')
        GROUP BY 1) g
  ORDER BY g.bucket ASC LIMIT :limit) b
LIMIT :limit;
