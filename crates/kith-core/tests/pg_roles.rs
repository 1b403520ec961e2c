//! PostgreSQL only (issue #6): Kith run as a login role granted kith_app
//! (migration 0015), with the owner in KITH_DATABASE_OWNER_URL for
//! migrations, does its real work, yet cannot change, delete or truncate
//! access-log rows, nor disable or drop the triggers that guard them; and
//! `Db::log_exposure` says when a role could. Each test makes its own
//! database and login roles and removes them afterwards. Skipped when no
//! PostgreSQL is reachable and KITH_TEST_POSTGRES_URL is not set.

use kith_core::db::DbError;
use kith_core::mail::MailSettings;
use kith_core::policy::{Origin, Right};
use kith_core::testing::{fast_settings, postgres_admin_url};
use kith_core::{Db, Kith, Settings};
use kith_types::audit::AccessLogQuery;
use kith_types::NhsNumber;
use sqlx::{AnyConnection, Connection, Executor};
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

/// A database and roles made for one test, dropped when it ends (pass or fail).
struct Scratch {
    admin_url: String,
    name: String,
    roles: Vec<String>,
}

impl Scratch {
    /// None (skipped) when no PostgreSQL is reachable and none was asked for.
    async fn new(n_roles: usize) -> Option<Scratch> {
        sqlx::any::install_default_drivers();
        let admin_url = postgres_admin_url();
        let mut admin = match AnyConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if std::env::var_os("KITH_TEST_POSTGRES_URL").is_none() => {
                eprintln!("skipped: no PostgreSQL at {} ({e}); set KITH_TEST_POSTGRES_URL", kith_core::db::redact_url(&admin_url));
                return None;
            }
            Err(e) => panic!("cannot reach PostgreSQL at {}: {e}", kith_core::db::redact_url(&admin_url)),
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let s = Scratch { admin_url, name: format!("kith_test_{id}"), roles: (0..n_roles).map(|i| format!("kith_test_role{i}_{id}")).collect() };
        for r in &s.roles {
            admin.execute(format!("CREATE ROLE {r} LOGIN PASSWORD 'pw-{id}'").as_str()).await.unwrap();
        }
        admin.close().await.ok();
        Some(s)
    }

    /// The URL of this test's database as `user` (None: the admin).
    fn url(&self, user: Option<&str>) -> String {
        let mut u = url::Url::parse(&self.admin_url).unwrap();
        u.set_path(&format!("/{}", self.name));
        if let Some(user) = user {
            let pw = format!("pw-{}", self.name.trim_start_matches("kith_test_"));
            u.set_username(user).unwrap();
            u.set_password(Some(&pw)).unwrap();
        }
        u.to_string()
    }

    /// Runs statements as the admin on the cluster's own database.
    async fn admin(&self, sql: &str) {
        let mut c = AnyConnection::connect(&self.admin_url).await.unwrap();
        c.execute(sql).await.unwrap();
        c.close().await.ok();
    }

    /// Runs statements as the admin on this test's database.
    async fn admin_here(&self, sql: &str) {
        let mut c = AnyConnection::connect(&self.url(None)).await.unwrap();
        c.execute(sql).await.unwrap();
        c.close().await.ok();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Drop runs outside async context: a thread with its own runtime.
        let (admin_url, name, roles) = (self.admin_url.clone(), self.name.clone(), self.roles.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let Ok(mut c) = AnyConnection::connect(&admin_url).await else { return };
                // The database takes the roles' objects, grants and default
                // privileges with it; memberships go with the roles.
                let _ = c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                for r in &roles {
                    if let Err(e) = c.execute(format!("DROP ROLE IF EXISTS {r}").as_str()).await {
                        eprintln!("could not drop test role {r}: {e}");
                    }
                }
            });
        })
        .join();
    }
}

/// A mail server address where nothing listens: every send is refused.
fn unreachable_mail() -> MailSettings {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    MailSettings::new(&format!("smtp://127.0.0.1:{port}"), "Kith <kith@example.org>", "https://kith.example").unwrap()
}

/// Rows in `table`, read on `conn`.
async fn count(conn: &mut AnyConnection, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(conn).await.unwrap()
}

/// What the running app does, one of each kind: sign-ins (and a failed one),
/// imports, a view, emergency access, the mail outbox, checkpoints, the
/// access-log page, sessions.
async fn use_kith(k: &Kith) {
    kith_core::demo::load(k).await.unwrap();
    let owner = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.9.0.1").await.unwrap();
    assert!(k.sign_in("margaret@demo.kith.example", "not her password", "10.9.0.2").await.is_err());
    let read = k.own_record(&owner, Right::Read).await.unwrap();
    k.summary(&read).await.unwrap();
    let dr = k.sign_in("priya.shah@demo.kith.example", "stethoscope maple", "10.9.0.3").await.unwrap();
    k.break_glass(&dr, &NhsNumber::parse("9434765919").unwrap(), "Unconscious in A&E, needs medicines and allergies", &Origin::default()).await.unwrap();
    let run = k.send_due_mail().await.unwrap();
    assert_eq!(run.failed, 1, "the emergency-access email was tried and kept: {run:?}");
    assert!(k.checkpoint().await.unwrap() > 0, "chain heads signed");
    let manage = k.own_record(&owner, Right::Manage).await.unwrap();
    let log = k.access_log(&manage, &AccessLogQuery::default()).await.unwrap();
    assert!(log.check.ok(), "{:?}", log.check);
    assert!(k.verify_all().await.unwrap().iter().all(|(_, c)| c.ok()));

    let store = k.session_store();
    let mut record = Record { id: Id::default(), data: Default::default(), expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(5) };
    record.data.insert("user_id".into(), serde_json::json!(owner.user_id));
    store.create(&mut record).await.unwrap();
    store.save(&record).await.unwrap();
    assert_eq!(store.load(&record.id).await.unwrap().map(|r| r.id), Some(record.id));
    store.delete(&record.id).await.unwrap();
    store.delete_expired().await.unwrap();
}

/// Each statement must be refused by PostgreSQL's privileges (not by the
/// triggers, which an owner could turn off).
async fn all_refused(conn: &mut AnyConnection, statements: &[&str]) {
    for sql in statements {
        let e = match conn.execute(*sql).await {
            Ok(_) => panic!("the app's role could run: {sql}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("permission denied") || e.contains("must be owner"), "{sql}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_only_appends_to_the_log() {
    let Some(s) = Scratch::new(1).await else { return };
    let login = s.roles[0].clone();
    s.admin(&format!("CREATE DATABASE {}", s.name)).await;
    let (owner_url, login_url) = (s.url(None), s.url(Some(&login)));

    // Not yet granted kith_app: migrated by the owner, then refused with the fix named.
    match Db::connect_with_owner(&login_url, Some(&owner_url)).await {
        Err(e @ DbError::NotGranted { .. }) => {
            let e = e.to_string();
            assert!(e.contains("GRANT kith_app") && !e.contains("pw-"), "{e}");
        }
        Err(e) => panic!("expected NotGranted, got {e}"),
        Ok(_) => panic!("a role without kith_app was let in"),
    }
    s.admin(&format!("GRANT kith_app TO {login}")).await;
    let db = Db::connect_with_owner(&login_url, Some(&owner_url)).await.unwrap();
    assert_eq!(db.log_exposure().await.unwrap(), None, "a member of kith_app cannot change the log");

    let k = Kith::new(db, Settings { break_glass: true, mail: Some(unreachable_mail()), ..fast_settings() });
    let mut plain = AnyConnection::connect(&login_url).await.unwrap();
    let (events_before, checkpoints_before) = (count(&mut plain, "audit_events").await, count(&mut plain, "audit_checkpoints").await);
    use_kith(&k).await;
    assert!(count(&mut plain, "audit_events").await > events_before + 5, "the work was logged");
    assert!(count(&mut plain, "audit_checkpoints").await > checkpoints_before, "and checkpointed");
    assert_eq!(count(&mut plain, "mail_outbox").await, 1);

    all_refused(
        &mut plain,
        &[
            "UPDATE audit_events SET actor_name = 'nobody'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "UPDATE audit_checkpoints SET signature = ''",
            "DELETE FROM audit_checkpoints",
            "TRUNCATE audit_checkpoints",
            "SELECT seq FROM audit_events FOR UPDATE",
            "INSERT INTO audit_checkpoints SELECT * FROM audit_checkpoints ON CONFLICT (patient_id, seq) DO UPDATE SET signature = ''",
            "ALTER TABLE audit_events DISABLE TRIGGER ALL",
            "ALTER TABLE audit_checkpoints DISABLE TRIGGER ALL",
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints",
            "DROP TABLE audit_events",
            &format!("ALTER TABLE audit_events OWNER TO {login}"),
            "SET session_replication_role = replica",
            "DELETE FROM _sqlx_migrations",
        ],
    )
    .await;
    plain.close().await.ok();
    assert!(k.verify_all().await.unwrap().iter().all(|(_, c)| c.ok()), "the log is whole");

    // The check names each way the role could get at the log.
    let exposed = |want: &'static str| {
        let db = k.db.clone();
        async move {
            let why = db.log_exposure().await.unwrap();
            assert!(why.as_deref().is_some_and(|w| w.contains(want)), "expected {want:?}, got {why:?}");
        }
    };
    s.admin_here(&format!("GRANT UPDATE (actor_name) ON audit_events TO {login}")).await;
    exposed("may update").await;
    s.admin_here(&format!("REVOKE UPDATE (actor_name) ON audit_events FROM {login}; GRANT TRUNCATE ON audit_checkpoints TO {login}")).await;
    exposed("may update, delete or truncate").await;
    s.admin_here(&format!("REVOKE TRUNCATE ON audit_checkpoints FROM {login}; ALTER TABLE audit_checkpoints OWNER TO {login}")).await;
    exposed("owns the access-log tables").await;
    s.admin_here(&format!("ALTER TABLE audit_checkpoints OWNER TO CURRENT_USER; ALTER DATABASE {} OWNER TO {login}", s.name)).await;
    exposed("owns").await; // the public schema (PostgreSQL 15+) or the database
    s.admin_here(&format!("ALTER DATABASE {} OWNER TO CURRENT_USER", s.name)).await;
    assert_eq!(k.db.log_exposure().await.unwrap(), None);

    // One superuser URL for both, as without KITH_DATABASE_OWNER_URL: not protected.
    let single = Db::connect(&owner_url).await.unwrap();
    assert_eq!(single.log_exposure().await.unwrap().as_deref(), Some("is a superuser"));
    single.close().await;
    k.db.close().await;
}

/// The shape of a real deployment: the owner is no superuser (it may create
/// roles), the database is its own, and tables a later migration makes are
/// granted to kith_app by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_is_no_superuser() {
    let Some(s) = Scratch::new(2).await else { return };
    let (owner, login) = (s.roles[0].clone(), s.roles[1].clone());
    s.admin(&format!("ALTER ROLE {owner} CREATEROLE")).await;
    s.admin(&format!("CREATE DATABASE {} OWNER {owner}", s.name)).await;
    let (owner_url, login_url) = (s.url(Some(&owner)), s.url(Some(&login)));

    // Without the owner URL the owner is the app, and is told so.
    let as_owner = Db::connect(&owner_url).await.unwrap();
    let why = as_owner.log_exposure().await.unwrap();
    assert!(why.as_deref().is_some_and(|w| w.contains("owns the access-log tables")), "{why:?}");
    as_owner.close().await;

    s.admin(&format!("GRANT kith_app TO {login}")).await;
    let db = Db::connect_with_owner(&login_url, Some(&owner_url)).await.unwrap();
    assert_eq!(db.log_exposure().await.unwrap(), None);
    let k = Kith::new(db, fast_settings());
    kith_core::demo::load(&k).await.unwrap();
    let margaret = k.sign_in("margaret@demo.kith.example", "kettle orange stairs", "10.9.0.1").await.unwrap();
    k.summary(&k.own_record(&margaret, Right::Read).await.unwrap()).await.unwrap();

    // A table a later migration adds (as the owner) is the app's to use...
    let mut as_owner = AnyConnection::connect(&owner_url).await.unwrap();
    as_owner.execute("CREATE TABLE later_table (id TEXT PRIMARY KEY, n BIGINT NOT NULL)").await.unwrap();
    as_owner.close().await.ok();
    let mut plain = AnyConnection::connect(&login_url).await.unwrap();
    plain.execute("INSERT INTO later_table VALUES ('a', 1); UPDATE later_table SET n = 2; DELETE FROM later_table").await.unwrap();
    // ...but never the log's.
    all_refused(&mut plain, &["DELETE FROM audit_events", "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only", "DROP TABLE later_table"]).await;
    assert!(count(&mut plain, "audit_events").await > 0);
    plain.close().await.ok();
    k.db.close().await;
}

#[tokio::test]
async fn the_owner_url_is_for_postgres_only() {
    let dir = std::env::temp_dir().join(format!("kith-test-{}", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}/kith.db", dir.display());
    let r = Db::connect_with_owner(&url, Some("postgres://owner@127.0.0.1/kith")).await;
    assert!(matches!(r, Err(DbError::OwnerNeedsPostgres)), "{:?}", r.err());
    let _ = std::fs::remove_dir_all(&dir);
}
