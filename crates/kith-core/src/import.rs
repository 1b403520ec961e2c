//! Importing FHIR feeds into a record: all-or-nothing per file, versioned
//! originals, and one merged entry per clinical fact.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// What kind of organisation a file comes from (callers name it on upload).
pub use kith_fhir::SourceKind;
use kith_fhir::{check_identity, normalise_in, parse_feed, source_organisation, Feed, FeedError, Identity, Label, RefIndex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use tokio::sync::mpsc;

use crate::audit::Disclosure;
use crate::background::{self, Background, Priority};
use crate::policy::{require, RecordAccess, Right};
use crate::store;
use crate::{new_id, now_ms, Backend, CoreError, CoreResult, Kith};

/// One file to import.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Required for a source Kith has not seen; else the source's known kind.
    pub source_kind: Option<SourceKind>,
    /// Overrides the organisation named in the feed.
    pub source_name: Option<String>,
    pub max_bytes: usize,
}

/// What became of a file.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum ImportOutcome {
    Accepted(ImportSummary),
    /// No NHS Number in the file: kept aside until the patient confirms it.
    Held {
        held_id: String,
        file: String,
        found_name: Option<String>,
        found_birth_date: Option<String>,
    },
    /// Nothing from the file was stored.
    Refused {
        file: String,
        reason: String,
    },
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ImportSummary {
    pub file: String,
    pub source: String,
    pub source_kind: String,
    pub resources: usize,
    pub new: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// References to resources that are not in the file: kept as they are.
    pub unresolved_references: usize,
}

impl ImportSummary {
    pub fn nothing_changed(&self) -> bool {
        self.new == 0 && self.changed == 0
    }
}

/// What one source says about an entry; stored with the link so the entry
/// page can show each source's version side by side.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceFact {
    pub text: String,
    pub date: Option<String>,
    pub status: Option<String>,
    pub value: Option<String>,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub interpretation: Option<String>,
    pub abnormal: bool,
    pub severity: Option<String>,
    pub category: Option<String>,
    pub codes: Vec<StoredCode>,
    pub compare: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredCode {
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

/// One resource of a checked file, ready to store (built off the async
/// runtime, in chunks: see [`spawn_preparers`]).
struct PreparedResource {
    resource_type: String,
    fhir_id: String,
    /// The original as stored; emptied once its row is written.
    json: String,
    hash: String,
    fact: Option<PreparedFact>,
    /// References in it to resources not in the file.
    unresolved: usize,
}

struct PreparedFact {
    kind: &'static str,
    merge_key: String,
    label: &'static str,
    stored: SourceFact,
    /// `stored` as the link row keeps it, and its codes as an entry keeps
    /// them: serialised by the workers, not by the one storing.
    stored_json: String,
    codes_json: String,
}

/// May an amended fact take over the entry its resource stated before
/// (`vacated`: that entry's label and kind, if no source states it now)?
/// Only as the same kind of entry with the same privacy: an entry shared on
/// its own, or under its label, must not start showing another kind of fact
/// or one of another label. A general fact keeps the label the entry had.
fn takes_over(vacated: Option<&(String, String)>, f: &PreparedFact) -> bool {
    vacated.is_some_and(|(label, kind)| kind == f.kind && (f.label == "general" || f.label == label))
}

impl PreparedFact {
    /// The entry row this fact makes (a new entry's, or the new content of
    /// one an amended fact takes over).
    fn entry<'a>(&'a self, id: &'a str, disagreement: bool) -> store::NewEntry<'a> {
        store::NewEntry {
            id,
            kind: self.kind,
            merge_key: &self.merge_key,
            text: &self.stored.text,
            // Undated is '' (not NULL), so undated entries sort and page
            // alike on both databases.
            date: Some(self.stored.date.as_deref().unwrap_or_default()),
            status: self.stored.status.as_deref(),
            label: self.label,
            codes: &self.codes_json,
            value: self.stored.value.as_deref(),
            numeric: self.stored.numeric.map(|n| n.to_string()),
            unit: self.stored.unit.as_deref(),
            disagreement: i64::from(disagreement),
        }
    }
}

/// Consecutive prepared resources, `start` being the index of the first.
struct PreparedChunk {
    start: usize,
    resources: Vec<PreparedResource>,
}

/// A resource after its version was decided (and, if new or changed, stored).
struct Placed {
    res: PreparedResource,
    /// The row written by this import; None when the resource was unchanged.
    row_id: Option<String>,
}

enum Checked {
    /// `source`: the organisation's name (as asked for, else as the file
    /// names it) and identifier.
    Ready {
        feed: Box<Feed>,
        refs: RefIndex,
        source: (String, Option<String>),
    },
    Held {
        found_name: Option<String>,
        found_birth_date: Option<String>,
        source_name: Option<String>,
    },
    Refused(String),
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn refused(file: &str, reason: impl Into<String>) -> ImportOutcome {
    ImportOutcome::Refused { file: file.to_string(), reason: reason.into() }
}

/// Step 1, on a low-priority background thread: parse the file and check
/// whose it is; for a file that is the patient's, index its references too.
/// `confirmed`: the patient has looked at a held feed (no NHS Number) and said
/// it is theirs, so a missing number no longer holds it back.
fn check(bytes: &[u8], max_bytes: usize, expected: &kith_types::NhsNumber, source_name: Option<String>, file_name: &str, confirmed: bool) -> Checked {
    let feed: Feed = match parse_feed(bytes, max_bytes) {
        Ok(f) => f,
        Err(e) => return Checked::Refused(describe(&e)),
    };
    match check_identity(&feed, expected) {
        Identity::Matches => {
            let refs = RefIndex::new(&feed);
            let source = feed_source(&feed, source_name.as_deref(), file_name);
            Checked::Ready { feed: Box::new(feed), refs, source }
        }
        Identity::Other { found } => {
            let found = kith_types::NhsNumber::parse(&found).map(|n| n.formatted()).unwrap_or(found);
            Checked::Refused(format!(
                "This file is for NHS Number {found}, but this record is for NHS Number {}. Nothing from it was stored.",
                expected.formatted()
            ))
        }
        Identity::Invalid { value } => Checked::Refused(format!(
            "The file's Patient has NHS Number {value}, which is not a valid NHS Number (the check digit is wrong). Nothing from it was stored."
        )),
        Identity::Missing { .. } if confirmed => {
            let refs = RefIndex::new(&feed);
            let source = feed_source(&feed, source_name.as_deref(), file_name);
            Checked::Ready { feed: Box::new(feed), refs, source }
        }
        Identity::Missing { name, birth_date } => {
            Checked::Held { found_name: name, found_birth_date: birth_date, source_name: source_name.or_else(|| source_organisation(&feed).map(|s| s.name)) }
        }
    }
}

/// The organisation a feed names, else its `meta.source`, else the file.
fn feed_source(feed: &Feed, requested: Option<&str>, file_name: &str) -> (String, Option<String>) {
    let org = source_organisation(feed);
    let name = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| org.as_ref().map(|o| o.name.clone()))
        .unwrap_or_else(|| format!("Unnamed source ({file_name})"));
    (name, org.and_then(|o| o.identifier))
}

/// Step 2, on background threads at normal priority (the open transaction
/// waits for them; see `crate::background`): each resource's stored
/// original, hash and normalised fact, made by one worker per core in chunks
/// of [`store::BULK_ROWS`] and sent on as each chunk is ready, so the
/// database stores the first chunks while the rest are being prepared. A
/// worker stops early if the import is abandoned (the receiver is dropped).
fn spawn_preparers(feed: &Arc<Feed>, refs: &Arc<RefIndex>, kind: SourceKind, by_hand: Option<Label>) -> (mpsc::Receiver<PreparedChunk>, Vec<Background<()>>) {
    let total = feed.resources.len();
    let chunks = total.div_ceil(store::BULK_ROWS);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 8).min(chunks.max(1));
    let (tx, rx) = mpsc::channel(2 * workers);
    // Workers take the next chunk in file order, so chunks arrive roughly in order.
    let next = Arc::new(AtomicUsize::new(0));
    let handles = (0..workers)
        .map(|_| {
            let (feed, refs, tx, next) = (feed.clone(), refs.clone(), tx.clone(), next.clone());
            background::spawn("kith-prepare", Priority::Normal, move || loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    return;
                }
                let start = c * store::BULK_ROWS;
                let end = (start + store::BULK_ROWS).min(total);
                let resources = feed.resources[start..end].iter().map(|r| prepare_resource(&feed, &refs, r, kind, by_hand)).collect();
                if tx.blocking_send(PreparedChunk { start, resources }).is_err() {
                    return;
                }
            })
        })
        .collect();
    (rx, handles)
}

/// `by_hand`: the file is an entry typed in by hand, with the label its
/// author chose (see [`Kith::import_by_hand`]).
fn prepare_resource(feed: &Feed, refs: &RefIndex, res: &kith_fhir::FeedResource, kind: SourceKind, by_hand: Option<Label>) -> PreparedResource {
    // Compact JSON (keys sorted): the stored original, and what the hash that
    // tells a changed resource from a resent one is taken over.
    let json = serde_json::to_string(&res.json).unwrap_or_default();
    let hash = hex(&Sha256::digest(json.as_bytes()));
    let fact = normalise_in(feed, refs, res, kind).map(|f| {
        let stored = SourceFact {
            text: f.text,
            date: f.date,
            status: f.status,
            value: f.value,
            numeric: f.numeric,
            unit: f.unit,
            low: f.low,
            high: f.high,
            interpretation: f.interpretation,
            abnormal: f.abnormal,
            severity: f.severity,
            category: f.category,
            codes: f.codes.into_iter().map(|c| StoredCode { system: c.system, code: c.code, display: c.display }).collect(),
            compare: f.compare,
        };
        PreparedFact {
            kind: f.kind.as_str(),
            merge_key: match by_hand {
                Some(_) => format!("{}|by-hand:{}", f.merge_key, res.id),
                None => f.merge_key,
            },
            label: by_hand.unwrap_or(f.label).as_str(),
            stored_json: serde_json::to_string(&stored).unwrap_or_default(),
            codes_json: serde_json::to_string(&stored.codes).unwrap_or_else(|_| "[]".into()),
            stored,
        }
    });
    PreparedResource { resource_type: res.resource_type.clone(), fhir_id: res.id.clone(), json, hash, fact, unresolved: refs.unresolved_in(&res.json) }
}

fn describe(e: &FeedError) -> String {
    e.to_string()
}

/// SQLite settings for an import's connection, put back afterwards.
///
/// `cache_size = -65536`: 64 MiB of page cache rather than the default
/// 2 MiB. A file writes more pages (rows, and up to four indexes a table)
/// than the default cache holds; SQLite then spills dirty pages to the WAL in
/// the middle of the transaction and writes them again when they change.
/// Durability and checkpointing are unchanged.
const IMPORT_SQLITE_PRAGMAS: &[(&str, i64)] = &[("cache_size", -64 * 1024)];

impl Kith {
    /// Imports one file into the record `access` opens. The file is accepted
    /// or refused whole: on refusal nothing is stored.
    pub async fn import(&self, access: &RecordAccess, req: ImportRequest) -> CoreResult<ImportOutcome> {
        self.import_checked(access, req, None).await
    }

    /// An entry typed in by hand (`crate::own_entry`): its facts get the
    /// label their author chose, and each is an entry of its own, never
    /// merged with another source's (or another hand entry's). So no hand
    /// entry lands in an entry its author cannot see, and no one else's
    /// entry takes its label.
    pub(crate) async fn import_by_hand(&self, access: &RecordAccess, req: ImportRequest, by_hand: ByHand) -> CoreResult<ImportOutcome> {
        let mut started = self.start_import_checked(access, req, None)?;
        started.by_hand = Some(by_hand);
        started.finish().await
    }

    /// `held`: the held feed (`req` is its copy) the patient has confirmed.
    async fn import_checked(&self, access: &RecordAccess, req: ImportRequest, held: Option<String>) -> CoreResult<ImportOutcome> {
        self.start_import_checked(access, req, held)?.finish().await
    }

    /// Starts importing one file: checks who may, then parses and checks it
    /// on a background thread while the caller goes on. `StartedImport::finish`
    /// stores it. Starting the next file before finishing this one overlaps
    /// the next file's parsing with this one's storing (`kith import` with
    /// several files does); files are still stored one at a time, in the
    /// order they are finished, each accepted or refused whole.
    pub fn start_import(&self, access: &RecordAccess, req: ImportRequest) -> CoreResult<StartedImport> {
        self.start_import_checked(access, req, None)
    }

    fn start_import_checked(&self, access: &RecordAccess, req: ImportRequest, held: Option<String>) -> CoreResult<StartedImport> {
        let confirmed = held.is_some();
        require(access, Right::Contribute)?;
        let ImportRequest { file_name, bytes, source_kind, source_name, max_bytes } = req;
        let stage = if bytes.len() > max_bytes {
            Stage::Done(refused(&file_name, FeedError::TooLarge { size: bytes.len(), max: max_bytes }.to_string()))
        } else {
            let bytes = Arc::new(bytes);
            let (b, expected, file) = (bytes.clone(), access.nhs_number().clone(), file_name.clone());
            Stage::Checking {
                task: background::spawn("kith-parse", Priority::Low, move || check(&b, max_bytes, &expected, source_name, &file, confirmed)),
                bytes,
            }
        };
        Ok(StartedImport { kith: self.clone(), access: access.clone(), file: file_name, source_kind, stage, held, by_hand: None })
    }

    /// Step 2 of an import: the checked file is held, refused, or stored.
    async fn finish_import(
        &self,
        access: &RecordAccess,
        file: String,
        source_kind: Option<SourceKind>,
        stage: Stage,
        held: Option<&str>,
        by_hand: Option<ByHand>,
    ) -> CoreResult<ImportOutcome> {
        let (task, bytes) = match stage {
            Stage::Done(outcome) => return Ok(outcome),
            Stage::Checking { task, bytes } => (task, bytes),
        };
        let checked = task.join().await?;
        let (feed, refs, (source_name, identifier)) = match checked {
            Checked::Refused(reason) => return Ok(refused(&file, reason)),
            Checked::Held { found_name, found_birth_date, source_name } => {
                // Empty when none was chosen: the patient may choose one on
                // confirming, and a known source keeps its own.
                let kind = source_kind.map(|k| k.as_str()).unwrap_or("");
                let id = new_id();
                let body = String::from_utf8_lossy(&bytes).into_owned();
                let mut audited = self.audited(access).await?;
                store::insert_held_feed(
                    audited.conn(),
                    access.patient_id(),
                    &id,
                    &file,
                    source_name.as_deref(),
                    kind,
                    found_name.as_deref(),
                    found_birth_date.as_deref(),
                    &body,
                    now_ms(),
                )
                .await?;
                audited.commit(access, Disclosure::new("import", format!("{file}: held until the patient confirms it"))).await?;
                return Ok(ImportOutcome::Held { held_id: id, file, found_name, found_birth_date });
            }
            Checked::Ready { feed, refs, source } => (feed, refs, source),
        };

        // Which source? Hand entries: their author's own. Files: the one of
        // that name. An explicit kind wins; a known source keeps its kind; a
        // new source must be given one.
        let (existing, source_name) = match &by_hand {
            Some(h) => self.hand_source(access.patient_id(), &h.author, source_name).await?,
            None => {
                let existing = store::source_by_name(&self.db.pool, access.patient_id(), &source_name).await?;
                // Names of hand entries' sources are theirs alone: a file
                // under one would pass for someone's hand entries.
                if existing.as_ref().is_some_and(|s| s.hand_author.is_some()) || source_name.starts_with(HAND_SOURCE_NAME) {
                    return Ok(refused(
                        &file,
                        format!("\"{source_name}\" is the source of entries typed into Kith by hand: give the file another source name."),
                    ));
                }
                (existing, source_name)
            }
        };
        let kind = match (source_kind, &existing) {
            (Some(k), _) => k,
            (None, Some(s)) => s.kind.parse().map_err(|e: String| CoreError::Internal(e))?,
            (None, None) => {
                return Ok(refused(
                    &file,
                    format!(
                        "Kith has not had data from {source_name} before: say what kind of organisation it is (GP, hospital, mental health, community, social care, device or patient)."
                    ),
                ))
            }
        };
        let feed: Arc<Feed> = Arc::from(feed);
        let hand_author = by_hand.as_ref().map(|h| h.author.clone());
        let source = NewSource { id: existing.map(|s| s.id), name: source_name, identifier, hand_author };

        let mut conn = self.db.pool.acquire().await?;
        if self.db.backend() != Backend::Sqlite {
            return self.store_import(&mut conn, access, &file, kind, source, feed, refs, bytes, held, by_hand).await;
        }
        // SQLite: settings for this connection while it imports, put back
        // before it returns to the pool (see IMPORT_SQLITE_PRAGMAS).
        let mut restore = Vec::new();
        for &(pragma, value) in IMPORT_SQLITE_PRAGMAS {
            let before: i64 = sqlx::query_scalar(&format!("PRAGMA {pragma}")).fetch_one(&mut *conn).await?;
            sqlx::query(&format!("PRAGMA {pragma} = {value}")).execute(&mut *conn).await?;
            restore.push((pragma, before));
        }
        let outcome = self.store_import(&mut conn, access, &file, kind, source, feed, refs, bytes, held, by_hand).await;
        for (pragma, before) in restore {
            sqlx::query(&format!("PRAGMA {pragma} = {before}")).execute(&mut *conn).await?;
        }
        outcome
    }

    /// Step 3: prepares and stores the file in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn store_import(
        &self,
        conn: &mut AnyConnection,
        access: &RecordAccess,
        file: &str,
        kind: SourceKind,
        src: NewSource,
        feed: Arc<Feed>,
        refs: RefIndex,
        bytes: Arc<Vec<u8>>,
        held: Option<&str>,
        by_hand: Option<ByHand>,
    ) -> CoreResult<ImportOutcome> {
        let backend = self.db.backend();
        let patient = access.patient_id();
        let now = now_ms();
        let total = feed.resources.len();

        // Start preparing at once; the whole-file work runs beside it.
        let (mut chunks, preparers) = spawn_preparers(&feed, &Arc::new(refs), kind, by_hand.as_ref().map(|h| h.label));
        let whole = background::spawn("kith-hash", Priority::Normal, move || (hex(&Sha256::digest(bytes.as_slice())), bytes.len()));

        let mut audited = self.audited_on(conn, access).await?;
        // A confirmed held feed is claimed first: of two confirmations (or a
        // confirmation and a discard) at once, only one goes ahead.
        if let Some(h) = held {
            if store::delete_held_feed(audited.conn(), patient, h).await? == 0 {
                return audited.fail(kith_types::AppError::NotFound).await;
            }
        }
        // A change to a hand entry: still the changer's to make, now (the
        // patient may have made it private since the form was read).
        if let Some(c) = by_hand.as_ref().and_then(|h| h.changing.as_ref()) {
            let allowed = crate::own_entry::hand_resource(audited.conn(), access, &c.entry_id).await?;
            if !allowed.is_some_and(|found| if c.words { found.can_change } else { found.can_remove }) {
                return audited.fail(kith_types::AppError::NotFound).await;
            }
        }
        let tx = audited.conn();
        let (source_id, known_source) = match src.id {
            Some(id) => {
                // A hand entries' source takes its author's name as it is now.
                store::update_source(&mut *tx, patient, &id, kind.as_str(), &src.name).await?;
                (id, true)
            }
            None => {
                let id = new_id();
                store::insert_source(&mut *tx, patient, &id, &src.name, kind.as_str(), src.identifier.as_deref(), src.hand_author.as_deref(), now).await?;
                (id, false)
            }
        };
        let source = source_id.as_str();
        let import_id = new_id();

        // What this source sent before: (type, id) -> (row id, version, hash).
        // A source first seen in this import has sent nothing.
        let current: HashMap<(String, String), (String, i64, String)> = if known_source {
            store::current_resources(&mut *tx, patient, source).await?.into_iter().map(|r| ((r.resource_type, r.fhir_id), (r.id, r.version, r.hash))).collect()
        } else {
            HashMap::new()
        };

        // Versions: each chunk is decided and written as it arrives.
        let (mut new, mut changed, mut unchanged) = (0, 0, 0);
        let mut superseded: Vec<&str> = Vec::new();
        let mut changed_keys: Vec<(String, String)> = Vec::new();
        let mut placed: Vec<Option<Placed>> = Vec::with_capacity(total);
        placed.resize_with(total, || None);
        while let Some(chunk) = chunks.recv().await {
            let mut row_ids: Vec<Option<String>> = Vec::with_capacity(chunk.resources.len());
            let mut versions: Vec<i64> = Vec::with_capacity(chunk.resources.len());
            for r in &chunk.resources {
                let before = if current.is_empty() { None } else { current.get(&(r.resource_type.clone(), r.fhir_id.clone())) };
                let version = match before {
                    Some((_, _, hash)) if *hash == r.hash => {
                        unchanged += 1;
                        row_ids.push(None);
                        versions.push(0);
                        continue;
                    }
                    Some((old_id, version, _)) => {
                        changed += 1;
                        superseded.push(old_id);
                        changed_keys.push((r.resource_type.clone(), r.fhir_id.clone()));
                        version + 1
                    }
                    None => {
                        new += 1;
                        1
                    }
                };
                row_ids.push(Some(new_id()));
                versions.push(version);
            }
            let rows: Vec<store::NewResource> = chunk
                .resources
                .iter()
                .zip(&row_ids)
                .zip(&versions)
                .filter_map(|((r, id), &version)| {
                    Some(store::NewResource { id: id.as_deref()?, resource_type: &r.resource_type, fhir_id: &r.fhir_id, version, hash: &r.hash, json: &r.json })
                })
                .collect();
            store::bulk_insert_resources(tx, backend, patient, source, &import_id, now, &rows).await?;
            drop(rows);
            for (i, (mut res, row_id)) in chunk.resources.into_iter().zip(row_ids).enumerate() {
                res.json = String::new();
                placed[chunk.start + i] = Some(Placed { res, row_id });
            }
        }
        // Every worker has finished (a panic in one surfaces here).
        for p in preparers {
            p.join().await?;
        }
        let (sha256, byte_size) = whole.join().await?;
        // An entry typed in by hand is named in the import's log row (below).
        let by_hand_resources: Vec<(String, String)> =
            if by_hand.is_some() { feed.resources.iter().map(|r| (r.resource_type.clone(), r.id.clone())).collect() } else { Vec::new() };
        // Freeing the parsed feed (a large tree) need not hold up the rest.
        background::spawn("kith-free", Priority::Low, move || drop(feed));
        let placed: Vec<Placed> = placed.into_iter().collect::<Option<_>>().ok_or_else(|| CoreError::Internal("import: a prepared chunk is missing".into()))?;
        let unresolved: usize = placed.iter().map(|p| p.res.unresolved).sum();

        store::bulk_mark_superseded(tx, backend, patient, &superseded).await?;

        // Entries that existed before this import and lost or gained a link:
        // whether their sources disagree is recomputed from the database below.
        let mut touched: HashSet<String> = HashSet::new();
        // A changed resource's link goes; it is made again below if the new
        // version states a fact. (Only resources this source sent before can
        // have links from it, so new ones need no unlinking.)
        let mut was_linked: HashMap<(String, String), String> = HashMap::new();
        // Entries no source states once the changed links are gone, with
        // their labels and kinds: an amended fact of the same kind and
        // privacy takes one over rather than leave it (and the comments on
        // it) behind.
        let mut vacated: HashMap<String, (String, String)> = HashMap::new();
        if !changed_keys.is_empty() {
            let keys: Vec<(&str, &str)> = changed_keys.iter().map(|(t, id)| (t.as_str(), id.as_str())).collect();
            for (t, id, entry) in store::bulk_unlink(tx, backend, patient, source, &keys).await? {
                touched.insert(entry.clone());
                was_linked.insert((t, id), entry);
            }
            let ids: Vec<&str> = touched.iter().map(String::as_str).collect();
            vacated.extend(store::bulk_unstated_entries(tx, backend, patient, &ids).await?.into_iter().map(|(id, label, kind)| (id, (label, kind))));
        }

        // Merge: find or make the entry for each stored fact's key.
        let linked: Vec<(&PreparedResource, &PreparedFact, &str)> =
            placed.iter().filter_map(|p| Some((&p.res, p.res.fact.as_ref()?, p.row_id.as_deref()?))).collect();
        if !linked.is_empty() {
            let mut keys: Vec<&str> = linked.iter().map(|(_, f, _)| f.merge_key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            let existing: HashMap<String, String> = store::bulk_entries_by_keys(tx, backend, patient, &keys).await?.into_iter().collect();
            drop(keys);

            // Entries new in this import: every fact they have is in this file,
            // so whether those disagree is known here. The first fact (in file
            // order) gives the entry its text, date and codes.
            let mut new_entry_ids: Vec<String> = Vec::new();
            let mut new_entry_of: HashMap<&str, usize> = HashMap::new();
            let mut new_entry_facts: Vec<Vec<&SourceFact>> = Vec::new();
            let mut new_entry_first: Vec<&PreparedFact> = Vec::new();
            // Vacated entries taken over by an amended fact: key -> entry.
            let mut rekeyed: HashMap<&str, &str> = HashMap::new();
            // (entry, its new fact, the label it keeps: None, the rule of
            // `rekey_entry`).
            let mut rekeys: Vec<(&str, &PreparedFact, Option<String>)> = Vec::new();
            // Per linked resource: Ok(existing entry id) or Err(new entry index).
            let mut link_targets: Vec<Result<&str, usize>> = Vec::with_capacity(linked.len());
            for (r, f, _) in &linked {
                let before = was_linked.get(&(r.resource_type.clone(), r.fhir_id.clone()));
                let target = match existing.get(&f.merge_key) {
                    Some(id) => {
                        touched.insert(id.clone());
                        // The entry this resource stated before, and no other
                        // source states now: it shows the amended fact (an
                        // allergy now resolved, or withdrawn as made in error).
                        // Its key is unchanged, so it stays the same kind of
                        // entry, and it keeps its label, as an entry does when
                        // another source's fact joins it (the patient may have
                        // chosen it). (Taken from `vacated`, so only the first
                        // such fact does.)
                        if before == Some(id) {
                            if let Some((label, _)) = vacated.remove(id) {
                                rekeys.push((id.as_str(), f, Some(label)));
                            }
                        }
                        Ok(id.as_str())
                    }
                    None if rekeyed.contains_key(f.merge_key.as_str()) => Ok(rekeyed[f.merge_key.as_str()]),
                    None if !new_entry_of.contains_key(f.merge_key.as_str()) && before.is_some_and(|b| takes_over(vacated.get(b), f)) => {
                        vacated.remove(before.expect("checked"));
                        let id = before.expect("checked").as_str();
                        rekeyed.insert(&f.merge_key, id);
                        rekeys.push((id, f, None));
                        Ok(id)
                    }
                    None => {
                        let i = *new_entry_of.entry(f.merge_key.as_str()).or_insert_with(|| {
                            new_entry_ids.push(new_id());
                            new_entry_facts.push(Vec::new());
                            new_entry_first.push(f);
                            new_entry_ids.len() - 1
                        });
                        new_entry_facts[i].push(&f.stored);
                        Err(i)
                    }
                };
                link_targets.push(target);
            }
            let new_entries: Vec<store::NewEntry> = new_entry_first
                .iter()
                .zip(&new_entry_ids)
                .zip(&new_entry_facts)
                .map(|((f, id), facts)| f.entry(id, disagree_any(facts.iter().copied())))
                .collect();
            let mut links: Vec<store::NewLink> = Vec::with_capacity(linked.len());
            for ((r, f, row_id), target) in linked.iter().zip(&link_targets) {
                links.push(store::NewLink {
                    entry_id: match target {
                        Ok(id) => id,
                        Err(i) => &new_entry_ids[*i],
                    },
                    resource_type: &r.resource_type,
                    fhir_id: &r.fhir_id,
                    resource_id: row_id,
                    fact: &f.stored_json,
                });
            }
            store::bulk_insert_entries(tx, backend, patient, now, &new_entries).await?;
            for (id, f, keep_label) in &rekeys {
                // Whether its sources disagree is recomputed below (it is touched).
                let mut entry = f.entry(id, false);
                if let Some(label) = keep_label {
                    entry.label = label;
                }
                store::rekey_entry(tx, patient, &entry, now).await?;
            }
            store::bulk_insert_links(tx, backend, patient, source, &links).await?;
            // A vacated entry whose amended fact joined another entry hands it
            // its comments (and a stricter label) before it goes.
            for ((r, _, _), target) in linked.iter().zip(&link_targets) {
                let Some(before) = was_linked.get(&(r.resource_type.clone(), r.fhir_id.clone())) else { continue };
                let Some((label, _)) = vacated.remove(before) else { continue };
                let to = match target {
                    Ok(id) => *id,
                    Err(i) => new_entry_ids[*i].as_str(),
                };
                store::carry_over_entry(tx, patient, before, &label, to).await?;
            }
        }

        // Each touched entry: drop it if no source states it any more, else
        // recompute whether its sources disagree.
        if !touched.is_empty() {
            let ids: Vec<&str> = touched.iter().map(String::as_str).collect();
            let facts = store::bulk_link_facts(tx, backend, patient, &ids).await?;
            let mut by_entry: BTreeMap<&str, Vec<SourceFact>> = ids.iter().map(|id| (*id, Vec::new())).collect();
            for (entry_id, fact) in &facts {
                let f: SourceFact = serde_json::from_str(fact).map_err(|e| CoreError::Internal(e.to_string()))?;
                if let Some(v) = by_entry.get_mut(entry_id.as_str()) {
                    v.push(f);
                }
            }
            let mut orphans = Vec::new();
            let mut flags = Vec::new();
            for (id, facts) in by_entry {
                if facts.is_empty() {
                    orphans.push(id);
                } else {
                    flags.push((id, disagree(&facts)));
                }
            }
            store::bulk_delete_entries(tx, backend, patient, &orphans).await?;
            store::bulk_set_disagreements(tx, backend, patient, now, &flags).await?;
        }

        store::insert_import(
            &mut *tx,
            patient,
            &import_id,
            source,
            file,
            byte_size as i64,
            &sha256,
            new as i64,
            changed as i64,
            unchanged as i64,
            access.user_id(),
            now,
        )
        .await?;
        let what = format!("{file} from {} ({new} new, {changed} changed, {unchanged} unchanged)", src.name);
        let mut disclosure = Disclosure::new("import", what);
        if let Some(ByHand { label, .. }) = by_hand {
            // A hand entry is one import each: named, so that someone who
            // may not see it (a private one, for a carer) is not shown that
            // it was added either.
            for (resource_type, fhir_id) in &by_hand_resources {
                if let Some(entry) = store::entry_for_resource(audited.conn(), patient, resource_type, fhir_id).await? {
                    disclosure = disclosure.about(&entry);
                }
            }
            disclosure.labels.push(label.as_str().to_string());
        }
        audited.commit(access, disclosure).await?;

        Ok(ImportOutcome::Accepted(ImportSummary {
            file: file.to_string(),
            source: src.name,
            source_kind: kind.as_str().to_string(),
            resources: total,
            new,
            changed,
            unchanged,
            unresolved_references: unresolved,
        }))
    }
}

/// A file being imported: parsed and checked in the background since
/// `Kith::start_import`; `finish` stores it (or holds or refuses it).
pub struct StartedImport {
    kith: Kith,
    access: RecordAccess,
    file: String,
    source_kind: Option<SourceKind>,
    stage: Stage,
    /// A confirmed held feed: it leaves the waiting list in the import's
    /// own transaction (and the import fails if it already has).
    held: Option<String>,
    by_hand: Option<ByHand>,
}

enum Stage {
    /// Refused before parsing (too large).
    Done(ImportOutcome),
    Checking {
        task: Background<Checked>,
        bytes: Arc<Vec<u8>>,
    },
}

impl StartedImport {
    /// Stores the file in one transaction (after the checks finish), as
    /// `Kith::import` does.
    pub async fn finish(self) -> CoreResult<ImportOutcome> {
        let StartedImport { kith, access, file, source_kind, stage, held, by_hand } = self;
        kith.finish_import(&access, file, source_kind, stage, held.as_deref(), by_hand).await
    }
}

/// How every hand entries' source's name begins ("Entered by Margaret Jones").
pub(crate) const HAND_SOURCE_NAME: &str = "Entered by ";

/// An entry typed in by hand (see [`Kith::import_by_hand`]): the label its
/// author chose, who they are (their user id), and, for a change to an
/// entry already there, that entry, checked again in the import's own
/// transaction.
pub(crate) struct ByHand {
    pub label: Label,
    pub author: String,
    pub changing: Option<Changing>,
}

/// A change to a hand entry: which, and whether its words change (only
/// its author may) or it is only removed (the patient may too).
pub(crate) struct Changing {
    pub entry_id: String,
    pub words: bool,
}

impl Kith {
    /// The source of one person's hand entries in a record, found by their
    /// user id (so renaming an account keeps it, and two people of one name
    /// have one each), and the name it should have now: `wanted`, or with a
    /// number after it when another source already has that name.
    async fn hand_source(&self, patient: &str, author: &str, wanted: String) -> CoreResult<(Option<store::SourceRow>, String)> {
        let mine = store::source_by_hand_author(&self.db.pool, patient, author).await?;
        let mut name = wanted.clone();
        for n in 2.. {
            match store::source_by_name(&self.db.pool, patient, &name).await? {
                Some(other) if mine.as_ref().is_none_or(|m| m.id != other.id) => name = format!("{wanted} ({n})"),
                _ => break,
            }
        }
        Ok((mine, name))
    }
}

/// The source a file is stored under: known (`id`) or new.
struct NewSource {
    id: Option<String>,
    name: String,
    identifier: Option<String>,
    hand_author: Option<String>,
}

/// Do the sources of one entry disagree? Only fields two facts both have
/// count: a field one source leaves out is missing, not contradicted.
pub fn disagree(facts: &[SourceFact]) -> bool {
    disagree_any(facts.iter())
}

fn disagree_any<'a>(facts: impl Iterator<Item = &'a SourceFact>) -> bool {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for f in facts {
        for (field, value) in &f.compare {
            match seen.get(field.as_str()) {
                Some(v) if *v != value.as_str() => return true,
                Some(_) => {}
                None => {
                    seen.insert(field, value);
                }
            }
        }
    }
    false
}

impl Kith {
    /// Rows per record table for this patient (tests use it to prove that a
    /// refused file left the database unchanged).
    pub async fn record_row_counts(&self, access: &RecordAccess) -> CoreResult<Vec<(String, i64)>> {
        let mut conn = self.db.pool.acquire().await?;
        Ok(store::row_counts(&mut conn, access.patient_id()).await?)
    }
}

impl Kith {
    /// The patient confirms a held feed is theirs: it is imported (whole, or
    /// refused whole) and leaves the waiting list. `source_kind`, when given,
    /// says what its organisation is (else the kind chosen on upload, if any);
    /// a refused file stays waiting, so they can choose and try again.
    pub async fn confirm_held(&self, access: &RecordAccess, held_id: &str, source_kind: Option<SourceKind>, max_bytes: usize) -> CoreResult<ImportOutcome> {
        require(access, Right::Manage)?;
        crate::policy::require_whole(access)?;
        let held = store::held_feed(&self.db.pool, access.patient_id(), held_id).await?.ok_or(kith_types::AppError::NotFound)?;
        let req = ImportRequest {
            file_name: held.file_name,
            bytes: held.body.into_bytes(),
            source_kind: source_kind.or(held.source_kind.parse().ok()),
            source_name: held.source_name,
            max_bytes,
        };
        // Accepted, it leaves the waiting list in the import's transaction;
        // refused, it stays.
        self.import_checked(access, req, Some(held_id.to_string())).await
    }

    /// The patient says a held feed is not theirs: it is discarded.
    pub async fn reject_held(&self, access: &RecordAccess, held_id: &str) -> CoreResult<()> {
        require(access, Right::Manage)?;
        crate::policy::require_whole(access)?;
        let mut audited = self.audited(access).await?;
        if store::delete_held_feed(audited.conn(), access.patient_id(), held_id).await? == 0 {
            return audited.fail(kith_types::AppError::NotFound).await;
        }
        audited.commit(access, Disclosure::new("update", "discarded a held file that was not the patient's")).await?;
        Ok(())
    }
}
