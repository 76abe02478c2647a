-- Studio sign-ins (when API_KEY is set). Only a hash of each token is kept, so the catalog file alone
-- cannot be used to sign in.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY NOT NULL,  -- hex SHA-256 of the cookie's token
    created_at INTEGER NOT NULL,              -- Unix milliseconds, UTC
    expires_at INTEGER NOT NULL
) STRICT;
