-- Entries typed in by hand come from a source of their author's own
-- (kith_core::own_entry): its user id is kept here, set only by Kith's own
-- hand-entry import, never from a file (an uploaded file could otherwise
-- pass for someone's hand entries, and be changed as theirs). NULL for
-- every other source. One such source per person per record.
ALTER TABLE sources ADD COLUMN hand_author TEXT;

-- Hand sources made before this (found by name): a patient source named
-- 'Entered by ...', with no organisation identifier, whose every import is
-- a hand entry (file 'Entered in Kith', or '<Type> entered in Kith' as the
-- first ones were named) by one and the same user.
UPDATE sources SET hand_author = (
    SELECT MIN(i.imported_by) FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id
)
WHERE kind = 'patient'
  AND name LIKE 'Entered by %'
  AND identifier IS NULL
  AND EXISTS (SELECT 1 FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id)
  AND NOT EXISTS (
      SELECT 1 FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id
        AND (i.imported_by IS NULL OR i.file_name NOT IN ('Entered in Kith', 'Observation entered in Kith',
             'AllergyIntolerance entered in Kith', 'MedicationStatement entered in Kith', 'Condition entered in Kith'))
  )
  AND (SELECT COUNT(DISTINCT i.imported_by) FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id) = 1;

-- A person renamed since (or a carer whose patient was) has two such
-- sources: the newest is theirs from now on, the older ones stay as they are.
UPDATE sources SET hand_author = NULL
WHERE hand_author IS NOT NULL AND EXISTS (
    SELECT 1 FROM sources s2 WHERE s2.patient_id = sources.patient_id AND s2.hand_author = sources.hand_author
      AND (s2.created_at > sources.created_at OR (s2.created_at = sources.created_at AND s2.id > sources.id))
);
CREATE UNIQUE INDEX sources_hand_author ON sources (patient_id, hand_author);

-- Undated entries were stored with a NULL date, which the record's pages
-- could not read (and which sorts differently on the two databases): they
-- are '' now, as Kith writes them.
UPDATE entries SET date = '' WHERE date IS NULL;
