-- Sharing: grants to people (by email; linked to an account once they sign
-- in) and links for clinicians without an account. Scope is JSON:
-- {"all":bool,"labels":[..],"kinds":[..],"entries":[..]}. Entries labelled
-- private are never shared, whatever the scope says.
CREATE TABLE grants (
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    id              TEXT NOT NULL,
    grantee_email   TEXT NOT NULL,
    grantee_role    TEXT NOT NULL CHECK (grantee_role IN ('clinician', 'carer')),
    scope           TEXT NOT NULL,
    can_comment     BIGINT NOT NULL,
    can_contribute  BIGINT NOT NULL,
    can_act_for     BIGINT NOT NULL,
    expires_at      BIGINT,
    revoked_at      BIGINT,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX grants_by_email ON grants (grantee_email);

CREATE TABLE share_links (
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    id              TEXT NOT NULL,
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash      TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    scope           TEXT NOT NULL,
    passcode_hash   TEXT,
    single_use      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL,
    locked_at       BIGINT,
    used_at         BIGINT,
    revoked_at      BIGINT,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    PRIMARY KEY (patient_id, id)
);

-- Things the patient should know about (a link locked, break-glass use).
CREATE TABLE notifications (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    id          TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    read_at     BIGINT,
    PRIMARY KEY (patient_id, id)
);
