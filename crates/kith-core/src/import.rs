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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
fn prepare(feed: &Feed, bytes: &[u8], kind: SourceKind, source_name: String, source_identifier: Option<String>) -> Prepared {
    let refs = RefIndex::new(feed);
    let unresolved = kith_fhir::unresolved(feed).len();
    let mut out = Vec::with_capacity(feed.resources.len());
    for res in &feed.resources {
        let json = serde_json::to_string(&res.json).unwrap_or_default();
        let hash = hex(&Sha256::digest(json.as_bytes()));
        let fact = normalise_in(feed, &refs, res, kind).map(|f| PreparedFact {
            kind: f.kind.as_str(),
            merge_key: f.merge_key.clone(),
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
        out.push(PreparedResource { resource_type: res.resource_type.clone(), fhir_id: res.id.clone(), json, hash, fact });
    }
    Prepared {
        feed_resources: out,
        source_name,
        source_identifier,
        sha256: hex(&Sha256::digest(bytes)),
        byte_size: bytes.len(),
        unresolved,
    }
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
        let checked = tokio::task::spawn_blocking(move || check(&b, max, &expected, name))
            .await
            .map_err(|e| CoreError::Internal(format!("import task failed: {e}")))?;
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
        let prepared = tokio::task::spawn_blocking(move || prepare(&feed, &bytes, kind, source_name, identifier))
            .await
            .map_err(|e| CoreError::Internal(format!("import task failed: {e}")))?;
        self.store_import(access, &file, kind, existing.map(|s| s.id), prepared).await
    }

    async fn store_import(&self, access: &RecordAccess, file: &str, kind: SourceKind, source_id: Option<String>, p: Prepared) -> CoreResult<ImportOutcome> {
        let patient = access.patient_id();
        let now = now_ms();
        let mut tx = self.db.pool.begin().await?;

        let source_id = match source_id {
            Some(id) => {
                store::update_source_kind(&mut *tx, patient, &id, kind.as_str()).await?;
                id
            }
            None => {
                let id = new_id();
                store::insert_source(&mut *tx, patient, &id, &p.source_name, kind.as_str(), p.source_identifier.as_deref(), now).await?;
                id
            }
        };
        let import_id = new_id();

        // What this source sent before: (type, id) -> (row id, version, hash).
        let current: HashMap<(String, String), (String, i64, String)> = store::current_resources(&mut *tx, patient, &source_id)
            .await?
            .into_iter()
            .map(|r| ((r.resource_type, r.fhir_id), (r.id, r.version, r.hash)))
            .collect();

        let (mut new, mut changed, mut unchanged) = (0, 0, 0);
        let mut superseded: Vec<String> = Vec::new();
        let mut rows: Vec<store::ResourceRow> = Vec::new();
        // Facts to link, for new and changed resources only.
        let mut to_link: Vec<(usize, String)> = Vec::new();
        for (i, r) in p.feed_resources.iter().enumerate() {
            let key = (r.resource_type.clone(), r.fhir_id.clone());
            let version = match current.get(&key) {
                Some((_, _, hash)) if *hash == r.hash => {
                    unchanged += 1;
                    continue;
                }
                Some((old_id, version, _)) => {
                    changed += 1;
                    superseded.push(old_id.clone());
                    version + 1
                }
                None => {
                    new += 1;
                    1
                }
            };
            let row_id = new_id();
            if r.fact.is_some() {
                to_link.push((i, row_id.clone()));
            }
            rows.push(store::ResourceRow {
                id: row_id,
                source_id: source_id.clone(),
                resource_type: r.resource_type.clone(),
                fhir_id: r.fhir_id.clone(),
                version,
                hash: r.hash.clone(),
                json: r.json.clone(),
            });
        }

        store::mark_superseded(&mut *tx, patient, &superseded).await?;
        store::insert_resources(&mut *tx, patient, &import_id, now, &rows).await?;

        // Merge: find or make the entry for each fact's key.
        let mut touched: HashSet<String> = HashSet::new();
        if !to_link.is_empty() {
            let keys: Vec<String> = to_link.iter().filter_map(|(i, _)| p.feed_resources[*i].fact.as_ref().map(|f| f.merge_key.clone())).collect();
            let mut entry_ids: HashMap<String, String> = store::entries_by_keys(&mut *tx, patient, &keys).await?.into_iter().collect();
            // Links of changed resources move: drop them, remembering their entries.
            let relinked: Vec<(String, String)> = to_link
                .iter()
                .map(|(i, _)| (p.feed_resources[*i].resource_type.clone(), p.feed_resources[*i].fhir_id.clone()))
                .collect();
            for e in store::unlink_resources(&mut *tx, patient, &source_id, &relinked).await? {
                touched.insert(e);
            }
            let mut new_entries: Vec<store::EntryRow> = Vec::new();
            let mut links: Vec<store::LinkRow> = Vec::new();
            for (i, row_id) in &to_link {
                let r = &p.feed_resources[*i];
                let f = r.fact.as_ref().expect("only facts are linked");
                let entry_id = match entry_ids.get(&f.merge_key) {
                    Some(id) => id.clone(),
                    None => {
                        let id = new_id();
                        entry_ids.insert(f.merge_key.clone(), id.clone());
                        new_entries.push(store::EntryRow::from_fact(&id, f.kind, &f.merge_key, f.label, &f.stored));
                        id
                    }
                };
                touched.insert(entry_id.clone());
                links.push(store::LinkRow {
                    entry_id,
                    source_id: source_id.clone(),
                    resource_type: r.resource_type.clone(),
                    fhir_id: r.fhir_id.clone(),
                    resource_id: row_id.clone(),
                    fact: serde_json::to_string(&f.stored).map_err(|e| CoreError::Internal(e.to_string()))?,
                });
            }
            store::insert_entries(&mut *tx, patient, now, &new_entries).await?;
            store::insert_links(&mut *tx, patient, &links).await?;
        }

        // Each touched entry: drop it if no source states it any more, else
        // recompute whether its sources disagree.
        if !touched.is_empty() {
            let ids: Vec<String> = touched.into_iter().collect();
            let facts = store::link_facts_for_entries(&mut *tx, patient, &ids).await?;
            let mut by_entry: BTreeMap<String, Vec<SourceFact>> = ids.iter().map(|id| (id.clone(), Vec::new())).collect();
            for (entry_id, fact) in facts {
                let f: SourceFact = serde_json::from_str(&fact).map_err(|e| CoreError::Internal(e.to_string()))?;
                by_entry.entry(entry_id).or_default().push(f);
            }
            let mut orphans = Vec::new();
            let mut flags = Vec::new();
            for (id, facts) in by_entry {
                if facts.is_empty() {
                    orphans.push(id);
                } else {
                    flags.push((id, i64::from(disagree(&facts))));
                }
            }
            store::delete_entries(&mut *tx, patient, &orphans).await?;
            store::set_disagreements(&mut *tx, patient, now, &flags).await?;
        }

        store::insert_import(&mut *tx, patient, &import_id, &source_id, file, p.byte_size as i64, &p.sha256, new as i64, changed as i64, unchanged as i64, access.user_id(), now).await?;
        tx.commit().await?;

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
