//! A patient's connections to providers' FHIR APIs (SMART on FHIR), seen
//! from the record's side: who may connect and disconnect (whoever manages
//! the record), tokens encrypted at rest, each pull's outcome, and which
//! connections are due a refresh. The protocol (OAuth, FHIR paging) is
//! `kith_smart`'s; what is pulled goes through the ordinary import.
//!
//! Tokens are opaque here: JSON the caller made, sealed with
//! ChaCha20-Poly1305 under the server's token key, bound to the record and
//! provider so a sealed value moved to another row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use kith_types::{AppError, ConnectionView};

use crate::audit::Disclosure;
use crate::error::{CoreError, CoreResult};
use crate::policy::{RecordAccess, Right};
use crate::{ms_to_uk, new_id, now_ms, store, Kith};

/// A connection ready to pull from: its tokens opened.
#[derive(Clone)]
pub struct Pullable {
    pub id: String,
    pub patient_id: String,
    pub provider: String,
    pub name: String,
    pub tokens: String,
}

impl std::fmt::Debug for Pullable {
    // Never the tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pullable").field("id", &self.id).field("provider", &self.provider).finish_non_exhaustive()
    }
}

/// How a pull ended, for the Sources page.
pub enum PullResult {
    Imported(String),
    /// The provider no longer accepts the tokens: the patient must connect again.
    NeedsReconnect(String),
    /// The import refused what came (another patient's NHS Number, say):
    /// nothing was stored.
    Refused(String),
    /// Anything else; the next scheduled pull tries again.
    Failed(String),
}

impl Kith {
    fn seal(&self, patient_id: &str, provider: &str, plain: &str) -> CoreResult<String> {
        let cipher = ChaCha20Poly1305::new(self.token_key.as_ref().into());
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let aad = format!("{patient_id}\u{1f}{provider}");
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| CoreError::Internal("sealing tokens failed".into()))?;
        Ok(format!("v1:{}:{}", data_encoding::BASE64.encode(&nonce), data_encoding::BASE64.encode(&sealed)))
    }

    fn open_sealed(&self, patient_id: &str, provider: &str, sealed: &str) -> CoreResult<String> {
        let bad = || CoreError::Internal("stored tokens do not open with this server's token key".into());
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(n), Some(c)) = (parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let nonce = data_encoding::BASE64.decode(n.as_bytes()).map_err(|_| bad())?;
        let body = data_encoding::BASE64.decode(c.as_bytes()).map_err(|_| bad())?;
        if nonce.len() != 12 {
            return Err(bad());
        }
        let aad = format!("{patient_id}\u{1f}{provider}");
        let cipher = ChaCha20Poly1305::new(self.token_key.as_ref().into());
        let plain = cipher.decrypt(Nonce::from_slice(&nonce), Payload { msg: &body, aad: aad.as_bytes() }).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }

    /// Saves a new (or renewed) connection with its tokens. Only whoever
    /// manages the record; logged.
    pub async fn connect_provider(&self, access: &RecordAccess, provider: &str, name: &str, tokens: &str) -> CoreResult<String> {
        if !access.may(Right::Manage) {
            return Err(AppError::NotFound.into());
        }
        let sealed = self.seal(access.patient_id(), provider, tokens)?;
        let mut a = self.audited(access).await?;
        let id = match store::connections::upsert(a.conn(), &new_id(), access.patient_id(), provider, name, &sealed, now_ms()).await {
            Ok(id) => id,
            Err(e) => return a.fail(e).await,
        };
        a.commit(access, Disclosure::new("update", format!("connected {name} to keep the record up to date"))).await?;
        Ok(id)
    }

    /// The record's connections (for whoever manages it; empty otherwise).
    pub async fn connections(&self, access: &RecordAccess) -> CoreResult<Vec<ConnectionView>> {
        if !access.may(Right::Manage) {
            return Ok(vec![]);
        }
        // A pull's counts include private entries: not for a carer acting
        // for the patient, who may not see those.
        let counts_shown = access.scope().is_none();
        // Nor are they told of a provider that sent only private entries.
        let hidden = if counts_shown { vec![] } else { store::private_only_sources(&mut *self.db.pool.acquire().await?, access.patient_id()).await? };
        Ok(store::connections::for_patient(&self.db.pool, access.patient_id())
            .await?
            .into_iter()
            .filter(|c| !hidden.contains(&c.name))
            .map(|c| ConnectionView {
                id: c.id,
                provider: c.provider,
                name: c.name,
                status: c.status,
                connected: ms_to_uk(c.connected_at),
                last_pull: c.last_pull_at.map(ms_to_uk),
                summary: c.last_summary.map(|s| if counts_shown { s } else { "Records received".into() }),
                error: c.last_error,
                next_pull: c.next_pull_at.map(ms_to_uk),
            })
            .collect())
    }

    /// A connection of this record, ready to pull (NotFound for another
    /// record's, or a disconnected one).
    pub async fn pullable(&self, access: &RecordAccess, id: &str) -> CoreResult<Pullable> {
        if !access.may(Right::Manage) {
            return Err(AppError::NotFound.into());
        }
        match self.pullable_by_id(id).await? {
            Some(p) if p.patient_id == access.patient_id() => Ok(p),
            _ => Err(AppError::NotFound.into()),
        }
    }

    /// For the scheduler (no person acting): any connection by id.
    pub async fn pullable_by_id(&self, id: &str) -> CoreResult<Option<Pullable>> {
        let Some(c) = store::connections::by_id(&self.db.pool, id).await? else { return Ok(None) };
        let Some(sealed) = c.tokens.as_deref() else { return Ok(None) };
        let tokens = self.open_sealed(&c.patient_id, &c.provider, sealed)?;
        Ok(Some(Pullable { id: c.id, patient_id: c.patient_id, provider: c.provider, name: c.name, tokens }))
    }

    /// Keeps refreshed tokens (unless the connection was disconnected meanwhile).
    pub async fn save_connection_tokens(&self, p: &Pullable, tokens: &str) -> CoreResult<()> {
        let sealed = self.seal(&p.patient_id, &p.provider, tokens)?;
        store::connections::set_tokens(&self.db.pool, &p.id, &sealed).await?;
        Ok(())
    }

    /// Notes how a pull ended and when the next is due.
    pub async fn record_pull(&self, id: &str, result: PullResult, next_pull_at: Option<i64>) -> CoreResult<()> {
        let now = now_ms();
        let (status, summary, error) = match &result {
            PullResult::Imported(s) => ("connected", Some(s.as_str()), None),
            PullResult::NeedsReconnect(e) => ("needs-reconnect", None, Some(e.as_str())),
            PullResult::Refused(e) | PullResult::Failed(e) => ("connected", None, Some(e.as_str())),
        };
        let next = if matches!(result, PullResult::NeedsReconnect(_)) { None } else { next_pull_at };
        store::connections::record_pull(&self.db.pool, id, status, now, summary, error, next).await?;
        Ok(())
    }

    /// Disconnects: the tokens are deleted at once; what was imported stays,
    /// marked as from that source. Logged.
    pub async fn disconnect_provider(&self, access: &RecordAccess, id: &str) -> CoreResult<()> {
        if !access.may(Right::Manage) {
            return Err(AppError::NotFound.into());
        }
        let name = match store::connections::by_id(&self.db.pool, id).await? {
            Some(c) if c.patient_id == access.patient_id() => c.name,
            _ => return Err(AppError::NotFound.into()),
        };
        let mut a = self.audited(access).await?;
        if let Err(e) = store::connections::disconnect(a.conn(), access.patient_id(), id).await {
            return a.fail(e).await;
        }
        a.commit(access, Disclosure::new("update", format!("disconnected {name}"))).await?;
        Ok(())
    }

    /// Connections whose next scheduled pull has come.
    pub async fn due_connections(&self) -> CoreResult<Vec<String>> {
        Ok(store::connections::due(&self.db.pool, now_ms()).await?)
    }
}
