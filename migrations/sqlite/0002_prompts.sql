-- How each image's final prompt was made, and the LLM results that keep a URL meaning one image.
ALTER TABLE images ADD COLUMN translation TEXT NOT NULL DEFAULT 'off';   -- llm | builtin | fallback | off
ALTER TABLE images ADD COLUMN translation_note TEXT;                     -- why the fallback was used

CREATE TABLE prompt_cache (
    pipeline     TEXT    NOT NULL,   -- openai | cloudflare
    family       TEXT    NOT NULL,   -- flux | sd | dalle
    prompt       TEXT    NOT NULL,
    final_prompt TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,   -- Unix milliseconds, UTC
    PRIMARY KEY (pipeline, family, prompt)
) STRICT;
