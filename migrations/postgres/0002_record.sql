-- The record: what each source sent (verbatim, versioned) and the merged
-- entries patients read. Every table is keyed by patient_id first, the
-- distribution column if PostgreSQL is ever sharded (Citus).

-- An organisation (or device, or the patient) that sends data about a patient.
CREATE TABLE sources (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('gp', 'hospital', 'mental-health', 'community', 'social-care', 'device', 'patient')),
    identifier  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id),
    UNIQUE (patient_id, name)
);

-- One accepted file. Refused files leave no trace here (the database is
-- unchanged by a refusal); held files wait in held_feeds.
CREATE TABLE imports (
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    id              TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    byte_size       BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    new_count       BIGINT NOT NULL,
    changed_count   BIGINT NOT NULL,
    unchanged_count BIGINT NOT NULL,
    imported_by     TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX imports_by_source ON imports (patient_id, source_id, created_at);

-- Every version of every resource, verbatim. current = 1 marks the latest
-- version from that source.
CREATE TABLE resources (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    id            TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    fhir_id       TEXT NOT NULL,
    version       BIGINT NOT NULL,
    current       BIGINT NOT NULL,
    hash          TEXT NOT NULL,
    json          TEXT NOT NULL,
    import_id     TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id),
    UNIQUE (patient_id, source_id, resource_type, fhir_id, version)
);
CREATE INDEX resources_current ON resources (patient_id, source_id, current);

-- One entry per clinical fact, however many sources state it.
CREATE TABLE entries (
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    merge_key    TEXT NOT NULL,
    text         TEXT NOT NULL,
    date         TEXT,
    status       TEXT,
    label        TEXT NOT NULL,
    codes        TEXT NOT NULL,
    value        TEXT,
    -- A number as text: sqlx's Any driver cannot bind NULL floats for PostgreSQL.
    numeric      TEXT,
    unit         TEXT,
    disagreement BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id),
    UNIQUE (patient_id, merge_key)
);
CREATE INDEX entries_by_date ON entries (patient_id, date, id);
CREATE INDEX entries_by_kind ON entries (patient_id, kind, date);

-- Which source states which entry, with what that source says.
CREATE TABLE entry_sources (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    entry_id      TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    fhir_id       TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    fact          TEXT NOT NULL,
    PRIMARY KEY (patient_id, source_id, resource_type, fhir_id)
);
CREATE INDEX entry_sources_by_entry ON entry_sources (patient_id, entry_id);

-- Feeds without an NHS Number, waiting for the patient to confirm they are theirs.
CREATE TABLE held_feeds (
    patient_id   TEXT NOT NULL REFERENCES patients (id),
    id           TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    source_name  TEXT,
    source_kind  TEXT NOT NULL,
    found_name   TEXT,
    found_birth_date TEXT,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
