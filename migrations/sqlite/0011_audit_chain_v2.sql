-- Access-log hash chain, version 2: each row's hash is SHA-256 of
-- "{prev_hash}\n{seq}\n{content digest}" (see kith_core::audit::row_hash), so
-- PostgreSQL can chain and append a row in one statement. Rows written
-- before keep version 1 and verify as they always did.
ALTER TABLE audit_events ADD COLUMN hash_version BIGINT NOT NULL DEFAULT 1;
-- The head also remembers the hash before it, which the one-statement
-- append returns as the new row's prev_hash.
ALTER TABLE audit_heads ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
