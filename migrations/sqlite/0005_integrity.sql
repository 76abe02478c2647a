-- Blobs are checked against their rows before they are served: derivatives keep the hash of their bytes
-- (rows made before this column have none and are checked by length), and deletes ask quickly whether
-- any other image still has the same content.
ALTER TABLE derivatives ADD COLUMN content_hash TEXT;   -- hex SHA-256 of the blob
CREATE INDEX images_by_content ON images (content_hash);

-- Translation notes written before notes named only a category could quote what the LLM service said
-- (organisation ids, masked keys): keep only "the <pipeline> prompt pipeline failed".
UPDATE images
SET translation_note = substr(translation_note, 1, instr(translation_note, ' failed:') + 6)
WHERE translation_note LIKE 'the % prompt pipeline failed: %';

-- Derivatives are a cache within storage.derivatives_max_bytes: the least recently served go first.
ALTER TABLE derivatives ADD COLUMN served_at INTEGER NOT NULL DEFAULT 0;  -- Unix ms, updated in batches
UPDATE derivatives SET served_at = created_at;
CREATE INDEX derivatives_by_served ON derivatives (served_at, key);
