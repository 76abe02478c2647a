-- Every image Pixzoo has made. Rows are written only after their blob is stored (see storage/catalog.rs).
CREATE TABLE images (
    id              TEXT    PRIMARY KEY NOT NULL,   -- UUIDv7, time-ordered
    gen_key         TEXT    NOT NULL UNIQUE,        -- hash of what was asked for; see engine/keys.rs
    prompt          TEXT    NOT NULL,               -- as the user wrote it
    final_prompt    TEXT    NOT NULL,               -- as sent to the model
    negative_prompt TEXT,
    model           TEXT    NOT NULL,               -- catalog id
    provider        TEXT    NOT NULL,
    seed            INTEGER NOT NULL,
    steps           INTEGER,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    format          TEXT    NOT NULL,               -- png | jpeg | webp
    bytes           INTEGER NOT NULL,
    content_hash    TEXT    NOT NULL,               -- SHA-256 of the blob, hex; the blob key derives from it
    created_at      INTEGER NOT NULL                -- Unix milliseconds, UTC
) STRICT;

CREATE INDEX images_newest ON images (created_at DESC, id DESC);
