-- Notice emails go to the family carers who act for the patient as well as
-- to the patient (kith_core::mail). Each queued email names its recipient:
-- NULL is the record's owner; otherwise the carer's account, checked again
-- when sending so that an email never reaches a carer whose access ended.
-- And a new kind: a family carer's access is due for review (it ends within
-- 30 days), told once to the patient and to the carer. SQLite cannot change
-- a CHECK constraint, so the table is built again.
CREATE TABLE mail_outbox_new (
    patient_id        TEXT NOT NULL REFERENCES patients (id),
    id                TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('first-view', 'emergency-access', 'link-locked', 'carer-review')),
    created_at        BIGINT NOT NULL,
    -- When it may next be tried (also moved on while a sender holds it).
    next_attempt_at   BIGINT NOT NULL,
    attempts          BIGINT NOT NULL,
    sent_at           BIGINT,
    gave_up_at        BIGINT,
    -- Why the last attempt failed (never the address).
    last_error        TEXT,
    recipient_user_id TEXT,
    PRIMARY KEY (patient_id, id)
);
INSERT INTO mail_outbox_new (patient_id, id, kind, created_at, next_attempt_at, attempts, sent_at, gave_up_at, last_error)
    SELECT patient_id, id, kind, created_at, next_attempt_at, attempts, sent_at, gave_up_at, last_error FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND gave_up_at IS NULL;

-- When the review email was queued for the grant's current end (cleared on
-- renewal).
ALTER TABLE grants ADD COLUMN review_notice_at BIGINT;
