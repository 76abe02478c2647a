-- Images Pixzoo did not make (uploads) and images made from another (edits), with their lineage.
ALTER TABLE images ADD COLUMN kind TEXT NOT NULL DEFAULT 'generated';  -- generated | upload | edit
ALTER TABLE images ADD COLUMN source_id TEXT;   -- an edit's source image id (no foreign key: a deleted
ALTER TABLE images ADD COLUMN mask_id TEXT;     -- source leaves its edits, which say what they came from)
ALTER TABLE images ADD COLUMN strength INTEGER; -- an edit's strength in hundredths

-- The gallery's kind filter and a source's list of edits, newest first.
CREATE INDEX images_by_kind ON images (kind, created_at DESC, id DESC);
CREATE INDEX images_by_source ON images (source_id, created_at DESC) WHERE source_id IS NOT NULL;
