-- PostgreSQL only, as 0012: SQLite has no roles, so its tree has no 0015.
--
-- kith_app: a role with exactly what the running app needs, so that the
-- role Kith runs as need not own its tables (docs/decisions.md,
-- "Append-only in the database"). A table's owner can disable or drop the
-- append-only triggers of 0005; a member of kith_app cannot, and holds no
-- UPDATE, DELETE or TRUNCATE on the access log. A deployment migrates with
-- the owner (KITH_DATABASE_OWNER_URL), runs Kith as a login role, and runs
-- `GRANT kith_app TO <login role>` once.
--
-- Roles belong to the whole cluster, not to one database, so the role is
-- made only when missing, and another database migrating at the same moment
-- may make it first. A migrating role that may not create roles skips this
-- with a notice: Kith then runs as before, as the owner. This block can be
-- run again by hand once the role exists.
--
-- The grants below cover every table now in the schema (sessions and the
-- mail outbox included: nothing is created outside the migrations), and
-- ALTER DEFAULT PRIVILEGES gives kith_app SELECT, INSERT, UPDATE and DELETE
-- on every table later migrations create (when the same role runs them).
-- So a later migration that adds an append-only table, like the access log,
-- must take those privileges back itself, and only where the role exists:
--     IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kith_app') THEN
--         REVOKE UPDATE, DELETE, TRUNCATE ON <table> FROM kith_app;
--     END IF;
-- (in a DO block), and crates/kith-core/tests/pg_roles.rs should try it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kith_app') THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE NOTICE 'role kith_app not created: % may not create roles. To run Kith as a role that cannot change the access log, have it created (CREATE ROLE kith_app NOLOGIN) and run migrations/postgres/0015_app_role.sql again by hand', current_user;
            RETURN;
        END IF;
        BEGIN
            CREATE ROLE kith_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- made meanwhile by another database's migration
        END;
    END IF;

    EXECUTE format('GRANT USAGE ON SCHEMA %I TO kith_app', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO kith_app', current_schema());
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO kith_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO kith_app', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO kith_app', current_schema());

    -- The access log and its signed checkpoints: read and append only.
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM kith_app;
    -- Migrations' own bookkeeping: only the owner needs it.
    REVOKE ALL ON _sqlx_migrations FROM kith_app;
END
$$;
