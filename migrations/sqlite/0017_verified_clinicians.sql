-- Emergency access ("break glass") is for clinicians whose staff identity
-- someone checked: anyone can sign up with a password and call themselves a
-- clinician. This says how the account was checked ("staff sign-in through
-- <provider>" or "operator"); NULL means not checked.
ALTER TABLE users ADD COLUMN clinician_verified_by TEXT;

-- Clinicians who already sign in through the staff provider were checked by it.
UPDATE users SET clinician_verified_by = 'staff sign-in'
 WHERE role = 'clinician' AND id IN (SELECT user_id FROM linked_identities WHERE provider = 'staff');
