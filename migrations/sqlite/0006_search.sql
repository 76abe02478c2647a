-- Search through an index instead of a scan: FTS5's trigram tokenizer finds any substring of three or more
-- characters, in any script (Chinese and Japanese have no spaces to split words at), without regard to case.
-- An external-content table over `images`, kept in step by triggers, so prompts are stored once.
CREATE VIRTUAL TABLE images_search USING fts5(
    prompt, final_prompt, content = 'images', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO images_search (rowid, prompt, final_prompt) SELECT rowid, prompt, final_prompt FROM images;

CREATE TRIGGER images_search_insert AFTER INSERT ON images BEGIN
    INSERT INTO images_search (rowid, prompt, final_prompt) VALUES (new.rowid, new.prompt, new.final_prompt);
END;
CREATE TRIGGER images_search_delete AFTER DELETE ON images BEGIN
    INSERT INTO images_search (images_search, rowid, prompt, final_prompt)
    VALUES ('delete', old.rowid, old.prompt, old.final_prompt);
END;
CREATE TRIGGER images_search_update AFTER UPDATE OF prompt, final_prompt ON images BEGIN
    INSERT INTO images_search (images_search, rowid, prompt, final_prompt)
    VALUES ('delete', old.rowid, old.prompt, old.final_prompt);
    INSERT INTO images_search (rowid, prompt, final_prompt) VALUES (new.rowid, new.prompt, new.final_prompt);
END;

-- The gallery's model filter, newest first.
CREATE INDEX images_by_model ON images (model, created_at DESC, id DESC);
