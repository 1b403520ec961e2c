-- A patient's connection to a provider's FHIR API (SMART on FHIR). Tokens are
-- encrypted with the server's token key (never stored in the clear) and
-- deleted on disconnect; what was imported stays, marked as from that source.
CREATE TABLE connections (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    provider     TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- connected | needs-reconnect | failed | disconnected
    status       TEXT NOT NULL,
    tokens       TEXT,
    connected_at BIGINT NOT NULL,
    last_pull_at BIGINT,
    last_summary TEXT,
    last_error   TEXT,
    next_pull_at BIGINT,
    UNIQUE (patient_id, provider)
);
CREATE INDEX connections_due ON connections (next_pull_at);
