//! SQL for reading the record: pages of entries, one entry, sources, visits.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{list_placeholders, BATCH};

#[derive(Debug, FromRow)]
pub(crate) struct EntryRowView {
    pub id: String,
    pub kind: String,
    pub text: String,
    pub date: String,
    pub status: Option<String>,
    pub label: String,
    pub codes: String,
    pub value: Option<String>,
    pub numeric: Option<String>,
    pub unit: Option<String>,
    pub disagreement: i64,
    pub created_at: i64,
}

const ENTRY_COLUMNS: &str = "id, kind, text, date, status, label, codes, value, numeric, unit, disagreement, created_at";

#[derive(Debug, FromRow)]
pub(crate) struct LinkView {
    pub entry_id: String,
    pub source_id: String,
    pub organisation: String,
    pub source_kind: String,
    pub resource_type: String,
    pub fhir_id: String,
    pub resource_id: String,
    pub fact: String,
}

/// The condition "a current allergy, problem or medicine": not resolved,
/// inactive or in remission (an allergy's or problem's clinicalStatus), not
/// stopped, completed, cancelled, revoked, not taken, not done, declined or
/// entered in error (a medicine's status). No kind's FHIR codes use a word
/// from another kind's list to mean current, so one list serves all three.
/// Entries of other kinds never match.
///
/// Written out as literals, exactly as in the partial index
/// `entries_current` (migration 0013), so that both databases' planners can
/// use that index: then a long record's current medicines are found without
/// walking past its hundreds of stopped ones. A test checks the two agree.
pub(crate) const IS_CURRENT: &str = "kind IN ('allergy', 'condition', 'medication') AND COALESCE(status, '') NOT IN \
     ('inactive', 'resolved', 'remission', 'refuted', 'entered-in-error', 'cancelled', 'stopped', 'completed', 'revoked', \
     'not-taken', 'not-done', 'declined')";

/// Filters for a page of entries; every field optional.
#[derive(Clone, Default, Debug)]
pub(crate) struct EntryFilter {
    pub kinds: Vec<String>,
    pub label: Option<String>,
    pub source_id: Option<String>,
    pub from: Option<String>,
    /// Exclusive upper bound on the date string.
    pub before: Option<String>,
    /// Search text, folded by `search::fold`.
    pub text: Option<String>,
    /// Only current allergies, problems and medicines (see `IS_CURRENT`).
    pub current_only: bool,
    /// Cursor: (date, id) of the last entry already shown.
    pub after: Option<(String, String)>,
    pub created_after: Option<i64>,
    /// What the viewer may see; None is the whole record.
    pub scope: Option<crate::policy::Scope>,
    /// Only entries whose sources disagree.
    pub disputed_only: bool,
}

/// Entries newest first by (date, id), filtered, at most `limit`.
///
/// Several kinds are read one kind at a time and merged: each single-kind
/// query walks the (patient, kind, date, id) index in order and stops at the
/// limit, so the cost follows the page size, not the size of the record.
pub(crate) async fn entries_page(conn: &mut AnyConnection, patient: &str, f: &EntryFilter, limit: i64) -> sqlx::Result<Vec<EntryRowView>> {
    if f.kinds.len() > 1 {
        let mut all = Vec::new();
        for k in &f.kinds {
            let one = EntryFilter { kinds: vec![k.clone()], ..f.clone() };
            all.extend(Box::pin(entries_page(conn, patient, &one, limit)).await?);
        }
        all.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
        all.truncate(limit.max(1) as usize);
        return Ok(all);
    }
    let (sql, args, created) = entries_sql(patient, f, limit);
    let mut q = sqlx::query_as::<_, EntryRowView>(&sql);
    for a in args {
        q = q.bind(a);
    }
    if let Some(c) = created {
        q = q.bind(c);
    }
    q.fetch_all(&mut *conn).await
}

/// The SQL of one single-kind `entries_page` query, its text arguments and
/// the `created_after` bound (an integer, bound last).
fn entries_sql(patient: &str, f: &EntryFilter, limit: i64) -> (String, Vec<String>, Option<i64>) {
    let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE patient_id = $1");
    let mut args: Vec<String> = vec![patient.to_string()];
    let next = |args: &mut Vec<String>, v: String| {
        args.push(v);
        format!("${}", args.len())
    };
    if !f.kinds.is_empty() {
        let ps: Vec<String> = f.kinds.iter().map(|k| next(&mut args, k.clone())).collect();
        sql.push_str(&format!(" AND kind IN ({})", ps.join(",")));
    }
    if f.current_only {
        sql.push_str(" AND ");
        sql.push_str(IS_CURRENT);
    }
    if let Some(l) = &f.label {
        let p = next(&mut args, l.clone());
        sql.push_str(&format!(" AND label = {p}"));
    }
    if let Some(s) = &f.source_id {
        let p = next(&mut args, s.clone());
        sql.push_str(&format!(" AND id IN (SELECT entry_id FROM entry_sources WHERE patient_id = $1 AND source_id = {p})"));
    }
    if let Some(d) = &f.from {
        let p = next(&mut args, d.clone());
        sql.push_str(&format!(" AND date >= {p}"));
    }
    if let Some(d) = &f.before {
        let p = next(&mut args, d.clone());
        sql.push_str(&format!(" AND date < {p}"));
    }
    if let Some(t) = &f.text {
        let p = next(&mut args, format!("%{}%", t.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        sql.push_str(&format!(" AND search_text LIKE {p} ESCAPE '\\'"));
    }
    if let Some((d, id)) = &f.after {
        let pd = next(&mut args, d.clone());
        let pid = next(&mut args, id.clone());
        sql.push_str(&format!(" AND (date < {pd} OR (date = {pd} AND id < {pid}))"));
    }
    sql.push_str(&super::scope_clause(f.scope.as_ref(), &mut args, ""));
    if f.disputed_only {
        sql.push_str(" AND disagreement = 1");
    }
    let created = f.created_after;
    if created.is_some() {
        sql.push_str(&format!(" AND created_at > ${}", args.len() + 1));
    }
    sql.push_str(&format!(" ORDER BY date DESC, id DESC LIMIT {}", limit.max(1)));
    (sql, args, created)
}

pub(crate) async fn entry_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    id: &str,
    scope: Option<&crate::policy::Scope>,
) -> sqlx::Result<Option<EntryRowView>> {
    let mut args = vec![patient.to_string(), id.to_string()];
    let clause = super::scope_clause(scope, &mut args, "");
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE patient_id = $1 AND id = $2{clause}");
    let mut q = sqlx::query_as(&sql);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_optional(ex).await
}

/// Entries visible, counted up to `cap` (a page needs "over 1,000", not a
/// count that costs as much as the record is big).
pub(crate) async fn count_entries<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    scope: Option<&crate::policy::Scope>,
    cap: i64,
) -> sqlx::Result<i64> {
    let mut args = vec![patient.to_string()];
    let clause = super::scope_clause(scope, &mut args, "");
    let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM entries WHERE patient_id = $1{clause} LIMIT {}) counted", cap.max(1));
    let mut q = sqlx::query_scalar(&sql);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_one(ex).await
}

/// Every visible entry's id and privacy label (what an export discloses,
/// for its log row).
pub(crate) async fn entry_ids_and_labels<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    scope: Option<&crate::policy::Scope>,
) -> sqlx::Result<Vec<(String, String)>> {
    let mut args = vec![patient.to_string()];
    let clause = super::scope_clause(scope, &mut args, "");
    let sql = format!("SELECT id, label FROM entries WHERE patient_id = $1{clause} ORDER BY id");
    let mut q = sqlx::query_as(&sql);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_all(ex).await
}

/// Sources that state at least one entry the viewer may see.
pub(crate) async fn visible_sources<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    scope: Option<&crate::policy::Scope>,
) -> sqlx::Result<Vec<(String, String)>> {
    let mut args = vec![patient.to_string()];
    let clause = super::scope_clause(scope, &mut args, "e");
    // EXISTS stops at each source's first visible entry: the cost follows
    // the number of sources, not of entries. Seeing the whole record, any
    // statement from a source will do (no entry needs checking).
    if scope.is_none() {
        return sqlx::query_as(
            "SELECT s.id, s.name FROM sources s WHERE s.patient_id = $1 AND EXISTS \
             (SELECT 1 FROM entry_sources l WHERE l.patient_id = s.patient_id AND l.source_id = s.id) ORDER BY s.name",
        )
        .bind(patient.to_string())
        .fetch_all(ex)
        .await;
    }
    let sql = format!(
        "SELECT s.id, s.name FROM sources s WHERE s.patient_id = $1 AND EXISTS (SELECT 1 FROM entry_sources l \
         JOIN entries e ON e.patient_id = l.patient_id AND e.id = l.entry_id \
         WHERE l.patient_id = s.patient_id AND l.source_id = s.id{clause}) ORDER BY s.name"
    );
    let mut q = sqlx::query_as(&sql);
    for a in args {
        q = q.bind(a);
    }
    q.fetch_all(ex).await
}

/// The links (with organisation names) of the given entries.
pub(crate) async fn links_for(conn: &mut AnyConnection, patient: &str, entry_ids: &[String]) -> sqlx::Result<Vec<LinkView>> {
    let mut out = Vec::new();
    for chunk in entry_ids.chunks(BATCH) {
        let sql = format!(
            "SELECT l.entry_id, l.source_id, s.name AS organisation, s.kind AS source_kind, l.resource_type, l.fhir_id, l.resource_id, l.fact \
             FROM entry_sources l JOIN sources s ON s.patient_id = l.patient_id AND s.id = l.source_id \
             WHERE l.patient_id = $1 AND l.entry_id IN ({}) ORDER BY s.name, l.fhir_id",
            list_placeholders(chunk.len(), 2)
        );
        let mut q = sqlx::query_as::<_, LinkView>(&sql).bind(patient.to_string());
        for id in chunk {
            q = q.bind(id.clone());
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

pub(crate) async fn resource_json<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT json FROM resources WHERE patient_id = $1 AND id = $2").bind(patient.to_string()).bind(id.to_string()).fetch_optional(ex).await
}

/// Every version of one resource from one source: (version, received_at).
pub(crate) async fn versions_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    patient: &str,
    source: &str,
    resource_type: &str,
    fhir_id: &str,
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT version, received_at FROM resources WHERE patient_id = $1 AND source_id = $2 AND resource_type = $3 AND fhir_id = $4 ORDER BY version",
    )
    .bind(patient.to_string())
    .bind(source.to_string())
    .bind(resource_type.to_string())
    .bind(fhir_id.to_string())
    .fetch_all(ex)
    .await
}

#[derive(Debug, FromRow)]
pub(crate) struct SourceCounts {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub identifier: Option<String>,
    pub entries: i64,
    pub resources: i64,
    /// Entries from this source that are private (counted whoever asks).
    pub private_entries: i64,
}

/// The names of sources that sent only private entries: not named to
/// someone who may not see those.
pub(crate) async fn private_only_sources(conn: &mut AnyConnection, patient: &str) -> sqlx::Result<Vec<String>> {
    Ok(source_counts(&mut *conn, patient, false).await?.into_iter().filter(|s| s.entries == 0 && s.private_entries > 0).map(|s| s.name).collect())
}

/// The ids of a record's private entries (to keep them out of what a carer
/// acting for the patient is shown about the record's history).
pub(crate) async fn private_entry_ids<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM entries WHERE patient_id = $1 AND label = 'private'").bind(patient.to_string()).fetch_all(ex).await
}

/// The ids of a record's entries that are not private.
pub(crate) async fn visible_entry_ids<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM entries WHERE patient_id = $1 AND label <> 'private'").bind(patient.to_string()).fetch_all(ex).await
}

/// Each source with how many entries it states (private ones only when
/// `with_private`) and how many resources it sent.
pub(crate) async fn source_counts<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, with_private: bool) -> sqlx::Result<Vec<SourceCounts>> {
    sqlx::query_as(
        "SELECT s.id, s.name, s.kind, s.identifier, \
           (SELECT COUNT(DISTINCT l.entry_id) FROM entry_sources l JOIN entries e ON e.patient_id = l.patient_id AND e.id = l.entry_id \
             WHERE l.patient_id = s.patient_id AND l.source_id = s.id AND ($2 = 1 OR e.label <> 'private')) AS entries, \
           (SELECT COUNT(*) FROM resources r WHERE r.patient_id = s.patient_id AND r.source_id = s.id AND r.current = 1 \
             AND ($2 = 1 OR NOT EXISTS (SELECT 1 FROM entry_sources l JOIN entries e ON e.patient_id = l.patient_id AND e.id = l.entry_id \
               WHERE l.patient_id = r.patient_id AND l.resource_id = r.id AND e.label = 'private'))) AS resources, \
           (SELECT COUNT(DISTINCT l.entry_id) FROM entry_sources l JOIN entries e ON e.patient_id = l.patient_id AND e.id = l.entry_id \
             WHERE l.patient_id = s.patient_id AND l.source_id = s.id AND e.label = 'private') AS private_entries \
         FROM sources s WHERE s.patient_id = $1 ORDER BY s.name",
    )
    .bind(patient.to_string())
    .bind(i64::from(with_private))
    .fetch_all(ex)
    .await
}

#[derive(Debug, FromRow)]
pub(crate) struct ImportView {
    pub source_id: String,
    pub file_name: String,
    pub new_count: i64,
    pub changed_count: i64,
    pub unchanged_count: i64,
    pub created_at: i64,
}

pub(crate) async fn imports_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<ImportView>> {
    sqlx::query_as(
        "SELECT source_id, file_name, new_count, changed_count, unchanged_count, created_at FROM imports WHERE patient_id = $1 ORDER BY created_at DESC",
    )
    .bind(patient.to_string())
    .fetch_all(ex)
    .await
}

#[derive(Debug, FromRow)]
pub(crate) struct HeldView {
    pub id: String,
    pub file_name: String,
    pub source_name: Option<String>,
    pub found_name: Option<String>,
    pub found_birth_date: Option<String>,
    pub source_kind: String,
    pub created_at: i64,
}

pub(crate) async fn held_of<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<Vec<HeldView>> {
    sqlx::query_as("SELECT id, file_name, source_name, found_name, found_birth_date, source_kind, created_at FROM held_feeds WHERE patient_id = $1 ORDER BY created_at DESC")
        .bind(patient.to_string())
        .fetch_all(ex)
        .await
}

/// Records a visit; returns the time of the visit before this one. Visits
/// closer together than `gap_ms` count as one.
pub(crate) async fn touch_visit(conn: &mut AnyConnection, patient: &str, user: &str, now: i64, gap_ms: i64) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as("SELECT last_visit_at, previous_visit_at FROM record_visits WHERE patient_id = $1 AND user_id = $2")
        .bind(patient.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        None => {
            sqlx::query("INSERT INTO record_visits (patient_id, user_id, last_visit_at, previous_visit_at) VALUES ($1, $2, $3, NULL) ON CONFLICT (patient_id, user_id) DO NOTHING")
                .bind(patient.to_string())
                .bind(user.to_string())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(None)
        }
        Some((last, previous)) if now - last < gap_ms => {
            // Same visit: keep comparing with the visit before it. Writing at
            // most once a minute keeps busy pages from queueing on the write lock.
            if now - last < 60_000 {
                return Ok(previous);
            }
            sqlx::query("UPDATE record_visits SET last_visit_at = $1 WHERE patient_id = $2 AND user_id = $3")
                .bind(now)
                .bind(patient.to_string())
                .bind(user.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(previous)
        }
        Some((last, _)) => {
            sqlx::query("UPDATE record_visits SET previous_visit_at = $1, last_visit_at = $2 WHERE patient_id = $3 AND user_id = $4")
                .bind(last)
                .bind(now)
                .bind(patient.to_string())
                .bind(user.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(Some(last))
        }
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct PatientInfo {
    pub name: String,
    pub nhs_number: String,
    pub birth_date: String,
}

pub(crate) async fn patient_info<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str) -> sqlx::Result<PatientInfo> {
    sqlx::query_as("SELECT name, nhs_number, birth_date FROM patients WHERE id = $1").bind(patient.to_string()).fetch_one(ex).await
}

#[derive(Debug, FromRow)]
pub(crate) struct HeldFeed {
    pub file_name: String,
    pub source_name: Option<String>,
    pub source_kind: String,
    pub body: String,
}

pub(crate) async fn held_feed<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str) -> sqlx::Result<Option<HeldFeed>> {
    sqlx::query_as("SELECT file_name, source_name, source_kind, body FROM held_feeds WHERE patient_id = $1 AND id = $2")
        .bind(patient.to_string())
        .bind(id.to_string())
        .fetch_optional(ex)
        .await
}

pub(crate) async fn delete_held_feed<'e, E: Executor<'e, Database = Any>>(ex: E, patient: &str, id: &str) -> sqlx::Result<u64> {
    sqlx::query("DELETE FROM held_feeds WHERE patient_id = $1 AND id = $2")
        .bind(patient.to_string())
        .bind(id.to_string())
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Backend;
    use crate::policy::Scope;
    use crate::testing::TestDb;

    /// The summary's lists of current and of disputed entries can use the
    /// partial indexes of migration 0013. Inside a transaction that is rolled
    /// back, every other index that could serve them is dropped and
    /// PostgreSQL is told to avoid table scans; then each query's plan must
    /// name its partial index. This fails if `IS_CURRENT` and the migration's
    /// condition drift apart, as a planner then cannot prove the index applies.
    async fn summary_lists_can_use_their_partial_indexes(db: &TestDb) {
        let backend = db.kith.db.backend();
        let mut tx = db.owner_tx().await;
        for index in ["entries_by_kind", "entries_by_date", "entries_by_created"] {
            sqlx::query(&format!("DROP INDEX {index}")).execute(&mut *tx).await.unwrap();
        }
        if backend == Backend::Postgres {
            sqlx::query("SET LOCAL enable_seqscan = off").execute(&mut *tx).await.unwrap();
        }
        let medicines =
            |current_only, disputed_only, scope| EntryFilter { kinds: vec!["medication".into()], current_only, disputed_only, scope, ..Default::default() };
        let shared = Scope { labels: vec!["general".into()], ..Default::default() };
        let cases = [
            (medicines(true, false, None), "entries_current"),
            (medicines(true, false, Some(shared.clone())), "entries_current"),
            (medicines(false, true, None), "entries_disputed"),
            (medicines(false, true, Some(shared)), "entries_disputed"),
        ];
        for (filter, index) in cases {
            let (sql, args, created) = entries_sql("some-patient", &filter, 50);
            assert!(created.is_none());
            let plan = crate::testing::query_plan(&mut tx, backend, &sql, args).await;
            assert!(plan.iter().any(|line| line.contains(index)), "{backend:?} does not use {index} for {filter:?}:\n{}", plan.join("\n"));
        }
        tx.rollback().await.unwrap();
    }

    crate::backend_tests!(summary_lists_can_use_their_partial_indexes);
}
