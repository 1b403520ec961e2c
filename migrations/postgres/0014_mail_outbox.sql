-- Emails to patients about their record (kith_core::mail): queued in the
-- same transaction as the in-app notification, sent afterwards by the
-- server. Only what happened (`kind`) is kept: the address is looked up
-- when sending, and no email names who looked or what was seen.
CREATE TABLE mail_outbox (
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('first-view', 'emergency-access', 'link-locked')),
    created_at      BIGINT NOT NULL,
    -- When it may next be tried (also moved on while a sender holds it).
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    sent_at         BIGINT,
    gave_up_at      BIGINT,
    -- Why the last attempt failed (never the address).
    last_error      TEXT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- A patient can stop these emails (the Access log page); they are on
-- until then. Checked when sending, so turning them off stops queued ones.
ALTER TABLE users ADD COLUMN notice_emails BIGINT NOT NULL DEFAULT 1;
