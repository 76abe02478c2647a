-- Transformed images (resized, re-encoded, filtered), stored so each is made once. Rows follow their blob.
CREATE TABLE derivatives (
    key        TEXT    PRIMARY KEY NOT NULL,  -- hash of (content hash, canonical options, format, pipeline version)
    image_id   TEXT    NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    options    TEXT    NOT NULL,              -- canonical option string
    format     TEXT    NOT NULL,              -- the format actually encoded (AVIF may fall back to WebP)
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at INTEGER NOT NULL               -- Unix milliseconds, UTC
) STRICT;

CREATE INDEX derivatives_by_image ON derivatives (image_id);
