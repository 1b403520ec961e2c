-- Notice emails go to the family carers who act for the patient as well as
-- to the patient (kith_core::mail). Each queued email names its recipient:
-- NULL is the record's owner; otherwise the carer's account, checked again
-- when sending so that an email never reaches a carer whose access ended.
ALTER TABLE mail_outbox ADD COLUMN recipient_user_id TEXT;

-- A new kind: a family carer's access is due for review (it ends within 30
-- days), told once to the patient and to the carer.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check CHECK (kind IN ('first-view', 'emergency-access', 'link-locked', 'carer-review'));

-- When that was queued for the grant's current end (cleared on renewal).
ALTER TABLE grants ADD COLUMN review_notice_at BIGINT;
