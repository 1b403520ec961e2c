-- People who sign in. A NULL password_hash is an account that signs in only
-- through an identity provider.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('patient', 'carer', 'clinician')),
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- A patient's record, keyed by NHS Number. Every patient-data table carries
-- patient_id (this table's id) so the schema can be distributed by patient.
CREATE TABLE patients (
    id          TEXT PRIMARY KEY,
    nhs_number  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    birth_date  TEXT NOT NULL,
    user_id     TEXT UNIQUE REFERENCES users (id),
    created_at  BIGINT NOT NULL
);

-- tower-sessions records; user_id is copied out of the data so that a
-- password change can end a person's other sessions.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT,
    data       TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed sign-ins per account ("email:...") and per address ("ip:...").
CREATE TABLE sign_in_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT
);
