//! Kith's server-only logic: the database, accounts, sessions and (later) the
//! record, sharing policy and audit log. The UI crate calls into this only
//! under its `ssr` feature, so none of it reaches the browser build.

pub mod accounts;
pub mod audit;
mod background;
pub mod connections;
pub mod db;
pub mod demo;
pub mod email_confirmation;
pub mod error;
pub mod identity;
pub mod import;
pub mod keyfile;
pub mod mail;
pub mod own_entry;
pub mod password;
pub mod password_reset;
pub mod policy;
mod qr;
pub mod record;
pub mod search;
pub mod session_store;
pub mod sharing;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod throttle;
pub mod together;
pub mod two_step;
pub mod views;

pub use accounts::{Actor, NewUser};
pub use db::{Backend, Db};
pub use error::{CoreError, CoreResult};

use std::time::Duration;

/// Settings the services need (the binary's config turns options into these).
#[derive(Clone, Debug)]
pub struct Settings {
    pub session_idle_minutes: i64,
    pub throttle: throttle::ThrottleSettings,
    /// Whether signed-in clinicians may open a record they were not given,
    /// stating a reason (emergency access). Off unless the deployment says.
    pub break_glass: bool,
    /// How long one emergency access lasts.
    pub break_glass_hours: i64,
    /// Roles that must use two-step verification (KITH_REQUIRE_TWO_STEP).
    pub two_step_roles: Vec<kith_types::Role>,
    /// Where emails to patients go (KITH_SMTP_URL); None sends none.
    pub mail: Option<mail::MailSettings>,
    /// For how long the Access log page trusts a check of every record of a
    /// patient's log, and checks only the records added since (a full check
    /// reads the whole log: about 0.3 s for 5,000 records).
    pub audit_full_check_minutes: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            throttle: throttle::ThrottleSettings::default(),
            break_glass: false,
            break_glass_hours: 4,
            two_step_roles: vec![],
            mail: None,
            audit_full_check_minutes: 10,
        }
    }
}

pub use throttle::ThrottleSettings;

/// The services, shared by every request.
#[derive(Clone)]
pub struct Kith {
    pub db: Db,
    pub settings: Settings,
    /// Signs access-log checkpoints.
    audit_key: std::sync::Arc<ed25519_dalek::SigningKey>,
    /// False only in the benchmark that measures what logging costs.
    log_accesses: bool,
    /// Per patient, when the last full check of their log started and the
    /// newest record it found sound (`audit::Trusted`; None if it found a
    /// break); in memory only, so a restart checks everything.
    chain_trust: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, audit::ChainTrust>>>,
    /// Changes to records (comments, care plan) for pages that show them live.
    changes: tokio::sync::broadcast::Sender<together::Change>,
    /// Seals provider tokens at rest (`connections`).
    token_key: std::sync::Arc<[u8; 32]>,
}

impl Kith {
    /// Services with a fresh checkpoint-signing key; a server uses its kept
    /// key instead (`with_audit_key`).
    pub fn new(db: Db, settings: Settings) -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let (changes, _) = tokio::sync::broadcast::channel(256);
        let mut token_key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut token_key);
        Self {
            db,
            settings,
            audit_key: std::sync::Arc::new(key),
            log_accesses: true,
            chain_trust: Default::default(),
            changes,
            token_key: std::sync::Arc::new(token_key),
        }
    }

    /// The server's kept key for provider tokens (`KITH_TOKEN_KEY_FILE`).
    pub fn with_token_key(mut self, key: [u8; 32]) -> Self {
        self.token_key = std::sync::Arc::new(key);
        self
    }

    pub fn with_audit_key(mut self, key: ed25519_dalek::SigningKey) -> Self {
        self.audit_key = std::sync::Arc::new(key);
        self
    }

    /// For the logging-cost benchmark only: the same services with the
    /// access log switched off. No setting or option reaches this.
    #[doc(hidden)]
    pub fn without_access_log_for_benchmark(mut self) -> Self {
        self.log_accesses = false;
        self
    }

    pub fn session_store(&self) -> session_store::DbSessionStore {
        session_store::DbSessionStore::new(self.db.clone())
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.settings.session_idle_minutes.max(1) as u64 * 60)
    }
}

/// A stored time for people to read: `22 Nov 2026 09:30`.
pub(crate) fn ms_to_uk(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%-d %b %Y %H:%M").to_string()).unwrap_or_default()
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new time-ordered id (UUID v7), so ids sort by creation.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
