-- Sign-in methods besides the password: a person's identity at an OpenID
-- Connect provider (issuer + subject), linked to one Kith account.
CREATE TABLE linked_identities (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    provider     TEXT NOT NULL,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    -- What the Account page shows for it (the provider's email for them).
    label        TEXT NOT NULL,
    linked_at    BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (issuer, subject)
);
CREATE INDEX linked_identities_user ON linked_identities (user_id);

-- Sign-ins through a provider that failed before anyone could be named
-- (a refused token, a wrong state, the provider down). No health data and
-- no tokens: what was tried, why it failed, and from where.
CREATE TABLE sign_in_failures (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    method     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    address    TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sign_in_failures_at ON sign_in_failures (at);
