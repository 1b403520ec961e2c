-- Notice emails go to the family carers who act for the patient as well as
-- to the patient (kith_core::mail). Each queued email names its recipient:
-- NULL is the record's owner; otherwise the carer's account, checked again
-- when sending so that an email never reaches a carer whose access ended.
ALTER TABLE mail_outbox ADD COLUMN recipient_user_id TEXT;
