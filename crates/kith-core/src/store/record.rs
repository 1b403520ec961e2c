//! SQL for the record: sources, imports, versioned resources, merged entries.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{list_placeholders, values_placeholders, BATCH};
use crate::import::SourceFact;

#[derive(Debug, FromRow)]
pub(crate) struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub identifier: Option<String>,
}

#[derive(Debug, FromRow)]
pub(crate) struct CurrentResource {
    pub id: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub version: i64,
    pub hash: String,
}

pub(crate) struct ResourceRow {
    pub id: String,
    pub source_id: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub version: i64,
    pub hash: String,
    pub json: String,
}

pub(crate) struct EntryRow {
    pub id: String,
    pub kind: String,
    pub merge_key: String,
    pub text: String,
    pub date: Option<String>,
    pub status: Option<String>,
    pub label: String,
    pub codes: String,
    pub value: Option<String>,
    pub numeric: Option<f64>,
    pub unit: Option<String>,
}

impl EntryRow {
    pub fn from_fact(id: &str, kind: &str, merge_key: &str, label: &str, f: &SourceFact) -> Self {
        EntryRow {
            id: id.to_string(),
            kind: kind.to_string(),
            merge_key: merge_key.to_string(),
            text: f.text.clone(),
            date: f.date.clone(),
            status: f.status.clone(),
            label: label.to_string(),
            codes: serde_json::to_string(&f.codes).unwrap_or_else(|_| "[]".into()),
            value: f.value.clone(),
            numeric: f.numeric,
            unit: f.unit.clone(),
        }
    }
}

pub(crate) struct LinkRow {
    pub entry_id: String,
    pub source_id: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub resource_id: String,
    pub fact: String,
}

pub(crate) async fn source_by_name<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, name: &str) -> sqlx::Result<Option<SourceRow>> {
    sqlx::query_as("SELECT id, name, kind, identifier FROM sources WHERE patient_id = $1 AND name = $2")
        .bind(patient.to_string())
        .bind(name.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn insert_source<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    name: &str,
    kind: &str,
    identifier: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sources (patient_id, id, name, kind, identifier, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(name.to_string())
        .bind(kind.to_string())
        .bind(identifier.map(str::to_string))
        .bind(now)
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn update_source_kind<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, kind: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sources SET kind = $1 WHERE patient_id = $2 AND id = $3")
        .bind(kind.to_string())
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn current_resources<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, source: &str) -> sqlx::Result<Vec<CurrentResource>> {
    sqlx::query_as(
        "SELECT id, resource_type, fhir_id, version, hash FROM resources WHERE patient_id = $1 AND source_id = $2 AND current = 1",
    )
    .bind(patient.to_string())
    .bind(source.to_string())
    .fetch_all(ex)
    .await
}

pub(crate) async fn mark_superseded(conn: &mut AnyConnection, patient: &str, ids: &[String]) -> sqlx::Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!("UPDATE resources SET current = 0 WHERE patient_id = $1 AND id IN ({})", list_placeholders(chunk.len(), 2));
        let mut q = sqlx::query(&sql).bind(patient.to_string());
        for id in chunk {
            q = q.bind(id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn insert_resources(conn: &mut AnyConnection, patient: &str, import_id: &str, now: i64, rows: &[ResourceRow]) -> sqlx::Result<()> {
    const COLS: usize = 11;
    for chunk in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO resources (patient_id, id, source_id, resource_type, fhir_id, version, current, hash, json, import_id, received_at) VALUES {}",
            values_placeholders(chunk.len(), COLS, 1)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(patient.to_string())
                .bind(r.id.clone())
                .bind(r.source_id.clone())
                .bind(r.resource_type.clone())
                .bind(r.fhir_id.clone())
                .bind(r.version)
                .bind(1_i64)
                .bind(r.hash.clone())
                .bind(r.json.clone())
                .bind(import_id.to_string())
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn entries_by_keys(conn: &mut AnyConnection, patient: &str, keys: &[String]) -> sqlx::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut unique: Vec<&String> = keys.iter().collect();
    unique.sort();
    unique.dedup();
    for chunk in unique.chunks(BATCH) {
        let sql = format!("SELECT merge_key, id FROM entries WHERE patient_id = $1 AND merge_key IN ({})", list_placeholders(chunk.len(), 2));
        let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(patient.to_string());
        for k in chunk {
            q = q.bind((*k).clone());
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Removes the links of these resources of one source; returns the entries
/// they pointed at.
pub(crate) async fn unlink_resources(conn: &mut AnyConnection, patient: &str, source: &str, keys: &[(String, String)]) -> sqlx::Result<Vec<String>> {
    let mut entries = Vec::new();
    for chunk in keys.chunks(BATCH / 2) {
        let cond = (0..chunk.len())
            .map(|i| format!("(resource_type = ${} AND fhir_id = ${})", 3 + 2 * i, 4 + 2 * i))
            .collect::<Vec<_>>()
            .join(" OR ");
        let select = format!("SELECT entry_id FROM entry_sources WHERE patient_id = $1 AND source_id = $2 AND ({cond})");
        let delete = format!("DELETE FROM entry_sources WHERE patient_id = $1 AND source_id = $2 AND ({cond})");
        let mut q = sqlx::query_scalar::<_, String>(&select).bind(patient.to_string()).bind(source.to_string());
        let mut d = sqlx::query(&delete).bind(patient.to_string()).bind(source.to_string());
        for (t, id) in chunk {
            q = q.bind(t.clone()).bind(id.clone());
            d = d.bind(t.clone()).bind(id.clone());
        }
        let found = q.fetch_all(&mut *conn).await?;
        if !found.is_empty() {
            d.execute(&mut *conn).await?;
            entries.extend(found);
        }
    }
    Ok(entries)
}

pub(crate) async fn insert_entries(conn: &mut AnyConnection, patient: &str, now: i64, rows: &[EntryRow]) -> sqlx::Result<()> {
    const COLS: usize = 15;
    for chunk in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO entries (patient_id, id, kind, merge_key, text, date, status, label, codes, value, numeric, unit, disagreement, created_at, updated_at) VALUES {}",
            values_placeholders(chunk.len(), COLS, 1)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(patient.to_string())
                .bind(r.id.clone())
                .bind(r.kind.clone())
                .bind(r.merge_key.clone())
                .bind(r.text.clone())
                // '' for undated entries keeps (date, id) ordering index-friendly.
                .bind(r.date.clone().unwrap_or_default())
                .bind(r.status.clone())
                .bind(r.label.clone())
                .bind(r.codes.clone())
                .bind(r.value.clone())
                .bind(r.numeric.map(|n| n.to_string()))
                .bind(r.unit.clone())
                .bind(0_i64)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn insert_links(conn: &mut AnyConnection, patient: &str, rows: &[LinkRow]) -> sqlx::Result<()> {
    const COLS: usize = 7;
    for chunk in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO entry_sources (patient_id, entry_id, source_id, resource_type, fhir_id, resource_id, fact) VALUES {}",
            values_placeholders(chunk.len(), COLS, 1)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(patient.to_string())
                .bind(r.entry_id.clone())
                .bind(r.source_id.clone())
                .bind(r.resource_type.clone())
                .bind(r.fhir_id.clone())
                .bind(r.resource_id.clone())
                .bind(r.fact.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn link_facts_for_entries(conn: &mut AnyConnection, patient: &str, entry_ids: &[String]) -> sqlx::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in entry_ids.chunks(BATCH) {
        let sql = format!("SELECT entry_id, fact FROM entry_sources WHERE patient_id = $1 AND entry_id IN ({})", list_placeholders(chunk.len(), 2));
        let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(patient.to_string());
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

pub(crate) async fn delete_entries(conn: &mut AnyConnection, patient: &str, ids: &[String]) -> sqlx::Result<()> {
    for chunk in ids.chunks(BATCH) {
        let sql = format!("DELETE FROM entries WHERE patient_id = $1 AND id IN ({})", list_placeholders(chunk.len(), 2));
        let mut q = sqlx::query(&sql).bind(patient.to_string());
        for id in chunk {
            q = q.bind(id.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn set_disagreements(conn: &mut AnyConnection, patient: &str, now: i64, flags: &[(String, i64)]) -> sqlx::Result<()> {
    // Two statements, one per flag value, rather than one per entry.
    for flag in [0_i64, 1] {
        let ids: Vec<&String> = flags.iter().filter(|(_, f)| *f == flag).map(|(id, _)| id).collect();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "UPDATE entries SET disagreement = $1, updated_at = $2 WHERE patient_id = $3 AND id IN ({})",
                list_placeholders(chunk.len(), 4)
            );
            let mut q = sqlx::query(&sql).bind(flag).bind(now).bind(patient.to_string());
            for id in chunk {
                q = q.bind((*id).clone());
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_import<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    source: &str,
    file_name: &str,
    byte_size: i64,
    sha256: &str,
    new: i64,
    changed: i64,
    unchanged: i64,
    by: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO imports (patient_id, id, source_id, file_name, byte_size, sha256, new_count, changed_count, unchanged_count, imported_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(source.to_string())
    .bind(file_name.to_string())
    .bind(byte_size)
    .bind(sha256.to_string())
    .bind(new)
    .bind(changed)
    .bind(unchanged)
    .bind(by.map(str::to_string))
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_held_feed<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    file_name: &str,
    source_name: Option<&str>,
    source_kind: &str,
    found_name: Option<&str>,
    found_birth_date: Option<&str>,
    body: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO held_feeds (patient_id, id, file_name, source_name, source_kind, found_name, found_birth_date, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(patient.to_string())
    .bind(id.to_string())
    .bind(file_name.to_string())
    .bind(source_name.map(str::to_string))
    .bind(source_kind.to_string())
    .bind(found_name.map(str::to_string))
    .bind(found_birth_date.map(str::to_string))
    .bind(body.to_string())
    .bind(now)
    .execute(ex)
    .await
    .map(|_| ())
}

#[derive(Debug, FromRow)]
pub(crate) struct EntryListRow {
    pub id: String,
    pub kind: String,
    pub text: String,
    pub date: Option<String>,
    pub status: Option<String>,
    pub label: String,
    pub codes: String,
    pub value: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, FromRow)]
pub(crate) struct LinkListRow {
    pub entry_id: String,
    pub source_id: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub fact: String,
}

#[derive(Debug, FromRow)]
pub(crate) struct StoredResource {
    pub id: String,
    pub source_id: String,
    pub json: String,
}

pub(crate) async fn sources_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<SourceRow>> {
    sqlx::query_as("SELECT id, name, kind, identifier FROM sources WHERE patient_id = $1 ORDER BY name")
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

pub(crate) async fn entries_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<EntryListRow>> {
    sqlx::query_as(
        "SELECT id, kind, text, date, status, label, codes, value, unit FROM entries WHERE patient_id = $1 \
         ORDER BY date DESC, id DESC",
    )
    .bind(patient.to_string())
    .fetch_all(ex)
    .await
}

pub(crate) async fn links_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<LinkListRow>> {
    sqlx::query_as("SELECT entry_id, source_id, resource_type, fhir_id, fact FROM entry_sources WHERE patient_id = $1")
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

pub(crate) async fn current_resources_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<StoredResource>> {
    sqlx::query_as("SELECT id, source_id, json FROM resources WHERE patient_id = $1 AND current = 1 ORDER BY source_id, id")
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

/// Rows per table for one patient, to prove a refused import changed nothing.
pub(crate) async fn row_counts(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for table in ["sources", "imports", "resources", "entries", "entry_sources", "held_feeds"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE patient_id = $1"))
            .bind(patient.to_string())
            .fetch_one(&mut *conn)
            .await?;
        out.push((table.to_string(), n));
    }
    Ok(out)
}
