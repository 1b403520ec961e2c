-- What the timeline's search matches: the entry's text folded by Kith
-- (lower case, accents dropped: "meniere" finds "Ménière's disease").
-- SQLite's LOWER() folds only A-Z, so Kith fills this column itself, on
-- every write and, for entries from before this migration, once at start-up
-- (rows where it is NULL).
ALTER TABLE entries ADD COLUMN search_text TEXT;
