-- What the timeline's search matches: the entry's text folded by Kith
-- (lower case, accents dropped: "meniere" finds "Ménière's disease").
-- SQLite's LOWER() folds only A-Z, so Kith fills this column itself, on
-- every write and, for entries from before this migration, once at start-up
-- (rows where it is NULL).
ALTER TABLE entries ADD COLUMN search_text TEXT;

-- The records behind private entries, for counts that leave them out (what
-- a carer acting for the patient is shown on the Sources page).
CREATE INDEX entry_sources_by_resource ON entry_sources (patient_id, resource_id);
