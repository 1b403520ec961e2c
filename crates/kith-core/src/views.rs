//! The record as its pages show it: summary, timeline, one entry, results
//! with trends, and sources. Everything here takes a `RecordAccess`.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use kith_types::record::*;
use kith_types::{uk_date, NhsNumber};

use crate::audit::Disclosure;
use crate::import::{SourceFact, StoredCode};
use crate::policy::{require, require_whole, RecordAccess, Right};
use crate::store::{self, EntryFilter, EntryRowView, LinkView};
use crate::{ms_to_uk, now_ms, CoreError, CoreResult, Kith};
use sqlx::AnyConnection;

/// Cards shown, as (id, label) for the access log.
fn shown<'a>(lists: &[&'a [EntryCard]]) -> Vec<(&'a str, &'a str)> {
    lists.iter().flat_map(|l| l.iter().map(|c| (c.id.as_str(), c.label.as_str()))).collect()
}

/// The summary counts entries exactly up to this many, then says "more than".
pub const SUMMARY_COUNT_CAP: i64 = 1000;
/// Entries per timeline page.
pub const PAGE_SIZE: i64 = 50;
/// Visits closer together than this are one visit.
const VISIT_GAP_MS: i64 = 30 * 60 * 1000;

/// `2026-11-21T10:00:00Z` -> `21 Nov 2026`; anything unparseable as given.
pub fn display_date(iso: &str) -> Option<String> {
    if iso.is_empty() {
        return None;
    }
    let day = iso.get(..10).unwrap_or(iso);
    Some(NaiveDate::parse_from_str(day, "%Y-%m-%d").map(uk_date).unwrap_or_else(|_| iso.to_string()))
}

fn parse_fact(s: &str) -> CoreResult<SourceFact> {
    serde_json::from_str(s).map_err(|e| CoreError::Internal(format!("stored fact unreadable: {e}")))
}

/// Builds cards for entry rows, fetching their sources in one query.
async fn cards(conn: &mut AnyConnection, patient: &str, rows: &[EntryRowView], new_after: Option<i64>) -> CoreResult<Vec<EntryCard>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let links = store::links_for(conn, patient, &ids).await?;
    let mut by_entry: HashMap<&str, Vec<&LinkView>> = HashMap::new();
    for l in &links {
        by_entry.entry(l.entry_id.as_str()).or_default().push(l);
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let ls = by_entry.get(r.id.as_str()).cloned().unwrap_or_default();
        let mut sources: Vec<String> = ls.iter().map(|l| l.organisation.clone()).collect();
        sources.dedup();
        let mut abnormal = false;
        for l in &ls {
            if parse_fact(&l.fact)?.abnormal {
                abnormal = true;
            }
        }
        out.push(EntryCard {
            id: r.id.clone(),
            kind: r.kind.clone(),
            text: r.text.clone(),
            date: display_date(&r.date),
            status: r.status.clone(),
            value: r.value.clone(),
            label: r.label.clone(),
            sources,
            disagreement: r.disagreement != 0,
            abnormal,
            is_new: new_after.is_some_and(|t| r.created_at > t),
        });
    }
    Ok(out)
}

impl Kith {
    /// The record's home page. Also records this visit, so the next one can
    /// say what is new.
    pub async fn summary(&self, access: &RecordAccess) -> CoreResult<Summary> {
        require(access, Right::Read)?;
        let patient = access.patient_id();
        let mut audited = self.audited_view(access).await?;
        let conn = audited.conn();
        let previous = match access.user_id() {
            Some(u) => store::touch_visit(conn, patient, u, now_ms(), VISIT_GAP_MS).await?,
            None => None,
        };
        let info = store::patient_info(&mut *conn, patient).await?;
        let scope = access.scope().cloned();
        let page = |kinds: &[&str], current_only: bool| EntryFilter {
            kinds: kinds.iter().map(|s| s.to_string()).collect(),
            current_only,
            scope: scope.clone(),
            ..Default::default()
        };
        let allergies = store::entries_page(conn, patient, &page(&["allergy"], true), 50).await?;
        let problems = store::entries_page(conn, patient, &page(&["condition"], true), 50).await?;
        let mut medicines = store::entries_page(conn, patient, &page(&["medication"], true), 50).await?;
        // A medicine one source calls stopped and another active is shown
        // (flagged) whatever status the entry carries.
        let disputed = store::entries_page(conn, patient, &EntryFilter { disputed_only: true, ..page(&["medication"], false) }, 50).await?;
        for d in disputed {
            if !medicines.iter().any(|m| m.id == d.id) {
                medicines.push(d);
            }
        }
        medicines.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
        // Latest of each test or measurement.
        // Read in small pages until eight different tests are found, from
        // the latest 100 readings at most, so a record of thousands of
        // readings costs the same as a small one.
        let mut seen = std::collections::HashSet::new();
        let mut latest: Vec<EntryRowView> = Vec::new();
        let mut f = page(&["result", "vital-sign"], false);
        for _ in 0..2 {
            let rows = store::entries_page(conn, patient, &f, 50).await?;
            let full = rows.len() == 50;
            f.after = rows.last().map(|r| (r.date.clone(), r.id.clone()));
            latest.extend(rows.into_iter().filter(|r| !withdrawn(r.status.as_deref()) && seen.insert(r.text.to_lowercase())));
            if latest.len() >= 8 || !full {
                break;
            }
        }
        latest.truncate(8);
        let encounters = store::entries_page(conn, patient, &page(&["encounter"], false), 5).await?;
        let new = match previous {
            Some(t) => store::entries_page(conn, patient, &EntryFilter { created_after: Some(t), scope: scope.clone(), ..Default::default() }, 20).await?,
            None => vec![],
        };
        let total_entries = store::count_entries(&mut *conn, patient, access.scope(), SUMMARY_COUNT_CAP + 1).await?;
        let (crisis_plan, plan_review) = crate::together::summary_parts(conn, access).await?;
        let summary = Summary {
            patient_name: info.name,
            nhs_number: NhsNumber::parse(&info.nhs_number).map(|n| n.formatted()).unwrap_or(info.nhs_number),
            birth_date: display_date(&info.birth_date).unwrap_or_default(),
            allergies: cards(conn, patient, &allergies, previous).await?,
            problems: cards(conn, patient, &problems, previous).await?,
            medications: cards(conn, patient, &medicines, previous).await?,
            latest_results: cards(conn, patient, &latest, previous).await?,
            encounters: cards(conn, patient, &encounters, previous).await?,
            new_since_last_visit: cards(conn, patient, &new, previous).await?,
            last_visit: previous.map(ms_to_uk),
            total_entries,
            crisis_plan,
            plan_review,
        };
        let s = &summary;
        let d = Disclosure::new("view", "summary").with(shown(&[
            &s.allergies,
            &s.problems,
            &s.medications,
            &s.latest_results,
            &s.encounters,
            &s.new_since_last_visit,
        ]));
        audited.commit_view(access, d).await?;
        Ok(summary)
    }

    /// One page of the timeline, newest first, grouped by day.
    pub async fn timeline(&self, access: &RecordAccess, q: &TimelineQuery) -> CoreResult<TimelinePage> {
        require(access, Right::Read)?;
        let patient = access.patient_id();
        let mut f = EntryFilter { scope: access.scope().cloned(), ..Default::default() };
        if !q.kind.is_empty() {
            f.kinds = vec![q.kind.clone()];
        }
        if !q.label.is_empty() {
            f.label = Some(q.label.clone());
        }
        if !q.source.is_empty() {
            f.source_id = Some(q.source.clone());
        }
        if let Ok(d) = NaiveDate::parse_from_str(q.from.trim(), "%Y-%m-%d") {
            f.from = Some(d.format("%Y-%m-%d").to_string());
        }
        if let Ok(d) = NaiveDate::parse_from_str(q.to.trim(), "%Y-%m-%d") {
            f.before = d.succ_opt().map(|d| d.format("%Y-%m-%d").to_string());
        }
        let text = crate::search::fold(q.q.trim());
        if !text.is_empty() {
            f.text = Some(text);
        }
        if let Some((d, id)) = q.after.rsplit_once('~') {
            f.after = Some((d.to_string(), id.to_string()));
        }
        let mut audited = self.audited_view(access).await?;
        let conn = audited.conn();
        let mut rows = store::entries_page(conn, patient, &f, PAGE_SIZE + 1).await?;
        let next = if rows.len() as i64 > PAGE_SIZE {
            rows.truncate(PAGE_SIZE as usize);
            rows.last().map(|r| format!("{}~{}", r.date, r.id))
        } else {
            None
        };
        let sources = store::visible_sources(&mut *conn, patient, access.scope()).await?;
        let cards = cards(conn, patient, &rows, None).await?;
        audited.commit_view(access, Disclosure::new("view", "timeline").with(shown(&[&cards]))).await?;
        let mut days: Vec<(String, Vec<EntryCard>)> = Vec::new();
        for c in cards {
            let heading = c.date.clone().unwrap_or_else(|| "Undated".into());
            match days.last_mut() {
                Some((h, list)) if *h == heading => list.push(c),
                _ => days.push((heading, vec![c])),
            }
        }
        Ok(TimelinePage { days, next, sources })
    }

    /// One entry with every source's version side by side. NotFound when the
    /// entry is not in this record.
    pub async fn entry(&self, access: &RecordAccess, entry_id: &str) -> CoreResult<EntryDetail> {
        require(access, Right::Read)?;
        let patient = access.patient_id();
        let mut audited = self.audited_view(access).await?;
        let conn = audited.conn();
        // Not found is not an access: nothing to log.
        let Some(row) = store::entry_by_id(&mut *conn, patient, entry_id, access.scope()).await? else {
            return audited.fail(kith_types::AppError::NotFound).await;
        };
        let conn = audited.conn();
        let card = cards(conn, patient, std::slice::from_ref(&row), None).await?.remove(0);
        let codes: Vec<StoredCode> = serde_json::from_str(&row.codes).map_err(|e| CoreError::Internal(e.to_string()))?;
        let links = store::links_for(conn, patient, std::slice::from_ref(&row.id)).await?;
        let mut sources = Vec::new();
        let mut facts = Vec::new();
        for l in links {
            let fact = parse_fact(&l.fact)?;
            let raw = store::resource_json(&mut *conn, patient, &l.resource_id).await?.unwrap_or_default();
            let value: serde_json::Value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::Null);
            let versions = store::versions_of(&mut *conn, patient, &l.source_id, &l.resource_type, &l.fhir_id)
                .await?
                .into_iter()
                .map(|(v, at)| (v, ms_to_uk(at)))
                .collect();
            facts.push((l.organisation.clone(), fact.clone()));
            sources.push(SourceVersion {
                organisation: l.organisation,
                kind: l.source_kind,
                resource_type: l.resource_type,
                resource_id: l.fhir_id,
                text: fact.text,
                value: fact.value,
                date: fact.date.as_deref().and_then(display_date),
                status: fact.status,
                recorded_by: recorded_by(&value),
                json: serde_json::to_string_pretty(&value).unwrap_or(raw),
                versions,
            });
        }
        let (can_change, can_remove) = crate::own_entry::hand_rights(audited.conn(), access, entry_id).await?;
        audited.commit_view(access, Disclosure::new("view", "entry").with([(card.id.as_str(), card.label.as_str())])).await?;
        Ok(EntryDetail { card, codes: codes.into_iter().map(code_view).collect(), sources, disagreements: disagreements(&facts), can_change, can_remove })
    }

    /// Every test and measurement taken more than once, as chart series;
    /// the rest as a list.
    pub async fn results(&self, access: &RecordAccess) -> CoreResult<ResultsView> {
        require(access, Right::Read)?;
        let patient = access.patient_id();
        let mut audited = self.audited_view(access).await?;
        let conn = audited.conn();
        let f = EntryFilter { kinds: vec!["result".into(), "vital-sign".into()], scope: access.scope().cloned(), ..Default::default() };
        let rows = store::entries_page(conn, patient, &f, 100_000).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let links = store::links_for(conn, patient, &ids).await?;
        audited.commit_view(access, Disclosure::new("view", "results").with(rows.iter().map(|r| (r.id.as_str(), r.label.as_str())))).await?;
        let mut facts: HashMap<&str, Vec<(&LinkView, SourceFact)>> = HashMap::new();
        for l in &links {
            facts.entry(l.entry_id.as_str()).or_default().push((l, parse_fact(&l.fact)?));
        }
        Ok(build_results(&rows, &facts))
    }

    /// Every source with its counts and import history, and feeds waiting
    /// for the patient's confirmation.
    pub async fn sources_view(&self, access: &RecordAccess) -> CoreResult<SourcesView> {
        require(access, Right::Read)?;
        require_whole(access)?;
        let patient = access.patient_id();
        let mut audited = self.audited_view(access).await?;
        let conn = audited.conn();
        let info = store::patient_info(&mut *conn, patient).await?;
        let imports = store::imports_of(&mut *conn, patient).await?;
        let held_rows = store::held_of(&mut *conn, patient).await?;
        let with_private = access.scope().is_none();
        let sources = store::source_counts(&mut *conn, patient, with_private)
            .await?
            .into_iter()
            // A source that sent only private entries is not named to someone
            // who may not see them (its name may say what they are about).
            .filter(|s| with_private || s.entries > 0 || s.private_entries == 0)
            .map(|s| {
                let mine: Vec<ImportInfo> = imports
                    .iter()
                    .filter(|i| i.source_id == s.id)
                    // Entries typed in by hand are one import each: listed
                    // to someone who may not see private entries, their
                    // number would count the private ones.
                    .filter(|i| with_private || i.file_name != crate::own_entry::HAND_ENTRY_FILE)
                    .map(|i| ImportInfo {
                        file: i.file_name.clone(),
                        when: ms_to_uk(i.created_at),
                        counts: with_private.then_some((i.new_count, i.changed_count, i.unchanged_count)),
                    })
                    .collect();
                SourceInfo {
                    last_import: mine.first().map(|i| i.when.clone()),
                    id: s.id,
                    name: s.name,
                    kind: s.kind,
                    identifier: s.identifier,
                    entries: s.entries,
                    resources: s.resources,
                    imports: mine,
                }
            })
            .collect();
        audited.commit_view(access, Disclosure::new("view", "sources")).await?;
        let held = held_rows
            .into_iter()
            .map(|h| HeldFeedInfo {
                id: h.id,
                file: h.file_name,
                source: h.source_name,
                found_name: h.found_name,
                found_birth_date: h.found_birth_date.as_deref().and_then(display_date),
                received: ms_to_uk(h.created_at),
                source_kind: h.source_kind,
            })
            .collect();
        Ok(SourcesView { sources, held, patient_name: info.name, patient_birth_date: display_date(&info.birth_date).unwrap_or_default(), last_upload: None })
    }
}

fn code_view(c: StoredCode) -> CodeView {
    let system_name = match c.system.as_str() {
        "http://snomed.info/sct" => "SNOMED CT",
        "https://dmd.nhs.uk" | "https://dmd.nhs.uk/" => "dm+d",
        "http://loinc.org" => "LOINC",
        "http://hl7.org/fhir/sid/icd-10" | "http://hl7.org/fhir/sid/icd-10-uk" => "ICD-10",
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "RxNorm",
        "http://hl7.org/fhir/sid/cvx" => "CVX",
        _ => "",
    };
    CodeView {
        system_name: if system_name.is_empty() { c.system.clone() } else { system_name.to_string() },
        system: c.system,
        code: c.code,
        display: c.display,
    }
}

/// Who recorded a resource, from the usual FHIR fields' display names.
fn recorded_by(v: &serde_json::Value) -> Option<String> {
    for field in ["recorder", "asserter", "requester", "author", "performer", "participant"] {
        let x = &v[field];
        let candidates: Vec<&serde_json::Value> = match x {
            serde_json::Value::Array(a) => a.iter().collect(),
            serde_json::Value::Object(_) => vec![x],
            _ => continue,
        };
        for c in candidates {
            for d in [&c["display"], &c["actor"]["display"], &c["individual"]["display"]] {
                if let Some(s) = d.as_str() {
                    return Some(s.to_string());
                }
            }
        }
    }
    None
}

/// Fields on which the named facts differ, with each organisation's value.
fn disagreements(facts: &[(String, SourceFact)]) -> Vec<(String, Vec<(String, String)>)> {
    let mut fields: Vec<&str> = Vec::new();
    for (_, f) in facts {
        for (k, _) in &f.compare {
            if !fields.contains(&k.as_str()) {
                fields.push(k);
            }
        }
    }
    let mut out = Vec::new();
    for field in fields {
        let values: Vec<(String, String)> =
            facts.iter().filter_map(|(org, f)| f.compare.iter().find(|(k, _)| k == field).map(|(_, v)| (org.clone(), v.clone()))).collect();
        if values.iter().any(|(_, v)| *v != values[0].1) {
            out.push((field.to_string(), values));
        }
    }
    out
}

/// `133/84 mm[Hg]` -> (133, 84)
fn pair(value: &str) -> Option<(f64, f64)> {
    let first = value.split_whitespace().next()?;
    let (a, b) = first.split_once('/')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn day_number(date: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    Some((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
}

/// A test or measurement withdrawn as made in error, or cancelled: not the
/// latest reading, nor a point on a chart.
fn withdrawn(status: Option<&str>) -> bool {
    matches!(status, Some("entered-in-error" | "cancelled"))
}

fn build_results(rows: &[EntryRowView], facts: &HashMap<&str, Vec<(&LinkView, SourceFact)>>) -> ResultsView {
    /// (line number, day, when, value, abnormal, entry id)
    type Point = (usize, i64, String, f64, bool, String);
    struct Acc {
        name: String,
        unit: Option<String>,
        low: Option<f64>,
        high: Option<f64>,
        device: bool,
        sources: Vec<String>,
        points: Vec<Point>,
        two_lines: bool,
    }
    let mut series: BTreeMap<String, Acc> = BTreeMap::new();
    let mut single_rows = Vec::new();
    for r in rows {
        // A withdrawn reading is no point on a chart: it is listed, with its
        // status.
        if withdrawn(r.status.as_deref()) {
            single_rows.push(r);
            continue;
        }
        let Some(day) = day_number(&r.date) else { continue };
        let fs = facts.get(r.id.as_str());
        let first = fs.and_then(|v| v.first());
        let codes: Vec<StoredCode> = serde_json::from_str(&r.codes).unwrap_or_default();
        let key = codes.first().map(|c| format!("{}|{}", c.system, c.code)).unwrap_or_else(|| r.text.to_lowercase());
        let abnormal = fs.is_some_and(|v| v.iter().any(|(_, f)| f.abnormal));
        let when = if r.date.len() >= 16 {
            format!("{} {}", display_date(&r.date).unwrap_or_default(), &r.date[11..16])
        } else {
            display_date(&r.date).unwrap_or_default()
        };
        let values: Vec<f64> = match r.numeric.as_deref().and_then(|n| n.parse::<f64>().ok()) {
            Some(n) => vec![n],
            None => match r.value.as_deref().and_then(pair) {
                Some((a, b)) => vec![a, b],
                None => {
                    single_rows.push(r);
                    continue;
                }
            },
        };
        let acc = series.entry(key).or_insert_with(|| Acc {
            name: r.text.clone(),
            unit: r.unit.clone().or_else(|| r.value.as_deref().and_then(|v| v.split_whitespace().nth(1).map(str::to_string))),
            low: None,
            high: None,
            device: false,
            sources: Vec::new(),
            points: Vec::new(),
            two_lines: values.len() == 2,
        });
        if let Some((l, f)) = first {
            acc.low = acc.low.or(f.low);
            acc.high = acc.high.or(f.high);
            if l.source_kind == "device" {
                acc.device = true;
            }
        }
        for (l, _) in fs.map(|v| v.as_slice()).unwrap_or(&[]) {
            if !acc.sources.contains(&l.organisation) {
                acc.sources.push(l.organisation.clone());
            }
        }
        for (i, v) in values.into_iter().enumerate() {
            acc.points.push((i, day, when.clone(), v, abnormal, r.id.clone()));
        }
    }
    let mut charts = Vec::new();
    let mut single_ids = Vec::new();
    for (key, mut acc) in series {
        let readings = acc.points.iter().filter(|p| p.0 == 0).count();
        if readings < 2 {
            single_ids.extend(acc.points.iter().map(|p| p.5.clone()));
            continue;
        }
        acc.points.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)));
        let mut per_day: BTreeMap<i64, usize> = BTreeMap::new();
        for p in acc.points.iter().filter(|p| p.0 == 0) {
            *per_day.entry(p.1).or_default() += 1;
        }
        let daily = acc.device || per_day.values().any(|n| *n > 1);
        let names: Vec<String> = if acc.two_lines { vec!["Systolic".into(), "Diastolic".into()] } else { vec![acc.name.clone()] };
        let mut lines = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let pts: Vec<&Point> = acc.points.iter().filter(|p| p.0 == i).collect();
            let points = if daily {
                let mut days: BTreeMap<i64, Vec<&Point>> = BTreeMap::new();
                for p in pts {
                    days.entry(p.1).or_default().push(p);
                }
                days.into_iter()
                    .map(|(day, ps)| {
                        let vals: Vec<f64> = ps.iter().map(|p| p.3).collect();
                        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                        ResultPoint {
                            day,
                            when: display_date(&(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(day)).format("%Y-%m-%d").to_string())
                                .unwrap_or_default(),
                            value: (mean * 10.0).round() / 10.0,
                            min: vals.iter().cloned().reduce(f64::min),
                            max: vals.iter().cloned().reduce(f64::max),
                            count: vals.len(),
                            abnormal: ps.iter().any(|p| p.4),
                            entry_id: None,
                        }
                    })
                    .collect()
            } else {
                pts.into_iter()
                    .map(|p| ResultPoint {
                        day: p.1,
                        when: p.2.clone(),
                        value: p.3,
                        min: None,
                        max: None,
                        count: 1,
                        abnormal: p.4,
                        entry_id: Some(p.5.clone()),
                    })
                    .collect()
            };
            lines.push(ResultLine { name, points });
        }
        charts.push(ResultSeries {
            id: key.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            name: acc.name,
            unit: acc.unit,
            low: acc.low,
            high: acc.high,
            lines,
            daily,
            sources: acc.sources,
        });
    }
    charts.sort_by(|a, b| a.name.cmp(&b.name));
    let single = single_rows
        .into_iter()
        .map(|r| r.id.clone())
        .chain(single_ids)
        .filter_map(|id| rows.iter().find(|r| r.id == id))
        .map(|r| EntryCard {
            id: r.id.clone(),
            kind: r.kind.clone(),
            text: r.text.clone(),
            date: display_date(&r.date),
            status: r.status.clone(),
            value: r.value.clone(),
            label: r.label.clone(),
            sources: facts.get(r.id.as_str()).map(|v| v.iter().map(|(l, _)| l.organisation.clone()).collect()).unwrap_or_default(),
            disagreement: r.disagreement != 0,
            abnormal: facts.get(r.id.as_str()).is_some_and(|v| v.iter().any(|(_, f)| f.abnormal)),
            is_new: false,
        })
        .collect();
    ResultsView { charts, single }
}

impl Kith {
    /// The name of the patient whose record `access` opens.
    pub async fn patient_name(&self, access: &RecordAccess) -> CoreResult<String> {
        require(access, Right::Read)?;
        Ok(store::patient_info(&self.db.pool, access.patient_id()).await?.name)
    }
}
