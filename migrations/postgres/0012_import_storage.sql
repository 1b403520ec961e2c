-- Cheaper imports (docs/benchmarks.md, "Import throughput").
--
-- Key columns compare bytewise (COLLATE "C"). They hold ids, codes, ISO
-- dates and merge keys, never text sorted for people, and SQLite compares
-- them bytewise already, so results do not change; but with a database
-- collation such as C.UTF-8 or en_GB.UTF-8, PostgreSQL 15 compares every
-- index key through the C library's strcoll, which made index upkeep the
-- largest cost of an import.
ALTER TABLE sources
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE imports
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN source_id TYPE TEXT COLLATE "C";
ALTER TABLE resources
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN source_id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_type TYPE TEXT COLLATE "C",
    ALTER COLUMN fhir_id TYPE TEXT COLLATE "C";
ALTER TABLE entries
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN kind TYPE TEXT COLLATE "C",
    ALTER COLUMN merge_key TYPE TEXT COLLATE "C",
    ALTER COLUMN date TYPE TEXT COLLATE "C",
    ALTER COLUMN status TYPE TEXT COLLATE "C";
ALTER TABLE entry_sources
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN entry_id TYPE TEXT COLLATE "C",
    ALTER COLUMN source_id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_type TYPE TEXT COLLATE "C",
    ALTER COLUMN fhir_id TYPE TEXT COLLATE "C";
ALTER TABLE audit_events
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C",
    ALTER COLUMN actor_key TYPE TEXT COLLATE "C";
ALTER TABLE audit_heads
    ALTER COLUMN patient_id TYPE TEXT COLLATE "C";

-- Originals and link facts over 2 KB are compressed with LZ4 rather than
-- PostgreSQL's default pglz, which is several times slower to compress
-- (new values only). A server older than 14 or built without LZ4 keeps
-- pglz: the statements run dynamically so that refusing them is caught.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE resources ALTER COLUMN json SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE entry_sources ALTER COLUMN fact SET COMPRESSION lz4';
    EXECUTE 'ALTER TABLE held_feeds ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'LZ4 compression is not available here (%); large values stay compressed with pglz', SQLERRM;
END
$$;
