-- Limits every instance sees (src/server/storage/postgres/coordination.rs). Rate-limit state is UNLOGGED: lost in
-- a database crash, everyone starts again with a full allowance. Budgets are kept like any row.
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,               -- the limit and the client, e.g. generation:ip:192.0.2.1
    tat DOUBLE PRECISION NOT NULL       -- GCRA's theoretical arrival time, Unix ms
);
CREATE TABLE budgets (
    key   TEXT   PRIMARY KEY,           -- budget:PROVIDER
    day   BIGINT NOT NULL,              -- days since the epoch, UTC
    spent BIGINT NOT NULL
);
