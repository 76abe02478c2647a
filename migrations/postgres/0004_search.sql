-- Search through trigram indexes (pg_trgm, a trusted extension since PostgreSQL 13): ILIKE '%…%' on either
-- prompt is answered from the GIN indexes, for any script. Three characters or more use them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX images_prompt_search ON images USING gin (prompt gin_trgm_ops);
CREATE INDEX images_final_prompt_search ON images USING gin (final_prompt gin_trgm_ops);

-- The gallery's model filter, newest first.
CREATE INDEX images_by_model ON images (model, created_at DESC, id DESC);
