-- Kith sends nothing to an email address until its owner has confirmed it
-- (kith_core::email_confirmation): a mistyped address at sign-up must not
-- receive reset links or notices about someone else's record. An address is
-- confirmed by opening a link sent to it while signed in to the account it
-- belongs to, or by an identity provider that checked it.
ALTER TABLE users ADD COLUMN email_confirmed_at BIGINT;

-- The links: only the SHA-256 of the link's 256 random bits is kept, with
-- the address it was sent to (a link confirms that address only) and the
-- account's address when it was sent. They differ for a change of address:
-- the account takes the new one when the link is used, and only if its
-- address is still the one it had (a link from before a change is dead).
CREATE TABLE email_confirmations (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    email         TEXT NOT NULL,
    account_email TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX email_confirmations_by_user ON email_confirmations (user_id, created_at);

-- Accounts made through a provider were made only from addresses the
-- provider had checked: no password (unless one was added since), and the
-- provider's identity labelled with the account's address. (A password
-- account that linked a provider and then removed its password may have
-- neither.) Every other existing address waits for its owner to confirm it:
-- their home and Account pages ask, and `kith user send-confirmations`
-- emails each a link.
UPDATE users SET email_confirmed_at = created_at
 WHERE password_hash IS NULL
   AND EXISTS (SELECT 1 FROM linked_identities li WHERE li.user_id = users.id AND li.label = users.email);
