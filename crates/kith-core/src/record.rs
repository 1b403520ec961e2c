//! Reading the merged record, and exporting it as FHIR.

use std::collections::HashMap;

use serde::Serialize;

use crate::audit::Disclosure;
use crate::import::{SourceFact, StoredCode};
use crate::policy::{require, require_whole, RecordAccess, Right};
use crate::{store, CoreError, CoreResult, Kith};

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RecordEntry {
    pub id: String,
    pub kind: String,
    pub codes: Vec<StoredCode>,
    pub display: String,
    pub date: Option<String>,
    pub status: Option<String>,
    pub label: String,
    pub value: Option<String>,
    pub unit: Option<String>,
    pub sources: Vec<EntrySource>,
    /// Fields on which this entry's sources disagree, with each source's value.
    pub disagreements: Vec<Disagreement>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EntrySource {
    pub organisation: String,
    pub kind: String,
    pub resource_type: String,
    pub id: String,
    #[serde(skip)]
    pub fact: SourceFact,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Disagreement {
    pub field: String,
    /// (organisation, value) for every source that gives the field.
    pub values: Vec<(String, String)>,
}

/// Each field on which the given facts differ, with who says what.
pub fn disagreements(sources: &[EntrySource]) -> Vec<Disagreement> {
    let mut fields: Vec<String> = Vec::new();
    for s in sources {
        for (f, _) in &s.fact.compare {
            if !fields.contains(f) {
                fields.push(f.clone());
            }
        }
    }
    let mut out = Vec::new();
    for field in fields {
        let values: Vec<(String, String)> =
            sources.iter().filter_map(|s| s.fact.compare.iter().find(|(f, _)| *f == field).map(|(_, v)| (s.organisation.clone(), v.clone()))).collect();
        let first = &values[0].1;
        if values.iter().any(|(_, v)| v != first) {
            out.push(Disagreement { field, values });
        }
    }
    out
}

impl Kith {
    /// The whole merged record, newest first.
    pub async fn record(&self, access: &RecordAccess) -> CoreResult<Vec<RecordEntry>> {
        require(access, Right::Read)?;
        require_whole(access)?;
        let patient = access.patient_id();
        let mut audited = self.audited(access).await?;
        let conn = audited.conn();
        let sources: HashMap<String, store::SourceRow> = store::sources_of(&mut *conn, patient).await?.into_iter().map(|s| (s.id.clone(), s)).collect();
        let link_rows = store::links_of(&mut *conn, patient).await?;
        let entry_rows = store::entries_of(&mut *conn, patient).await?;
        let d = Disclosure::new("view", "record").with(entry_rows.iter().map(|e| (e.id.as_str(), e.label.as_str())));
        audited.commit(access, d).await?;
        let mut links: HashMap<String, Vec<EntrySource>> = HashMap::new();
        for l in link_rows {
            let fact: SourceFact = serde_json::from_str(&l.fact).map_err(|e| CoreError::Internal(e.to_string()))?;
            let src = sources.get(&l.source_id);
            links.entry(l.entry_id).or_default().push(EntrySource {
                organisation: src.map(|s| s.name.clone()).unwrap_or_default(),
                kind: src.map(|s| s.kind.clone()).unwrap_or_default(),
                resource_type: l.resource_type,
                id: l.fhir_id,
                fact,
            });
        }
        let mut out = Vec::new();
        for e in entry_rows {
            let mut srcs = links.remove(&e.id).unwrap_or_default();
            srcs.sort_by(|a, b| a.organisation.cmp(&b.organisation).then(a.id.cmp(&b.id)));
            let codes: Vec<StoredCode> = serde_json::from_str(&e.codes).map_err(|err| CoreError::Internal(err.to_string()))?;
            out.push(RecordEntry {
                disagreements: disagreements(&srcs),
                id: e.id,
                kind: e.kind,
                codes,
                display: e.text,
                date: e.date.filter(|d| !d.is_empty()),
                status: e.status,
                label: e.label,
                value: e.value,
                unit: e.unit,
                sources: srcs,
            });
        }
        Ok(out)
    }

    /// The record as a FHIR R4 Bundle (type collection): every source's
    /// current resources as received, plus one Provenance per source naming
    /// the organisation and the resources it sent. For someone the record is
    /// shared with, only the resources behind the entries shared with them.
    pub async fn export_bundle(&self, access: &RecordAccess) -> CoreResult<serde_json::Value> {
        use serde_json::{json, Value};
        require(access, Right::Read)?;
        let patient = access.patient_id();
        let mut audited = self.audited(access).await?;
        let sources = store::sources_of(audited.conn(), patient).await?;
        // Only the owner (and the operator) get every resource: anyone with a
        // scope, a carer acting for the patient included, gets what the scope
        // shows, which never holds private entries.
        let (resources, d) = match access.scope() {
            None => (store::current_resources_of(audited.conn(), patient).await?, Disclosure::new("export", "whole record as FHIR")),
            Some(scope) => (store::scoped_resources_of(audited.conn(), patient, scope).await?, Disclosure::new("export", "what was shared, as FHIR")),
        };
        // The log names the entries and labels the download disclosed, so
        // the label filter and "who has seen this" find it.
        let shown = store::entry_ids_and_labels(audited.conn(), patient, access.scope()).await?;
        let d = d.with(shown.iter().map(|(id, label)| (id.as_str(), label.as_str())));
        audited.commit(access, d).await?;
        let mut entries: Vec<Value> = Vec::with_capacity(resources.len() + sources.len());
        let mut targets: HashMap<&str, Vec<Value>> = HashMap::new();
        for r in &resources {
            let resource: Value = serde_json::from_str(&r.json).map_err(|e| CoreError::Internal(e.to_string()))?;
            // Row ids are UUIDs, so these full URLs are unique even when two
            // sources use the same resource id.
            let full_url = format!("urn:uuid:{}", r.id);
            targets.entry(r.source_id.as_str()).or_default().push(json!({ "reference": full_url }));
            entries.push(json!({ "fullUrl": full_url, "resource": resource }));
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for s in &sources {
            let Some(target) = targets.remove(s.id.as_str()) else { continue };
            let mut who = json!({ "display": s.name });
            if let Some(ident) = &s.identifier {
                who["identifier"] = json!({ "value": ident });
            }
            let prov_id = uuid::Uuid::new_v4();
            entries.push(json!({
                "fullUrl": format!("urn:uuid:{prov_id}"),
                "resource": {
                    "resourceType": "Provenance",
                    "id": prov_id.to_string(),
                    "target": target,
                    "recorded": now,
                    "agent": [{
                        "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author", "display": "Author" }] },
                        "who": who
                    }],
                    "policy": [format!("https://kith.example/source-kind/{}", s.kind)]
                }
            }));
        }
        Ok(json!({
            "resourceType": "Bundle",
            "id": uuid::Uuid::new_v4().to_string(),
            "type": "collection",
            "timestamp": now,
            "entry": entries
        }))
    }
}
