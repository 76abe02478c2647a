-- The catalog in PostgreSQL, as the SQLite schema stands after its migrations 0001-0005 (see
-- migrations/sqlite/ for what each column means). Integers are BIGINT; ids sort byte by byte (COLLATE "C")
-- whatever the database's locale, as keyset pages need.
CREATE TABLE images (
    id               TEXT COLLATE "C" PRIMARY KEY,
    gen_key          TEXT   NOT NULL UNIQUE,
    prompt           TEXT   NOT NULL,
    final_prompt     TEXT   NOT NULL,
    negative_prompt  TEXT,
    model            TEXT   NOT NULL,
    provider         TEXT   NOT NULL,
    seed             BIGINT NOT NULL,
    steps            BIGINT,
    width            BIGINT NOT NULL,
    height           BIGINT NOT NULL,
    format           TEXT   NOT NULL,
    bytes            BIGINT NOT NULL,
    content_hash     TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    translation      TEXT   NOT NULL DEFAULT 'off',
    translation_note TEXT
);
CREATE INDEX images_newest ON images (created_at DESC, id DESC);
CREATE INDEX images_by_content ON images (content_hash);

CREATE TABLE prompt_cache (
    pipeline     TEXT   NOT NULL,
    family       TEXT   NOT NULL,
    prompt       TEXT   NOT NULL,
    final_prompt TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (pipeline, family, prompt)
);

CREATE TABLE derivatives (
    key          TEXT   PRIMARY KEY,
    image_id     TEXT COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    options      TEXT   NOT NULL,
    format       TEXT   NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    bytes        BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    content_hash TEXT,
    served_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX derivatives_by_image ON derivatives (image_id);
CREATE INDEX derivatives_by_served ON derivatives (served_at, key);

CREATE TABLE sessions (
    token_hash TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
