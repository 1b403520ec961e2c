//! Importing FHIR feeds into a record: all-or-nothing per file, versioned
//! originals, and one merged entry per clinical fact.

use std::collections::{BTreeMap, HashMap, HashSet};

use kith_fhir::{check_identity, normalise_in, parse_feed, source_organisation, Feed, FeedError, Identity, RefIndex, SourceKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::policy::{require, RecordAccess, Right};
use crate::store;
use crate::{new_id, now_ms, CoreError, CoreResult, Kith};

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
    Held { held_id: String, file: String, found_name: Option<String>, found_birth_date: Option<String> },
    /// Nothing from the file was stored.
    Refused { file: String, reason: String },
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

/// A parsed, checked file, ready to store (built off the async runtime).
struct Prepared {
    feed_resources: Vec<PreparedResource>,
    source_name: String,
    source_identifier: Option<String>,
    sha256: String,
    byte_size: usize,
    unresolved: usize,
}

struct PreparedResource {
    resource_type: String,
    fhir_id: String,
    json: String,
    hash: String,
    fact: Option<PreparedFact>,
}

struct PreparedFact {
    kind: &'static str,
    merge_key: String,
    label: &'static str,
    stored: SourceFact,
}

enum Checked {
    Ready(Box<Feed>),
    Held { found_name: Option<String>, found_birth_date: Option<String>, source_name: Option<String> },
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

/// Step 1, on the blocking pool: parse the file and check whose it is.
fn check(bytes: &[u8], max_bytes: usize, expected: &kith_types::NhsNumber, source_name: Option<String>) -> Checked {
    let feed: Feed = match parse_feed(bytes, max_bytes) {
        Ok(f) => f,
        Err(e) => return Checked::Refused(describe(&e)),
    };
    match check_identity(&feed, expected) {
        Identity::Matches => Checked::Ready(Box::new(feed)),
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
        Identity::Missing { name, birth_date } => Checked::Held {
            found_name: name,
            found_birth_date: birth_date,
            source_name: source_name.or_else(|| source_organisation(&feed).map(|s| s.name)),
        },
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

/// Step 2, on the blocking pool: originals, hashes and normalised facts.
/// Resources are independent once the feed's references are indexed, so
/// large feeds are split across the machine's cores.
fn prepare(feed: &Feed, bytes: &[u8], kind: SourceKind, source_name: String, source_identifier: Option<String>) -> Prepared {
    let refs = RefIndex::new(feed);
    let resources = &feed.resources;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let (feed_resources, unresolved, sha256) = if threads > 1 && resources.len() >= 2 * PARALLEL_MIN {
        let per = resources.len().div_ceil(threads).max(PARALLEL_MIN);
        std::thread::scope(|s| {
            let workers: Vec<_> = resources
                .chunks(per)
                .map(|chunk| s.spawn(|| chunk.iter().map(|res| prepare_resource(feed, &refs, res, kind)).collect::<Vec<_>>()))
                .collect();
            // This thread's share: the whole-file work.
            let unresolved = kith_fhir::unresolved(feed).len();
            let sha256 = hex(&Sha256::digest(bytes));
            let mut out = Vec::with_capacity(resources.len());
            for w in workers {
                // A panic in a worker is re-raised here, as if it had happened
                // on this thread (spawn_blocking turns it into an error).
                out.extend(w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            (out, unresolved, sha256)
        })
    } else {
        let out = resources.iter().map(|res| prepare_resource(feed, &refs, res, kind)).collect();
        (out, kith_fhir::unresolved(feed).len(), hex(&Sha256::digest(bytes)))
    };
    Prepared { feed_resources, source_name, source_identifier, sha256, byte_size: bytes.len(), unresolved }
}

/// Below this many resources a feed is prepared on one thread.
const PARALLEL_MIN: usize = 256;

fn prepare_resource(feed: &Feed, refs: &RefIndex, res: &kith_fhir::FeedResource, kind: SourceKind) -> PreparedResource {
    // Compact JSON with sorted keys: the stored original and what its hash
    // (which tells a changed resource from a resent one) is taken over.
    let json = serde_json::to_string(&res.json).unwrap_or_default();
    let hash = hex(&Sha256::digest(json.as_bytes()));
    let fact = normalise_in(feed, refs, res, kind).map(|f| PreparedFact {
        kind: f.kind.as_str(),
        merge_key: f.merge_key,
        label: f.label.as_str(),
        stored: SourceFact {
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
        },
    });
    PreparedResource { resource_type: res.resource_type.clone(), fhir_id: res.id.clone(), json, hash, fact }
}

fn describe(e: &FeedError) -> String {
    e.to_string()
}

impl Kith {
    /// Imports one file into the record `access` opens. The file is accepted
    /// or refused whole: on refusal nothing is stored.
    pub async fn import(&self, access: &RecordAccess, req: ImportRequest) -> CoreResult<ImportOutcome> {
        require(access, Right::Contribute)?;
        let file = req.file_name.clone();
        if req.bytes.len() > req.max_bytes {
            return Ok(refused(&file, FeedError::TooLarge { size: req.bytes.len(), max: req.max_bytes }.to_string()));
        }
        let bytes = std::sync::Arc::new(req.bytes);
        let expected = access.nhs_number().clone();
        let (b, max, name) = (bytes.clone(), req.max_bytes, req.source_name.clone());
        let __c = std::time::Instant::now();
        let checked = tokio::task::spawn_blocking(move || check(&b, max, &expected, name))
            .await
            .map_err(|e| CoreError::Internal(format!("import task failed: {e}")))?;
        if std::env::var("KITH_IMPORT_TIMING").is_ok() { eprintln!("T {:<20} {:>8.1}", "check", __c.elapsed().as_secs_f64()*1000.0); }
        let feed = match checked {
            Checked::Refused(reason) => return Ok(refused(&file, reason)),
            Checked::Held { found_name, found_birth_date, source_name } => {
                let kind = req.source_kind.map(|k| k.as_str()).unwrap_or("hospital");
                let id = new_id();
                let body = String::from_utf8_lossy(&bytes).into_owned();
                store::insert_held_feed(&self.db.pool, access.patient_id(), &id, &file, source_name.as_deref(), kind, found_name.as_deref(), found_birth_date.as_deref(), &body, now_ms()).await?;
                return Ok(ImportOutcome::Held { held_id: id, file, found_name, found_birth_date });
            }
            Checked::Ready(feed) => feed,
        };

        // Which source? An explicit kind wins; a known source keeps its kind;
        // a new source must be given one.
        let (source_name, identifier) = feed_source(&feed, req.source_name.as_deref(), &file);
        let existing = store::source_by_name(&self.db.pool, access.patient_id(), &source_name).await?;
        let kind = match (req.source_kind, &existing) {
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
        let __p = std::time::Instant::now();
        let (prepared, feed) = tokio::task::spawn_blocking(move || (prepare(&feed, &bytes, kind, source_name, identifier), feed))
            .await
            .map_err(|e| CoreError::Internal(format!("import task failed: {e}")))?;
        if std::env::var("KITH_IMPORT_TIMING").is_ok() { eprintln!("T {:<20} {:>8.1}", "prepare", __p.elapsed().as_secs_f64()*1000.0); }
        // Freeing the parsed feed (a large tree) need not hold up storing it.
        tokio::task::spawn_blocking(move || drop(feed));
        self.store_import(access, &file, kind, existing.map(|s| s.id), prepared).await
    }

    async fn store_import(&self, access: &RecordAccess, file: &str, kind: SourceKind, source_id: Option<String>, p: Prepared) -> CoreResult<ImportOutcome> {
        let backend = self.db.backend();
        let patient = access.patient_id();
        let now = now_ms();
        let __t = std::time::Instant::now();
        let __on = std::env::var("KITH_IMPORT_TIMING").is_ok();
        let mut __last = 0.0f64;
        macro_rules! lap { ($n:expr) => { if __on { let e = __t.elapsed().as_secs_f64()*1000.0; eprintln!("T {:<20} {:>8.1}", $n, e - __last); __last = e; } } }
        let mut tx = self.db.pool.begin().await?;

        let (source_id, known_source) = match source_id {
            Some(id) => {
                store::update_source_kind(&mut *tx, patient, &id, kind.as_str()).await?;
                (id, true)
            }
            None => {
                let id = new_id();
                store::insert_source(&mut *tx, patient, &id, &p.source_name, kind.as_str(), p.source_identifier.as_deref(), now).await?;
                (id, false)
            }
        };
        let source = source_id.as_str();
        let import_id = new_id();

        // What this source sent before: (type, id) -> (row id, version, hash).
        // A source first seen in this import has sent nothing.
        lap!("begin+source");
        let current: HashMap<(String, String), (String, i64, String)> = if known_source {
            store::current_resources(&mut *tx, patient, source)
                .await?
                .into_iter()
                .map(|r| ((r.resource_type, r.fhir_id), (r.id, r.version, r.hash)))
                .collect()
        } else {
            HashMap::new()
        };

        let (mut new, mut changed, mut unchanged) = (0, 0, 0);
        // Row ids of the versions this import stores, by resource index.
        let mut row_ids: Vec<Option<String>> = Vec::with_capacity(p.feed_resources.len());
        let mut versions: Vec<i64> = Vec::with_capacity(p.feed_resources.len());
        let mut superseded: Vec<&str> = Vec::new();
        let mut changed_keys: Vec<(&str, &str)> = Vec::new();
        for r in &p.feed_resources {
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
                    changed_keys.push((&r.resource_type, &r.fhir_id));
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
        let rows: Vec<store::NewResource> = p
            .feed_resources
            .iter()
            .zip(&row_ids)
            .zip(&versions)
            .filter_map(|((r, id), &version)| {
                Some(store::NewResource { id: id.as_deref()?, resource_type: &r.resource_type, fhir_id: &r.fhir_id, version, hash: &r.hash, json: &r.json })
            })
            .collect();

        lap!("current+classify");
        store::bulk_mark_superseded(&mut tx, backend, patient, &superseded).await?;
        store::bulk_insert_resources(&mut tx, backend, patient, source, &import_id, now, &rows).await?;
        lap!("insert_resources");
        drop(rows);

        // Entries that existed before this import and lost or gained a link:
        // whether their sources disagree is recomputed from the database below.
        let mut touched: HashSet<String> = HashSet::new();
        // A changed resource's link goes; it is made again below if the new
        // version states a fact. (Only resources this source sent before can
        // have links from it, so new ones need no unlinking.)
        if !changed_keys.is_empty() {
            touched.extend(store::bulk_unlink(&mut tx, backend, patient, source, &changed_keys).await?);
        }

        // Merge: find or make the entry for each stored fact's key.
        let linked: Vec<(&PreparedResource, &str)> = p
            .feed_resources
            .iter()
            .zip(&row_ids)
            .filter_map(|(r, id)| if r.fact.is_some() { Some((r, id.as_deref()?)) } else { None })
            .collect();
        if !linked.is_empty() {
            let mut keys: Vec<&str> = linked.iter().filter_map(|(r, _)| r.fact.as_ref().map(|f| f.merge_key.as_str())).collect();
            keys.sort_unstable();
            keys.dedup();
            let existing: HashMap<String, String> = store::bulk_entries_by_keys(&mut tx, backend, patient, &keys).await?.into_iter().collect();
            drop(keys);

            // Entries new in this import: every source fact they have is here.
            let mut new_entry_ids: Vec<String> = Vec::new();
            let mut new_entry_of: HashMap<&str, usize> = HashMap::new();
            let mut new_entry_facts: Vec<Vec<&SourceFact>> = Vec::new();
            let mut new_entry_first: Vec<&PreparedFact> = Vec::new();
            // Per linked resource: Ok(existing entry id) or Err(new entry index).
            let mut link_targets: Vec<Result<&str, usize>> = Vec::with_capacity(linked.len());
            for (r, _) in &linked {
                let f = r.fact.as_ref().expect("only facts are linked");
                let target = match existing.get(&f.merge_key) {
                    Some(id) => {
                        touched.insert(id.clone());
                        Ok(id.as_str())
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
            lap!("entries_by_keys+link");
            let new_entries: Vec<store::NewEntry> = new_entry_first
                .iter()
                .zip(&new_entry_ids)
                .zip(&new_entry_facts)
                .map(|((f, id), facts)| store::NewEntry {
                    id,
                    kind: f.kind,
                    merge_key: &f.merge_key,
                    text: &f.stored.text,
                    date: f.stored.date.as_deref(),
                    status: f.stored.status.as_deref(),
                    label: f.label,
                    codes: serde_json::to_string(&f.stored.codes).unwrap_or_else(|_| "[]".into()),
                    value: f.stored.value.as_deref(),
                    numeric: f.stored.numeric.map(|n| n.to_string()),
                    unit: f.stored.unit.as_deref(),
                    disagreement: i64::from(disagree_any(facts.iter().copied())),
                })
                .collect();
            let mut links: Vec<store::NewLink> = Vec::with_capacity(linked.len());
            for ((r, row_id), target) in linked.iter().zip(&link_targets) {
                let f = r.fact.as_ref().expect("only facts are linked");
                links.push(store::NewLink {
                    entry_id: match target {
                        Ok(id) => id,
                        Err(i) => &new_entry_ids[*i],
                    },
                    resource_type: &r.resource_type,
                    fhir_id: &r.fhir_id,
                    resource_id: row_id,
                    fact: serde_json::to_string(&f.stored).map_err(|e| CoreError::Internal(e.to_string()))?,
                });
            }
            store::bulk_insert_entries(&mut tx, backend, patient, now, &new_entries).await?;
            lap!("insert_entries");
            store::bulk_insert_links(&mut tx, backend, patient, source, &links).await?;
        }

        lap!("insert_links");
        // Each touched entry: drop it if no source states it any more, else
        // recompute whether its sources disagree.
        if !touched.is_empty() {
            let ids: Vec<&str> = touched.iter().map(String::as_str).collect();
            let facts = store::bulk_link_facts(&mut tx, backend, patient, &ids).await?;
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
            store::bulk_delete_entries(&mut tx, backend, patient, &orphans).await?;
            store::bulk_set_disagreements(&mut tx, backend, patient, now, &flags).await?;
        }

        store::insert_import(&mut *tx, patient, &import_id, source, file, p.byte_size as i64, &p.sha256, new as i64, changed as i64, unchanged as i64, access.user_id(), now).await?;
        lap!("touched+import");
        tx.commit().await?;
        lap!("commit");

        Ok(ImportOutcome::Accepted(ImportSummary {
            file: file.to_string(),
            source: p.source_name,
            source_kind: kind.as_str().to_string(),
            resources: p.feed_resources.len(),
            new,
            changed,
            unchanged,
            unresolved_references: p.unresolved,
        }))
    }
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
