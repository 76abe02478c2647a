-- One lowercased copy of both prompts to search, and one trigram index on it instead of one per prompt:
-- `ILIKE` on a prompt is `lower(prompt) LIKE lower(pattern)` in PostgreSQL, so a search tests this
-- column with a plain `LIKE`, a byte comparison where `ILIKE` lowercases every row it tests, and the
-- index is read once rather than twice (measured at a million images: 40 ms for a three-word search
-- before, see src/server/storage/postgres/search.rs). The newline keeps the prompts apart.
ALTER TABLE images
    ADD COLUMN search_text text GENERATED ALWAYS AS (lower(prompt) || E'\n' || lower(final_prompt)) STORED;
DROP INDEX images_prompt_search;
DROP INDEX images_final_prompt_search;
CREATE INDEX images_search ON images USING gin (search_text gin_trgm_ops);
