-- Studio jobs' latest state, so a poll may reach any instance (src/server/storage/postgres/coordination.rs).
-- UNLOGGED and pruned after 15 minutes: progress, not records.
CREATE UNLOGGED TABLE studio_jobs (
    id         TEXT   PRIMARY KEY,
    view       TEXT   NOT NULL,    -- the JobView the studio polls, as JSON
    updated_at BIGINT NOT NULL     -- database clock, Unix ms
);
