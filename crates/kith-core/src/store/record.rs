//! SQL for the record: sources, imports, versioned resources, merged entries.

use sqlx::{Any, AnyConnection, Executor, FromRow};

#[derive(Debug, FromRow)]
pub(crate) struct SourceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub identifier: Option<String>,
    /// A hand entries' source: its author's user id.
    pub hand_author: Option<String>,
}

#[derive(Debug, FromRow)]
pub(crate) struct CurrentResource {
    pub id: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub version: i64,
    pub hash: String,
}

pub(crate) async fn source_by_name<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, name: &str) -> sqlx::Result<Option<SourceRow>> {
    sqlx::query_as("SELECT id, name, kind, identifier, hand_author FROM sources WHERE patient_id = $1 AND name = $2")
        .bind(patient.to_string())
        .bind(name.to_string())
        .fetch_optional(ex)
        .await
}

#[allow(clippy::too_many_arguments)] // one per column
pub(crate) async fn insert_source<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    name: &str,
    kind: &str,
    identifier: Option<&str>,
    hand_author: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sources (patient_id, id, name, kind, identifier, created_at, hand_author) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(name.to_string())
        .bind(kind.to_string())
        .bind(identifier.map(str::to_string))
        .bind(now)
        .bind(hand_author.map(str::to_string))
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn source_by_hand_author<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, author: &str) -> sqlx::Result<Option<SourceRow>> {
    sqlx::query_as("SELECT id, name, kind, identifier, hand_author FROM sources WHERE patient_id = $1 AND hand_author = $2")
        .bind(patient.to_string())
        .bind(author.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn update_source<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str, kind: &str, name: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE sources SET kind = $1, name = $4 WHERE patient_id = $2 AND id = $3")
        .bind(kind.to_string())
        .bind(patient.to_string())
        .bind(id.to_string())
        .bind(name.to_string())
        .execute(ex)
        .await
        .map(|_| ())
}

pub(crate) async fn current_resources<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, source: &str) -> sqlx::Result<Vec<CurrentResource>> {
    sqlx::query_as("SELECT id, resource_type, fhir_id, version, hash FROM resources WHERE patient_id = $1 AND source_id = $2 AND current = 1")
        .bind(patient.to_string())
        .bind(source.to_string())
        .fetch_all(ex)
        .await
}

/// Removes the links of these resources of one source; returns the entries
/// they pointed at.
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
    sqlx::query_as("SELECT id, name, kind, identifier, hand_author FROM sources WHERE patient_id = $1 ORDER BY name")
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

/// The current resources behind the entries a scope shows (a recipient's
/// export): nothing else, so what was not shared is absent here too.
pub(crate) async fn scoped_resources_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    scope: &crate::policy::Scope,
) -> sqlx::Result<Vec<StoredResource>> {
    let mut args = vec![patient.to_string()];
    let clause = super::scope_clause(Some(scope), &mut args, "e");
    let sql = format!(
        "SELECT r.id, r.source_id, r.json FROM resources r WHERE r.patient_id = $1 AND r.current = 1 AND r.id IN (\
         SELECT es.resource_id FROM entry_sources es JOIN entries e ON e.patient_id = es.patient_id AND e.id = es.entry_id \
         WHERE es.patient_id = $1{clause}) ORDER BY r.source_id, r.id"
    );
    let mut q = sqlx::query_as(&sql);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_all(ex).await
}

/// Rows per table for one patient, to prove a refused import changed nothing.
pub(crate) async fn row_counts(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for table in ["sources", "imports", "resources", "entries", "entry_sources", "held_feeds"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE patient_id = $1")).bind(patient.to_string()).fetch_one(&mut *conn).await?;
        out.push((table.to_string(), n));
    }
    Ok(out)
}

#[derive(Debug, FromRow)]
pub(crate) struct HandLink {
    pub resource_type: String,
    pub fhir_id: String,
    pub resource_id: String,
    pub hand_author: String,
    pub source_name: String,
    /// Who imported the version it is now (None: the operator).
    pub saved_by: Option<String>,
}

/// The resource by which a hand entries' source states an entry, with that
/// source and who saved its current version.
pub(crate) async fn hand_link<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, entry_id: &str) -> sqlx::Result<Option<HandLink>> {
    sqlx::query_as(
        "SELECT l.resource_type, l.fhir_id, l.resource_id, s.hand_author, s.name AS source_name, i.imported_by AS saved_by \
         FROM entry_sources l JOIN sources s ON s.patient_id = l.patient_id AND s.id = l.source_id \
         JOIN resources r ON r.patient_id = l.patient_id AND r.id = l.resource_id \
         JOIN imports i ON i.patient_id = r.patient_id AND i.id = r.import_id \
         WHERE l.patient_id = $1 AND l.entry_id = $2 AND s.hand_author IS NOT NULL",
    )
    .bind(patient.to_string())
    .bind(entry_id.to_string())
    .fetch_optional(ex)
    .await
}

/// The entry a source's resource states (an entry added by hand, just
/// imported, to go to).
pub(crate) async fn entry_for_resource<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    resource_type: &str,
    fhir_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT entry_id FROM entry_sources WHERE patient_id = $1 AND resource_type = $2 AND fhir_id = $3")
        .bind(patient.to_string())
        .bind(resource_type.to_string())
        .bind(fhir_id.to_string())
        .fetch_optional(ex)
        .await
}
