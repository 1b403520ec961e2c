-- A grant belongs to the account that accepted its invitation, not to
-- whoever signs up with its email address first: Kith does not check that
-- people own the address they sign up with. The invitation is a one-time
-- token the patient hands over; only its SHA-256 is kept, and it is cleared
-- once accepted.
ALTER TABLE grants ADD COLUMN grantee_user_id TEXT REFERENCES users (id);
ALTER TABLE grants ADD COLUMN invite_hash TEXT;
ALTER TABLE grants ADD COLUMN accepted_at BIGINT;
CREATE INDEX grants_by_invite ON grants (invite_hash);
CREATE INDEX grants_by_user ON grants (grantee_user_id);

-- Grants made before invitations went to the account with their email:
-- those accounts keep them.
UPDATE grants SET grantee_user_id = (SELECT u.id FROM users u WHERE u.email = grants.grantee_email), accepted_at = created_at
 WHERE EXISTS (SELECT 1 FROM users u WHERE u.email = grants.grantee_email);
