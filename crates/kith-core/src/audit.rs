//! The access log: every view and contribution, written in the same
//! transaction as the access itself, kept per patient as a hash chain.
//!
//! A service that reads or changes a record begins an `Audited` transaction
//! (which takes the patient's chain head first), does its work on that
//! transaction's connection, and commits with a `Disclosure` saying what it
//! showed or changed. If the log row cannot be written, nothing is shown.
//!
//! Each row's hash is SHA-256 over a fixed JSON rendering of its columns and
//! the previous row's hash (`row_hash`), so changing or removing a row breaks
//! the chain at that row. Chain heads are signed with the server's ed25519
//! key from time to time (`checkpoint`), so even rewriting a whole chain
//! after a checkpoint is caught. docs/decisions.md says how to check a chain
//! by hand.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use kith_types::audit::{action_title, AccessEvent, AccessLogQuery, AccessLogView, ChainCheck, NoticeEmail, SeenBy};
use kith_types::record::label_title;
use kith_types::{AppError, NhsNumber, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, AnyConnection, Transaction};

use crate::mail::Notice;
use crate::policy::{require, require_whole, Origin, Principal, RecordAccess, Right, Via};
use crate::store::audit::{self as sql, AuditFilter, AuditRow, CheckpointRow};
use crate::{new_id, now_ms, store, Actor, Backend, CoreResult, Kith};

/// What an access showed or changed.
#[derive(Clone, Debug, Default)]
pub struct Disclosure {
    /// view, create, update, comment, share, revoke, export, import, ...
    pub action: &'static str,
    /// The page or thing: "summary", "timeline", "entry", "export", "grant".
    pub what: String,
    pub entries: Vec<String>,
    pub labels: Vec<String>,
}

impl Disclosure {
    pub fn new(action: &'static str, what: impl Into<String>) -> Self {
        Disclosure { action, what: what.into(), ..Default::default() }
    }
    /// Adds one entry a change was about (its label not listed).
    pub fn about(mut self, entry_id: &str) -> Self {
        self.entries.push(entry_id.to_string());
        self
    }
    /// Adds entries (with their labels) that were shown or changed.
    pub fn with<'a>(mut self, items: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        // A set, not a scan of the list: a download names every entry of a
        // record that may hold tens of thousands.
        let mut listed: std::collections::HashSet<String> = self.entries.iter().cloned().collect();
        for (id, label) in items {
            if listed.insert(id.to_string()) {
                self.entries.push(id.to_string());
            }
            if !self.labels.iter().any(|l| l == label) {
                self.labels.push(label.to_string());
            }
        }
        self
    }
}

/// Who did it, as the log names them.
pub(crate) struct Who {
    key: String,
    name: String,
    role: String,
    org: String,
    via: &'static str,
    via_id: Option<String>,
    reason: Option<String>,
    on_behalf_of: Option<String>,
}

fn who(access: &RecordAccess) -> Who {
    let (key, name, role, org, user_role) = match access.principal() {
        Principal::Operator => ("operator".to_string(), "Server operator".to_string(), "operator".to_string(), String::new(), None),
        Principal::User(a) => (format!("user:{}", a.user_id), a.name.clone(), a.role.as_str().to_string(), a.organisation.clone(), Some(a.role)),
        Principal::LinkViewer(v) => (format!("link:{}:{}", v.link_id, v.name.to_lowercase()), v.name.clone(), v.role.clone(), v.organisation.clone(), None),
    };
    let (via, via_id, reason) = match access.via() {
        Via::Owner => ("own", None, None),
        Via::Operator => ("operator", None, None),
        Via::Grant { grant_ids, act_for } => (if *act_for { "act-for" } else { "grant" }, grant_ids.first().cloned(), None),
        Via::Link { link_id } => ("link", Some(link_id.clone()), None),
        Via::Preview { share_id } => ("preview", Some(share_id.clone()), None),
        Via::BreakGlass { id, reason } => ("break-glass", Some(id.clone()), Some(reason.clone())),
    };
    // A carer's every act is "carer X for patient Y".
    let on_behalf_of = (user_role == Some(Role::Carer)).then(|| access.patient_name().to_string());
    Who { key, name, role, org, via, via_id, reason, on_behalf_of }
}

/// Who is writing something into the record (a comment, a care plan item),
/// named the way the access log names them.
pub(crate) struct Author {
    pub key: String,
    pub name: String,
    pub role: String,
    pub org: String,
    pub on_behalf_of: Option<String>,
}

pub(crate) fn author(access: &RecordAccess) -> Author {
    let w = who(access);
    Author { key: w.key, name: w.name, role: w.role, org: w.org, on_behalf_of: w.on_behalf_of }
}

fn who_of_actor(actor: &Actor) -> Who {
    Who {
        key: format!("user:{}", actor.user_id),
        name: actor.name.clone(),
        role: actor.role.as_str().to_string(),
        org: actor.organisation.clone(),
        via: "own",
        via_id: None,
        reason: None,
        on_behalf_of: None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The hash a row must carry, by the row's `hash_version`.
///
/// Version 2 (every row written since 2026-12): SHA-256 (hex) of
/// `{prev_hash}\n{seq}\n{content}`, where `content` is `content_digest`, so
/// PostgreSQL can chain a row in the same statement that appends it (see
/// `store::audit::append`). Version 1 (earlier rows): SHA-256 (hex) of one
/// JSON object of every column and the previous hash.
pub(crate) fn row_hash(r: &AuditRow) -> String {
    match r.hash_version {
        1 => row_hash_v1(r),
        _ => chain_hash(&r.prev_hash, r.seq, &content_digest(r)),
    }
}

/// Version 2's link: the previous hash, this row's place and its content.
pub(crate) fn chain_hash(prev_hash: &str, seq: i64, content: &str) -> String {
    hex(&Sha256::digest(format!("{prev_hash}\n{seq}\n{content}")))
}

/// SHA-256 (hex) of the row's content as this JSON object, keys in this
/// order, as `serde_json` writes it: everything but its place in the chain
/// (`seq`, `prev_hash`), which `chain_hash` adds.
pub(crate) fn content_digest(r: &AuditRow) -> String {
    #[derive(Serialize)]
    struct Content<'a> {
        v: u8,
        patient_id: &'a str,
        at: i64,
        action: &'a str,
        what: &'a str,
        entries: &'a str,
        labels: &'a str,
        actor_key: &'a str,
        actor_name: &'a str,
        actor_role: &'a str,
        actor_org: &'a str,
        via: &'a str,
        via_id: Option<&'a str>,
        reason: Option<&'a str>,
        on_behalf_of: Option<&'a str>,
        address: &'a str,
        user_agent: &'a str,
    }
    let c = Content {
        v: 2,
        patient_id: &r.patient_id,
        at: r.at,
        action: &r.action,
        what: &r.what,
        entries: &r.entries,
        labels: &r.labels,
        actor_key: &r.actor_key,
        actor_name: &r.actor_name,
        actor_role: &r.actor_role,
        actor_org: &r.actor_org,
        via: &r.via,
        via_id: r.via_id.as_deref(),
        reason: r.reason.as_deref(),
        on_behalf_of: r.on_behalf_of.as_deref(),
        address: &r.address,
        user_agent: &r.user_agent,
    };
    hex(&Sha256::digest(serde_json::to_vec(&c).unwrap_or_default()))
}

/// Version 1: SHA-256 (hex) of this JSON object, keys in this order, with
/// the previous row's hash ("" for the first row).
fn row_hash_v1(r: &AuditRow) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        v: u8,
        patient_id: &'a str,
        seq: i64,
        at: i64,
        action: &'a str,
        what: &'a str,
        entries: &'a str,
        labels: &'a str,
        actor_key: &'a str,
        actor_name: &'a str,
        actor_role: &'a str,
        actor_org: &'a str,
        via: &'a str,
        via_id: Option<&'a str>,
        reason: Option<&'a str>,
        on_behalf_of: Option<&'a str>,
        address: &'a str,
        user_agent: &'a str,
        prev_hash: &'a str,
    }
    let c = Canonical {
        v: 1,
        patient_id: &r.patient_id,
        seq: r.seq,
        at: r.at,
        action: &r.action,
        what: &r.what,
        entries: &r.entries,
        labels: &r.labels,
        actor_key: &r.actor_key,
        actor_name: &r.actor_name,
        actor_role: &r.actor_role,
        actor_org: &r.actor_org,
        via: &r.via,
        via_id: r.via_id.as_deref(),
        reason: r.reason.as_deref(),
        on_behalf_of: r.on_behalf_of.as_deref(),
        address: &r.address,
        user_agent: &r.user_agent,
        prev_hash: &r.prev_hash,
    };
    hex(&Sha256::digest(serde_json::to_vec(&c).unwrap_or_default()))
}

/// The text a checkpoint signs.
fn checkpoint_message(patient_id: &str, seq: i64, hash: &str, signed_at: i64) -> String {
    format!("kith-audit-checkpoint-v1\n{patient_id}\n{seq}\n{hash}\n{signed_at}")
}

/// When the last full check of a patient's log started, and the newest
/// record it found sound (None if it found a break).
pub(crate) type ChainTrust = (i64, Option<Trusted>);

/// The newest record of a patient's chain that a check of every record found
/// sound, and when: the Access log page then checks only what came after
/// (`Kith::check_for_page`).
#[derive(Clone, Debug)]
pub(crate) struct Trusted {
    seq: i64,
    hash: String,
    /// Checkpoints of earlier records at the time.
    checkpoints_before: i64,
    checked_at: i64,
}

/// A transaction that an access happens in, holding the patient's chain head.
pub(crate) struct Audited<'c> {
    tx: Transaction<'c, Any>,
    patient_id: String,
    /// The chain head as taken when the transaction began; None when the
    /// access is not logged, or for a page view on PostgreSQL, whose append
    /// takes the head itself (see `Kith::audited_view`).
    head: Option<(i64, String)>,
    /// False only in the benchmark that measures what logging costs.
    logging: bool,
    backend: Backend,
    /// Whether notifications also queue an email (a mail server is configured).
    mail: bool,
}

/// Access-log commits of page views still running for one HTTP request.
///
/// A view's reads are done before its log row is committed, so the web
/// layer can render the page while the commit (and its flush to disk)
/// runs; it then sends nothing until `settle` says every commit succeeded.
/// The row is still written in the same transaction as the reads, and
/// nothing is shown unless it is committed. Where no `PendingLogCommits`
/// is attached to the access (command line, tests, downloads), commits are
/// awaited in place.
#[derive(Clone, Default)]
pub struct PendingLogCommits(std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<CoreResult<()>>>>>);

impl std::fmt::Debug for PendingLogCommits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogCommits")
    }
}

impl PendingLogCommits {
    fn push(&self, job: tokio::task::JoinHandle<CoreResult<()>>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(job);
    }

    /// Waits for every commit started so far; an error if any failed, in
    /// which case the response must show none of what was read.
    pub async fn settle(&self) -> CoreResult<()> {
        let mut outcome = Ok(());
        loop {
            let jobs = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
            if jobs.is_empty() {
                return outcome;
            }
            for job in jobs {
                let result = job.await.unwrap_or_else(|e| Err(crate::CoreError::Internal(format!("access-log commit did not finish: {e}"))));
                if result.is_err() && outcome.is_ok() {
                    outcome = result;
                }
            }
        }
    }
}

impl<'c> Audited<'c> {
    /// The connection to do the access's reads and writes on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Gives up: rolls back now and returns `err`. Prefer this to dropping
    /// an audited transaction (with `?`): a dropped one is rolled back too,
    /// but later. sqlx queues the rollback and the pool runs it as the
    /// connection is released; on a connection the caller lent
    /// (`audited_on`), not until the caller next uses it. Until then the
    /// chain head stays locked and the next access to this record waits.
    pub(crate) async fn fail<T>(self, err: impl Into<crate::CoreError>) -> CoreResult<T> {
        self.tx.rollback().await?;
        Err(err.into())
    }

    /// Ends an access that showed nothing worth logging.
    pub(crate) async fn discard(self) -> CoreResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Appends the log row for this access and commits both together.
    pub(crate) async fn commit(self, access: &RecordAccess, d: Disclosure) -> CoreResult<()> {
        self.finish(access, d).await
    }

    /// The log row and the commit, as a future that owns everything it
    /// needs (so a page view's can run while the page renders). Rolls back
    /// at once if either fails.
    fn finish(mut self, access: &RecordAccess, d: Disclosure) -> impl std::future::Future<Output = CoreResult<()>> + Send + 'c {
        let w = who(access);
        let origin = access.origin().clone();
        // The first time someone other than the patient views or downloads
        // the record, the patient is told.
        let outsider = !matches!(access.via(), Via::Owner | Via::Operator | Via::Preview { .. });
        async move {
            match self.append(&w, &origin, d, outsider).await {
                Ok(()) => Ok(self.tx.commit().await?),
                Err(e) => self.fail(e).await,
            }
        }
    }

    async fn append(&mut self, w: &Who, origin: &Origin, d: Disclosure, outsider: bool) -> CoreResult<()> {
        if !self.logging {
            return Ok(());
        }
        // Anything that shows the record counts: a download is a look too.
        let first_view_check = outsider && matches!(d.action, "view" | "export");
        if first_view_check && self.head.is_none() {
            // A page view on PostgreSQL has not taken the head yet: take it
            // before asking, so two views by one outsider at once do not
            // both count as the first.
            self.head = Some(sql::lock_head(&mut self.tx, &self.patient_id).await?);
        }
        if first_view_check && !sql::has_viewed(&mut self.tx, &self.patient_id, &w.key).await? {
            let org = if w.org.is_empty() { String::new() } else { format!(", {}", w.org) };
            let did = if d.action == "export" {
                "downloaded a copy of your record, the first time they have looked at it"
            } else {
                "viewed your record for the first time"
            };
            let message = format!("{} ({}{org}) {did}.", w.name, w.role);
            crate::mail::notify(&mut self.tx, self.mail, &self.patient_id, &message, Notice::FirstView, w.key.strip_prefix("user:"), now_ms()).await?;
        }
        self.append_row(w, origin, d).await
    }

    /// Appends one row to the chain (no notifications).
    async fn append_row(&mut self, w: &Who, origin: &Origin, d: Disclosure) -> CoreResult<()> {
        if !self.logging {
            return Ok(());
        }
        let mut row = make_row(&self.patient_id, w, origin, d);
        // On SQLite the head this transaction holds is current: it took the
        // write lock with it, and only this transaction has moved it since.
        let held = if self.backend == Backend::Sqlite { self.head.take() } else { None };
        sql::append(&mut self.tx, self.backend, held, &mut row).await?;
        self.head = Some((row.seq, row.hash));
        Ok(())
    }
}

impl Audited<'static> {
    /// Commits a page view: in place, or, when the request attached
    /// `PendingLogCommits` to the access, in the background while the page
    /// renders (the response waits for it; see `PendingLogCommits`).
    pub(crate) async fn commit_view(self, access: &RecordAccess, d: Disclosure) -> CoreResult<()> {
        debug_assert_eq!(d.action, "view");
        let job = self.finish(access, d);
        match access.pending_log_commits() {
            Some(pending) => {
                pending.push(tokio::spawn(job));
                Ok(())
            }
            None => job.await,
        }
    }
}

/// A change to a person's own account (password, sign-in methods, two-step
/// verification, sessions). When they hold a record it is logged in that
/// record's chain, in the same transaction as the change, so the patient
/// sees it in their Access log; otherwise it is a plain transaction.
pub(crate) enum AccountChange {
    Logged(Audited<'static>, Box<Who>),
    Plain(Transaction<'static, Any>),
}

impl AccountChange {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match self {
            AccountChange::Logged(a, _) => a.conn(),
            AccountChange::Plain(tx) => tx,
        }
    }

    /// Commits the change with its log row ("update", `what`).
    pub(crate) async fn commit(self, origin: &Origin, what: &str) -> CoreResult<()> {
        self.commit_as(origin, Disclosure::new("update", what)).await
    }

    /// Commits the change with its log row, `d`.
    pub(crate) async fn commit_as(self, origin: &Origin, d: Disclosure) -> CoreResult<()> {
        match self {
            AccountChange::Logged(mut a, w) => {
                if let Err(e) = a.append_row(&w, origin, d).await {
                    return a.fail(e).await;
                }
                a.tx.commit().await?;
            }
            AccountChange::Plain(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> CoreResult<()> {
        match self {
            AccountChange::Logged(a, _) => a.tx.rollback().await?,
            AccountChange::Plain(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Reads of the record's settings and messages (the Sharing page, the
/// messages): logged when someone other than the patient does them (a
/// carer acting for them), in the same transaction; the patient's own are
/// plain reads, so their home page pays nothing for them.
pub(crate) enum DelegateRead {
    Logged(Audited<'static>),
    Plain(sqlx::pool::PoolConnection<Any>),
}

impl DelegateRead {
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        match self {
            DelegateRead::Logged(a) => a.conn(),
            DelegateRead::Plain(c) => c,
        }
    }

    pub(crate) async fn finish(self, access: &RecordAccess, what: &str) -> CoreResult<()> {
        match self {
            DelegateRead::Logged(a) => a.commit(access, Disclosure::new("view", what)).await,
            DelegateRead::Plain(_) => Ok(()),
        }
    }
}

/// What a log row of reading an entry's comments says.
pub(crate) const COMMENTS_WHAT: &str = "comments on an entry";

/// A row's content; `store::audit::append` gives it its place in the chain
/// (`seq`, `prev_hash`, `hash`).
fn make_row(patient_id: &str, w: &Who, origin: &Origin, d: Disclosure) -> AuditRow {
    // Every entry is listed, however many (a download of a long record):
    // "who has seen this" and the hashes must cover all of them.
    let mut labels = d.labels;
    labels.sort();
    AuditRow {
        patient_id: patient_id.to_string(),
        seq: 0,
        at: now_ms(),
        action: d.action.to_string(),
        what: d.what,
        entries: serde_json::to_string(&d.entries).unwrap_or_else(|_| "[]".into()),
        labels: serde_json::to_string(&labels).unwrap_or_else(|_| "[]".into()),
        actor_key: w.key.clone(),
        actor_name: w.name.clone(),
        actor_role: w.role.clone(),
        actor_org: w.org.clone(),
        via: w.via.to_string(),
        via_id: w.via_id.clone(),
        reason: w.reason.clone(),
        on_behalf_of: w.on_behalf_of.clone(),
        address: truncate(&origin.address, 100),
        user_agent: truncate(&origin.user_agent, 300),
        prev_hash: String::new(),
        hash: String::new(),
        hash_version: 2,
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn ms_to_uk_seconds(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%-d %b %Y %H:%M:%S").to_string()).unwrap_or_default()
}

fn how_title(via: &str) -> &'static str {
    match via {
        "own" => "Own account",
        "grant" => "Shared with them",
        "act-for" => "Acting for the patient",
        "link" => "Shared link",
        "break-glass" => "Emergency access",
        "operator" => "Server command line",
        "preview" => "Preview of a share",
        "invitation" => "Invitation link",
        _ => "Other",
    }
}

fn what_title(what: &str) -> String {
    match what {
        "summary" => "Summary page".into(),
        "timeline" => "Timeline".into(),
        "entry" => "An entry, with its original FHIR".into(),
        "results" => "Results".into(),
        "sources" => "Sources".into(),
        "access log" => "Access log".into(),
        "record" => "The record".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
    }
}

impl Kith {
    /// Begins the transaction an access to `access`'s record happens in.
    pub(crate) async fn audited(&self, access: &RecordAccess) -> CoreResult<Audited<'static>> {
        self.audited_patient(access.patient_id()).await
    }

    /// Where audited transactions begin (`Db::audited_pool`); with logging
    /// off (benchmarks only) nothing takes the write lock, so the pool.
    fn audited_pool(&self) -> &sqlx::AnyPool {
        if self.log_accesses {
            self.db.audited_pool()
        } else {
            &self.db.pool
        }
    }

    async fn audited_patient(&self, patient_id: &str) -> CoreResult<Audited<'static>> {
        let tx = self.audited_pool().begin().await?;
        self.audited_in(tx, patient_id).await
    }

    /// `audited`, on a connection the caller has set up (imports).
    pub(crate) async fn audited_on<'c>(&self, conn: &'c mut AnyConnection, access: &RecordAccess) -> CoreResult<Audited<'c>> {
        use sqlx::Connection;
        let tx = conn.begin().await?;
        self.audited_in(tx, access.patient_id()).await
    }

    async fn audited_in<'c>(&self, mut tx: Transaction<'c, Any>, patient_id: &str) -> CoreResult<Audited<'c>> {
        let head = if self.log_accesses { Some(sql::lock_head(&mut tx, patient_id).await?) } else { None };
        Ok(Audited { tx, patient_id: patient_id.to_string(), head, logging: self.log_accesses, backend: self.db.backend(), mail: self.settings.mail.is_some() })
    }

    /// Begins the transaction a page view happens in; commit it with
    /// `commit_view`. On PostgreSQL the view's reads come first and its one
    /// append statement takes (and locks) the chain head at commit, so views
    /// of one record queue only for the append. SQLite takes the head first,
    /// as every access does (see `lock_head`).
    pub(crate) async fn audited_view(&self, access: &RecordAccess) -> CoreResult<Audited<'static>> {
        let tx = self.audited_pool().begin().await?;
        if self.db.backend() == Backend::Postgres {
            return Ok(Audited {
                tx,
                patient_id: access.patient_id().to_string(),
                head: None,
                logging: self.log_accesses,
                backend: Backend::Postgres,
                mail: self.settings.mail.is_some(),
            });
        }
        self.audited_in(tx, access.patient_id()).await
    }

    /// Logs something a person did to their own account on their record
    /// (sign-in, failed sign-in) or, for a link, what the viewer typed.
    async fn log_about(&self, patient_id: &str, w: Who, origin: &Origin, d: Disclosure) -> CoreResult<()> {
        let mut a = self.audited_patient(patient_id).await?;
        if let Err(e) = a.append_row(&w, origin, d).await {
            return a.fail(e).await;
        }
        a.tx.commit().await?;
        Ok(())
    }

    /// `account_change` logged in a given record's chain (the record is
    /// about to become theirs).
    pub(crate) async fn account_change_on(&self, patient_id: &str, actor: &Actor) -> CoreResult<AccountChange> {
        Ok(AccountChange::Logged(self.audited_patient(patient_id).await?, Box::new(who_of_actor(actor))))
    }

    /// Begins a change someone makes to a record through one grant given to
    /// them (accepting its invitation), logged in the record's chain.
    pub(crate) async fn grant_change(&self, patient_id: &str, actor: &Actor, grant_id: &str) -> CoreResult<AccountChange> {
        let mut w = who_of_actor(actor);
        w.via = "grant";
        w.via_id = Some(grant_id.to_string());
        Ok(AccountChange::Logged(self.audited_patient(patient_id).await?, Box::new(w)))
    }

    /// Begins the opening of an invitation's page, logged in the record's
    /// chain as the signed-in person or, before sign-in, as the link's holder.
    /// Its own action and way in ("invitation"), not a view through a grant:
    /// it must not count as their first view of the record, nor as a use of
    /// the grant.
    pub(crate) async fn invitation_opened(&self, patient_id: &str, grant_id: &str, actor: Option<&Actor>) -> CoreResult<AccountChange> {
        let mut w = match actor {
            Some(a) => who_of_actor(a),
            None => Who {
                key: format!("invitation:{grant_id}"),
                name: "Someone with the invitation link".into(),
                role: "not signed in".into(),
                org: String::new(),
                via: "invitation",
                via_id: None,
                reason: None,
                on_behalf_of: None,
            },
        };
        w.via = "invitation";
        w.via_id = Some(grant_id.to_string());
        Ok(AccountChange::Logged(self.audited_patient(patient_id).await?, Box::new(w)))
    }

    /// Begins a read of the record's settings or messages (see `DelegateRead`).
    pub(crate) async fn delegate_read(&self, access: &RecordAccess) -> CoreResult<DelegateRead> {
        Ok(match access.via() {
            Via::Owner => DelegateRead::Plain(self.db.pool.acquire().await?),
            _ => DelegateRead::Logged(self.audited(access).await?),
        })
    }

    /// Begins a change to `actor`'s own account (see `AccountChange`).
    pub(crate) async fn account_change(&self, actor: &Actor) -> CoreResult<AccountChange> {
        Ok(match store::patient_by_user(&self.db.pool, &actor.user_id).await? {
            Some(p) => AccountChange::Logged(self.audited_patient(&p.id).await?, Box::new(who_of_actor(actor))),
            None => AccountChange::Plain(self.db.pool.begin().await?),
        })
    }

    /// Begins a change the operator makes to someone's account from the
    /// command line (a new password, a confirmed address): logged in their
    /// record, when they have one, as the operator's doing, not theirs.
    pub(crate) async fn operator_account_change(&self, actor: &Actor) -> CoreResult<AccountChange> {
        let operator = Who {
            key: "operator".into(),
            name: "Server operator".into(),
            role: "operator".into(),
            org: String::new(),
            via: "operator",
            via_id: None,
            reason: None,
            on_behalf_of: None,
        };
        Ok(match store::patient_by_user(&self.db.pool, &actor.user_id).await? {
            Some(p) => AccountChange::Logged(self.audited_patient(&p.id).await?, Box::new(operator)),
            None => AccountChange::Plain(self.db.pool.begin().await?),
        })
    }

    /// A sign-in, or failed sign-in, of a patient's own account goes into
    /// their record's log.
    pub(crate) async fn log_sign_in(&self, actor: &Actor, origin: &Origin, ok: bool, what: &str) -> CoreResult<()> {
        if let Some(p) = store::patient_by_user(&self.db.pool, &actor.user_id).await? {
            let d = Disclosure::new(if ok { "sign-in" } else { "sign-in-failed" }, what);
            self.log_about(&p.id, who_of_actor(actor), origin, d).await?;
        }
        Ok(())
    }

    /// A wrong passcode on a shared link, in one transaction: counts it,
    /// locks the link at `limit` and tells the patient, and logs it with who
    /// the viewer said they were. The count comes from the update itself, so
    /// of several wrong guesses at once exactly one locks the link. Returns
    /// (attempts, locked now), or None when the link was already locked.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn failed_passcode(
        &self,
        link: &store::ShareLinkRow,
        limit: i64,
        name: &str,
        role: &str,
        org: &str,
        origin: &Origin,
        now: i64,
    ) -> CoreResult<Option<(i64, bool)>> {
        let w = Who {
            key: format!("link:{}:{}", link.id, name.trim().to_lowercase()),
            name: truncate(name.trim(), 200),
            role: truncate(role.trim(), 100),
            org: truncate(org.trim(), 200),
            via: "link",
            via_id: Some(link.id.clone()),
            reason: None,
            on_behalf_of: None,
        };
        let mut a = self.audited_patient(&link.patient_id).await?;
        let counted = match store::link_failed_attempt(&mut *a.tx, &link.patient_id, &link.id, limit, now).await {
            Ok(c) => c,
            Err(e) => return a.fail(e).await,
        };
        if let Some((_, true)) = counted {
            let message = format!("Your shared link \"{}\" was locked after {limit} wrong passcodes.", link.name);
            if let Err(e) = crate::mail::notify(&mut a.tx, a.mail, &link.patient_id, &message, Notice::LinkLocked, None, now).await {
                return a.fail(e).await;
            }
        }
        if let Err(e) = a.append_row(&w, origin, Disclosure::new("passcode-failed", "shared link")).await {
            return a.fail(e).await;
        }
        a.tx.commit().await?;
        Ok(counted)
    }

    /// Emergency access: a signed-in clinician opens a record they were not
    /// given, saying why. The patient is told at once. NotFound when the
    /// deployment does not allow it or there is no such record.
    /// Makes an operator-checked clinician's account able to use emergency
    /// access (`kith user verify-clinician`). False: no clinician has that email.
    pub async fn verify_clinician(&self, email: &str) -> CoreResult<bool> {
        let Ok(email) = kith_types::Email::parse(email) else { return Ok(false) };
        let Some(u) = store::user_by_email(&self.db.pool, email.as_str()).await? else { return Ok(false) };
        let done = store::verify_clinician(&self.db.pool, &u.id, "operator", now_ms()).await? == 1;
        if done {
            tracing::info!(user_id = %u.id, "clinician checked by the operator");
        }
        Ok(done)
    }

    pub async fn break_glass(&self, actor: &Actor, nhs_number: &NhsNumber, reason: &str, origin: &Origin) -> CoreResult<String> {
        if !self.settings.break_glass || actor.role != Role::Clinician {
            return Err(AppError::NotFound.into());
        }
        if !actor.may_break_glass() {
            return Err(AppError::Conflict(kith_types::UNVERIFIED_CLINICIAN.into()).into());
        }
        let reason = reason.trim();
        if reason.chars().count() < 10 {
            return Err(AppError::field("reason", "Say why you need this record now (at least 10 characters)").into());
        }
        let p = store::patient_by_nhs_number(&self.db.pool, nhs_number.as_str()).await?.ok_or(AppError::NotFound)?;
        let now = now_ms();
        let id = new_id();
        let mut a = self.audited_patient(&p.id).await?;
        let org = if actor.organisation.is_empty() { String::new() } else { format!(" of {}", actor.organisation) };
        let message = format!("Emergency access: {}{org} opened your record. Reason given: \"{}\"", actor.name, truncate(reason, 1000));
        let mut w = who_of_actor(actor);
        w.via = "break-glass";
        w.via_id = Some(id.clone());
        w.reason = Some(truncate(reason, 1000));
        let expires = now + self.settings.break_glass_hours.max(1) * 3_600_000;
        let written = async {
            sql::insert_break_glass(&mut *a.tx, &p.id, &id, &actor.user_id, &truncate(reason, 1000), now, expires).await?;
            crate::mail::notify(&mut a.tx, a.mail, &p.id, &message, Notice::EmergencyAccess, None, now).await?;
            a.append_row(&w, origin, Disclosure::new("break-glass", "record")).await
        }
        .await;
        if let Err(e) = written {
            return a.fail(e).await;
        }
        a.tx.commit().await?;
        Ok(p.id)
    }

    /// Checks one patient's chain: every row's hash, the links between rows,
    /// the head, and every signed checkpoint.
    pub async fn verify_chain(&self, patient_id: &str) -> CoreResult<ChainCheck> {
        // Taken before the reads: the snapshot is at least this recent.
        let started = now_ms();
        let mut tx = self.chain_snapshot().await?;
        let rows = sql::chain(&mut *tx, patient_id).await?;
        let head = sql::head(&mut *tx, patient_id).await?;
        let checkpoints = sql::checkpoints(&mut *tx, patient_id).await?;
        tx.rollback().await?;
        let check = check_chain(&rows, head, &checkpoints, None);
        let found = match rows.last() {
            Some(last) if check.ok() => Some(Trusted {
                seq: last.seq,
                hash: last.hash.clone(),
                checkpoints_before: checkpoints.iter().filter(|c| c.seq < last.seq).count() as i64,
                checked_at: started,
            }),
            _ => None,
        };
        // Two full checks can overlap: only the one that started later
        // decides (and a break found wins a tie), so a check whose snapshot
        // predates a change cannot restore the trust one after it withdrew.
        let mut trust = self.chain_trust.lock().unwrap_or_else(|e| e.into_inner());
        let newer = match trust.get(patient_id) {
            Some((at, earlier)) => started > *at || (started == *at && earlier.is_some()),
            None => true,
        };
        if newer {
            trust.insert(patient_id.to_string(), (started, found));
        }
        Ok(check)
    }

    /// The Access log page's check: the records added since the last full
    /// check, if that was within `audit_full_check_minutes` and as many
    /// records and checkpoints lie before its last record as then; else (or
    /// when `all`) every record.
    ///
    /// What the shorter check cannot see is a change below that record that
    /// keeps those numbers: a record or checkpoint changed in place, even
    /// with the hashes recomputed up to (not including) the trusted record.
    /// That shows at the next full check (the page says when the last one
    /// was, and offers one now), and `kith audit verify` always checks
    /// everything. A rewrite that reaches the trusted record shows at once,
    /// as its hash is kept here, out of the database's reach.
    ///
    /// Only the patient (or whoever manages the whole record) may ask.
    pub async fn check_for_page(&self, access: &RecordAccess, all: bool) -> CoreResult<ChainCheck> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let patient_id = access.patient_id();
        let max_age = self.settings.audit_full_check_minutes * 60_000;
        let trusted = if all { None } else { self.chain_trust.lock().unwrap_or_else(|e| e.into_inner()).get(patient_id).and_then(|(_, t)| t.clone()) };
        let Some(t) = trusted.filter(|t| now_ms() - t.checked_at < max_age) else {
            return self.verify_chain(patient_id).await;
        };
        let mut tx = self.chain_snapshot().await?;
        let (records_before, lowest_seq, checkpoints_before) = sql::counts_before(&mut *tx, patient_id, t.seq).await?;
        let rows = sql::chain_from(&mut *tx, patient_id, t.seq).await?;
        let head = sql::head(&mut *tx, patient_id).await?;
        let checkpoints = sql::checkpoints_from(&mut *tx, patient_id, t.seq).await?;
        tx.rollback().await?;
        let mut check = check_chain(&rows, head, &checkpoints, Some(&t));
        // Records 1 to seq - 1, as many as there were: none gone, none moved
        // below 1 to hide a gap.
        let earlier_intact = records_before == t.seq - 1 && (records_before == 0 || lowest_seq == Some(1));
        if !check.ok() || !earlier_intact || checkpoints_before != t.checkpoints_before {
            // Something is wrong, or older records or checkpoints came or
            // went: check everything, which also says exactly where.
            return self.verify_chain(patient_id).await;
        }
        check.records += records_before;
        check.checkpoints += checkpoints_before as usize;
        check.whole_checked_at = Some(ms_to_uk_seconds(t.checked_at));
        Ok(check)
    }

    /// One snapshot for a check's reads: a view or checkpoint committed
    /// between them would otherwise look like a missing or changed row.
    /// (SQLite's read transaction takes its snapshot at the first read.)
    async fn chain_snapshot(&self) -> CoreResult<Transaction<'static, Any>> {
        let mut tx = self.db.pool.begin().await?;
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        Ok(tx)
    }

    /// Checks every chain: (NHS Number, result).
    pub async fn verify_all(&self) -> CoreResult<Vec<(String, ChainCheck)>> {
        let mut out = Vec::new();
        for (id, nhs) in sql::all_patients(&self.db.pool).await? {
            out.push((nhs, self.verify_chain(&id).await?));
        }
        Ok(out)
    }

    /// Signs every chain head that moved since its last checkpoint; returns
    /// how many were signed.
    pub async fn checkpoint(&self) -> CoreResult<usize> {
        let mut n = 0;
        let public_key = hex(self.audit_key.verifying_key().as_bytes());
        for (patient_id, seq, hash) in sql::heads(&self.db.pool).await? {
            if sql::last_checkpoint_seq(&self.db.pool, &patient_id).await? >= seq {
                continue;
            }
            let signed_at = now_ms();
            let signature = self.audit_key.sign(checkpoint_message(&patient_id, seq, &hash, signed_at).as_bytes());
            let row = CheckpointRow { patient_id, seq, hash, signed_at, public_key: public_key.clone(), signature: hex(&signature.to_bytes()) };
            sql::insert_checkpoint(&self.db.pool, &row).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Signs the chain heads that moved, every `every` (the first round at
    /// once), until the task is aborted (`kith serve` runs it). A failed
    /// round is logged and the next one tries again: a missed checkpoint
    /// weakens no earlier one.
    pub fn sign_checkpoints_every(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let kith = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match kith.checkpoint().await {
                    Ok(n) if n > 0 => tracing::info!(signed = n, "access-log checkpoints signed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not sign access-log checkpoints"),
                }
            }
        })
    }

    /// The server's checkpoint-signing public key (hex).
    pub fn audit_public_key(&self) -> String {
        hex(self.audit_key.verifying_key().as_bytes())
    }

    /// The Access log page: newest first, filtered. Reading the log is
    /// itself logged.
    pub async fn access_log(&self, access: &RecordAccess, q: &AccessLogQuery) -> CoreResult<AccessLogView> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let check = self.check_for_page(access, q.check == "all").await?;
        let mut a = self.audited(access).await?;
        let mut f = AuditFilter::default();
        let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        f.actor_key = nonempty(&q.person);
        f.organisation = nonempty(&q.organisation);
        f.action = nonempty(&q.action);
        f.label = nonempty(&q.label);
        // A carer acting for the patient sees the log without private
        // entries (`HidePrivate`).
        let hide = HidePrivate::for_access(a.conn(), access).await?;
        if hide.is_some() && f.label.as_deref() == Some("private") {
            f.label = Some("(none)".into());
        }
        let day =
            |s: &str| chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp_millis());
        f.from_ms = day(&q.from);
        f.before_ms = day(&q.to).map(|t| t + 86_400_000);
        f.before_seq = q.before.trim().parse().ok();
        const PAGE: i64 = 100;
        let mut rows = sql::events_page(a.conn(), access.patient_id(), &f, PAGE + 1).await?;
        let next = if rows.len() as i64 > PAGE {
            rows.truncate(PAGE as usize);
            rows.last().map(|r| r.seq.to_string())
        } else {
            None
        };
        let people_rows = match &hide {
            None => sql::people(a.conn(), access.patient_id()).await?,
            // Only people with something this reader may see (one who only
            // looked at private entries is not named).
            Some(h) => {
                let mut seen: HashMap<String, (String, String, String, String)> = HashMap::new();
                for r in sql::chain(a.conn(), access.patient_id()).await?.iter().filter_map(|r| h.row(r)) {
                    seen.insert(r.actor_key.clone(), (r.actor_key, r.actor_name, r.actor_role, r.actor_org));
                }
                let mut people: Vec<_> = seen.into_values().collect();
                people.sort_by(|x, y| x.1.cmp(&y.1));
                people
            }
        };
        let me_key = access.user_id().map(|u| format!("user:{u}"));
        let head_seq = a.head.as_ref().map(|h| h.0).unwrap_or(0);
        // Only the whole, newest page counts as a visit: a filtered or later
        // page shows part of what is new, and must not clear the rest.
        let whole_first_page = [&q.person, &q.organisation, &q.action, &q.label, &q.from, &q.to, &q.before].iter().all(|s| s.trim().is_empty());
        let seen_before = match access.user_id() {
            Some(u) => sql::log_visit(a.conn(), access.patient_id(), u, whole_first_page.then_some(head_seq + 1)).await?,
            None => 0,
        };
        // Each reader is told only their own address: the owner, or a carer
        // acting for them (who gets the emails too).
        let notice_email = match self.settings.mail.is_some() {
            true => match crate::mail::notice_recipient(a.conn(), access).await? {
                Some(user_id) => store::user_email(a.conn(), &user_id).await?.map(|to| NoticeEmail {
                    address: to.email,
                    on: to.notice_emails != 0,
                    for_carer: !matches!(access.via(), Via::Owner),
                    confirmed: to.email_confirmed_at.is_some(),
                }),
                None => None,
            },
            false => None,
        };
        a.commit(access, Disclosure::new("view", "access log")).await?;
        let events: Vec<AccessEvent> = match &hide {
            None => rows.iter().map(|r| event_view(r, me_key.as_deref(), seen_before)).collect(),
            Some(h) => rows.iter().filter_map(|r| h.row(r)).map(|r| event_view(&r, me_key.as_deref(), seen_before)).collect(),
        };
        let new_count = events.iter().filter(|e| e.is_new).count();
        let mut organisations: Vec<String> = people_rows.iter().map(|p| p.3.clone()).filter(|o| !o.is_empty()).collect();
        organisations.sort();
        organisations.dedup();
        let people = people_rows.into_iter().map(|(key, name, role, _)| (key, format!("{name} ({role})"))).collect();
        Ok(AccessLogView { events, people, organisations, next, new_count, check, notice_email, whole: hide.is_none() })
    }

    /// "Who has seen this": everyone but the patient who viewed an entry.
    pub async fn seen_by(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<Vec<SeenBy>> {
        require(access, Right::Read)?;
        if !matches!(access.via(), Via::Owner | Via::Operator) && crate::policy::require_whole(access).is_err() {
            return Ok(vec![]);
        }
        let mut conn = self.db.pool.acquire().await?;
        if store::entry_by_id(&mut *conn, access.patient_id(), entry_id, access.scope()).await?.is_none() {
            return Err(AppError::NotFound.into());
        }
        let f = AuditFilter { entry: Some(entry_id.to_string()), others_views_only: true, ..Default::default() };
        let rows = sql::events_page(&mut conn, access.patient_id(), &f, 2000).await?;
        let mut by: HashMap<String, SeenBy> = HashMap::new();
        let mut order = Vec::new();
        // Counts page views and downloads: reading an entry's comments is
        // logged apart.
        let seeing = |r: &&AuditRow| matches!(r.action.as_str(), "view" | "export") && r.what != COMMENTS_WHAT;
        for r in rows.iter().filter(seeing).filter(|r| r.via != "own" && r.via != "preview") {
            let e = by.entry(r.actor_key.clone()).or_insert_with(|| {
                order.push(r.actor_key.clone());
                SeenBy {
                    who: display_who(r),
                    role: r.actor_role.clone(),
                    organisation: r.actor_org.clone(),
                    how: how_title(&r.via).into(),
                    last_seen: ms_to_uk_seconds(r.at),
                    times: 0,
                }
            });
            e.times += 1;
        }
        Ok(order.into_iter().filter_map(|k| by.remove(&k)).collect())
    }

    /// The log as FHIR R4 AuditEvent resources in a collection Bundle.
    pub async fn audit_events_bundle(&self, access: &RecordAccess) -> CoreResult<serde_json::Value> {
        let rows = self.exportable_log(access, "access log (FHIR)").await?;
        Ok(audit_bundle(access.nhs_number(), &rows))
    }

    /// The log as CSV, one row per event, with the chain hashes.
    pub async fn audit_csv(&self, access: &RecordAccess) -> CoreResult<String> {
        let rows = self.exportable_log(access, "access log (CSV)").await?;
        Ok(audit_csv(&rows))
    }

    /// The signed checkpoints with the public key, for a third party to check.
    pub async fn audit_checkpoints_json(&self, access: &RecordAccess) -> CoreResult<serde_json::Value> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        // Hashes only, but a download of the log all the same: logged.
        let mut a = self.audited(access).await?;
        let cps = sql::checkpoints(a.conn(), access.patient_id()).await?;
        a.commit(access, Disclosure::new("export", "access log checkpoints")).await?;
        Ok(serde_json::json!({
            "format": "kith-audit-checkpoint-v1",
            "signed_text": "kith-audit-checkpoint-v1\\n{patient_id}\\n{seq}\\n{hash}\\n{signed_at}",
            "algorithm": "ed25519",
            "server_public_key": self.audit_public_key(),
            "patient_id": access.patient_id(),
            "checkpoints": cps.iter().map(|c| serde_json::json!({
                "seq": c.seq, "hash": c.hash, "signed_at": c.signed_at, "public_key": c.public_key, "signature": c.signature,
            })).collect::<Vec<_>>(),
        }))
    }

    /// The whole chain, every record exactly as hashed, with the signed
    /// checkpoints: enough for a third party to recompute every hash and
    /// check every signature without Kith's database (`verify_chain_file`,
    /// `kith audit verify-file`).
    pub async fn audit_chain_file(&self, access: &RecordAccess) -> CoreResult<serde_json::Value> {
        // Every record exactly as hashed, or the hashes do not check: so
        // only for someone who may see the whole log, private rows included.
        if access.scope().is_some() {
            return Err(AppError::NotFound.into());
        }
        let rows = self.exportable_log(access, "access log (for checking)").await?;
        let cps = sql::checkpoints(&self.db.pool, access.patient_id()).await?;
        Ok(serde_json::json!({
            "format": CHAIN_FILE_FORMAT,
            "hash_v2": "sha256_hex(prev_hash + \"\\n\" + seq + \"\\n\" + content), content = sha256_hex of the compact JSON object {v: 2, patient_id, at, action, what, entries, labels, actor_key, actor_name, actor_role, actor_org, via, via_id, reason, on_behalf_of, address, user_agent} with the record's values, keys in this order; hash_version 1 records: see Kith's docs/decisions.md",
            "signed_text": "kith-audit-checkpoint-v1\\n{patient_id}\\n{seq}\\n{hash}\\n{signed_at}",
            "server_public_key": self.audit_public_key(),
            "patient_id": access.patient_id(),
            "records": rows.iter().map(ChainFileRecord::from).collect::<Vec<_>>(),
            "checkpoints": cps.iter().map(|c| serde_json::json!({
                "seq": c.seq, "hash": c.hash, "signed_at": c.signed_at, "public_key": c.public_key, "signature": c.signature,
            })).collect::<Vec<_>>(),
        }))
    }

    /// The log to download, as this reader may see it (`HidePrivate`).
    async fn exportable_log(&self, access: &RecordAccess, what: &str) -> CoreResult<Vec<AuditRow>> {
        require(access, Right::Manage)?;
        require_whole(access)?;
        let mut a = self.audited(access).await?;
        let mut rows = sql::chain(a.conn(), access.patient_id()).await?;
        if let Some(h) = HidePrivate::for_access(a.conn(), access).await? {
            rows = rows.iter().filter_map(|r| h.row(r)).collect();
        }
        a.commit(access, Disclosure::new("export", what)).await?;
        Ok(rows)
    }
}

const CHAIN_FILE_FORMAT: &str = "kith-audit-chain-v1";

/// What someone who may not see private entries (a carer acting for the
/// patient) is shown of the log, on the page and in downloads: rows only
/// about private entries are left out; the rest lose the private entries'
/// ids and the Private label; an import's counts, which count private
/// entries too, are dropped.
struct HidePrivate {
    entries: std::collections::HashSet<String>,
    /// Entries that exist and are not private: a row labelled private names
    /// only these (an entry a later import removed may have been private).
    visible: std::collections::HashSet<String>,
    /// Sources that sent only private entries: their imports are left out.
    sources: Vec<String>,
}

impl HidePrivate {
    /// None for a reader who may see everything.
    async fn for_access(conn: &mut AnyConnection, access: &RecordAccess) -> CoreResult<Option<Self>> {
        if access.scope().is_none() {
            return Ok(None);
        }
        let entries = store::private_entry_ids(&mut *conn, access.patient_id()).await?.into_iter().collect();
        let visible = store::visible_entry_ids(&mut *conn, access.patient_id()).await?.into_iter().collect();
        let sources = store::private_only_sources(conn, access.patient_id()).await?;
        Ok(Some(HidePrivate { entries, visible, sources }))
    }

    fn row(&self, r: &AuditRow) -> Option<AuditRow> {
        let entries: Vec<String> = serde_json::from_str(&r.entries).unwrap_or_default();
        let labels: Vec<String> = serde_json::from_str(&r.labels).unwrap_or_default();
        let was_private = labels.iter().any(|l| l == "private");
        let left: Vec<&String> = entries.iter().filter(|e| !self.entries.contains(*e) && (!was_private || self.visible.contains(*e))).collect();
        if !entries.is_empty() && left.is_empty() {
            return None;
        }
        if r.action == "import" && self.sources.iter().any(|s| r.what.contains(&format!(" from {s}"))) {
            return None;
        }
        let labels: Vec<&String> = labels.iter().filter(|l| l.as_str() != "private").collect();
        let mut out = r.clone();
        out.entries = serde_json::to_string(&left).unwrap_or_else(|_| "[]".into());
        out.labels = serde_json::to_string(&labels).unwrap_or_else(|_| "[]".into());
        if r.action == "import" && r.what.ends_with(" unchanged)") {
            if let Some(cut) = r.what.rfind(" (") {
                out.what.truncate(cut);
            }
        }
        Some(out)
    }
}

/// One record of a chain file: `AuditRow`'s fields under the same names.
#[derive(Serialize, serde::Deserialize)]
struct ChainFileRecord {
    patient_id: String,
    seq: i64,
    at: i64,
    action: String,
    what: String,
    entries: String,
    labels: String,
    actor_key: String,
    actor_name: String,
    actor_role: String,
    actor_org: String,
    via: String,
    via_id: Option<String>,
    reason: Option<String>,
    on_behalf_of: Option<String>,
    address: String,
    user_agent: String,
    prev_hash: String,
    hash: String,
    hash_version: i64,
}

impl From<&AuditRow> for ChainFileRecord {
    fn from(r: &AuditRow) -> Self {
        let r = r.clone();
        ChainFileRecord {
            patient_id: r.patient_id,
            seq: r.seq,
            at: r.at,
            action: r.action,
            what: r.what,
            entries: r.entries,
            labels: r.labels,
            actor_key: r.actor_key,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            actor_org: r.actor_org,
            via: r.via,
            via_id: r.via_id,
            reason: r.reason,
            on_behalf_of: r.on_behalf_of,
            address: r.address,
            user_agent: r.user_agent,
            prev_hash: r.prev_hash,
            hash: r.hash,
            hash_version: r.hash_version,
        }
    }
}

impl From<ChainFileRecord> for AuditRow {
    fn from(r: ChainFileRecord) -> Self {
        AuditRow {
            patient_id: r.patient_id,
            seq: r.seq,
            at: r.at,
            action: r.action,
            what: r.what,
            entries: r.entries,
            labels: r.labels,
            actor_key: r.actor_key,
            actor_name: r.actor_name,
            actor_role: r.actor_role,
            actor_org: r.actor_org,
            via: r.via,
            via_id: r.via_id,
            reason: r.reason,
            on_behalf_of: r.on_behalf_of,
            address: r.address,
            user_agent: r.user_agent,
            prev_hash: r.prev_hash,
            hash: r.hash,
            hash_version: r.hash_version,
        }
    }
}

#[derive(serde::Deserialize)]
struct ChainFile {
    format: String,
    patient_id: String,
    server_public_key: String,
    #[serde(default)]
    records: Vec<ChainFileRecord>,
    checkpoints: Vec<ChainFileCheckpoint>,
}

/// What an earlier file (a chain file or a checkpoints download) adds.
#[derive(serde::Deserialize)]
struct KeptCheckpoints {
    patient_id: String,
    checkpoints: Vec<ChainFileCheckpoint>,
}

#[derive(serde::Deserialize)]
struct ChainFileCheckpoint {
    seq: i64,
    hash: String,
    signed_at: i64,
    public_key: String,
    signature: String,
}

/// Checks a downloaded chain file on its own, as a third party would: every
/// record's hash recomputed, each following the one before, every signed
/// checkpoint's signature (by `public_key` when given, else the key the file
/// names) and that the records still hold what was signed. `earlier` files
/// (a chain file or a checkpoints download kept from before) add their
/// checkpoints, so a history rewritten since then is caught. Err for a file
/// that is not a chain file.
pub fn verify_chain_file(file: &str, earlier: &[&str], public_key: Option<&str>) -> Result<ChainCheck, String> {
    let f: ChainFile = serde_json::from_str(file).map_err(|e| format!("not a Kith access-log chain file: {e}"))?;
    if f.format != CHAIN_FILE_FORMAT {
        return Err(format!("not a Kith access-log chain file (format {:?})", f.format));
    }
    let key = public_key.unwrap_or(&f.server_public_key).to_string();
    let mut kept = Vec::new();
    for (i, text) in earlier.iter().enumerate() {
        let k: KeptCheckpoints = serde_json::from_str(text).map_err(|e| format!("earlier file {} is not a Kith chain or checkpoints file: {e}", i + 1))?;
        if k.patient_id != f.patient_id {
            return Err(format!("earlier file {} is for another record", i + 1));
        }
        kept.extend(k.checkpoints);
    }
    let mut checkpoints: Vec<CheckpointRow> = f
        .checkpoints
        .into_iter()
        .chain(kept)
        .map(|c| CheckpointRow {
            patient_id: f.patient_id.clone(),
            seq: c.seq,
            hash: c.hash,
            signed_at: c.signed_at,
            // Signed by the key the checker trusts, not whatever a file says.
            public_key: if c.public_key == key { c.public_key } else { String::new() },
            signature: c.signature,
        })
        .collect();
    checkpoints.sort_by_key(|c| c.seq);
    let rows: Vec<AuditRow> = f.records.into_iter().map(AuditRow::from).collect();
    if let Some(r) = rows.iter().find(|r| r.patient_id != f.patient_id) {
        return Ok(ChainCheck {
            records: rows.len() as i64,
            verified_up_to: None,
            broken_at: Some((r.seq, format!("record {} belongs to another record", r.seq))),
            checkpoints: checkpoints.len(),
            whole_checked_at: None,
            checked_now: 0,
        });
    }
    // The file's last record stands for the head: records cut off after the
    // last checkpoint cannot be told from a download made earlier.
    let head = rows.last().map(|r| (r.seq, r.hash.clone()));
    Ok(check_chain(&rows, head, &checkpoints, None))
}

fn display_who(r: &AuditRow) -> String {
    match &r.on_behalf_of {
        Some(p) => format!("{} ({}) for {p}", r.actor_name, r.actor_role),
        None => r.actor_name.clone(),
    }
}

fn event_view(r: &AuditRow, me: Option<&str>, seen_before: i64) -> AccessEvent {
    let labels: Vec<String> = serde_json::from_str(&r.labels).unwrap_or_default();
    let entries: Vec<String> = serde_json::from_str(&r.entries).unwrap_or_default();
    AccessEvent {
        seq: r.seq,
        when: ms_to_uk_seconds(r.at),
        who: display_who(r),
        role: r.actor_role.clone(),
        organisation: r.actor_org.clone(),
        how: how_title(&r.via).into(),
        reason: r.reason.clone(),
        action: action_title(&r.action).into(),
        what: what_title(&r.what),
        labels: labels.iter().map(|l| label_title(l).to_string()).collect(),
        entry_count: entries.len(),
        address: r.address.clone(),
        user_agent: r.user_agent.clone(),
        // Others' actions since this person last read the log (all of them
        // the first time); their own are never news.
        is_new: r.seq > seen_before && me != Some(r.actor_key.as_str()),
        stands_out: r.via == "break-glass" || r.action.ends_with("-failed"),
        is_me: me == Some(r.actor_key.as_str()),
    }
}

/// Checks `rows`, the whole chain or, `from` a trusted record, that record
/// (which must be unchanged) and those after it.
fn check_chain(rows: &[AuditRow], head: Option<(i64, String)>, checkpoints: &[CheckpointRow], from: Option<&Trusted>) -> ChainCheck {
    let mut broken: Option<(i64, String)> = None;
    let mut prev = String::new();
    let mut hashes: HashMap<i64, &str> = HashMap::new();
    let first_seq = from.map(|t| t.seq).unwrap_or(1);
    for (i, r) in rows.iter().enumerate() {
        let expected_seq = first_seq + i as i64;
        if r.seq != expected_seq {
            broken = Some((expected_seq, format!("record {expected_seq} is missing")));
            break;
        }
        if let Some(t) = from.filter(|_| i == 0) {
            // Its hash commits to everything before it.
            if r.hash != t.hash {
                broken = Some((r.seq, format!("record {} is not the one checked before", r.seq)));
                break;
            }
        } else if r.prev_hash != prev {
            broken = Some((r.seq, format!("record {} does not follow record {}", r.seq, r.seq - 1)));
            break;
        }
        if row_hash(r) != r.hash {
            broken = Some((r.seq, format!("record {} was changed after it was written", r.seq)));
            break;
        }
        hashes.insert(r.seq, &r.hash);
        prev = r.hash.clone();
    }
    if from.is_some() && rows.is_empty() {
        broken = Some((first_seq, format!("record {first_seq} is missing")));
    }
    let last = rows.last().map(|r| r.seq).unwrap_or(0);
    if broken.is_none() {
        let head = head.unwrap_or((0, String::new()));
        if head.0 != last || head.1 != prev {
            broken = Some((last + 1, format!("records after {last} are missing (the chain head is at {})", head.0)));
        }
    }
    if broken.is_none() {
        for c in checkpoints {
            let sig_ok = (|| {
                let key = VerifyingKey::from_bytes(&unhex(&c.public_key)?.try_into().ok()?).ok()?;
                let sig = Signature::from_slice(&unhex(&c.signature)?).ok()?;
                key.verify(checkpoint_message(&c.patient_id, c.seq, &c.hash, c.signed_at).as_bytes(), &sig).ok()
            })()
            .is_some();
            if !sig_ok {
                broken = Some((c.seq, format!("the checkpoint at record {} has a bad signature", c.seq)));
                break;
            }
            if hashes.get(&c.seq) != Some(&c.hash.as_str()) {
                broken = Some((c.seq, format!("record {} differs from what was signed at {}", c.seq, ms_to_uk_seconds(c.signed_at))));
                break;
            }
        }
    }
    let verified_up_to = match &broken {
        None => rows.last().map(|r| ms_to_uk_seconds(r.at)),
        Some((seq, _)) => rows.iter().take_while(|r| r.seq < *seq).last().map(|r| ms_to_uk_seconds(r.at)),
    };
    ChainCheck {
        records: rows.len() as i64,
        verified_up_to,
        broken_at: broken,
        checkpoints: checkpoints.len(),
        whole_checked_at: None,
        checked_now: rows.len() as i64,
    }
}

fn fhir_instant(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()).unwrap_or_default()
}

fn audit_bundle(nhs: &NhsNumber, rows: &[AuditRow]) -> serde_json::Value {
    use serde_json::json;
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let (type_code, type_display) = match r.action.as_str() {
                "sign-in" | "sign-in-failed" => ("110114", "User Authentication"),
                "export" => ("110106", "Export"),
                "import" => ("110107", "Import"),
                _ => ("110110", "Patient Record"),
            };
            let action = match r.action.as_str() {
                "view" | "export" | "invitation" => "R",
                "create" | "comment" | "import" | "share" => "C",
                "update" | "revoke" => "U",
                _ => "E",
            };
            let outcome = if r.action.ends_with("-failed") { "4" } else { "0" };
            let labels: Vec<String> = serde_json::from_str(&r.labels).unwrap_or_default();
            let disclosed: Vec<String> = serde_json::from_str(&r.entries).unwrap_or_default();
            let mut agent = json!({
                "type": { "text": how_title(&r.via) },
                "who": { "display": display_who(r) },
                "name": r.actor_name,
                "role": [{ "text": r.actor_role }],
                "requestor": true,
            });
            if !r.actor_org.is_empty() {
                agent["location"] = json!({ "display": r.actor_org });
            }
            if !r.address.is_empty() && r.address != "command line" {
                agent["network"] = json!({ "address": r.address, "type": "2" });
            }
            if r.via == "break-glass" {
                agent["purposeOfUse"] = json!([{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "ETREAT", "display": "Emergency Treatment" }], "text": r.reason }]);
            }
            let mut record = json!({
                "what": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs.as_str() } },
                "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person" },
                "description": r.what,
            });
            // The privacy labels of what was disclosed (FHIR leaves out empty arrays).
            if !labels.is_empty() {
                record["securityLabel"] = json!(labels.iter().map(|l| json!({ "system": "https://kith.example/fhir/privacy-label", "code": l })).collect::<Vec<_>>());
            }
            let mut entity = vec![record];
            for id in disclosed {
                entity.push(json!({
                    "what": { "identifier": { "system": "urn:kith:entry", "value": id } },
                    "type": { "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object" },
                }));
            }
            let resource = json!({
                "resourceType": "AuditEvent",
                "id": format!("{}-{}", r.patient_id, r.seq),
                "type": { "system": "http://dicom.nema.org/resources/ontology/DCM", "code": type_code, "display": type_display },
                "subtype": [{ "system": "urn:kith:audit-action", "code": r.action }],
                "action": action,
                "recorded": fhir_instant(r.at),
                "outcome": outcome,
                "outcomeDesc": format!("chain record {} hash {} previous {}", r.seq, r.hash, if r.prev_hash.is_empty() { "none" } else { &r.prev_hash }),
                "agent": [agent],
                "source": { "site": "Kith", "observer": { "display": "Kith personal health record" } },
                "entity": entity,
            });
            json!({ "fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("kith-audit:{}:{}", r.patient_id, r.seq).as_bytes())), "resource": resource })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "collection", "timestamp": fhir_instant(now_ms()), "entry": entries })
}

fn csv_field(s: &str) -> String {
    // Cells starting with = + - @ (or a tab or carriage return, which some
    // spreadsheets skip before one) get a leading ' so they are not run as
    // formulas.
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn audit_csv(rows: &[AuditRow]) -> String {
    let mut out =
        String::from("seq,time,action,what,who,role,organisation,on_behalf_of,how,reason,labels,entries,address,user_agent,prev_hash,hash,hash_version\n");
    for r in rows {
        let cells = [
            r.seq.to_string(),
            fhir_instant(r.at),
            r.action.clone(),
            r.what.clone(),
            r.actor_name.clone(),
            r.actor_role.clone(),
            r.actor_org.clone(),
            r.on_behalf_of.clone().unwrap_or_default(),
            r.via.clone(),
            r.reason.clone().unwrap_or_default(),
            r.labels.clone(),
            r.entries.clone(),
            r.address.clone(),
            r.user_agent.clone(),
            r.prev_hash.clone(),
            r.hash.clone(),
            r.hash_version.to_string(),
        ];
        out.push_str(&cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// Reads the server's checkpoint-signing key from `path`, creating it (owner
/// read/write only) the first time.
pub fn load_or_create_key(path: &std::path::Path) -> std::io::Result<SigningKey> {
    Ok(SigningKey::from_bytes(&crate::keyfile::load_or_create(path, "audit key")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, prev: &str) -> AuditRow {
        let w = Who {
            key: "user:1".into(),
            name: "A".into(),
            role: "clinician".into(),
            org: "X".into(),
            via: "grant",
            via_id: None,
            reason: None,
            on_behalf_of: None,
        };
        let mut r = make_row("p1", &w, &Origin::default(), Disclosure::new("view", "summary").with([("e1", "general")]));
        r.seq = seq;
        r.prev_hash = prev.to_string();
        r.hash = row_hash(&r);
        r
    }

    #[test]
    fn a_chain_checks_and_any_change_breaks_it_at_that_record() {
        let a = row(1, "");
        let b = row(2, &a.hash);
        let c = row(3, &b.hash);
        let head = Some((3, c.hash.clone()));
        assert!(check_chain(&[a.clone(), b.clone(), c.clone()], head.clone(), &[], None).ok());
        let mut changed = b.clone();
        changed.actor_name = "Someone else".into();
        assert_eq!(check_chain(&[a.clone(), changed, c.clone()], head.clone(), &[], None).broken_at.unwrap().0, 2);
        assert_eq!(check_chain(&[a.clone(), c.clone()], head.clone(), &[], None).broken_at.unwrap().0, 2);
        assert_eq!(check_chain(&[a.clone(), b.clone()], head, &[], None).broken_at.unwrap().0, 3);
    }

    /// Rows written before version 2 keep verifying, and a version 2 row
    /// follows them; changing a row's version breaks it.
    #[test]
    fn version_1_rows_still_verify_and_chain_into_version_2() {
        let mut a = row(1, "");
        a.hash_version = 1;
        a.hash = row_hash(&a);
        assert_ne!(a.hash, row(1, "").hash, "the two versions hash differently");
        let b = row(2, &a.hash);
        assert_eq!(b.hash, chain_hash(&a.hash, 2, &content_digest(&b)));
        assert!(check_chain(&[a.clone(), b.clone()], Some((2, b.hash.clone())), &[], None).ok());
        let mut flipped = a.clone();
        flipped.hash_version = 2;
        assert_eq!(check_chain(&[flipped, b.clone()], Some((2, b.hash.clone())), &[], None).broken_at.unwrap().0, 1);
    }

    #[test]
    fn checkpoints_catch_a_rewritten_chain() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let a = row(1, "");
        let sig = key.sign(checkpoint_message("p1", 1, &a.hash, 5).as_bytes());
        let cp = CheckpointRow {
            patient_id: "p1".into(),
            seq: 1,
            hash: a.hash.clone(),
            signed_at: 5,
            public_key: hex(key.verifying_key().as_bytes()),
            signature: hex(&sig.to_bytes()),
        };
        assert!(check_chain(std::slice::from_ref(&a), Some((1, a.hash.clone())), std::slice::from_ref(&cp), None).ok());
        // Rewrite record 1 and recompute its hash and the head: only the checkpoint notices.
        let mut forged = a.clone();
        forged.actor_name = "Nobody".into();
        forged.hash = row_hash(&forged);
        let r = check_chain(std::slice::from_ref(&forged), Some((1, forged.hash.clone())), std::slice::from_ref(&cp), None);
        assert_eq!(r.broken_at.unwrap().0, 1);
        let mut bad_sig = cp;
        bad_sig.signed_at = 6;
        assert!(!check_chain(std::slice::from_ref(&a), Some((1, a.hash.clone())), &[bad_sig], None).ok());
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
        assert_eq!(csv_field("\t=cmd()"), "\"'\t=cmd()\"");
        assert_eq!(csv_field("a \"b\""), "\"a \"\"b\"\"\"");
    }
}
