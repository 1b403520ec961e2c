-- When each person last opened each record, for "new since your last visit".
CREATE TABLE record_visits (
    patient_id        TEXT NOT NULL REFERENCES patients (id),
    user_id           TEXT NOT NULL,
    last_visit_at     BIGINT NOT NULL,
    previous_visit_at BIGINT,
    PRIMARY KEY (patient_id, user_id)
);
CREATE INDEX entries_by_created ON entries (patient_id, created_at);
