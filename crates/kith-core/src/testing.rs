//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database
//! on the server named by `KITH_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when done.
//!
//! On PostgreSQL the tests' Kith runs as a deployment's does: as a login
//! role granted kith_app (migration 0015), with the server's admin as the
//! owner that migrates. So a table or statement the app role has no
//! privilege for fails here, not first in production.

use crate::{Db, Kith, Settings};
use sqlx::{Connection, Executor};

pub struct TestDb {
    pub kith: Kith,
    /// The URL Kith was opened with (on PostgreSQL, as the app role).
    pub url: String,
    /// PostgreSQL: the owner's URL of this database (the admin's), for what
    /// only someone with the database in hand could do (`tamper`).
    owner_url: Option<String>,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(std::path::PathBuf),
    Postgres { admin_url: String, name: String, app_role: String },
}

pub fn postgres_admin_url() -> String {
    std::env::var("KITH_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Throttle settings that keep tests fast but still measurable.
pub fn fast_settings() -> Settings {
    let mut s = Settings::default();
    s.throttle.slow_step = std::time::Duration::from_millis(200);
    s
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::sqlite_with(fast_settings()).await
    }

    pub async fn sqlite_with(settings: Settings) -> TestDb {
        let dir = std::env::temp_dir().join(format!("kith-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/kith.db", dir.display());
        let db = Db::connect(&url).await.expect("open test SQLite database");
        TestDb { kith: Kith::new(db, settings), url, owner_url: None, cleanup: Cleanup::SqliteDir(dir) }
    }

    pub async fn postgres() -> TestDb {
        Self::postgres_with(fast_settings()).await
    }

    pub async fn postgres_with(settings: Settings) -> TestDb {
        sqlx::any::install_default_drivers();
        let admin_url = postgres_admin_url();
        let name = format!("kith_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {} for tests ({e}); start it or set KITH_TEST_POSTGRES_URL", crate::db::redact_url(&admin_url))
        });
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create test database");
        // The app's login role, made a member of kith_app before migrating
        // (as scripts/e2e.sh does; 0015 then grants kith_app its privileges).
        let app_role = format!("{name}_app");
        let password = uuid::Uuid::new_v4().simple().to_string();
        admin.execute(format!("CREATE ROLE {app_role} LOGIN PASSWORD '{password}'").as_str()).await.expect("create the app's test role");
        admin
            .execute("DO $$ BEGIN CREATE ROLE kith_app NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$")
            .await
            .expect("create kith_app");
        admin.execute(format!("GRANT kith_app TO {app_role}").as_str()).await.expect("grant kith_app");
        admin.close().await.ok();
        let mut u = url::Url::parse(&admin_url).unwrap();
        u.set_path(&format!("/{name}"));
        let owner_url = u.to_string();
        u.set_username(&app_role).unwrap();
        u.set_password(Some(&password)).unwrap();
        let url = u.to_string();
        let cleanup = Cleanup::Postgres { admin_url, name, app_role };
        let db = Db::connect_with_owner(&url, Some(&owner_url)).await.expect("open test PostgreSQL database");
        TestDb { kith: Kith::new(db, settings), url, owner_url: Some(owner_url), cleanup }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name, app_role } => {
                // Drop runs outside async context: use a thread with its own runtime.
                let (admin_url, name, app_role) = (admin_url.clone(), name.clone(), app_role.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(async move {
                        if let Ok(mut c) = sqlx::AnyConnection::connect(&admin_url).await {
                            let _ = c.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
                            let _ = c.execute(format!("DROP ROLE IF EXISTS {app_role}").as_str()).await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL, as two
/// separately named tests: `backend_tests!(name_of_async_fn, ...)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::sqlite().await;
                    super::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::testing::TestDb::postgres().await;
                    super::$name(&db).await;
                }
            )*
        }
    };
}

impl TestDb {
    /// Moves every grant's expiry into the past (time travel for tests).
    pub async fn expire_all_grants(&self) {
        sqlx::query("UPDATE grants SET expires_at = 1 WHERE expires_at IS NOT NULL").execute(&self.kith.db.pool).await.unwrap();
    }

    /// Whether any text column of the sharing tables holds `needle`.
    pub async fn database_contains(&self, needle: &str) -> bool {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM share_links WHERE token_hash = $1 OR id = $1 OR name = $1 OR scope LIKE $2")
            .bind(needle.to_string())
            .bind(format!("%{needle}%"))
            .fetch_one(&self.kith.db.pool)
            .await
            .unwrap();
        n > 0
    }
}

/// One access-log row as tests look at it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoggedEvent {
    pub seq: i64,
    pub action: String,
    pub what: String,
    pub actor_name: String,
    pub actor_role: String,
    pub actor_org: String,
    pub via: String,
    pub reason: Option<String>,
    pub on_behalf_of: Option<String>,
    pub entries: String,
    pub labels: String,
    pub address: String,
    pub user_agent: String,
}

impl TestDb {
    /// The record's access log, oldest first.
    pub async fn log(&self, patient_id: &str) -> Vec<LoggedEvent> {
        sqlx::query_as(
            "SELECT seq, action, what, actor_name, actor_role, actor_org, via, reason, on_behalf_of, entries, labels, address, user_agent \
             FROM audit_events WHERE patient_id = $1 ORDER BY seq",
        )
        .bind(patient_id.to_string())
        .fetch_all(&self.kith.db.pool)
        .await
        .unwrap()
    }

    /// The URL to reach this database as its owner (the app's own URL on
    /// SQLite), for what the app's role may not do, such as ANALYZE.
    pub fn owner_url(&self) -> &str {
        self.owner_url.as_deref().unwrap_or(&self.url)
    }

    /// A transaction as the database's owner, for tests that change the
    /// schema and roll it back (SQLite has no roles: the app's pool).
    pub async fn owner_tx(&self) -> sqlx::Transaction<'static, sqlx::Any> {
        match &self.owner_url {
            None => self.kith.db.pool.begin().await.unwrap(),
            Some(url) => sqlx::pool::PoolOptions::<sqlx::Any>::new().max_connections(1).connect(url).await.unwrap().begin().await.unwrap(),
        }
    }

    /// Runs SQL on the app's own pool, to set up what no service makes.
    pub async fn exec(&self, sql: &str) {
        sqlx::query(sql).execute(&self.kith.db.pool).await.unwrap();
    }

    /// Runs `sql` against the access log as someone with the database in
    /// hand would: with the append-only triggers out of the way. Returns the
    /// error the app itself gets running it (SQLite: the triggers refuse;
    /// PostgreSQL: the app's role has no such privilege).
    pub async fn tamper(&self, sql: &str) -> Option<String> {
        let pool = &self.kith.db.pool;
        let as_app = sqlx::query(sql).execute(pool).await.err().map(|e| e.to_string());
        match self.kith.db.backend() {
            crate::Backend::Sqlite => {
                for t in [
                    "audit_events_append_only_update",
                    "audit_events_append_only_delete",
                    "audit_checkpoints_append_only_update",
                    "audit_checkpoints_append_only_delete",
                ] {
                    sqlx::query(&format!("DROP TRIGGER IF EXISTS {t}")).execute(pool).await.unwrap();
                }
                sqlx::query(sql).execute(pool).await.unwrap();
            }
            crate::Backend::Postgres => {
                // As the owner (the app's role may not), triggers off.
                let mut owner = sqlx::AnyConnection::connect(self.owner_url.as_deref().expect("a PostgreSQL TestDb has an owner")).await.unwrap();
                let mut tx = owner.begin().await.unwrap();
                sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
                sqlx::query(sql).execute(&mut *tx).await.unwrap();
                tx.commit().await.unwrap();
                owner.close().await.ok();
            }
        }
        as_app
    }
}

impl TestDb {
    /// Rows of `table` whose `column` equals `value` (to check what is stored).
    pub async fn count_where(&self, table: &str, column: &str, value: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1")).bind(value.to_string()).fetch_one(&self.kith.db.pool).await.unwrap()
    }
}

/// Whether a result is the refusal every unseen record gets: not found.
pub fn not_found<T: std::fmt::Debug>(r: Result<T, crate::CoreError>) -> bool {
    matches!(r, Err(crate::CoreError::User(kith_types::AppError::NotFound)))
}

/// A new account with the test password ("kettle orange stairs"), its
/// address confirmed as its owner would (tests of confirming itself use
/// `Kith::create_user`).
pub async fn user(k: &Kith, name: &str, email: &str, role: &str, organisation: &str) -> crate::Actor {
    let actor = k
        .create_user(crate::NewUser {
            name: name.into(),
            email: email.into(),
            password: "kettle orange stairs".into(),
            role: role.into(),
            organisation: organisation.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(k.confirm_email_by_operator(email).await.unwrap());
    actor
}

impl TestDb {
    /// The first column of the first row `sql` (one `$1` bind) returns, as text.
    pub async fn query_text(&self, sql: &str, bind: &str) -> Option<String> {
        sqlx::query_scalar::<_, Option<String>>(sql).bind(bind.to_string()).fetch_one(&self.kith.db.pool).await.unwrap()
    }

    /// Runs a statement with text binds (to set up what tests need).
    pub async fn execute(&self, sql: &str, binds: &[&str]) {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b.to_string());
        }
        q.execute(&self.kith.db.pool).await.unwrap();
    }

    /// Takes the next place in a record's log chain behind the app's back,
    /// so the next access's log row cannot be written (its insert conflicts).
    pub async fn block_next_log_row(&self, patient_id: &str) {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_events WHERE patient_id = $1")
            .bind(patient_id.to_string())
            .fetch_one(&self.kith.db.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO audit_events (patient_id, seq, at, action, what, entries, labels, actor_key, actor_name, actor_role, actor_org, via, address, user_agent, prev_hash, hash) \
             VALUES ($1, $2, 0, 'view', 'blocker', '[]', '[]', 'x', 'x', 'x', '', 'own', '', '', '', '')",
        )
        .bind(patient_id.to_string())
        .bind(next)
        .execute(&self.kith.db.pool)
        .await
        .unwrap();
    }
}

/// One row of `mail_outbox` as tests look at it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedMail {
    pub kind: String,
    pub created_at: i64,
    pub next_attempt_at: i64,
    pub attempts: i64,
    pub sent_at: Option<i64>,
    pub gave_up_at: Option<i64>,
    pub last_error: Option<String>,
    /// A family carer's account; None: the record's owner.
    pub recipient_user_id: Option<String>,
}

impl TestDb {
    /// A record's queued emails, oldest first.
    pub async fn mail_outbox(&self, patient_id: &str) -> Vec<QueuedMail> {
        sqlx::query_as("SELECT kind, created_at, next_attempt_at, attempts, sent_at, gave_up_at, last_error, recipient_user_id FROM mail_outbox WHERE patient_id = $1 ORDER BY created_at, recipient_user_id IS NOT NULL, id")
            .bind(patient_id.to_string())
            .fetch_all(&self.kith.db.pool)
            .await
            .unwrap()
    }
}

/// The lines of `sql`'s query plan on `conn` (SQLite's `EXPLAIN QUERY PLAN`
/// details, PostgreSQL's `EXPLAIN`), with `binds` as its text parameters:
/// for tests that an index can serve a query.
#[cfg(test)]
pub(crate) async fn query_plan(conn: &mut sqlx::AnyConnection, backend: crate::Backend, sql: &str, binds: Vec<String>) -> Vec<String> {
    use sqlx::Row;
    let (explain, column) = match backend {
        crate::Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), "detail"),
        crate::Backend::Postgres => (format!("EXPLAIN {sql}"), "QUERY PLAN"),
    };
    let mut q = sqlx::query(&explain);
    for b in binds {
        q = q.bind(b);
    }
    q.fetch_all(conn).await.unwrap().iter().map(|r| r.get::<String, _>(column)).collect()
}

/// The person who signed up with `email` accepts an invitation, as they do
/// by opening its link while signed in.
pub async fn accept(k: &Kith, invitation: &kith_types::sharing::NewInvitation, email: &str) {
    let user = crate::store::user_by_email(&k.db.pool, email).await.unwrap().unwrap_or_else(|| panic!("no account for {email} to accept with"));
    let actor = k.actor(&user.id).await.unwrap().unwrap();
    k.accept_invitation(&actor, crate::sharing::InvitationKey::Token(invitation_token(invitation)), &crate::policy::Origin::default()).await.unwrap();
}

/// The token at the end of an invitation's address.
pub fn invitation_token(invitation: &kith_types::sharing::NewInvitation) -> &str {
    invitation.url.rsplit('/').next().unwrap()
}

/// Every message a mail server on a local port was given, as raw text.
#[derive(Clone, Default)]
pub struct Inbox(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Inbox {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for message number `n` (from 1) and returns it.
    pub async fn wait_for(&self, n: usize) -> String {
        for _ in 0..200 {
            if let Some(m) = self.0.lock().unwrap().get(n - 1) {
                return m.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no email number {n} arrived");
    }
}

/// A mail server that accepts everything and keeps each message: a real
/// SMTP conversation on a local port.
pub async fn capturing_mail_server() -> (crate::mail::MailSettings, Inbox) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let inbox = Inbox::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let kept = inbox.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 mail.test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(d) = data.as_mut() {
                        if line == "." {
                            kept.0.lock().unwrap().push(std::mem::take(d));
                            data = None;
                            write.write_all(b"250 kept\r\n").await.unwrap();
                        } else {
                            d.push_str(line.strip_prefix('.').unwrap_or(&line));
                            d.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => "250 mail.test\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            "354 go on\r\n"
                        }
                        "QUIT" => "221 bye\r\n",
                        _ => "250 OK\r\n",
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    let settings = crate::mail::MailSettings::new(&format!("smtp://127.0.0.1:{port}"), "Kith <kith@example.org>", "https://kith.example").unwrap();
    (settings, inbox)
}

/// A fresh database of the same kind as `db`, whose Kith sends email to a
/// capturing mail server, with the demo people loaded.
pub async fn with_mail(db: &TestDb) -> (TestDb, Inbox) {
    let (mail, inbox) = capturing_mail_server().await;
    let settings = Settings { mail: Some(mail), ..fast_settings() };
    let on = match db.kith.db.backend() {
        crate::Backend::Sqlite => TestDb::sqlite_with(settings).await,
        crate::Backend::Postgres => TestDb::postgres_with(settings).await,
    };
    crate::demo::load(&on.kith).await.unwrap();
    (on, inbox)
}

/// The token after `path` (like "/reset-password/") in an email's link.
pub fn link_token(message: &str, path: &str) -> String {
    // Undo quoted-printable's soft line breaks, should the sender use it.
    let message = message.replace("=\n", "");
    let at = message.find(path).expect("the email holds a link");
    message[at + path.len()..].chars().take_while(|c| c.is_ascii_hexdigit()).collect()
}
