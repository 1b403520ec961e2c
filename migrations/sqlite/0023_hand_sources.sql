-- Entries typed in by hand come from a source of their author's own
-- (kith_core::own_entry): its user id is kept here, set only by Kith's own
-- hand-entry import, never from a file (an uploaded file could otherwise
-- pass for someone's hand entries, and be changed as theirs). NULL for
-- every other source. One such source per person per record.
ALTER TABLE sources ADD COLUMN hand_author TEXT;
CREATE UNIQUE INDEX sources_hand_author ON sources (patient_id, hand_author);

-- Hand sources made before this (found by name): a patient source whose
-- every import is a hand entry ('Entered in Kith') by one and the same user.
UPDATE sources SET hand_author = (
    SELECT MIN(i.imported_by) FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id
)
WHERE kind = 'patient'
  AND EXISTS (SELECT 1 FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id)
  AND NOT EXISTS (
      SELECT 1 FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id
        AND (i.file_name <> 'Entered in Kith' OR i.imported_by IS NULL)
  )
  AND (SELECT COUNT(DISTINCT i.imported_by) FROM imports i WHERE i.patient_id = sources.patient_id AND i.source_id = sources.id) = 1;

-- Undated entries were stored with a NULL date, which the record's pages
-- could not read (and which sorts differently on the two databases): they
-- are '' now, as Kith writes them.
UPDATE entries SET date = '' WHERE date IS NULL;
