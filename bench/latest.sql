-- The statement of GET /v1/bars/latest?symbols=X (src/db/ticker.rs, latest_bar): the newest
-- bar of one symbol within the newest chunks, whose start the API caches (:bound).
SELECT time, symbol, price_open::float8, price_high::float8, price_low::float8, price_close::float8, trading_volume::int8 FROM stocks_intraday WHERE symbol = :symbol AND time >= :bound ORDER BY time DESC LIMIT 1;
