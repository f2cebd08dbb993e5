-- 10M one-minute bars: 102 symbols x every New York regular-session minute of 2021
-- (weekdays 14:30-21:00 UTC, ~98k bars a symbol). Deterministic: prices follow the minute.
INSERT INTO stocks_intraday
SELECT t, s.symbol,
       p, p * 1.001, p * 0.999, p * (1 + 0.0005 * sin(m)),
       (1000 + (m * 7919 + s.n * 104729) % 5000)::bigint
FROM (SELECT n, 'SYM' || lpad(n::text, 4, '0') AS symbol FROM generate_series(1, 102) n) s
CROSS JOIN LATERAL (
  SELECT t, extract(epoch FROM t) / 60 AS m
  FROM generate_series('2021-01-01 00:00+00'::timestamptz, '2021-12-31 23:59+00', '1 minute') t
  WHERE extract(isodow FROM t) < 6
    AND (t AT TIME ZONE 'UTC')::time >= '14:30' AND (t AT TIME ZONE 'UTC')::time < '21:00'
) mins
CROSS JOIN LATERAL (SELECT 20 + s.n + 10 * sin(m / 10000.0) AS p) price
ON CONFLICT DO NOTHING;

-- 3000 more symbols with a few bars each, spread over the year, so that listing symbols
-- has thousands to walk.
INSERT INTO stocks_intraday
SELECT '2021-01-04 15:00+00'::timestamptz + (n % 360) * interval '1 day' + k * interval '1 minute',
       'X' || lpad(n::text, 5, '0'), 10, 11, 9, 10.5, 100
FROM generate_series(1, 3000) n, generate_series(0, 2) k
ON CONFLICT DO NOTHING;

-- Bars arrive minute by minute, so one symbol's bars are spread over every page of a chunk.
-- Rewriting the chunks in (symbol, time) order, as a periodic maintenance job would for chunks
-- that no longer change, lets a one-symbol range read a few pages instead of all of them.
CLUSTER stocks_intraday USING stocks_intraday_symbol_time_key;
