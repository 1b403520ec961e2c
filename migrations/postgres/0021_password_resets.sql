-- "Forgot your password?" links (kith_core::password_reset): only the
-- SHA-256 of the link's 256 random bits is kept. A link works once, until
-- expires_at; used_at marks it used (or ended by another being used).
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_by_user ON password_resets (user_id, created_at);
