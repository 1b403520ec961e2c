//! The database handle. One code path serves SQLite (the embedded default) and
//! PostgreSQL (scale-out) through sqlx's `Any` driver; the SQL in `store` is
//! written to run unchanged on both (see docs/decisions.md).

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    /// Where audited transactions begin (`Db::audited_pool`).
    audited: AnyPool,
    backend: Backend,
    /// Held by every clone; the background checkpointer stops when the last
    /// clone is dropped.
    #[allow(dead_code)] // held, never read
    alive: std::sync::Arc<()>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("KITH_DATABASE_URL must start with sqlite: or postgres:// (got {0})")]
    UnknownScheme(String),
    #[error("cannot create the folder for the SQLite database {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot open the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot bring the database at {url} up to date: {source}")]
    Migrate { url: String, source: sqlx::migrate::MigrateError },
    #[error("KITH_DATABASE_OWNER_URL is for PostgreSQL only: both it and KITH_DATABASE_URL must start with postgres://")]
    OwnerNeedsPostgres,
    #[error("the role in KITH_DATABASE_URL ({url}) cannot read and write Kith's tables: run `GRANT kith_app TO <that role>` as a superuser")]
    NotGranted { url: String },
    #[error("cannot check the privileges of the role in KITH_DATABASE_URL ({url}): {source}")]
    CheckPrivileges { url: String, source: sqlx::Error },
    #[error("cannot fill in the search text of older entries in the database at {url}: {source}")]
    SearchText { url: String, source: sqlx::Error },
}

/// A database URL with any password replaced by `***`, safe to print.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Fills `entries.search_text` for entries written before migration 0019:
/// SQL cannot fold text the way Kith does (`search::fold`), so Kith does it
/// here, a thousand entries a transaction, walking the primary key so each
/// batch starts where the last ended.
async fn fill_search_text(pool: &sqlx::AnyPool) -> sqlx::Result<u64> {
    let mut filled = 0;
    let mut after = (String::new(), String::new());
    loop {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT patient_id, id, text FROM entries WHERE search_text IS NULL AND (patient_id > $1 OR (patient_id = $1 AND id > $2)) \
             ORDER BY patient_id, id LIMIT 1000",
        )
        .bind(after.0.clone())
        .bind(after.1.clone())
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            if filled > 0 {
                tracing::info!(entries = filled, "search text filled in for entries from before it was kept");
            }
            return Ok(filled);
        }
        let mut tx = pool.begin().await?;
        for (patient, id, text) in &rows {
            sqlx::query("UPDATE entries SET search_text = $1 WHERE patient_id = $2 AND id = $3")
                .bind(crate::search::fold(text))
                .bind(patient)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        filled += rows.len() as u64;
        if let Some((patient, id, _)) = rows.into_iter().last() {
            after = (patient, id);
        }
    }
}

impl Db {
    /// Opens (creating a SQLite file when needed) and migrates the database,
    /// both as the role in `url`.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        Self::connect_with_owner(url, None).await
    }

    /// Opens the database. With `owner_url` (PostgreSQL only), migrations run
    /// as that role and the app's pool connects as the role in `url`, which
    /// then need not own the tables (docs/decisions.md, "Append-only in the
    /// database"). Without it, as `connect`.
    pub async fn connect_with_owner(url: &str, owner_url: Option<&str>) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let shown = redact_url(url);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnknownScheme(shown));
        };
        if owner_url.is_some_and(|o| backend == Backend::Sqlite || !(o.starts_with("postgres://") || o.starts_with("postgresql://"))) {
            return Err(DbError::OwnerNeedsPostgres);
        }

        let mut url = url.to_string();
        if backend == Backend::Sqlite {
            if let Some(path) = sqlite_path(&url) {
                if let Some(dir) = std::path::Path::new(&path).parent() {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir { path: path.clone(), source })?;
                    }
                }
                if !url.contains("mode=") {
                    url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
                }
            }
        }

        let options = AnyConnectOptions::from_str(&url).map_err(|source| DbError::Connect { url: shown.clone(), source })?;
        let pool = pool_options(backend, if backend == Backend::Sqlite { 8 } else { 16 })
            .connect_with(options.clone())
            .await
            .map_err(|source| DbError::Connect { url: shown.clone(), source })?;

        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        match owner_url {
            None => migrator.run(&pool).await.map_err(|source| DbError::Migrate { url: shown.clone(), source })?,
            Some(owner_url) => {
                let owner_shown = redact_url(owner_url);
                let mut owner = AnyConnection::connect(owner_url).await.map_err(|source| DbError::Connect { url: owner_shown.clone(), source })?;
                migrator.run(&mut owner).await.map_err(|source| DbError::Migrate { url: owner_shown, source })?;
                owner.close().await.ok();
                // A role not yet granted kith_app would fail at its first
                // request; say so now, naming the fix.
                let missing: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace \
                     AND c.relkind = 'r' AND c.relname <> '_sqlx_migrations' \
                     AND NOT (has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT'))",
                )
                .fetch_one(&pool)
                .await
                .map_err(|source| DbError::CheckPrivileges { url: shown.clone(), source })?;
                if missing > 0 {
                    return Err(DbError::NotGranted { url: shown });
                }
            }
        }
        fill_search_text(&pool).await.map_err(|source| DbError::SearchText { url: shown.clone(), source })?;
        let audited = match backend {
            Backend::Sqlite => pool_options(backend, 1).connect_with(options).await.map_err(|source| DbError::Connect { url: shown.clone(), source })?,
            Backend::Postgres => pool.clone(),
        };
        let alive = std::sync::Arc::new(());
        if backend == Backend::Sqlite {
            tokio::spawn(checkpoint_in_background(pool.clone(), std::sync::Arc::downgrade(&alive)));
        }
        Ok(Db { pool, audited, backend, alive })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why the role Kith runs as could change or remove access-log rows,
    /// or None when it cannot: on PostgreSQL, a role that is no superuser,
    /// does not own (or belong to the owner of) `audit_events`,
    /// `audit_checkpoints`, their schema or the database, and holds no
    /// UPDATE, DELETE or TRUNCATE on them, as a member of kith_app (migration
    /// 0015). On SQLite the app writes the database file itself.
    pub async fn log_exposure(&self) -> sqlx::Result<Option<String>> {
        if self.backend == Backend::Sqlite {
            return Ok(Some("writes the SQLite database file itself".into()));
        }
        sqlx::query_scalar(
            "WITH log AS (SELECT oid, relowner, relnamespace FROM pg_class \
                          WHERE oid IN ('audit_events'::regclass, 'audit_checkpoints'::regclass)) \
             SELECT CASE \
               WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 'is a superuser' \
               WHEN EXISTS (SELECT 1 FROM log WHERE pg_has_role(current_user, relowner, 'MEMBER')) \
                 THEN 'owns the access-log tables (or is a member of their owner)' \
               WHEN EXISTS (SELECT 1 FROM log WHERE has_any_column_privilege(oid, 'UPDATE') \
                   OR has_table_privilege(oid, 'DELETE') OR has_table_privilege(oid, 'TRUNCATE')) \
                 THEN 'may update, delete or truncate the access-log tables' \
               WHEN EXISTS (SELECT 1 FROM log JOIN pg_namespace n ON n.oid = relnamespace \
                   WHERE pg_has_role(current_user, n.nspowner, 'MEMBER')) \
                 THEN 'owns the schema of the access-log tables (and so may drop them)' \
               WHEN pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'MEMBER') \
                 THEN 'owns the database' \
             END",
        )
        .fetch_one(&self.pool)
        .await
    }

    /// The pool audited transactions (`Kith::audited` and its kin) begin
    /// on. On PostgreSQL it is the pool. On SQLite it is one connection of
    /// its own: every audited access takes SQLite's one write lock as its
    /// first statement, so they run one at a time anyway, and on one
    /// connection they keep its page cache, which SQLite empties whenever
    /// another connection has written since, so each logged page view
    /// re-read every page it needed (docs/benchmarks.md). They also queue
    /// here, woken in turn, rather than in SQLite's busy handler, which
    /// sleeps and retries.
    pub(crate) fn audited_pool(&self) -> &AnyPool {
        &self.audited
    }

    pub async fn close(&self) {
        self.audited.close().await;
        self.pool.close().await;
    }
}

/// The connection pool's settings; on SQLite, each connection's pragmas.
fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(Duration::from_secs(10)).after_connect(move |conn, _meta| {
        Box::pin(async move {
            if backend == Backend::Sqlite {
                // WAL lets readers run beside the writer; foreign keys are
                // off by default in SQLite; wait rather than fail when busy;
                // FULL flushes every commit, so nothing shown or saved is
                // lost in a power cut (docs/decisions.md, "The access log").
                // 16 KiB pages (a new database only; an existing one keeps
                // its size): FHIR originals of 1-10 KB fit a page rather
                // than overflow chains, and imports write a third less
                // (docs/benchmarks.md).
                conn.execute(
                    "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; \
                         PRAGMA wal_autocheckpoint = 8192;",
                )
                .await?;
            }
            Ok(())
        })
    })
}

/// SQLite: copies the write-ahead log into the database file every quarter
/// second, beside the writers. Left to SQLite, the commit that takes the log
/// past its threshold does the copying (and its fsync) itself, so an import
/// or a page view now and then waited for work that was not its own. PASSIVE
/// never blocks readers or writers. Each connection's own automatic
/// checkpoint is raised to 8,192 pages (128 MiB) and stays as a backstop.
async fn checkpoint_in_background(pool: AnyPool, alive: std::sync::Weak<()>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !pool.is_closed() && alive.strong_count() > 0 {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if !pool.is_closed() {
                tracing::debug!(error = %e, "background checkpoint did not run");
            }
        }
    }
}

/// The file path in a `sqlite:` URL, or None for in-memory databases.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://kith:s3cret@db.example:5432/kith"), "postgres://kith:***@db.example:5432/kith");
        assert_eq!(redact_url("sqlite://data/kith.db"), "sqlite://data/kith.db");
    }

    #[test]
    fn finds_sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/kith.db?mode=rwc").as_deref(), Some("data/kith.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    /// Every pooled SQLite connection flushes each commit to disk
    /// (`synchronous = FULL`, 2) in WAL mode: what a page showed is in the
    /// access log, and what a user saved is kept, even after a power cut.
    #[tokio::test]
    async fn sqlite_commits_are_durable() {
        let db = crate::testing::TestDb::sqlite().await;
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(db.kith.db.pool.acquire().await.unwrap());
        }
        for c in &mut conns {
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut **c).await.unwrap();
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut **c).await.unwrap();
            assert_eq!((sync, journal.as_str()), (2, "wal"));
        }
    }
}
