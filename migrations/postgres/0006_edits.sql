-- Images Pixzoo did not make (uploads) and images made from another (edits), with their lineage.
ALTER TABLE images ADD COLUMN kind TEXT COLLATE "C" NOT NULL DEFAULT 'generated';  -- generated | upload | edit
ALTER TABLE images ADD COLUMN source_id TEXT COLLATE "C";  -- an edit's source image id (no foreign key: a
ALTER TABLE images ADD COLUMN mask_id TEXT COLLATE "C";    -- deleted source leaves its edits)
ALTER TABLE images ADD COLUMN strength BIGINT;             -- an edit's strength in hundredths

CREATE INDEX images_by_kind ON images (kind, created_at DESC, id DESC);
CREATE INDEX images_by_source ON images (source_id, created_at DESC) WHERE source_id IS NOT NULL;
