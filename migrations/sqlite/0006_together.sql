-- Working together: comments on entries and the shared care plan. Nothing
-- here is ever deleted: edits add versions, hiding and removing are marks.
CREATE TABLE comments (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    id            TEXT NOT NULL,
    entry_id      TEXT NOT NULL,
    author_key    TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    author_role   TEXT NOT NULL,
    author_org    TEXT NOT NULL,
    on_behalf_of  TEXT,
    body          TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    hidden_at     BIGINT,
    hidden_by     TEXT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX comments_by_entry ON comments (patient_id, entry_id, created_at);

-- Every version of every comment, the first included.
CREATE TABLE comment_versions (
    patient_id  TEXT NOT NULL REFERENCES patients (id),
    comment_id  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    body        TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (patient_id, comment_id, version)
);

-- Care plan items under the PRSB Digital Care and Support Plan headings.
-- `fields` is JSON whose shape depends on the section (a goal has a target
-- date and status; an action who does it by when; a person a role and
-- contact details).
CREATE TABLE care_plan_items (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    id            TEXT NOT NULL,
    section       TEXT NOT NULL,
    fields        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    author_name   TEXT NOT NULL,
    author_role   TEXT NOT NULL,
    author_org    TEXT NOT NULL,
    on_behalf_of  TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    removed_at    BIGINT,
    PRIMARY KEY (patient_id, id)
);
CREATE INDEX care_plan_items_by_section ON care_plan_items (patient_id, section, created_at);

CREATE TABLE care_plan_versions (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    item_id       TEXT NOT NULL,
    version       BIGINT NOT NULL,
    section       TEXT NOT NULL,
    fields        TEXT NOT NULL,
    removed       BIGINT NOT NULL,
    author_name   TEXT NOT NULL,
    author_role   TEXT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (patient_id, item_id, version)
);

-- Reviews of the plan: when, by whom, and the next planned review.
CREATE TABLE care_plan_reviews (
    patient_id    TEXT NOT NULL REFERENCES patients (id),
    id            TEXT NOT NULL,
    reviewed_at   BIGINT NOT NULL,
    reviewed_by   TEXT NOT NULL,
    next_review   TEXT,
    PRIMARY KEY (patient_id, id)
);
