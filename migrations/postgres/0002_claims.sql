-- Work in progress across instances (src/server/storage/postgres/coordination.rs): one row per key being made,
-- kept alive by its owner's heartbeat (database clock, Unix ms). UNLOGGED: after a database crash there is
-- no work in progress to remember.
CREATE UNLOGGED TABLE claims (
    key          TEXT   PRIMARY KEY,
    owner        TEXT   NOT NULL,   -- the instance, a random id per process
    heartbeat_at BIGINT NOT NULL
);
