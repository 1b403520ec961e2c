//! tower-sessions storage in Kith's own database (SQLite or PostgreSQL), so a
//! deployment needs nothing besides the database, and sign-out deletes the
//! session on the server. Rows are keyed by the SHA-256 of the session id
//! and do not hold the id itself: someone who reads the table (a backup, a
//! leaked dump) cannot use it to take over anyone's session.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::{now_ms, store, Db};

/// The session key that holds the signed-in person's user id.
pub const USER_ID_KEY: &str = "user_id";
/// When the session was last marked active, in seconds since 1970: activity
/// renews a session's idle timeout, at most once a minute (`server.rs`,
/// `keep_session_alive`), and so does "Stay signed in".
pub const LAST_ACTIVE_KEY: &str = "last_active";
/// The outcome of the last upload, shown once on the Sources page.
pub const LAST_UPLOAD_KEY: &str = "last_upload";

#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Removes expired sessions; the server calls this periodically.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        store::sessions_delete_expired(&self.db.pool, now_ms()).await
    }
}

/// The key a session's row is stored under: the SHA-256 of its id, as hex.
pub fn stored_key(id: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(id.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn encode(record: &Record) -> session_store::Result<(String, Option<String>, i64)> {
    // Stored without its id (only the id's hash keys the row).
    let without_id = Record { id: Id(0), data: record.data.clone(), expiry_date: record.expiry_date };
    let data = serde_json::to_string(&without_id).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user_id = record.data.get(USER_ID_KEY).and_then(|v| v.as_str()).map(str::to_string);
    let expires_at = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((data, user_id, expires_at))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are random 128-bit values; on the rare collision, draw again.
        loop {
            let (data, user_id, expires_at) = encode(record)?;
            let inserted =
                store::session_insert_new(&self.db.pool, &stored_key(&record.id.to_string()), user_id.as_deref(), &data, expires_at).await.map_err(backend)?;
            if inserted {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// tower-sessions calls this only for a session it loaded (new ones go
    /// to `create`); one deleted since stays deleted.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, user_id, expires_at) = encode(record)?;
        store::session_update(&self.db.pool, &stored_key(&record.id.to_string()), user_id.as_deref(), &data, expires_at).await.map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = store::session_get(&self.db.pool, &stored_key(&id.to_string()), now_ms()).await.map_err(backend)?;
        match row {
            Some(r) => {
                let mut record: Record = serde_json::from_str(&r.data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
                record.id = *id;
                Ok(Some(record))
            }
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        store::session_delete(&self.db.pool, &stored_key(&id.to_string())).await.map_err(backend)
    }
}

/// The session key that records how and where the session was signed in,
/// for the Account page's list of sessions.
pub const SESSION_INFO_KEY: &str = "signed_in";

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    pub at_ms: i64,
    /// "Password", or the provider's name.
    pub how: String,
    /// Whether the person signed in through a provider (which does its own
    /// second step, so Kith's two-step requirement is for passwords only).
    #[serde(default)]
    pub provider: bool,
    pub user_agent: String,
    pub address: String,
}
