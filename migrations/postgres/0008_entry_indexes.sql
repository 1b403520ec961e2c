-- Reading one kind of entry newest first walks this index in order and
-- stops at the page size (the summary's allergies, problems, medicines...),
-- so pages cost the same for a record of 100 entries or 10,000. The status
-- is in it so "current problems" can skip resolved ones without a row lookup.
DROP INDEX entries_by_kind;
CREATE INDEX entries_by_kind ON entries (patient_id, kind, date, id, status);
