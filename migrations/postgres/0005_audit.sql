-- The access log: every view and contribution, per patient a hash chain
-- (each row's hash commits to the previous row's). Rows are only ever
-- appended; the triggers below refuse changes from anyone, the app included.
CREATE TABLE audit_events (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    seq           BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    -- view, create, update, comment, share, revoke, export, import,
    -- sign-in, sign-in-failed, passcode-failed, break-glass
    action        TEXT NOT NULL,
    -- what was touched: a page ("summary", "entry"), "export", "grant", ...
    what          TEXT NOT NULL,
    -- JSON arrays: the entries and labels disclosed or changed
    entries       TEXT NOT NULL,
    labels        TEXT NOT NULL,
    -- who: "user:<id>", "link:<id>:<name>", "operator"
    actor_key     TEXT NOT NULL,
    actor_name    TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    actor_org     TEXT NOT NULL,
    -- how: own, grant, act-for, link, break-glass, operator, preview
    via           TEXT NOT NULL,
    via_id        TEXT,
    reason        TEXT,
    on_behalf_of  TEXT,
    address       TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    PRIMARY KEY (patient_id, seq)
);
CREATE INDEX audit_events_by_actor ON audit_events (patient_id, actor_key);

-- The latest row of each chain; locking it serialises appends per patient,
-- so concurrent views never fork the chain.
CREATE TABLE audit_heads (
    patient_id  TEXT PRIMARY KEY REFERENCES patients (id),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL
);

-- Chain heads signed with the server's ed25519 key, so a third party can
-- check later that no history was rewritten.
CREATE TABLE audit_checkpoints (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    signed_at   BIGINT NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (patient_id, seq)
);

-- When each person last read each record's access log ("new since").
CREATE TABLE audit_log_visits (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    user_id       TEXT NOT NULL,
    seen_seq      BIGINT NOT NULL,
    previous_seq  BIGINT NOT NULL,
    PRIMARY KEY (patient_id, user_id)
);

-- Emergency access: a clinician opened a record they were not given, with
-- a reason. Only where the deployment allows it (KITH_BREAK_GLASS).
CREATE TABLE break_glass (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    id          TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    reason      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX break_glass_by_user ON break_glass (user_id, patient_id);

-- Clinicians' organisations, shown in the access log.
ALTER TABLE users ADD COLUMN organisation TEXT NOT NULL DEFAULT '';

CREATE FUNCTION kith_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION kith_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION kith_refuse_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION kith_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION kith_refuse_change();
-- A deployment that runs Kith as its own role should also hold back the
-- privileges (docs/decisions.md): REVOKE UPDATE, DELETE, TRUNCATE ON
-- audit_events, audit_checkpoints FROM <app role>.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM PUBLIC;
